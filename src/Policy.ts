/**
 * Policies, and how to put them together.
 *
 * A `Policy` transforms a call: a retry, a timeout, a bulkhead, a fallback,
 * a hedge, or a circuit breaker turned into a policy. Every policy of the
 * library is a `Policy` value; `Policy.wrap` nests several (outermost first)
 * into one, and `Policy.make` nests them in the recommended order:
 *
 * ```
 * fallback( breaker( retry( hedge( bulkhead( timeout( call ))))))
 * ```
 *
 * - the **fallback** is outermost, so it answers for every error that gets
 *   through (an open circuit, retries used up, a full bulkhead);
 * - the **breaker** sees one outcome per logical call: retries and hedged
 *   attempts happen inside it, and nothing is retried while it is open;
 * - the **retry** wraps hedging, so a hedged round is one attempt;
 * - the **bulkhead** is inside the hedge, so every hedged attempt needs a
 *   permit of its own;
 * - the **timeout** is innermost: each attempt has its own time limit, and
 *   no attempt holds a bulkhead permit longer than that.
 *
 * The error type of the result lists exactly the errors still possible: each
 * policy adds its own (`TimeoutError`, `BulkheadFullError`,
 * `CircuitOpenError`) and a fallback removes those it handles, including
 * errors added by the policies inside it.
 *
 * @since 0.1.0
 */
import type { Context, Effect, Types } from "effect"
import type { Pipeable } from "effect/Pipeable"
import type { Bulkhead } from "./Bulkhead.js"
import type { BulkheadFullError } from "./BulkheadFullError.js"
import type { CircuitBreaker } from "./CircuitBreaker.js"
import type { CircuitOpenError } from "./CircuitOpenError.js"
import type { Fallback } from "./Fallback.js"
import type { Hedge } from "./Hedge.js"
import type { TypeId } from "./internal/policy.js"
import { applyPolicy, isPolicy as isPolicyInternal } from "./internal/policy.js"
import { makeFromOptions, wrapPolicies } from "./internal/wrap.js"
import type { PolicyConfigError, PolicyKind } from "./PolicyConfigError.js"
import type { Retry } from "./Retry.js"
import type { Timeout } from "./Timeout.js"

/**
 * A transformation of calls. Applied to an `Effect<A, E, R>` it gives an
 * `Effect<A | Value, Exclude<E, Removes> | Adds, R | Requires>`: it may
 * handle (remove) some errors, add errors of its own, need services, and
 * answer with a fallback value.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Policy, Timeout } from "effect-resilience"
 *
 * declare const fetchUser: Effect.Effect<string, Error>
 *
 * const program = Effect.gen(function*() {
 *   const timeout = yield* Timeout.make({ name: "users", duration: "2 seconds" })
 *   // Effect<string, Error | TimeoutError>
 *   return yield* fetchUser.pipe(Policy.apply(timeout))
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Policy<Removes = never, Adds = never, Requires = never, Value = never> extends Pipeable {
  readonly [TypeId]: Policy.Variance<Removes, Adds, Requires, Value>
  /** What kind of policy this is. */
  readonly kind: PolicyKind
  /** The policy's name, as shown in errors and events. */
  readonly name: string
  /** Applies the policy to a call. */
  readonly apply: <A, E, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<A | Value, Exclude<E, Removes> | Adds, R | Requires>
}

/**
 * @since 0.1.0
 */
export declare namespace Policy {
  /**
   * The type-level description of a policy.
   *
   * @category models
   * @since 0.1.0
   */
  export interface Variance<Removes, Adds, Requires, Value> {
    readonly _Removes: Types.Covariant<Removes>
    readonly _Adds: Types.Covariant<Adds>
    readonly _Requires: Types.Covariant<Requires>
    readonly _Value: Types.Covariant<Value>
  }

  /**
   * Any policy.
   *
   * @category models
   * @since 0.1.0
   */
  export type Any = Policy<unknown, unknown, unknown, unknown>

  /**
   * The type-level description of a policy value, read from its variance
   * (never from `apply`, whose signature would blur it).
   *
   * @since 0.1.0
   */
  export type VarianceOf<P> = P extends { readonly [TypeId]: infer V } ? V : never
  /** @since 0.1.0 */
  export type Removes<P> = VarianceOf<P> extends Variance<infer X, infer _A, infer _R, infer _V> ? X : never
  /** @since 0.1.0 */
  export type Adds<P> = VarianceOf<P> extends Variance<infer _X, infer A, infer _R, infer _V> ? A : never
  /** @since 0.1.0 */
  export type Requires<P> = VarianceOf<P> extends Variance<infer _X, infer _A, infer R, infer _V> ? R : never
  /** @since 0.1.0 */
  export type Value<P> = VarianceOf<P> extends Variance<infer _X, infer _A, infer _R, infer V> ? V : never
}

/**
 * Two policies nested, `outer` around `inner`: the errors `inner` adds are
 * subject to what `outer` removes.
 *
 * @category type-level
 * @since 0.1.0
 */
export type Nest<Outer, Inner> = Policy<
  Policy.Removes<Outer> | Policy.Removes<Inner>,
  Exclude<Policy.Adds<Inner>, Policy.Removes<Outer>> | Policy.Adds<Outer>,
  Policy.Requires<Outer> | Policy.Requires<Inner>,
  Policy.Value<Outer> | Policy.Value<Inner>
>

/**
 * Policies nested in order, the first outermost.
 *
 * @category type-level
 * @since 0.1.0
 */
export type Wrapped<Ps extends ReadonlyArray<unknown>> = number extends Ps["length"]
  // An array of unknown length: every error any layer adds, none removed.
  ? Policy<never, Policy.Adds<Ps[number]>, Policy.Requires<Ps[number]>, Policy.Value<Ps[number]>>
  : Ps extends readonly [infer Head, ...infer Tail] ? Nest<Head, Wrapped<Tail>>
  : Policy

/**
 * The policy a value stands for inside `Policy.wrap` and `Policy.make`: a
 * policy as it is, a circuit breaker (instance or service key) adding
 * `CircuitOpenError`, a bulkhead (instance or service key) adding
 * `BulkheadFullError`.
 *
 * @category type-level
 * @since 0.1.0
 */
export type AsPolicy<P> = P extends { readonly [TypeId]: Policy.Variance<infer X, infer A, infer R, infer V> }
  ? Policy<X, A, R, V>
  : P extends CircuitBreaker ? Policy<never, CircuitOpenError>
  : P extends Context.Key<infer I, infer S> ? S extends CircuitBreaker ? Policy<never, CircuitOpenError, I>
    : S extends Bulkhead ? Policy<never, BulkheadFullError, I>
    : never
  : never

/**
 * Anything `Policy.wrap` and `Policy.make` accept as a layer of a policy.
 *
 * @category models
 * @since 0.1.0
 */
export type PolicyLike =
  | Policy.Any
  | CircuitBreaker
  | Bulkhead
  | Context.Key<unknown, CircuitBreaker>
  | Context.Key<unknown, Bulkhead>

/**
 * Nests policies, the first outermost: `wrap(a, b, c)` applies `c` to the
 * call, then `b`, then `a`. Circuit breakers and bulkheads take part as
 * instances or as service keys (their services join the requirements).
 * Inside a policy a breaker classifies calls with its own classifier (by
 * default a `BulkheadFullError` counts as nothing: local back-pressure says
 * nothing about the dependency's health). A value that is none of these fails
 * with `PolicyConfigError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker, Fallback, Policy, Retry, Timeout } from "effect-resilience"
 *
 * class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
 * declare const charge: Effect.Effect<string, Error>
 *
 * const program = Effect.gen(function*() {
 *   const policy = yield* Policy.wrap(
 *     yield* Fallback.make({ on: ["CircuitOpenError"], value: "queued" }),
 *     Payments,
 *     yield* Retry.make({ retries: 2 }),
 *     yield* Timeout.make({ duration: "3 seconds" })
 *   )
 *   // Effect<string, Error | TimeoutError, Payments>
 *   return yield* charge.pipe(Policy.apply(policy))
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const wrap = <const Ps extends ReadonlyArray<PolicyLike>>(
  ...policies: Ps
): Effect.Effect<Wrapped<{ readonly [K in keyof Ps]: AsPolicy<Ps[K]> }>, PolicyConfigError> =>
  wrapPolicies("default", policies.map((policy, index) => [`[${index}]`, policy] as const)) as never

/**
 * The layers `Policy.make` puts in order. Each is optional.
 *
 * @category models
 * @since 0.1.0
 */
export interface PolicyOptions {
  readonly name?: string | undefined
  /** Outermost: answers for the errors that get through. */
  readonly fallback?: Fallback<unknown, unknown, unknown, unknown> | undefined
  /** Sees one outcome per logical call. */
  readonly breaker?: CircuitBreaker | Context.Key<unknown, CircuitBreaker> | undefined
  /** Retries inside the breaker. */
  readonly retry?: Retry | undefined
  /** A hedged round is one attempt of the retry. */
  readonly hedge?: Hedge | undefined
  /** Every attempt needs a permit. */
  readonly bulkhead?: Bulkhead | Context.Key<unknown, Bulkhead> | undefined
  /** Innermost: the time limit of each attempt. */
  readonly timeout?: Timeout | undefined
}

type Layer<O, K extends keyof PolicyOptions> = K extends keyof O ? O[K] extends undefined ? Policy : O[K] : Policy

/**
 * The policy `Policy.make` builds from its options.
 *
 * @category type-level
 * @since 0.1.0
 */
export type Made<O extends PolicyOptions> = Wrapped<
  [
    AsPolicy<Layer<O, "fallback">>,
    AsPolicy<Layer<O, "breaker">>,
    AsPolicy<Layer<O, "retry">>,
    AsPolicy<Layer<O, "hedge">>,
    AsPolicy<Layer<O, "bulkhead">>,
    AsPolicy<Layer<O, "timeout">>
  ]
>

/**
 * Builds a policy from its layers in the recommended order:
 * `fallback( breaker( retry( hedge( bulkhead( timeout( call ))))))`. For
 * another order, use `Policy.wrap`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bulkhead, CircuitBreaker, Fallback, Policy, Retry, Timeout } from "effect-resilience"
 *
 * class Inventory extends CircuitBreaker.Service<Inventory>()("inventory") {}
 * class InventoryBulkhead extends Bulkhead.Service<InventoryBulkhead>()("inventory") {}
 * declare const reserve: (sku: string) => Effect.Effect<number, Error>
 *
 * const program = Effect.gen(function*() {
 *   const policy = yield* Policy.make({
 *     fallback: yield* Fallback.make({ on: ["CircuitOpenError", "BulkheadFullError"], value: 0 }),
 *     breaker: Inventory,
 *     retry: yield* Retry.make({ retries: 2 }),
 *     bulkhead: InventoryBulkhead,
 *     timeout: yield* Timeout.make({ duration: "1 second" })
 *   })
 *   // Effect<number, Error | TimeoutError, Inventory | InventoryBulkhead>
 *   return yield* reserve("sku-1").pipe(Policy.apply(policy))
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <const O extends PolicyOptions>(options: O): Effect.Effect<Made<O>, PolicyConfigError> =>
  makeFromOptions(options) as never

/**
 * Applies a policy to a call (data-first or data-last).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Policy } from "effect-resilience"
 *
 * declare const policy: Policy.Policy<never, never>
 * declare const call: Effect.Effect<string, Error>
 *
 * const a = Policy.apply(call, policy)
 * const b = call.pipe(Policy.apply(policy))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const apply: {
  <X, Ad, Rq, V>(
    policy: Policy<X, Ad, Rq, V>
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | V, Exclude<E, X> | Ad, R | Rq>
  <A, E, R, X, Ad, Rq, V>(
    self: Effect.Effect<A, E, R>,
    policy: Policy<X, Ad, Rq, V>
  ): Effect.Effect<A | V, Exclude<E, X> | Ad, R | Rq>
} = applyPolicy as never

/**
 * Whether a value is a policy.
 *
 * @example
 * ```ts
 * import { Policy } from "effect-resilience"
 *
 * Policy.isPolicy({}) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isPolicy: (u: unknown) => u is Policy.Any = isPolicyInternal
