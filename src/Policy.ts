/**
 * Policies, and how to put them together.
 *
 * A `Policy` transforms a call: a retry, a timeout, a bulkhead, an adaptive
 * concurrency limit, a fallback, a hedge, or a circuit breaker turned into a
 * policy. Every policy of the
 * library is a `Policy` value; `Policy.wrap` nests several (outermost first)
 * into one, and `Policy.make` nests them in the recommended order:
 *
 * ```
 * fallback( breaker( retry( hedge( limit( bulkhead( timeout( call )))))))
 * ```
 *
 * - the **fallback** is outermost, so it answers for every error that gets
 *   through (an open circuit, retries used up, a full bulkhead);
 * - the **breaker** sees one outcome per logical call: retries and hedged
 *   attempts happen inside it, and nothing is retried while it is open;
 * - the **retry** wraps hedging, so a hedged round is one attempt;
 * - the adaptive **limit** is inside the hedge and the retry, so it measures
 *   the round trip of one attempt (not the retries' waits), and every hedged
 *   attempt needs a slot; outside the timeout, so a timed-out attempt counts
 *   as a drop; and inside the breaker, which ignores its rejections (local
 *   back-pressure, like a full bulkhead's);
 * - the **bulkhead** is inside the hedge, so every hedged attempt needs a
 *   permit of its own;
 * - the **timeout** is innermost: each attempt has its own time limit, and
 *   no attempt holds a bulkhead permit longer than that.
 *
 * The error type of the result lists exactly the errors still possible: each
 * policy adds its own (`TimeoutError`, `BulkheadFullError`,
 * `ConcurrencyLimitExceededError`, `CircuitOpenError`) and a fallback removes those it handles, including
 * errors added by the policies inside it.
 *
 * The types also check what a policy is applied to, with the rules of
 * `Effect.catchTag`: a fallback on a tag the call's errors do not carry
 * (where the fallback sits, so counting the errors the policies inside it
 * add) does not compile, nor does a fallback whose annotated `orElse` does
 * not accept the errors with its tags. A policy with a
 * circuit breaker takes per-call classification options (`ignore`,
 * `isFailure`, `classify`), typed by the errors that breaker sees.
 *
 * @since 0.1.0
 */
import type { Context, Effect, Types } from "effect"
import type { Pipeable } from "effect/Pipeable"
import type { AdaptiveLimit } from "./AdaptiveLimit.js"
import type { Bulkhead } from "./Bulkhead.js"
import type { BulkheadFullError } from "./BulkheadFullError.js"
import type { CircuitBreaker } from "./CircuitBreaker.js"
import type { CircuitOpenError } from "./CircuitOpenError.js"
import type { ClassifyOptions } from "./Classifier.js"
import type { Fallback } from "./Fallback.js"
import type { Hedge } from "./Hedge.js"
import type { TypeId } from "./internal/policy.js"
import { applyPolicyWith, isPolicy as isPolicyInternal } from "./internal/policy.js"
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
 * Two more parameters describe what `Policy.apply` checks: `Handlers`, the
 * fallbacks inside (each a `Handler`: a tag the call must be able to fail
 * with, and the error type its `orElse` accepts), and `Breakers`, the
 * circuit breakers inside (each a `BreakerInside`, telling which errors it
 * sees), which per-call classification options are typed by.
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
export interface Policy<
  Removes = never,
  Adds = never,
  Requires = never,
  Value = never,
  Handlers = never,
  Breakers = never
> extends Pipeable {
  readonly [TypeId]: Policy.Variance<Removes, Adds, Requires, Value, Handlers, Breakers>
  /** What kind of policy this is. */
  readonly kind: PolicyKind
  /** The policy's name, as shown in errors and events. */
  readonly name: string
  /** Applies the policy to a call, unchecked: `Policy.apply` checks the fallbacks against the call. */
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
  export interface Variance<Removes, Adds, Requires, Value, Handlers = never, Breakers = never> {
    readonly _Removes: Types.Covariant<Removes>
    readonly _Adds: Types.Covariant<Adds>
    readonly _Requires: Types.Covariant<Requires>
    readonly _Value: Types.Covariant<Value>
    readonly _Handlers: Types.Covariant<Handlers>
    readonly _Breakers: Types.Covariant<Breakers>
  }

  /**
   * Any policy.
   *
   * @category models
   * @since 0.1.0
   */
  export type Any = Policy<unknown, unknown, unknown, unknown, unknown, unknown>

  /**
   * The type-level description of a policy value, read from its variance
   * (never from `apply`, whose signature would blur it).
   *
   * @since 0.1.0
   */
  export type VarianceOf<P> = P extends { readonly [TypeId]: infer V } ? V : never
  /** @since 0.1.0 */
  export type Removes<P> = VarianceOf<P> extends { readonly _Removes: Types.Covariant<infer X> } ? X : never
  /** @since 0.1.0 */
  export type Adds<P> = VarianceOf<P> extends { readonly _Adds: Types.Covariant<infer A> } ? A : never
  /** @since 0.1.0 */
  export type Requires<P> = VarianceOf<P> extends { readonly _Requires: Types.Covariant<infer R> } ? R : never
  /** @since 0.1.0 */
  export type Value<P> = VarianceOf<P> extends { readonly _Value: Types.Covariant<infer V> } ? V : never
  /** @since 0.1.0 */
  export type Handlers<P> = VarianceOf<P> extends { readonly _Handlers: Types.Covariant<infer H> } ? H : never
  /** @since 0.1.0 */
  export type Breakers<P> = VarianceOf<P> extends { readonly _Breakers: Types.Covariant<infer B> } ? B : never
}

/**
 * What `Policy.apply` checks of a fallback inside a policy: `Tag`, an error
 * tag the call must be able to fail with where the fallback sits (`string`:
 * any error), and `Accepts`, the error type its `orElse` takes, which every
 * error it is handed must be assignable to (`unknown` for an unannotated
 * `orElse`, a `value` or a cache: nothing to check). The fallback sees the
 * call's errors without `Removed` (handled by fallbacks inside it) and with
 * `Added` (added by the policies inside it).
 *
 * @category type-level
 * @since 0.1.0
 */
export interface Handler<Tag, Accepts, Removed = never, Added = never> {
  readonly _Tag: Types.Covariant<Tag>
  readonly _Accepts: Types.Contravariant<Accepts>
  readonly _Removed: Types.Covariant<Removed>
  readonly _Added: Types.Covariant<Added>
}

/**
 * A circuit breaker inside a policy: it sees the call's errors without
 * `Removed` and with `Added`, and its values with `Value` (answered by
 * fallbacks inside it). Per-call classification options are typed by what
 * it sees.
 *
 * @category type-level
 * @since 0.1.0
 */
export interface BreakerInside<Removed = never, Added = never, Value = never> {
  readonly _Removed: Types.Covariant<Removed>
  readonly _Added: Types.Covariant<Added>
  readonly _Value: Types.Covariant<Value>
}

/**
 * The handler each of `Handlers` must be, applied to a call failing with
 * `E`: the tags the errors it sees carry (a typo, or a tag none of them
 * carries, is not one of them: the compiler names those it could have
 * meant), and the errors with its tag, which its `orElse` must accept.
 *
 * As with `Effect.catchTag` (`Types.Tags`, `Types.ExtractTag`), a member
 * without a literal tag (`Error`, `unknown`) carries none and is never handed
 * to `orElse`; and both distribute over the members, so that the errors a
 * layer adds count even where the call's own error type is a type parameter.
 *
 * @category type-level
 * @since 0.1.0
 */
export type Expected<E, Handlers> = Handlers extends Handler<infer Tag, infer _Accepts, infer Removed, infer Added>
  ? string extends Tag ? Handler<Tag, Exclude<Seen<E, Removed, Added>, Inferring>, Removed, Added>
  : Handler<TagsOf<Seen<E, Removed, Added>>, Types.ExtractTag<Seen<E, Removed, Added>, Tag & string>, Removed, Added>
  : never

/** The errors a fallback sees: the call's, without those handled inside it, with those added inside it. */
type Seen<E, Removed, Added> = Exclude<E, Removed> | Added

/** `Types.Tags`, with any tag allowed while the error type is still being inferred. */
type TagsOf<E> = E extends { readonly _tag: string } ? E["_tag"] : E extends Inferring ? string : never

/**
 * The error type of a data-first call (`Fallback.fallback(self, fallback)`,
 * `Policy.apply(self, policy)`, `serve(self, key)`) before TypeScript has
 * inferred it. An overloaded call written in place as `self`
 * (`Effect.map(call, f)`) is inferred in a second pass, and a check that
 * failed in the first would drop the overload before then: every check
 * passes for this type, and the second pass checks the call's real error
 * type. A user never sees it in a result.
 *
 * @category type-level
 * @since 0.1.0
 */
export interface Inferring {
  readonly "~effect-resilience/Policy/Inferring": "the error type is not inferred yet"
}

/**
 * A policy whose fallbacks fit a call failing with `E`: the constraint
 * `Policy.apply` puts on the policy it is given.
 *
 * @category type-level
 * @since 0.1.0
 */
export interface Fits<E, Handlers> {
  readonly [TypeId]: { readonly _Handlers: Types.Covariant<Expected<E, Handlers>> }
}

/**
 * The errors the circuit breakers inside a policy see, for a call failing
 * with `E`.
 *
 * @category type-level
 * @since 0.1.0
 */
export type BreakerErrors<E, Breakers> = Breakers extends BreakerInside<infer Removed, infer Added, infer _Value>
  ? Exclude<Settled<E>, Removed> | Added
  : never

/** The error type, or `unknown` (so that every option passes) while it is still being inferred. */
type Settled<E> = E extends Inferring ? unknown : E

/**
 * The values the circuit breakers inside a policy see, for a call
 * succeeding with `A`.
 *
 * @category type-level
 * @since 0.1.0
 */
export type BreakerValues<A, Breakers> = Breakers extends BreakerInside<infer _Removed, infer _Added, infer Value>
  ? A | Value
  : never

/**
 * What `Policy.apply` takes in place of classification options when the
 * policy has no circuit breaker to classify for.
 *
 * @category type-level
 * @since 0.1.0
 */
export interface NoBreaker {
  readonly "~effect-resilience/Policy/NoBreaker":
    "this policy has no circuit breaker: per-call options classify for a breaker"
}

/**
 * Per-call classification options for the circuit breakers inside a policy
 * applied to an `Effect<A, E>`: typed by what those breakers see (see
 * `Classifier.ClassifyOptions`), or `NoBreaker` for a policy without one.
 *
 * @category type-level
 * @since 0.1.0
 */
export type ApplyOptions<A, E, Breakers> = [Breakers] extends [never] ? NoBreaker
  : ClassifyOptions<BreakerValues<A, Breakers>, BreakerErrors<E, Breakers>>

/** The handlers of an outer policy, seen through an inner one. */
type HandlersThrough<Handlers, Inner> = Handlers extends Handler<infer Tag, infer Accepts, infer Removed, infer Added>
  ? Handler<Tag, Accepts, Removed | Policy.Removes<Inner>, Exclude<Policy.Adds<Inner>, Removed> | Added>
  : never

/** The breakers of an outer policy, seen through an inner one. */
type BreakersThrough<Breakers, Inner> = Breakers extends BreakerInside<infer Removed, infer Added, infer Value>
  ? BreakerInside<
    Removed | Policy.Removes<Inner>,
    Exclude<Policy.Adds<Inner>, Removed> | Added,
    Value | Policy.Value<Inner>
  >
  : never

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
  Policy.Value<Outer> | Policy.Value<Inner>,
  HandlersThrough<Policy.Handlers<Outer>, Inner> | Policy.Handlers<Inner>,
  BreakersThrough<Policy.Breakers<Outer>, Inner> | Policy.Breakers<Inner>
>

/**
 * Policies nested in order, the first outermost.
 *
 * @category type-level
 * @since 0.1.0
 */
export type Wrapped<Ps extends ReadonlyArray<unknown>> = number extends Ps["length"]
  // An array of unknown length: every error any layer adds, none removed.
  ? Policy<
    never,
    Policy.Adds<Ps[number]>,
    Policy.Requires<Ps[number]>,
    Policy.Value<Ps[number]>,
    Policy.Handlers<Ps[number]>,
    Policy.Breakers<Ps[number]>
  >
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
export type AsPolicy<P> = P extends
  { readonly [TypeId]: Policy.Variance<infer X, infer A, infer R, infer V, infer H, infer B> }
  ? Policy<X, A, R, V, H, B>
  : P extends CircuitBreaker ? Policy<never, CircuitOpenError, never, never, never, BreakerInside>
  : P extends Context.Key<infer I, infer S> ?
    S extends CircuitBreaker ? Policy<never, CircuitOpenError, I, never, never, BreakerInside>
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
  readonly fallback?: Fallback<unknown, unknown, unknown, unknown, unknown> | undefined
  /** Sees one outcome per logical call. */
  readonly breaker?: CircuitBreaker | Context.Key<unknown, CircuitBreaker> | undefined
  /** Retries inside the breaker. */
  readonly retry?: Retry | undefined
  /** A hedged round is one attempt of the retry. */
  readonly hedge?: Hedge | undefined
  /** Every attempt needs a slot of the adaptive limit; a timed-out attempt is a drop. */
  readonly limit?: AdaptiveLimit | undefined
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
    AsPolicy<Layer<O, "limit">>,
    AsPolicy<Layer<O, "bulkhead">>,
    AsPolicy<Layer<O, "timeout">>
  ]
>

/**
 * Builds a policy from its layers in the recommended order:
 * `fallback( breaker( retry( hedge( limit( bulkhead( timeout( call )))))))`. For
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
 * Applies a policy to a call (data-first or data-last), checking its
 * fallbacks against the call as `Effect.catchTag` would: a fallback on a tag
 * the call's errors do not carry where the fallback sits, or whose annotated
 * `orElse` does not accept the errors with its tags, does not compile. In
 * the data-last form the call's error type comes from the pipe, as with
 * `Effect.catchTag`.
 *
 * A policy with a circuit breaker takes per-call classification options
 * (`ignore`, `isFailure`, `classify`; see `Classifier.ClassifyOptions`),
 * applied by its breaker for this call in place of the breaker's own, and
 * typed by what the breaker sees: the call's errors and those the policies
 * inside the breaker add. A policy without a breaker takes none.
 *
 * @example
 * ```ts
 * import { Data, Effect } from "effect"
 * import { CircuitBreaker, Policy, Timeout } from "effect-resilience"
 *
 * class NotFound extends Data.TaggedError("NotFound") {}
 * class Unavailable extends Data.TaggedError("Unavailable") {}
 * class Users extends CircuitBreaker.Service<Users>()("users") {}
 * declare const getUser: Effect.Effect<string, NotFound | Unavailable>
 *
 * const program = Effect.gen(function*() {
 *   const policy = yield* Policy.make({ breaker: Users, timeout: yield* Timeout.make({ duration: "1 second" }) })
 *   const a = yield* Policy.apply(getUser, policy)
 *   // A missing user is an answer, not a sign of ill health: it counts as a success.
 *   const b = yield* getUser.pipe(Policy.apply(policy, { isFailure: (error) => error._tag !== "NotFound" }))
 *   return [a, b]
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const apply: {
  <P extends Policy<unknown, unknown, unknown, unknown, never, unknown>>(
    policy: P
  ): <A, E, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<A | Policy.Value<P>, Exclude<E, Policy.Removes<P>> | Policy.Adds<P>, R | Policy.Requires<P>>
  <P extends Policy.Any, E>(
    policy: P & NoInfer<Fits<E, Policy.Handlers<P>>>
  ): <A, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<A | Policy.Value<P>, Exclude<E, Policy.Removes<P>> | Policy.Adds<P>, R | Policy.Requires<P>>
  <A, E = Inferring, R = never, P extends Policy.Any = never>(
    self: Effect.Effect<A, E, R>,
    policy: P & NoInfer<Fits<E, Policy.Handlers<P>>>,
    options?: NoInfer<ApplyOptions<A, E, Policy.Breakers<P>>>
  ): Effect.Effect<A | Policy.Value<P>, Exclude<E, Policy.Removes<P>> | Policy.Adds<P>, R | Policy.Requires<P>>
  <P extends Policy.Any, A, E>(
    policy: P & NoInfer<Fits<E, Policy.Handlers<P>>>,
    options: NoInfer<ApplyOptions<A, E, Policy.Breakers<P>>>
  ): <R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<A | Policy.Value<P>, Exclude<E, Policy.Removes<P>> | Policy.Adds<P>, R | Policy.Requires<P>>
} = applyPolicyWith as never

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
