/**
 * What a failed call leaves behind: the failure a circuit records (the
 * call's exit, kept as it is until something asks), the opening it causes,
 * and how snapshots and health reports show a failure.
 *
 * @internal
 */
import type { Exit } from "effect"
import { Cause } from "effect"
import type { TransitionReason } from "../CircuitBreakerEvent.js"
import { FailureSummary, maxFailureMessageLength } from "../CircuitBreakerSnapshot.js"

/**
 * A call that failed: its exit (what it failed with, kept as it is until a
 * report asks) and when it ended.
 *
 * @internal
 */
export interface RecordedFailure {
  readonly at: number
  readonly exit: Exit.Exit<unknown, unknown>
}

/**
 * The circuit's current opening: when and why it opened (or was forced
 * open), and the failure that opened it, when a failure did. Kept while the
 * circuit is Open, HalfOpen or ForcedOpen.
 *
 * @internal
 */
export interface Opening {
  readonly at: number
  readonly reason: TransitionReason
  readonly failure: RecordedFailure | undefined
}

/**
 * What a call failed with: its typed error or defect, or the value of a
 * success that a classifier counted as a failure.
 *
 * @internal
 */
export const failureValue = (exit: Exit.Exit<unknown, unknown>): unknown =>
  exit._tag === "Success" ? exit.value : Cause.squash(exit.cause)

/**
 * A value as text, for a report: never throws, whatever the value's
 * `toString` or `message` does.
 *
 * @internal
 */
export const textOf = (value: unknown): string => {
  try {
    if (typeof value === "string") return value
    if (typeof value === "object" && value !== null && "message" in value && typeof value.message === "string") {
      return value.message
    }
    return String(value)
  } catch {
    return "(a value that cannot be shown)"
  }
}

/** The tag of a tagged error, or the name of an `Error`'s class; never throws. */
const tagOf = (value: unknown): string | null => {
  try {
    if (typeof value !== "object" || value === null) return null
    const tag = (value as { readonly _tag?: unknown })._tag
    if (typeof tag === "string") return tag
    return value instanceof Error ? value.name : null
  } catch {
    return null
  }
}

/**
 * A recorded failure as a report shows it: tag and message, the message cut
 * to a bounded length.
 *
 * @internal
 */
export const summarizeFailure = (failure: RecordedFailure): FailureSummary => {
  const value = failureValue(failure.exit)
  const message = textOf(value)
  return new FailureSummary({
    at: failure.at,
    tag: tagOf(value),
    message: message.length > maxFailureMessageLength ? `${message.slice(0, maxFailureMessageLength - 1)}…` : message
  })
}
