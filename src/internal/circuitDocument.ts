/**
 * A circuit written to a `CircuitDocument` and read back: what the
 * document holds is described in the public `CircuitDocument` module; this
 * module takes it from the state machine, checks an untrusted document
 * against the breaker that restores it (its name, its window and what that
 * window can hold, times that are not in the future and openings no longer
 * than `Limits.maxDuration`), and applies it in one synchronous step.
 *
 * @internal
 */
import { Duration, Exit, Result } from "effect"
import { CircuitDocument, currentVersion } from "../CircuitDocument.js"
import type { DocumentFailure, WindowBucket } from "../CircuitDocument.js"
import type { ControlTarget } from "../CircuitStore.js"
import { ConfigIssue } from "../ConfigIssue.js"
import { maxCallsPerMillisecond, maxClockSkewMillis, maxDuration, maxTimeWindowBuckets } from "../Limits.js"
import type { Circuit } from "./circuit.js"
import type { RecordedFailure } from "./failures.js"
import { summarizeFailure } from "./failures.js"
import { decodeOptions, describeValue } from "./options.js"
import type { Phase } from "./phase.js"
import type { WindowImpl } from "./window.js"
import { CountWindowImpl, TimeWindowImpl } from "./window.js"

const maxMillis = Duration.toMillis(maxDuration)

const summaryOf = (failure: RecordedFailure | undefined): typeof DocumentFailure.Type | null => {
  if (failure === undefined) return null
  const summary = summarizeFailure(failure)
  return { at: summary.at, tag: summary.tag === null ? null : summary.tag.slice(0, 256), message: summary.message }
}

/**
 * A failure read back from a document: what a report shows of it (its tag
 * and message), the value a rejection's `lastFailure` carries.
 */
const recordedOf = (failure: typeof DocumentFailure.Type | null): RecordedFailure | undefined =>
  failure === null ? undefined : {
    at: failure.at,
    exit: Exit.fail(
      failure.tag === null ? { message: failure.message } : { _tag: failure.tag, message: failure.message }
    )
  }

/**
 * The circuit's state at `now`, as a document of the breaker `name`.
 *
 * @internal
 */
export const exportDocument = (circuit: Circuit, name: string, now: number): CircuitDocument => {
  const phase = circuit.advance(now)
  const window = circuit.window
  const opening = phase._tag === "Closed" || phase._tag === "Disabled" ? undefined : circuit.opening
  const documentWindow = window instanceof CountWindowImpl
    ? { _tag: "CountWindow" as const, outcomes: window.outcomes() }
    : { _tag: "TimeWindow" as const, buckets: (window as TimeWindowImpl).bucketsAt(now) }
  // The wall clock may have stepped back since a time the circuit recorded (the window reads such a
  // time as now): the document is exported at the latest time it carries, so that it restores.
  const exportedAt = Math.max(
    now,
    opening?.at ?? now,
    opening?.failure?.at ?? now,
    circuit.lastFailure?.at ?? now,
    documentWindow._tag === "TimeWindow" ? documentWindow.buckets.at(-1)?.at ?? now : now
  )
  return new CircuitDocument({
    version: currentVersion,
    breaker: name,
    exportedAt,
    state: phase._tag,
    openedAt: opening === undefined ? null : opening.at,
    openReason: opening === undefined ? null : opening.reason,
    openUntil: phase._tag === "Open" ? phase.until : null,
    openedBy: summaryOf(opening?.failure),
    consecutiveOpenings: circuit.consecutiveOpenings,
    consecutiveFailures: circuit.consecutiveFailures,
    lastFailure: summaryOf(circuit.lastFailure),
    window: documentWindow
  })
}

const opened = (state: CircuitDocument["state"]): boolean =>
  state === "Open" || state === "HalfOpen" || state === "ForcedOpen"

/**
 * The rules a count window's outcomes and the failure streak break: the
 * window holds at most its size, and a success resets the streak, so the
 * streak is the failures after the last success — or, when every outcome
 * is a failure, as many as the window holds, and more only in a full window
 * (the streak may have begun with an outcome the window evicted; a window
 * not yet full has evicted none, and an empty one holds no streak).
 */
const countWindowIssues = (
  outcomes: string,
  streak: number,
  window: CountWindowImpl,
  issue: (field: string, rule: string) => void
): void => {
  if (outcomes.length > window.size) {
    issue(
      "window.outcomes",
      `must hold at most ${window.size} outcomes, the size of this breaker's count window (got ${outcomes.length})`
    )
    return
  }
  const lastSuccess = Math.max(outcomes.lastIndexOf("s"), outcomes.lastIndexOf("S"))
  const trailing = outcomes.length - lastSuccess - 1
  if (lastSuccess >= 0 && streak !== trailing) {
    issue("consecutiveFailures", `must be ${trailing}, the failures after the window's last success (got ${streak})`)
  } else if (lastSuccess < 0 && outcomes.length < window.size && streak !== outcomes.length) {
    issue(
      "consecutiveFailures",
      `must be ${outcomes.length}, the window's outcomes, all failures, none evicted yet (got ${streak})`
    )
  } else if (lastSuccess < 0 && streak < outcomes.length) {
    issue(
      "consecutiveFailures",
      `must be at least ${outcomes.length}, the window's outcomes, all failures (got ${streak})`
    )
  }
}

/**
 * The rules a time window's buckets break: oldest first, each in the
 * window's past, failures and slow calls among its calls, and no more calls
 * than `Limits.maxCallsPerMillisecond` allows for this window's bucket
 * width, nor, all buckets together, for its duration.
 */
const timeWindowIssues = (
  buckets: ReadonlyArray<typeof WindowBucket.Type>,
  exportedAt: number,
  window: TimeWindowImpl,
  issue: (field: string, rule: string) => void
): void => {
  const bucketMillis = Math.ceil(window.durationMillis / window.buckets)
  const perBucket = bucketMillis * maxCallsPerMillisecond
  let overfull = false
  let total = 0
  for (let i = 0; i < buckets.length; i++) {
    const bucket = buckets[i]!
    const field = `window.buckets.${i}`
    if (bucket.at > exportedAt) issue(`${field}.at`, `must not be after exportedAt (${exportedAt}), got ${bucket.at}`)
    const previous = buckets[i - 1]
    if (previous !== undefined && bucket.at <= previous.at) {
      issue(`${field}.at`, `must be after the previous bucket's (${previous.at}), got ${bucket.at}`)
    }
    if (bucket.calls > perBucket) {
      overfull = true
      issue(
        `${field}.calls`,
        `must be at most ${perBucket} (Limits.maxCallsPerMillisecond for each of the bucket's ${bucketMillis} ` +
          `milliseconds), got ${bucket.calls}`
      )
    }
    if (bucket.failures > bucket.calls) issue(`${field}.failures`, "must be at most calls")
    if (bucket.slowCalls > bucket.calls) issue(`${field}.slowCalls`, "must be at most calls")
    total += bucket.calls
  }
  const perWindow = window.durationMillis * maxCallsPerMillisecond
  if (!overfull && total > perWindow) {
    issue(
      "window.buckets",
      `must hold at most ${perWindow} calls in all (Limits.maxCallsPerMillisecond for each of the window's ` +
        `${window.durationMillis} milliseconds), got ${total}`
    )
  }
}

/**
 * The rules a decoded document breaks for the breaker `name` whose window
 * is `window`, read at `now`.
 */
const documentIssues = (
  doc: CircuitDocument,
  name: string,
  window: WindowImpl,
  now: number
): Array<ConfigIssue> => {
  const issues: Array<ConfigIssue> = []
  const issue = (field: string, rule: string) => issues.push(new ConfigIssue({ field, rule }))
  if (doc.breaker !== name) {
    issue("breaker", `must be this breaker's name ${describeValue(name)} (got ${describeValue(doc.breaker)})`)
  }
  if (doc.exportedAt > now + maxClockSkewMillis) {
    issue(
      "exportedAt",
      `must not be more than Limits.maxClockSkewMillis (${maxClockSkewMillis}) in the future (now is ${now}, got ${doc.exportedAt})`
    )
  }
  const notAfterExport = (field: string, at: number) => {
    if (at > doc.exportedAt) issue(field, `must not be after exportedAt (${doc.exportedAt}), got ${at}`)
  }
  if (opened(doc.state)) {
    if (doc.openedAt === null) issue("openedAt", `must be set for a ${doc.state} circuit`)
    else notAfterExport("openedAt", doc.openedAt)
    if (doc.openReason === null) issue("openReason", `must be set for a ${doc.state} circuit`)
  } else {
    if (doc.openedAt !== null) issue("openedAt", `must be null for a ${doc.state} circuit`)
    if (doc.openReason !== null) issue("openReason", `must be null for a ${doc.state} circuit`)
    if (doc.openedBy !== null) issue("openedBy", `must be null for a ${doc.state} circuit`)
  }
  if (doc.state === "Open") {
    if (doc.openUntil === null) issue("openUntil", "must be set for an Open circuit")
    else if (doc.openedAt !== null && (doc.openUntil < doc.openedAt || doc.openUntil - doc.openedAt > maxMillis)) {
      issue("openUntil", `must be from openedAt to ${maxMillis} milliseconds after it, got ${doc.openUntil}`)
    }
  } else if (doc.openUntil !== null) {
    issue("openUntil", `must be null for a ${doc.state} circuit`)
  }
  if (doc.openedBy !== null) notAfterExport("openedBy.at", doc.openedBy.at)
  if (doc.lastFailure !== null) notAfterExport("lastFailure.at", doc.lastFailure.at)
  if (doc.window._tag === "CountWindow" && window instanceof CountWindowImpl) {
    countWindowIssues(doc.window.outcomes, doc.consecutiveFailures, window, issue)
  } else if (doc.window._tag === "TimeWindow" && window instanceof TimeWindowImpl) {
    timeWindowIssues(doc.window.buckets, doc.exportedAt, window, issue)
  } else {
    const kind = window instanceof CountWindowImpl ? "CountWindow" : "TimeWindow"
    issue("window._tag", `must be ${kind}, the kind of this breaker's window (got ${doc.window._tag})`)
  }
  return issues
}

/**
 * Decodes an untrusted document for the breaker of `circuit`, named `name`,
 * at `now`: the document, or every broken rule.
 *
 * @internal
 */
export const decodeDocument = (
  input: unknown,
  circuit: Circuit,
  name: string,
  now: number
): Result.Result<CircuitDocument, ReadonlyArray<ConfigIssue>> => {
  const buckets = bucketCount(input)
  if (buckets > maxTimeWindowBuckets) {
    return Result.fail([
      new ConfigIssue({
        field: "window.buckets",
        rule: `must hold at most ${maxTimeWindowBuckets} buckets (got ${buckets})`
      })
    ])
  }
  const decoded = decodeOptions(CircuitDocument, input, "circuit document field", "(document)")
  if (Result.isFailure(decoded)) return Result.fail(listed(decoded.failure))
  const issues = documentIssues(decoded.success, name, circuit.window, now)
  return issues.length === 0 ? decoded : Result.fail(listed(issues))
}

/**
 * How many buckets the input's time window holds, read before the Schema
 * reads each of them: a forged document of a million buckets is refused
 * at once, not after a million times a bucket's issues. 0 when it holds
 * none or cannot be read (the Schema then says why).
 */
const bucketCount = (input: unknown): number => {
  try {
    const window = typeof input === "object" && input !== null ? (input as { window?: unknown }).window : undefined
    const buckets = typeof window === "object" && window !== null
      ? (window as { buckets?: unknown }).buckets
      : undefined
    return Array.isArray(buckets) ? buckets.length : 0
  } catch {
    return 0
  }
}

/** Issues listed one by one at most; one more counts the others. */
const maxListed = 20

/** The first `maxListed` issues, and one counting the rest: a document broken everywhere makes a short error. */
const listed = (issues: ReadonlyArray<ConfigIssue>): ReadonlyArray<ConfigIssue> =>
  issues.length <= maxListed + 1 ? issues : [
    ...issues.slice(0, maxListed),
    new ConfigIssue({
      field: "(document)",
      rule: `${issues.length - maxListed} more issues (the first ${maxListed} are listed)`
    })
  ]

/**
 * Replaces the circuit's state with the document's, at `now` (the breaker's
 * transition reason is `Restore`), and returns what the store is handed.
 * Every phase is new, so calls admitted before are stale; an opening that
 * ended by now half-opens at once.
 *
 * @internal
 */
export const restoreDocument = (circuit: Circuit, doc: CircuitDocument, now: number): ControlTarget => {
  const from = circuit.advance(now)
  circuit.clearCounts()
  circuit.consecutiveOpenings = doc.consecutiveOpenings
  circuit.lastFailure = recordedOf(doc.lastFailure)
  circuit.durations.resume(doc.consecutiveOpenings, now)
  let next: Phase
  switch (doc.state) {
    case "Closed":
      next = circuit.closedPhase()
      break
    case "Disabled":
      next = circuit.disabledPhase()
      break
    case "HalfOpen":
      next = circuit.halfOpenPhase()
      break
    case "ForcedOpen":
      next = { _tag: "ForcedOpen", gen: circuit.nextGen() }
      break
    case "Open":
      next = { _tag: "Open", gen: circuit.nextGen(), openedAt: doc.openedAt!, until: doc.openUntil! }
      circuit.pendingDeadline = doc.openUntil!
      break
  }
  circuit.opening = doc.openedAt === null
    ? undefined
    : { at: doc.openedAt, reason: doc.openReason ?? "Restore", failure: recordedOf(doc.openedBy) }
  circuit.set(from, next, "Restore", now)
  if (next._tag === "Closed" || next._tag === "Disabled") {
    circuit.consecutiveFailures = doc.consecutiveFailures
    const window = circuit.window
    if (doc.window._tag === "CountWindow" && window instanceof CountWindowImpl) {
      window.restore(doc.window.outcomes)
    } else if (doc.window._tag === "TimeWindow" && window instanceof TimeWindowImpl) {
      for (const bucket of doc.window.buckets) {
        window.restoreBucket(bucket.at, bucket.calls, bucket.failures, bucket.slowCalls, now)
      }
    }
  }
  circuit.advance(now)
  // An opening goes to the store with its end, passed or not; a half-open circuit as an opening that ended now.
  const opening = doc.state === "Open" || doc.state === "HalfOpen"
  return {
    _tag: "Restored",
    state: {
      state: opening ? "Open" : doc.state,
      until: doc.state === "Open" ? doc.openUntil! : opening ? now : 0,
      openedAt: opening ? doc.openedAt! : 0,
      consecutiveOpenings: circuit.consecutiveOpenings
    }
  }
}
