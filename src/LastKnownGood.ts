/**
 * Last-known-good caches: the classic "serve cached data while the
 * dependency is down". A cache keeps the last successful value of a call
 * per key (bounded in size, with a time to live) and, when the call fails
 * with a chosen error, serves that value instead, marked `Stale` with its
 * age and the error; a successful call is stored and answered `Fresh`.
 *
 * Only typed failures are answered: defects (bugs) and interruptions pass
 * through. The tags of `on` are checked where the cache serves a call, with
 * the rules of `Effect.catchTag`: a tag the call cannot fail with does not
 * compile. The `Fallback` module re-exports this one's names
 * (`Fallback.lastKnownGood` is `LastKnownGood.make`).
 *
 * ```ts
 * import { Effect } from "effect"
 * import type { CircuitOpenError } from "effect-resilience"
 * import { LastKnownGood } from "effect-resilience"
 *
 * interface Price { readonly sku: string; readonly cents: number }
 * declare const fetchPrice: (sku: string) => Effect.Effect<Price, CircuitOpenError>
 *
 * const program = Effect.gen(function*() {
 *   const prices = yield* LastKnownGood.make<Price>()({ name: "prices", ttl: "1 hour", on: ["CircuitOpenError"] })
 *   const served = yield* fetchPrice("sku-1").pipe(prices.serve("sku-1"))
 *   return served.value.cents
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Predicate, Scope, Stream, Types } from "effect"
import { Data, Duration, Effect, Schema } from "effect"
import type { HandlersOf } from "./Fallback.js"
import type { ErrorFilter } from "./internal/errorSelector.js"
import { matches, OnSchema, toFilter } from "./internal/errorSelector.js"
import type { Cell } from "./internal/metrics.js"
import { Name } from "./internal/options.js"
import type { Setup } from "./internal/policy.js"
import { errorTag, makePolicy, metricsOption, Observed, recoverableError } from "./internal/policy.js"
import { durationInput, IntBetween } from "./internal/schemas.js"
import { maxCacheEntries } from "./Limits.js"
import { policies as policyMetrics } from "./Metrics.js"
import type { Expected, Inferring } from "./Policy.js"
import type { PolicyConfigError } from "./PolicyConfigError.js"
import { StaleValueServed } from "./PolicyEvent.js"

const TypeId = "~effect-resilience/LastKnownGood"

/**
 * A value fresh from the call.
 *
 * @category models
 * @since 0.1.0
 */
export class Fresh<A> extends Data.TaggedClass("Fresh")<{ readonly value: A }> {}

/**
 * A value served from a last-known-good cache in place of a failed call:
 * its `age`, when it was stored (`storedAt`, epoch milliseconds), and the
 * `error` the call failed with.
 *
 * @category models
 * @since 0.1.0
 */
export class Stale<A, E> extends Data.TaggedClass("Stale")<{
  readonly value: A
  readonly age: Duration.Duration
  readonly storedAt: number
  readonly error: E
}> {}

/**
 * The options of `LastKnownGood.make` (`Fallback.lastKnownGood`).
 *
 * @category models
 * @since 0.1.0
 */
export interface LastKnownGoodOptions<Tags extends ReadonlyArray<string> = ReadonlyArray<string>> {
  /** Shown in events. Default `"default"`. */
  readonly name?: string | undefined
  /**
   * Keys kept, from 1 to `Limits.maxCacheEntries` (1,000,000); storing one
   * more evicts the least recently stored. Default 1000.
   */
  readonly maxEntries?: number | undefined
  /** A value older than this is never served: from 1 millisecond to `Limits.maxDuration`. Default 10 minutes. */
  readonly ttl?: Duration.Input | undefined
  /**
   * The errors a cached value is served for: tags (each one the call must be
   * able to fail with, checked by `serve`) or a refinement. Default: every
   * typed error.
   */
  readonly on?: Tags | Predicate.Refinement<unknown, unknown> | undefined
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
 * A last-known-good cache of `A` values by string key. `Handlers` is what
 * `serve` checks of the call: the tags of `on` it must be able to fail with.
 *
 * @category models
 * @since 0.1.0
 */
export interface LastKnownGood<A, Handlers = never> {
  readonly [TypeId]: { readonly _Handlers: Types.Covariant<Handlers> }
  readonly kind: "LastKnownGood"
  readonly name: string
  readonly maxEntries: number
  readonly ttl: Duration.Duration
  /**
   * Runs the call for `key`: a success is stored and returned `Fresh`; a
   * failure with a chosen error is answered with the key's cached value,
   * `Stale`, if there is one younger than `ttl`; otherwise the call's error
   * stands (so the error type is unchanged). A tag of `on` the call cannot
   * fail with does not compile; in the data-last form the call's error type
   * comes from the pipe, as with `Effect.catchTag`.
   */
  readonly serve: [Handlers] extends [never] ? {
      (key: string): <E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Served<A, E>, E, R>
      <E, R>(self: Effect.Effect<A, E, R>, key: string): Effect.Effect<Served<A, E>, E, R>
    }
    : {
      <E>(
        this: NoInfer<LastKnownGood.Fits<E, Handlers>>,
        key: string
      ): <R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Served<A, E>, E, R>
      <E = Inferring, R = never>(
        this: NoInfer<LastKnownGood.Fits<E, Handlers>>,
        self: Effect.Effect<A, E, R>,
        key: string
      ): Effect.Effect<Served<A, E>, E, R>
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
 * @since 0.1.0
 */
export declare namespace LastKnownGood {
  /**
   * A cache whose `on` tags fit a call failing with `E`: what `serve` asks
   * of the cache it is called on.
   *
   * @category type-level
   * @since 0.1.0
   */
  export interface Fits<E, Handlers> {
    readonly [TypeId]: { readonly _Handlers: Types.Covariant<Expected<E, Handlers>> }
  }
}

/**
 * Makes a last-known-good cache of `A` values: `make<A>()(options)` (the
 * value type is given, the tags of `on` are read from the options, so that
 * `serve` can check them). Bad options (a zero size, a negative TTL, an
 * empty tag list) fail with `PolicyConfigError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { CircuitOpenError } from "effect-resilience"
 * import { LastKnownGood } from "effect-resilience"
 *
 * interface Product { readonly sku: string; readonly price: number }
 * declare const fetchProduct: (sku: string) => Effect.Effect<Product, Error | CircuitOpenError>
 *
 * const program = Effect.gen(function*() {
 *   const products = yield* LastKnownGood.make<Product>()({
 *     name: "products",
 *     maxEntries: 10_000,
 *     ttl: "1 hour",
 *     on: ["CircuitOpenError"]
 *   })
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
export const make: <A>() => <const Tags extends ReadonlyArray<string> = readonly []>(
  options?: LastKnownGoodOptions<Tags>
) => Effect.Effect<LastKnownGood<A, HandlersOf<Tags[number], unknown>>, PolicyConfigError> = () => makeUntyped as never

/**
 * The defaults of `LastKnownGood.make`.
 *
 * @category defaults
 * @since 0.1.0
 */
export const lastKnownGoodDefaults: { readonly maxEntries: number; readonly ttl: Duration.Input } = {
  maxEntries: 1000,
  ttl: "10 minutes"
}

// ---------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------

const LastKnownGoodOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  maxEntries: Schema.optional(IntBetween(1, maxCacheEntries)),
  ttl: Schema.optional(durationInput({ allowZero: false })),
  on: Schema.optional(OnSchema),
  ...metricsOption
})

interface Entry<A> {
  readonly value: A
  readonly storedAt: number
}

class LastKnownGoodImpl<A> extends Observed<StaleValueServed> implements LastKnownGood<A, unknown> {
  declare readonly [TypeId]: LastKnownGood<A, unknown>[typeof TypeId]
  readonly kind = "LastKnownGood" as const
  /** Insertion order is recency: a store moves its key to the end, the first key is the eldest. */
  private readonly entries = new Map<string, Entry<A>>()
  private readonly ttlMillis: number

  private readonly served: Cell

  constructor(
    setup: Setup,
    readonly maxEntries: number,
    readonly ttl: Duration.Duration,
    private readonly filter: ErrorFilter
  ) {
    super(setup)
    this.ttlMillis = Duration.toMillis(ttl)
    this.served = this.counter(policyMetrics.staleValuesServed)
  }

  readonly serve: LastKnownGood<A, unknown>["serve"] = ((first: unknown, second?: unknown) =>
    typeof first === "string"
      ? (self: Effect.Effect<A, unknown, unknown>) => this.serveKey(self, first)
      : this.serveKey(first as Effect.Effect<A, unknown, unknown>, second as string)) as never

  get size(): Effect.Effect<number> {
    return Effect.sync(() => this.entries.size)
  }

  invalidate(key: string): Effect.Effect<void> {
    return Effect.sync(() => void this.entries.delete(key))
  }

  private serveKey<E, R>(self: Effect.Effect<A, E, R>, key: string): Effect.Effect<Fresh<A> | Stale<A, E>, E, R> {
    return Effect.catchCause(
      Effect.map(self, (value) => {
        this.store(key, value)
        return new Fresh({ value })
      }),
      (cause) => {
        const failed = recoverableError(cause)
        if (failed === undefined || !matches(this.filter, failed.error)) return Effect.failCause(cause)
        const now = this.now()
        const entry = this.lookup(key, now)
        if (entry === undefined) return Effect.failCause(cause)
        const age = Duration.millis(Math.max(0, now - entry.storedAt))
        this.served.count++
        if (this.publisher.active) {
          this.publisher.publish(
            new StaleValueServed({ policy: this.name, error: errorTag(failed.error), age, at: now })
          )
        }
        return Effect.succeed(new Stale({ value: entry.value, age, storedAt: entry.storedAt, error: failed.error }))
      }
    )
  }

  private store(key: string, value: A): void {
    const entries = this.entries
    entries.delete(key)
    entries.set(key, { value, storedAt: this.now() })
    if (entries.size > this.maxEntries) entries.delete(entries.keys().next().value!)
  }

  private lookup(key: string, now: number): Entry<A> | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    if (now - entry.storedAt > this.ttlMillis) {
      this.entries.delete(key)
      return undefined
    }
    return entry
  }
}

Object.defineProperty(LastKnownGoodImpl.prototype, TypeId, {
  value: { _Handlers: (handlers: unknown) => handlers }
})

/** The constructor behind `make`, for any value type: `make` only gives it its type. */
const makeUntyped = (
  options: LastKnownGoodOptions | undefined
): Effect.Effect<LastKnownGood<unknown, unknown>, PolicyConfigError> =>
  makePolicy(
    "LastKnownGood",
    LastKnownGoodOptionsSchema,
    options,
    (decoded, setup) =>
      new LastKnownGoodImpl(
        setup,
        decoded.maxEntries ?? lastKnownGoodDefaults.maxEntries,
        decoded.ttl ?? Duration.fromInputUnsafe(lastKnownGoodDefaults.ttl),
        toFilter(decoded.on)
      )
  )
