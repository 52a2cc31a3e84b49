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
import { Duration, Predicate, Schema } from "effect"

// Guards check this id, not `instanceof`: a value made by another copy of the library (its ESM
// and CJS builds in one process, or two versions) carries it too. It lives on the prototype, so
// the schema's encoding of a value is unchanged.
const TypeId = "~effect-resilience/TimeoutError"

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

Object.defineProperty(TimeoutError.prototype, TypeId, { value: TypeId })

/**
 * Whether a value is a `TimeoutError` of this library, made by any copy of it
 * (its ESM and CJS builds loaded together, or two installed versions): the check
 * is a type id, not `instanceof`.
 *
 * @example
 * ```ts
 * import { Cause, Duration } from "effect"
 * import { Timeout } from "effect-resilience"
 *
 * Timeout.isTimeoutError(new Timeout.TimeoutError({ policy: "search", duration: Duration.seconds(2) })) // => true
 * Timeout.isTimeoutError(new Cause.TimeoutError()) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isTimeoutError = (u: unknown): u is TimeoutError => Predicate.hasProperty(u, TypeId)
