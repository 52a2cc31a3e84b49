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
 *   when the call fails with a chosen error.
 *
 * Fallbacks act on typed failures only: defects (bugs) and interruptions pass
 * through.
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
import type { Duration, Effect, Predicate, Scope, Stream } from "effect"
import type { Fresh, Stale } from "./internal/fallback.js"
import { lastKnownGoodDefaults as defaults, makeFallback, makeLastKnownGood } from "./internal/fallback.js"
import { applyPolicy } from "./internal/policy.js"
import type { Policy } from "./Policy.js"
import type { PolicyConfigError } from "./PolicyConfigError.js"
import type { FallbackUsed, StaleValueServed } from "./PolicyEvent.js"

export {
  /**
   * A value fresh from the call.
   *
   * @category models
   * @since 0.1.0
   */
  Fresh,
  /**
   * A value served from a last-known-good cache in place of a failed call:
   * its `age`, when it was stored (`storedAt`, epoch milliseconds), and the
   * `error` the call failed with.
   *
   * @category models
   * @since 0.1.0
   */
  Stale
} from "./internal/fallback.js"

/**
 * A fallback policy: answers for the errors it `Removes` with a `Value` (or
 * an effect that may fail with `Adds` and need `Requires`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Fallback<Removes, Adds, Requires, Value> extends Policy<Removes, Adds, Requires, Value> {
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
 * Makes a fallback. `on` chooses the errors it answers for: a non-empty list
 * of tags, a refinement, or (omitted) every typed error. It answers with
 * `value`, or with the effect `orElse(error)` returns. Options the runtime
 * cannot use (an empty tag list, both or neither of `value` and `orElse`)
 * fail with `PolicyConfigError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Fallback, isCircuitOpenError, Timeout } from "effect-resilience"
 *
 * const fallbacks = Effect.gen(function*() {
 *   // Every typed error: answer with a default.
 *   const anyError = yield* Fallback.make({ value: 0 })
 *   // Only an open circuit, typed by a refinement.
 *   const whenOpen = yield* Fallback.make({
 *     on: isCircuitOpenError,
 *     orElse: (error) => Effect.succeed(`retry in ${error.retryAfter}`)
 *   })
 *   // By tag.
 *   const whenSlow = yield* Fallback.make({ on: ["TimeoutError"], value: "slow" })
 *   return { anyError, whenOpen, whenSlow, isTimeout: Timeout.isTimeoutError }
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
  <const Tags extends ReadonlyArray<string>, B, E2 = never, R2 = never>(options: {
    readonly name?: string | undefined
    readonly metrics?: boolean | undefined
    readonly on: Tags
    readonly orElse: (error: Tagged<Tags[number]>) => Effect.Effect<B, E2, R2>
  }): Effect.Effect<Fallback<Handled<Tags[number]>, E2, R2, B>, PolicyConfigError>
  <const Tags extends ReadonlyArray<string>, B>(options: {
    readonly name?: string | undefined
    readonly metrics?: boolean | undefined
    readonly on: Tags
    readonly value: B
  }): Effect.Effect<Fallback<Handled<Tags[number]>, never, never, B>, PolicyConfigError>
  <B, E2 = never, R2 = never>(options: {
    readonly name?: string | undefined
    readonly metrics?: boolean | undefined
    readonly orElse: (error: unknown) => Effect.Effect<B, E2, R2>
  }): Effect.Effect<Fallback<unknown, E2, R2, B>, PolicyConfigError>
  <B>(options: {
    readonly name?: string | undefined
    readonly metrics?: boolean | undefined
    readonly value: B
  }): Effect.Effect<Fallback<unknown, never, never, B>, PolicyConfigError>
} = makeFallback as never

/**
 * Applies a fallback to a call (data-first or data-last): the errors it
 * handles leave the error type, its value joins the success type.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Fallback } from "effect-resilience"
 *
 * declare const fallback: Fallback.Fallback<{ readonly _tag: "TimeoutError" }, never, never, string>
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
  <X, E2, R2, B>(
    policy: Fallback<X, E2, R2, B>
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | B, Exclude<E, X> | E2, R | R2>
  <A, E, R, X, E2, R2, B>(
    self: Effect.Effect<A, E, R>,
    policy: Fallback<X, E2, R2, B>
  ): Effect.Effect<A | B, Exclude<E, X> | E2, R | R2>
} = applyPolicy as never

/**
 * The options of `Fallback.lastKnownGood`.
 *
 * @category models
 * @since 0.1.0
 */
export interface LastKnownGoodOptions {
  /** Shown in events. Default `"default"`. */
  readonly name?: string | undefined
  /**
   * Keys kept, from 1 to `Limits.maxCacheEntries` (1,000,000); storing one
   * more evicts the least recently stored. Default 1000.
   */
  readonly maxEntries?: number | undefined
  /** A value older than this is never served: from 1 millisecond to `Limits.maxDuration`. Default 10 minutes. */
  readonly ttl?: Duration.Input | undefined
  /** The errors a cached value is served for: tags or a refinement. Default: every typed error. */
  readonly on?: ErrorSelector | undefined
  /** Report this policy's metrics (see the `Metrics` module). Default: as the context says (`Metrics.layer`). */
  readonly metrics?: boolean | undefined
}

/**
 * A call's answer through a last-known-good cache: `Fresh` from the call, or
 * `Stale` from the cache.
 *
 * @category models
 * @since 0.1.0
 */
export type Served<A, E> = Fresh<A> | Stale<A, E>

/**
 * A last-known-good cache of `A` values by string key.
 *
 * @category models
 * @since 0.1.0
 */
export interface LastKnownGood<A> {
  readonly kind: "LastKnownGood"
  readonly name: string
  readonly maxEntries: number
  readonly ttl: Duration.Duration
  /**
   * Runs the call for `key`: a success is stored and returned `Fresh`; a
   * failure with a chosen error is answered with the key's cached value,
   * `Stale`, if there is one younger than `ttl`; otherwise the call's error
   * stands (so the error type is unchanged).
   */
  readonly serve: {
    (key: string): <E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Served<A, E>, E, R>
    <E, R>(self: Effect.Effect<A, E, R>, key: string): Effect.Effect<Served<A, E>, E, R>
  }
  /** The number of keys held. */
  readonly size: Effect.Effect<number>
  /** Forgets the value kept for `key`. */
  readonly invalidate: (key: string) => Effect.Effect<void>
  /** A `StaleValueServed` event every time a cached value is served. */
  readonly events: Stream.Stream<StaleValueServed>
  /** Subscribes now and returns the stream of events from this moment on. */
  readonly subscribe: Effect.Effect<Stream.Stream<StaleValueServed>, never, Scope.Scope>
}

/**
 * Makes a last-known-good cache. Bad options (a zero size, a negative TTL)
 * fail with `PolicyConfigError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Fallback } from "effect-resilience"
 *
 * interface Product { readonly sku: string; readonly price: number }
 * declare const fetchProduct: (sku: string) => Effect.Effect<Product, Error>
 *
 * const program = Effect.gen(function*() {
 *   const products = yield* Fallback.lastKnownGood<Product>({ name: "products", maxEntries: 10_000, ttl: "1 hour" })
 *   const served = yield* fetchProduct("sku-1").pipe(products.serve("sku-1"))
 *   return served._tag === "Stale"
 *     ? `${served.value.sku} (as of ${served.age} ago)`
 *     : served.value.sku
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const lastKnownGood: <A>(
  options?: LastKnownGoodOptions
) => Effect.Effect<LastKnownGood<A>, PolicyConfigError> = makeLastKnownGood

/**
 * The defaults of `Fallback.lastKnownGood`.
 *
 * @category defaults
 * @since 0.1.0
 */
export const lastKnownGoodDefaults: { readonly maxEntries: number; readonly ttl: Duration.Input } = defaults
