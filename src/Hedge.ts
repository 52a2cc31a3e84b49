/**
 * Hedged calls: when a call is slow to answer, send another and take the
 * first answer — the tail-latency cure for idempotent reads (a search, a
 * price, a product page).
 *
 * The call starts; if it has not answered after `delay`, a second attempt
 * starts beside it, and so on up to `attempts` in all. An attempt that fails
 * with a typed error starts the next one at once (unless it was rejected by
 * an open circuit or a full bulkhead, which another attempt now would only
 * repeat). The first success wins and the other attempts are interrupted;
 * when every attempt has failed, the call fails with the last failure, so
 * hedging adds no error to the call's type. A defect or an interruption ends
 * the call at once. Delays use the fiber's `Clock`: `TestClock` drives them
 * in tests.
 *
 * Only hedge calls that are safe to repeat.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Hedge } from "effect-resilience"
 *
 * declare const search: (q: string) => Effect.Effect<ReadonlyArray<string>, Error>
 *
 * const program = Effect.gen(function*() {
 *   const hedge = yield* Hedge.make({ name: "search", delay: "150 millis", attempts: 3 })
 *   return yield* search("lamp").pipe(Hedge.hedge(hedge))
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Duration, Effect, Scope, Stream } from "effect"
import { defaults, makeHedge } from "./internal/hedge.js"
import { applyPolicy } from "./internal/policy.js"
import type { Policy } from "./Policy.js"
import type { PolicyConfigError } from "./PolicyConfigError.js"
import type { HedgeStarted, HedgeSucceeded } from "./PolicyEvent.js"

/**
 * The options of `Hedge.make`.
 *
 * @category models
 * @since 0.1.0
 */
export interface HedgeOptions {
  /**
   * Shown in events: a non-blank string of at most `Limits.maxNameLength` (256)
   * characters, without control characters. Default `"default"`.
   */
  readonly name?: string | undefined
  /**
   * How long an attempt may go unanswered before the next starts: 0 (every
   * attempt at once) or from 1 millisecond to `Limits.maxDuration`. Default
   * 2 seconds (as Polly).
   */
  readonly delay?: Duration.Input | undefined
  /**
   * Attempts in all, the first included: an integer from 1 (no hedging) to
   * `Limits.maxHedgeAttempts` (10, as Polly bounds its hedged attempts).
   * Default 2 (as Polly).
   */
  readonly attempts?: number | undefined
  /** Report this policy's metrics (see the `Metrics` module). Default: as the context says (`Metrics.layer`). */
  readonly metrics?: boolean | undefined
}

/**
 * A hedging policy. It never changes a call's types.
 *
 * @category models
 * @since 0.1.0
 */
export interface Hedge extends Policy {
  readonly kind: "Hedge"
  readonly delay: Duration.Duration
  readonly attempts: number
  /** `HedgeStarted` for every extra attempt, `HedgeSucceeded` for the winning one. */
  readonly events: Stream.Stream<HedgeStarted | HedgeSucceeded>
  /** Subscribes now and returns the stream of events from this moment on. */
  readonly subscribe: Effect.Effect<Stream.Stream<HedgeStarted | HedgeSucceeded>, never, Scope.Scope>
}

/**
 * Makes a hedging policy. Bad options (a `NaN` delay, zero attempts, more
 * than `Limits.maxHedgeAttempts`) fail with `PolicyConfigError`.
 *
 * @example
 * ```ts
 * import { Hedge } from "effect-resilience"
 *
 * const hedge = Hedge.make({ name: "prices", delay: "100 millis" })
 * // Effect<Hedge, PolicyConfigError>
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (options?: HedgeOptions) => Effect.Effect<Hedge, PolicyConfigError> = makeHedge

/**
 * Applies a hedging policy to a call (data-first or data-last).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Hedge } from "effect-resilience"
 *
 * declare const hedge: Hedge.Hedge
 * declare const price: (sku: string) => Effect.Effect<number, Error>
 *
 * const fastPrice = (sku: string) => price(sku).pipe(Hedge.hedge(hedge))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const hedge: {
  (policy: Hedge): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, policy: Hedge): Effect.Effect<A, E, R>
} = applyPolicy as never

/**
 * The defaults of `Hedge.make`.
 *
 * @category defaults
 * @since 0.1.0
 */
export const hedgeDefaults: { readonly attempts: number; readonly delay: Duration.Input } = defaults
