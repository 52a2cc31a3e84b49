/**
 * Ring-buffer implementations behind `SlidingWindow`.
 *
 * Both windows keep running totals, so recording an outcome and reading the
 * totals are O(1) and the memory they use depends only on their size, never on
 * how many calls went through them.
 *
 * @internal
 */

const FAILURE = 1
const SLOW = 2
/** An outcome's flags as a letter (`s`, `f`, `S`, `F`), for a count window's export. */
const outcomeLetters = ["s", "f", "S", "F"] as const

/** @internal */
export interface WindowCounts {
  readonly calls: number
  readonly failures: number
  readonly slowCalls: number
}

/** @internal */
export interface WindowImpl extends WindowCounts {
  /** Records one outcome observed at `now` (epoch millis). */
  record(now: number, failure: boolean, slow: boolean): void
  /** Drops what has aged out of the window by `now`; a no-op for count windows. */
  expire(now: number): void
  /** Forgets every outcome. */
  clear(): void
}

/**
 * The last `size` outcomes. Each slot holds two flag bits (failure, slow) so a
 * window of 100 costs 100 bytes of outcome data.
 *
 * @internal
 */
export class CountWindowImpl implements WindowImpl {
  calls = 0
  failures = 0
  slowCalls = 0
  private next = 0
  private readonly slots: Uint8Array

  constructor(readonly size: number) {
    this.slots = new Uint8Array(size)
  }

  record(_now: number, failure: boolean, slow: boolean): void {
    const index = this.next
    if (this.calls === this.size) {
      const evicted = this.slots[index]!
      this.failures -= evicted & FAILURE
      this.slowCalls -= (evicted & SLOW) >> 1
    } else {
      this.calls++
    }
    const flags = (failure ? FAILURE : 0) | (slow ? SLOW : 0)
    this.slots[index] = flags
    this.failures += flags & FAILURE
    this.slowCalls += (flags & SLOW) >> 1
    this.next = index + 1 === this.size ? 0 : index + 1
  }

  expire(_now: number): void {}

  /** The outcomes held, oldest first: `s` success, `f` failure, upper case when slow. */
  outcomes(): string {
    const letters: Array<string> = []
    const start = this.calls < this.size ? 0 : this.next
    for (let i = 0; i < this.calls; i++) letters.push(outcomeLetters[this.slots[(start + i) % this.size]!]!)
    return letters.join("")
  }

  /** Replaces what the window holds with `outcomes` (as `outcomes()` writes them), keeping the newest `size`. */
  restore(outcomes: string): void {
    this.clear()
    for (let i = Math.max(0, outcomes.length - this.size); i < outcomes.length; i++) {
      const letter = outcomes[i]!
      this.record(0, letter === "f" || letter === "F", letter === "S" || letter === "F")
    }
  }

  clear(): void {
    this.calls = 0
    this.failures = 0
    this.slowCalls = 0
    this.next = 0
    this.slots.fill(0)
  }
}

/**
 * Outcomes of the last `durationMillis`, kept in `buckets` buckets of equal
 * width. An outcome stays counted while its bucket is one of the `buckets`
 * most recent ones, so the window covers between `duration - width` and
 * `duration` of history — the usual bucketed approximation (Resilience4j keeps
 * one-second buckets the same way).
 *
 * Time that moves backwards (a wall clock corrected under us) is treated as
 * "still now": outcomes go into the newest bucket rather than corrupting older
 * ones.
 *
 * @internal
 */
export class TimeWindowImpl implements WindowImpl {
  calls = 0
  failures = 0
  slowCalls = 0
  private readonly width: number
  private readonly bucketCalls: Float64Array
  private readonly bucketFailures: Float64Array
  private readonly bucketSlow: Float64Array
  /** The epoch (`floor(now / width)`) of the newest bucket. */
  private head = -Infinity

  constructor(readonly durationMillis: number, readonly buckets: number) {
    this.width = durationMillis / buckets
    this.bucketCalls = new Float64Array(buckets)
    this.bucketFailures = new Float64Array(buckets)
    this.bucketSlow = new Float64Array(buckets)
  }

  record(now: number, failure: boolean, slow: boolean): void {
    this.expire(now)
    const index = this.indexOf(this.head)
    this.bucketCalls[index]!++
    this.calls++
    if (failure) {
      this.bucketFailures[index]!++
      this.failures++
    }
    if (slow) {
      this.bucketSlow[index]!++
      this.slowCalls++
    }
  }

  expire(now: number): void {
    const epoch = Math.floor(now / this.width)
    if (epoch <= this.head) return
    if (this.head === -Infinity || epoch - this.head >= this.buckets) {
      this.clearBuckets()
    } else {
      for (let e = this.head + 1; e <= epoch; e++) {
        const index = this.indexOf(e)
        this.calls -= this.bucketCalls[index]!
        this.failures -= this.bucketFailures[index]!
        this.slowCalls -= this.bucketSlow[index]!
        this.bucketCalls[index] = 0
        this.bucketFailures[index] = 0
        this.bucketSlow[index] = 0
      }
    }
    this.head = epoch
  }

  clear(): void {
    this.clearBuckets()
    this.head = -Infinity
  }

  /** The non-empty buckets still in the window at `now`, oldest first, each with its start time. */
  bucketsAt(now: number): Array<{ at: number; calls: number; failures: number; slowCalls: number }> {
    this.expire(now)
    const buckets: Array<{ at: number; calls: number; failures: number; slowCalls: number }> = []
    for (let epoch = this.head - this.buckets + 1; epoch <= this.head; epoch++) {
      const index = this.indexOf(epoch)
      const calls = this.bucketCalls[index]!
      if (calls === 0) continue
      buckets.push({
        at: this.startOf(epoch),
        calls,
        failures: this.bucketFailures[index]!,
        slowCalls: this.bucketSlow[index]!
      })
    }
    return buckets
  }

  /**
   * Adds a bucket's counts to the bucket that holds `at` at `now`, when it
   * is still in the window (a bucket of another width lands in the one
   * holding its start).
   */
  restoreBucket(at: number, calls: number, failures: number, slowCalls: number, now: number): void {
    this.expire(now)
    const epoch = Math.min(Math.floor(at / this.width), this.head)
    if (epoch <= this.head - this.buckets) return
    const index = this.indexOf(epoch)
    this.bucketCalls[index]! += calls
    this.bucketFailures[index]! += failures
    this.bucketSlow[index]! += slowCalls
    this.calls += calls
    this.failures += failures
    this.slowCalls += slowCalls
  }

  /**
   * The first whole millisecond `floor(t / width)` puts in bucket `epoch`:
   * no later than any time recorded in it (so never after the export's
   * `now`), and read back into the same bucket. `epoch × width` rounded up is
   * near it (a bucket is at least 1 ms wide), but floating point may push it
   * a millisecond past (`429000 × 7/3` is 1001000.0000000001).
   */
  private startOf(epoch: number): number {
    let at = Math.max(0, Math.ceil(epoch * this.width))
    while (at > 0 && Math.floor((at - 1) / this.width) >= epoch) at--
    while (Math.floor(at / this.width) < epoch) at++
    return at
  }

  private clearBuckets(): void {
    this.calls = 0
    this.failures = 0
    this.slowCalls = 0
    this.bucketCalls.fill(0)
    this.bucketFailures.fill(0)
    this.bucketSlow.fill(0)
  }

  private indexOf(epoch: number): number {
    const index = epoch % this.buckets
    return index < 0 ? index + this.buckets : index
  }
}
