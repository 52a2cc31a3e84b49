/**
 * The error of a call that ran longer than its timeout.
 *
 * `TimeoutError` is an `effect/Schema` tagged error: typed in the error
 * channel of every call a `Timeout` policy guards, handled with
 * `Effect.catchTag("TimeoutError", ...)`, and encodable to cross a process
 * boundary.
 *
 * @since 0.1.0
 */
import { Duration, Schema } from "effect"

/**
 * A call ran longer than its timeout and was interrupted.
 *
 * - `policy`: the timeout policy's name.
 * - `duration`: the time limit the call exceeded.
 *
 * Its tag is `"TimeoutError"`, like Effect's own `Cause.TimeoutError`, so
 * `Effect.catchTag("TimeoutError", ...)` handles both.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Timeout } from "effect-resilience"
 *
 * declare const guarded: Effect.Effect<string, Timeout.TimeoutError>
 *
 * const recovered = guarded.pipe(
 *   Effect.catchTag("TimeoutError", (error) => Effect.succeed(`gave up after ${error.duration}`))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class TimeoutError extends Schema.TaggedError<TimeoutError>()("TimeoutError", {
  policy: Schema.String,
  duration: Schema.Duration
}) {
  override get message(): string {
    return `The call guarded by timeout "${this.policy}" did not finish within ${
      Duration.format(this.duration)
    } and was interrupted.`
  }
}

/**
 * Whether a value is a `TimeoutError` of this library.
 *
 * @example
 * ```ts
 * import { Timeout } from "effect-resilience"
 *
 * Timeout.isTimeoutError(new Error("x")) // false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isTimeoutError = (u: unknown): u is TimeoutError => u instanceof TimeoutError
