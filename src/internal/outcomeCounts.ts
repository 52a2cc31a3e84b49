/**
 * Outcomes counted for a shared store and not sent yet: how many calls,
 * failures and slow calls, the failures since the last success, and whether
 * any succeeded. Shared mode's flushes and strict mode's batches count the
 * same way, and merge a batch Redis did not take back into what was counted
 * since.
 *
 * @internal
 */

/** @internal */
export interface OutcomeCounts {
  calls: number
  failures: number
  slow: number
  /** Failures since the last success (all of them while none succeeded). */
  trailing: number
  sawSuccess: boolean
}

/** @internal */
export const emptyCounts = (): OutcomeCounts => ({ calls: 0, failures: 0, slow: 0, trailing: 0, sawSuccess: false })

/** Counts one call's outcome. @internal */
export const countOutcome = (counts: OutcomeCounts, failed: boolean, slow: boolean): void => {
  counts.calls++
  if (failed) {
    counts.failures++
    counts.trailing++
  } else {
    counts.sawSuccess = true
    counts.trailing = 0
  }
  if (slow) counts.slow++
}

/** Adds `older`, a batch counted before what `counts` holds, to `counts`. @internal */
export const mergeOlder = (counts: OutcomeCounts, older: OutcomeCounts): void => {
  counts.trailing = counts.sawSuccess ? counts.trailing : counts.trailing + older.trailing
  counts.sawSuccess = counts.sawSuccess || older.sawSuccess
  counts.calls += older.calls
  counts.failures += older.failures
  counts.slow += older.slow
}

/** The flush arguments of a batch counted under generation `gen`, before the rules and the window. @internal */
export const countArgs = (gen: number, counts: OutcomeCounts): Array<string | number> => [
  String(gen),
  counts.calls,
  counts.failures,
  counts.slow,
  counts.trailing,
  counts.sawSuccess ? 0 : 1
]
