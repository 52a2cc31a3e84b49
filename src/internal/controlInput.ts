/**
 * Validates an operator's timed opening before it touches the circuit: a
 * duration from 1 ms to `Limits.maxDuration` (`openFor`), or an instant
 * after now and at most `Limits.maxDuration` away (`openUntil`). A broken
 * rule is a `ConfigIssue` naming the field.
 *
 * @internal
 */
import { Duration, Result, Schema } from "effect"
import { ConfigIssue } from "../ConfigIssue.js"
import { maxDuration } from "../Limits.js"
import { decodeOptions, describeValue } from "./options.js"
import { durationInput } from "./schemas.js"

const OpenFor = Schema.Struct({ duration: durationInput({ allowZero: false }) })

const maxMillis = Duration.toMillis(maxDuration)

/**
 * How long an `openFor(duration)` opens, in whole milliseconds (rounded up),
 * or the issue of its `field`.
 *
 * @internal
 */
export const openForMillis = (input: unknown, field = "duration"): number | ConfigIssue => {
  const decoded = decodeOptions(OpenFor, { duration: input }, "duration", field)
  if (Result.isSuccess(decoded)) return Math.ceil(Duration.toMillis(decoded.success.duration))
  const issue = decoded.failure[0]!
  return new ConfigIssue({ field, rule: issue.rule })
}

/**
 * The epoch millis an `openUntil(instant)` opens until (a number of epoch
 * milliseconds or a `Date`), checked against `now`, or the issue of its
 * `field`.
 *
 * @internal
 */
export const openUntilMillis = (input: unknown, now: number, field = "until"): number | ConfigIssue => {
  const millis = input instanceof Date ? input.getTime() : input
  if (typeof millis !== "number" || !Number.isFinite(millis)) {
    return new ConfigIssue({
      field,
      rule: `must be a valid Date or a finite number of epoch milliseconds (got ${describeValue(input)})`
    })
  }
  const until = Math.ceil(millis)
  if (until <= now) {
    return new ConfigIssue({ field, rule: `must be in the future (now is ${now}, got ${until})` })
  }
  if (until - now > maxMillis) {
    return new ConfigIssue({
      field,
      rule: `must be at most ${maxMillis} milliseconds (about 24.8 days) from now (now is ${now}, got ${until})`
    })
  }
  return until
}
