/**
 * Timeouts: a call that has not finished within a duration is interrupted
 * and fails with a typed `TimeoutError`.
 *
 * The work is really stopped: it is interrupted, its finalizers run, and only
 * then does the caller see the `TimeoutError`. The call runs in a fiber of its
 * own beside a timer, as with Effect's own `Effect.timeout` (at about two
 * thirds of its cost per call). Inside a circuit breaker a timed-out call
 * counts as a failure and as a slow call, whatever the breaker's
 * `slowCallDuration`: it was too slow for its caller.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Timeout } from "effect-resilience"
 *
 * declare const fetchQuote: Effect.Effect<number, Error>
 *
 * const program = Effect.gen(function*() {
 *   const timeout = yield* Timeout.make({ name: "quotes", duration: "800 millis" })
 *   return yield* fetchQuote.pipe(
 *     Timeout.timeout(timeout),
 *     Effect.catchTag("TimeoutError", () => Effect.succeed(0))
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Duration, Effect, Scope, Stream } from "effect"
import { applyPolicy } from "./internal/policy.js"
import { makeTimeout } from "./internal/timeout.js"
import type { Policy } from "./Policy.js"
import type { PolicyConfigError } from "./PolicyConfigError.js"
import type { TimedOut } from "./PolicyEvent.js"
import type { TimeoutError } from "./TimeoutError.js"

export {
  /**
   * Whether a value is a `TimeoutError` of this library (re-exported from the
   * `TimeoutError` module).
   *
   * @category guards
   * @since 0.1.0
   */
  isTimeoutError,
  /**
   * A call ran longer than its timeout and was interrupted (re-exported from
   * the `TimeoutError` module).
   *
   * @category errors
   * @since 0.1.0
   */
  TimeoutError
} from "./TimeoutError.js"

/**
 * The options of `Timeout.make`.
 *
 * @category models
 * @since 0.1.0
 */
export interface TimeoutOptions {
  /**
   * Shown in errors and events: a non-blank string of at most `Limits.maxNameLength` (256)
   * characters, without control characters. Default `"default"`.
   */
  readonly name?: string | undefined
  /** The time limit of each call: from 1 millisecond to `Limits.maxDuration` (about 24.8 days). Required. */
  readonly duration: Duration.Input
  /** Report this policy's metrics (see the `Metrics` module). Default: as the context says (`Metrics.layer`). */
  readonly metrics?: boolean | undefined
}

/**
 * A timeout policy: fails a call that runs longer than `duration` with
 * `TimeoutError`, after interrupting it.
 *
 * @category models
 * @since 0.1.0
 */
export interface Timeout extends Policy<never, TimeoutError> {
  readonly kind: "Timeout"
  /** The time limit of each call. */
  readonly duration: Duration.Duration
  /** A `TimedOut` event for every call that timed out, from the moment the stream runs. */
  readonly events: Stream.Stream<TimedOut>
  /** Subscribes now and returns the stream of events from this moment on. */
  readonly subscribe: Effect.Effect<Stream.Stream<TimedOut>, never, Scope.Scope>
}

/**
 * Makes a timeout policy. A `duration` that is not a positive, finite
 * duration fails with `PolicyConfigError` naming the field.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Timeout } from "effect-resilience"
 *
 * const timeout = Timeout.make({ name: "inventory", duration: "2 seconds" })
 * // Effect<Timeout, PolicyConfigError>
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: (options: TimeoutOptions) => Effect.Effect<Timeout, PolicyConfigError> = makeTimeout

/**
 * Applies a timeout policy to a call (data-first or data-last).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Timeout } from "effect-resilience"
 *
 * declare const timeout: Timeout.Timeout
 * declare const search: Effect.Effect<ReadonlyArray<string>, Error>
 *
 * // Effect<ReadonlyArray<string>, Error | TimeoutError>
 * const limited = search.pipe(Timeout.timeout(timeout))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const timeout: {
  (policy: Timeout): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | TimeoutError, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, policy: Timeout): Effect.Effect<A, E | TimeoutError, R>
} = applyPolicy as never
