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
  /** The longest open-duration hint of the failures counted (milliseconds; 0 when none). */
  openHint: number
}

/** @internal */
export const emptyCounts = (): OutcomeCounts => ({
  calls: 0,
  failures: 0,
  slow: 0,
  trailing: 0,
  sawSuccess: false,
  openHint: 0
})

/** Counts one call's outcome (a failure's open-duration hint, if any, in milliseconds). @internal */
export const countOutcome = (counts: OutcomeCounts, failed: boolean, slow: boolean, openHint?: number): void => {
  counts.calls++
  if (failed) {
    counts.failures++
    counts.trailing++
    if (openHint !== undefined && openHint > counts.openHint) counts.openHint = openHint
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
  counts.openHint = Math.max(counts.openHint, older.openHint)
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

/**
 * Shared mode's outcomes counted for the next flush: the counts, the fleet
 * generation they were counted under, and when the first was counted.
 *
 * @internal
 */
export class PendingOutcomes {
  private counts: OutcomeCounts = emptyCounts()
  private gen = 0
  private startedAt = 0

  /** `now` is read when a batch starts only: a closed call in shared mode counts without a clock read. */
  constructor(private readonly now: () => number) {}

  /** Whether nothing is counted. */
  get empty(): boolean {
    return this.counts.calls === 0
  }

  /** Counts an outcome under generation `gen`; true when it is the first of a batch. */
  count(gen: number, failed: boolean, slow: boolean, openHint: number | undefined): boolean {
    const first = this.start(gen)
    countOutcome(this.counts, failed, slow, openHint)
    return first
  }

  /**
   * Takes back `older`, a batch counted under `gen` that Redis surely did
   * not record, unless what was counted since belongs to another
   * generation; true when it starts a batch.
   */
  keep(gen: number, older: OutcomeCounts): boolean {
    if (!this.empty && this.gen !== gen) return false
    const first = this.start(gen)
    mergeOlder(this.counts, older)
    return first
  }

  /** Takes what is counted, to send it: its generation and its counts (undefined when empty). */
  take(): { readonly gen: number; readonly counts: OutcomeCounts } | undefined {
    if (this.empty) return undefined
    const taken = { gen: this.gen, counts: this.counts }
    this.counts = emptyCounts()
    return taken
  }

  /** Counted at least `millis` ago: forgotten (a time window has moved past it). */
  dropIfOlder(now: number, millis: number): boolean {
    if (this.empty || now - this.startedAt < millis) return false
    this.counts = emptyCounts()
    return true
  }

  /** What is counted goes with generation `gen` (the circuit caught up with the fleet). */
  regenerate(gen: number): void {
    this.gen = gen
  }

  private start(gen: number): boolean {
    if (!this.empty) return false
    this.gen = gen
    this.startedAt = this.now()
    return true
  }
}
