/**
 * Fallbacks: what to answer when a call fails.
 *
 * - `Fallback.make` answers for chosen errors (by tag, by refinement, or
 *   every typed error) with a value or an effect, and removes the errors it
 *   handles from the call's type: a fallback on `CircuitOpenError` turns
 *   `Effect<A, E | CircuitOpenError>` into `Effect<A | B, E>`.
 * - `Fallback.lastKnownGood` is the classic "serve cached data while the
 *   dependency is down": it keeps the last successful value per key (bounded
 *   in size, with a time to live) and serves it, marked `Stale` with its age,
 *   when the call fails with a chosen error. Its code and its names live in
 *   the `LastKnownGood` module, re-exported here.
 *
 * Fallbacks act on typed failures only: defects (bugs) and interruptions pass
 * through.
 *
 * The tags of `on` are checked where a fallback is applied, with the rules
 * of `Effect.catchTag`: a tag the call's errors do not carry (a typo, or an
 * error no layer inside adds) does not compile, and `orElse` receives the
 * error itself, typed.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Fallback, withCircuitBreaker } from "effect-resilience"
 *
 * declare const recommendations: Effect.Effect<ReadonlyArray<string>, Error>
 *
 * const program = Effect.gen(function*() {
 *   const bestsellers = yield* Fallback.make({ on: ["CircuitOpenError"], value: ["bestseller-1", "bestseller-2"] })
 *   // Effect<ReadonlyArray<string>, Error, CircuitBreaker>: the open circuit is handled
 *   return yield* recommendations.pipe(withCircuitBreaker(), Fallback.fallback(bestsellers))
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Cause, Predicate, Scope, Stream } from "effect"
import { Effect, Exit, Schema } from "effect"
import type { BulkheadFullError } from "./BulkheadFullError.js"
import type { CircuitBreakerConfigError } from "./CircuitBreakerConfig.js"
import type { RegistryFullError, RegistryKeyError } from "./CircuitBreakerRegistry.js"
import type { CircuitOpenError } from "./CircuitOpenError.js"
import type { ConcurrencyLimitExceededError } from "./ConcurrencyLimitExceededError.js"
import { ConfigIssue } from "./ConfigIssue.js"
import type { ErrorFilter } from "./internal/errorSelector.js"
import { matches, OnSchema, toFilter } from "./internal/errorSelector.js"
import type { Cell } from "./internal/metrics.js"
import { Name } from "./internal/options.js"
import type { Setup } from "./internal/policy.js"
import { applyPolicy, errorTag, makePolicy, metricsOption, PolicyBase, recoverableError } from "./internal/policy.js"
import { FunctionValue } from "./internal/schemas.js"
import { policies as policyMetrics } from "./Metrics.js"
import type { Fits, Handler, Inferring, Policy } from "./Policy.js"
import type { PolicyConfigError } from "./PolicyConfigError.js"
import { FallbackUsed } from "./PolicyEvent.js"
import type { RateLimitExceededError } from "./RateLimitExceededError.js"
import type { TimeoutError } from "./TimeoutError.js"

export {
  /**
   * A value fresh from the call (re-exported from the `LastKnownGood`
   * module).
   *
   * @category models
   * @since 0.1.0
   */
  Fresh,
  /**
   * The defaults of `Fallback.lastKnownGood` (re-exported from the
   * `LastKnownGood` module).
   *
   * @category defaults
   * @since 0.1.0
   */
  lastKnownGoodDefaults,
  /**
   * Makes a last-known-good cache of `A` values (re-exported from the
   * `LastKnownGood` module, as its `make`): `lastKnownGood<A>()(options)`.
   * It keeps the last successful value per key and serves it, marked
   * `Stale` with its age, when the call fails with a chosen error.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import type { CircuitOpenError } from "effect-resilience"
   * import { Fallback } from "effect-resilience"
   *
   * interface Product { readonly sku: string; readonly price: number }
   * declare const fetchProduct: (sku: string) => Effect.Effect<Product, Error | CircuitOpenError>
   *
   * const program = Effect.gen(function*() {
   *   const products = yield* Fallback.lastKnownGood<Product>()({ name: "products", on: ["CircuitOpenError"] })
   *   const served = yield* fetchProduct("sku-1").pipe(products.serve("sku-1"))
   *   return served.value.price
   * })
   * ```
   *
   * @category constructors
   * @since 0.1.0
   */
  make as lastKnownGood,
  /**
   * A value served from a last-known-good cache in place of a failed call:
   * its `age`, when it was stored (`storedAt`, epoch milliseconds), and the
   * `error` the call failed with (re-exported from the `LastKnownGood`
   * module).
   *
   * @category models
   * @since 0.1.0
   */
  Stale
} from "./LastKnownGood.js"

export type {
  /**
   * A last-known-good cache of `A` values by string key (re-exported from
   * the `LastKnownGood` module).
   *
   * @category models
   * @since 0.1.0
   */
  LastKnownGood,
  /**
   * The options of `Fallback.lastKnownGood` (re-exported from the
   * `LastKnownGood` module).
   *
   * @category models
   * @since 0.1.0
   */
  LastKnownGoodOptions,
  /**
   * A call's answer through a last-known-good cache: `Fresh` from the call,
   * or `Stale` from the cache (re-exported from the `LastKnownGood` module).
   *
   * @category models
   * @since 0.1.0
   */
  Served
} from "./LastKnownGood.js"

/**
 * A fallback policy: answers for the errors it `Removes` with a `Value` (or
 * an effect that may fail with `Adds` and need `Requires`). `Handlers` is
 * what applying it checks: the tags the call must be able to fail with and
 * the error type `orElse` accepts (see `Policy.Handler`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Fallback<Removes, Adds, Requires, Value, Handlers = never>
  extends Policy<Removes, Adds, Requires, Value, Handlers>
{
  readonly kind: "Fallback"
  /** A `FallbackUsed` event every time the fallback answers, from the moment the stream runs. */
  readonly events: Stream.Stream<FallbackUsed>
  /** Subscribes now and returns the stream of events from this moment on. */
  readonly subscribe: Effect.Effect<Stream.Stream<FallbackUsed>, never, Scope.Scope>
}

/**
 * Which errors a fallback answers for: error tags, or a refinement. Omitted:
 * every typed error.
 *
 * @category models
 * @since 0.1.0
 */
export type ErrorSelector = ReadonlyArray<string> | Predicate.Refinement<unknown, unknown>

/**
 * The options of `Fallback.make`, as the runtime sees them: `on` (optional),
 * and either `orElse` or `value`.
 *
 * @category models
 * @since 0.1.0
 */
export interface FallbackOptions {
  readonly name?: string | undefined
  readonly metrics?: boolean | undefined
  readonly on?: ErrorSelector | undefined
  readonly orElse?: ((error: never) => Effect.Effect<unknown, unknown, unknown>) | undefined
  readonly value?: unknown
}

/**
 * The error a fallback on these tags receives: an object with one of the
 * tags.
 *
 * @category models
 * @since 0.1.0
 */
export interface Tagged<Tag extends string> {
  readonly _tag: Tag
}

/**
 * The errors a fallback on these tags removes from a call's type: those with
 * one of the tags — or none, when the tags are only known as `string` (a
 * widened array): the type cannot say which errors they name.
 *
 * @category models
 * @since 0.1.0
 */
export type Handled<Tag extends string> = string extends Tag ? never : Tagged<Tag>

/**
 * Effect's own `Cause.TimeoutError`, what `Effect.timeout` fails with, under
 * a name that tells it from the library's `TimeoutError` in messages: both
 * carry the tag `"TimeoutError"`.
 *
 * @category models
 * @since 0.1.0
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- an interface, so that messages show its name
export interface EffectTimeoutError extends Cause.TimeoutError {}

/**
 * What an unannotated `orElse` is handed, by tag: the library's own errors.
 * `"TimeoutError"` is also the tag of Effect's `Cause.TimeoutError`, so a
 * fallback on it may be handed either (`EffectTimeoutError`): narrow with
 * `isTimeoutError`, or annotate the parameter (`(error: TimeoutError) =>
 * ...`) to have the call checked for it.
 *
 * @category models
 * @since 0.1.0
 */
export interface LibraryErrors {
  readonly CircuitOpenError: CircuitOpenError
  readonly TimeoutError: TimeoutError | EffectTimeoutError
  readonly BulkheadFullError: BulkheadFullError
  readonly ConcurrencyLimitExceededError: ConcurrencyLimitExceededError
  readonly RateLimitExceededError: RateLimitExceededError
  readonly RegistryFullError: RegistryFullError
  readonly RegistryKeyError: RegistryKeyError
  readonly CircuitBreakerConfigError: CircuitBreakerConfigError
}

/**
 * The error an unannotated `orElse` receives for a tag: the library's
 * errors with that tag (see `LibraryErrors`), otherwise an object with the
 * tag.
 *
 * @category type-level
 * @since 0.1.0
 */
export type ErrorOf<Tag extends string> = Tag extends keyof LibraryErrors ? LibraryErrors[Tag] : Tagged<Tag>

/**
 * The tags an error type may carry: the literal tags of its members, or any
 * string when a member has none (`unknown`, `Error`, ...).
 *
 * @category type-level
 * @since 0.1.0
 */
export type AcceptedTags<E> = unknown extends E ? string
  : E extends { readonly _tag: infer Tag extends string } ? Tag
  : string

/**
 * What applying a fallback on `Tag`s with an `orElse` taking `Accepts`
 * checks: one `Policy.Handler` per tag (none when the tags are only known as
 * `string`). `Accepts` is `unknown` for an unannotated `orElse`, a `value`
 * or a cache: only the tag is checked.
 *
 * @category type-level
 * @since 0.1.0
 */
export type HandlersOf<Tag extends string, Accepts> = string extends Tag ? never
  : Tag extends string ? Handler<Tag, AcceptedFor<Accepts, Tag>>
  : never

/** The part of `Accepts` an error with `Tag` can be. */
type AcceptedFor<Accepts, Tag extends string> = unknown extends Accepts ? unknown
  : [Extract<Accepts, Tagged<Tag>>] extends [never] ? Accepts & Tagged<Tag>
  : Extract<Accepts, Tagged<Tag>>

/**
 * What applying a fallback on every error with an `orElse` taking `Accepts`
 * checks: that every error of the call is one (nothing for `unknown`).
 *
 * @category type-level
 * @since 0.1.0
 */
export type HandlerOfAll<Accepts> = unknown extends Accepts ? never : Handler<string, Accepts>

/**
 * Makes a fallback. `on` chooses the errors it answers for: a non-empty list
 * of tags, a refinement, or (omitted) every typed error. It answers with
 * `value`, or with the effect `orElse(error)` returns. Options the runtime
 * cannot use (an empty tag list, both or neither of `value` and `orElse`)
 * fail with `PolicyConfigError`.
 *
 * `orElse` receives the error itself. For the library's own errors
 * (`LibraryErrors`) the tag is enough to type it; for others, annotate the
 * parameter (`(error: InventoryError) => ...`): every tag in `on` must then
 * be one the annotation can carry. Applying the fallback checks the rest
 * against the call, as `Effect.catchTag` does: each tag must be one its
 * errors carry (a typo does not compile; `Error` and `unknown` carry none),
 * and an annotated `orElse` must accept the errors with its tags.
 *
 * @example
 * ```ts
 * import { Data, Effect } from "effect"
 * import { Fallback, isCircuitOpenError } from "effect-resilience"
 *
 * class InventoryError extends Data.TaggedError("InventoryError")<{ readonly status: number }> {}
 *
 * const fallbacks = Effect.gen(function*() {
 *   // Every typed error: answer with a default.
 *   const anyError = yield* Fallback.make({ value: 0 })
 *   // By tag: the library's errors come typed.
 *   const whenOpen = yield* Fallback.make({
 *     on: ["CircuitOpenError"],
 *     orElse: (error) => Effect.succeed(`retry in ${error.retryAfter}`)
 *   })
 *   // Your own errors: annotate the parameter.
 *   const whenDown = yield* Fallback.make({
 *     on: ["InventoryError"],
 *     orElse: (error: InventoryError) => Effect.succeed(`inventory answered ${error.status}`)
 *   })
 *   // By refinement.
 *   const byGuard = yield* Fallback.make({ on: isCircuitOpenError, value: "open" })
 *   return { anyError, whenOpen, whenDown, byGuard }
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: {
  <X, B, E2 = never, R2 = never>(options: {
    readonly name?: string | undefined
    readonly metrics?: boolean | undefined
    readonly on: Predicate.Refinement<unknown, X>
    readonly orElse: (error: X) => Effect.Effect<B, E2, R2>
  }): Effect.Effect<Fallback<X, E2, R2, B>, PolicyConfigError>
  <X, B>(options: {
    readonly name?: string | undefined
    readonly metrics?: boolean | undefined
    readonly on: Predicate.Refinement<unknown, X>
    readonly value: B
  }): Effect.Effect<Fallback<X, never, never, B>, PolicyConfigError>
  <B, E2 = never, R2 = never, Accepts = unknown>(options: {
    readonly name?: string | undefined
    readonly metrics?: boolean | undefined
    readonly on?: undefined
    readonly orElse: (error: Accepts) => Effect.Effect<B, E2, R2>
  }): Effect.Effect<Fallback<unknown, E2, R2, B, HandlerOfAll<Accepts>>, PolicyConfigError>
  <B>(options: {
    readonly name?: string | undefined
    readonly metrics?: boolean | undefined
    readonly on?: undefined
    readonly value: B
  }): Effect.Effect<Fallback<unknown, never, never, B>, PolicyConfigError>
  <const Tags extends ReadonlyArray<string>, B>(options: {
    readonly name?: string | undefined
    readonly metrics?: boolean | undefined
    readonly on: Tags
    readonly value: B
  }): Effect.Effect<
    Fallback<Handled<Tags[number]>, never, never, B, HandlersOf<Tags[number], unknown>>,
    PolicyConfigError
  >
  <const Tags extends ReadonlyArray<string>, B, E2 = never, R2 = never>(options: {
    readonly name?: string | undefined
    readonly metrics?: boolean | undefined
    readonly on: Tags
    readonly orElse: (error: ErrorOf<Tags[number]>) => Effect.Effect<B, E2, R2>
  }): Effect.Effect<
    Fallback<Handled<Tags[number]>, E2, R2, B, HandlersOf<Tags[number], unknown>>,
    PolicyConfigError
  >
  <const Tags extends ReadonlyArray<string>, Accepts, B, E2 = never, R2 = never>(options: {
    readonly name?: string | undefined
    readonly metrics?: boolean | undefined
    readonly on: Tags & ReadonlyArray<AcceptedTags<Accepts>>
    readonly orElse: (error: Accepts) => Effect.Effect<B, E2, R2>
  }): Effect.Effect<Fallback<Handled<Tags[number]>, E2, R2, B, HandlersOf<Tags[number], Accepts>>, PolicyConfigError>
} = ((options: FallbackOptions) =>
  makePolicy(
    "Fallback",
    FallbackOptionsSchema,
    options,
    (decoded, setup) => {
      const orElse = decoded.orElse ?? constant(Exit.succeed(decoded.value))
      return new FallbackImpl(setup, toFilter(decoded.on), orElse)
    },
    (decoded, invalid) => {
      // A rule between the two is not checked while one of them is reported broken.
      if (invalid.has("value") || invalid.has("orElse")) return []
      const value = decoded.value
      const hasOrElse = decoded.orElse !== undefined
      // `value: undefined` is a value of its own, unless `orElse` is given (as by a spread of defaults).
      const hasValue = hasOrElse ? value !== undefined : "value" in decoded
      if (hasValue === hasOrElse) {
        return [
          new ConfigIssue({
            field: hasValue ? "value" : "orElse",
            rule: hasValue
              ? "cannot be combined with orElse: give a value or an effect, not both"
              : "is required: give orElse (error) => Effect, or a value"
          })
        ]
      }
      if (hasValue && Effect.isEffect(value)) {
        return [
          new ConfigIssue({
            field: "value",
            rule: "is an Effect, which would be served as it is: give orElse: () => effect to run it"
          })
        ]
      }
      return []
    }
  )) as never

/**
 * Applies a fallback to a call (data-first or data-last): the errors it
 * handles leave the error type, its value joins the success type. As with
 * `Effect.catchTag`, a fallback on a tag the call's errors do not carry, or
 * whose annotated `orElse` does not accept the errors with its tags, does
 * not compile; the errors a layer adds count even where the call's own
 * error type is a type parameter. In the data-last form the call's error
 * type comes from the pipe, as with `Effect.catchTag`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Policy } from "effect-resilience"
 * import { Fallback } from "effect-resilience"
 *
 * type OnTimeout = Policy.Handler<"TimeoutError", Fallback.Tagged<"TimeoutError">>
 * declare const fallback: Fallback.Fallback<Fallback.Tagged<"TimeoutError">, never, never, string, OnTimeout>
 * declare const fetchName: Effect.Effect<string, { readonly _tag: "TimeoutError" } | { readonly _tag: "NotFound" }>
 *
 * // Effect<string, { readonly _tag: "NotFound" }>
 * const name = fetchName.pipe(Fallback.fallback(fallback))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const fallback: {
  <F extends Fallback<unknown, unknown, unknown, unknown>>(
    policy: F
  ): <A, E, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<A | Policy.Value<F>, Exclude<E, Policy.Removes<F>> | Policy.Adds<F>, R | Policy.Requires<F>>
  <F extends Fallback<unknown, unknown, unknown, unknown, unknown>, E>(
    policy: F & NoInfer<Fits<E, Policy.Handlers<F>>>
  ): <A, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<A | Policy.Value<F>, Exclude<E, Policy.Removes<F>> | Policy.Adds<F>, R | Policy.Requires<F>>
  <A, E = Inferring, R = never, F extends Fallback<unknown, unknown, unknown, unknown, unknown> = never>(
    self: Effect.Effect<A, E, R>,
    policy: F & NoInfer<Fits<E, Policy.Handlers<F>>>
  ): Effect.Effect<A | Policy.Value<F>, Exclude<E, Policy.Removes<F>> | Policy.Adds<F>, R | Policy.Requires<F>>
} = applyPolicy as never

// ---------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------

const FallbackOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  on: Schema.optional(OnSchema),
  orElse: Schema.optional(FunctionValue<(error: unknown) => Effect.Effect<unknown, unknown, unknown>>(
    "a function (error) => Effect"
  )),
  value: Schema.optional(Schema.Unknown),
  ...metricsOption
})

class FallbackImpl extends PolicyBase<unknown, unknown, unknown, unknown, FallbackUsed>
  implements Fallback<unknown, unknown, unknown, unknown>
{
  readonly kind = "Fallback" as const

  private readonly used: Cell

  constructor(
    setup: Setup,
    private readonly filter: ErrorFilter,
    private readonly orElse: (error: unknown) => Effect.Effect<unknown, unknown, unknown>
  ) {
    super(setup)
    this.used = this.counter(policyMetrics.fallbacks)
  }

  readonly apply = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<unknown, unknown, unknown> =>
    Effect.catchCause(self, (cause) => {
      const failed = recoverableError(cause)
      if (failed === undefined || !matches(this.filter, failed.error)) return Effect.failCause(cause)
      this.used.count++
      if (this.publisher.active) {
        this.publisher.publish(new FallbackUsed({ policy: this.name, error: errorTag(failed.error), at: this.now() }))
      }
      return this.orElse(failed.error)
    })
}

const constant = <A>(a: A) => () => a
