/**
 * Call durations counted in logarithmic buckets, for the dashboard's
 * latency percentiles: recording is a few integer operations and one array
 * increment (no allocation, no floating-point logarithm), memory is fixed
 * (168 counters), and a percentile is within 12.5% of the true value.
 *
 * Durations are whole milliseconds (the breaker's clock). Below 16 ms each
 * millisecond has its own bucket; above, every doubling is cut into eight
 * buckets, up to 2^23 ms (about 2.3 hours); longer calls share the last one.
 *
 * @internal
 */

/** The number of buckets. @internal */
export const bucketCount = 16 + 19 * 8

/** The bucket of a duration in milliseconds. @internal */
export const bucketOf = (millis: number): number => {
  if (!(millis >= 16)) return millis > 0 ? Math.floor(millis) : 0
  const ms = millis >= 0x7fffffff ? 0x7fffffff : Math.floor(millis)
  const exponent = 31 - Math.clz32(ms) // 4 and up
  const index = 16 + (exponent - 4) * 8 + ((ms >>> (exponent - 3)) & 7)
  return index < bucketCount ? index : bucketCount - 1
}

/** The largest duration a bucket holds (the value a percentile in it reports). @internal */
export const upperBoundOf = (bucket: number): number => {
  if (bucket < 16) return bucket
  const exponent = 4 + Math.floor((bucket - 16) / 8)
  const step = 2 ** (exponent - 3)
  return 2 ** exponent + ((bucket - 16) % 8 + 1) * step - 1
}

/** Counts of durations. @internal */
export class LatencyHistogram {
  readonly counts = new Uint32Array(bucketCount)
  total = 0
  max = 0

  record(millis: number): void {
    this.counts[bucketOf(millis)]!++
    this.total++
    if (millis > this.max) this.max = millis
  }

  /** Adds `other`'s counts to these. */
  add(other: LatencyHistogram): void {
    if (other.total === 0) return
    for (let i = 0; i < bucketCount; i++) this.counts[i]! += other.counts[i]!
    this.total += other.total
    if (other.max > this.max) this.max = other.max
  }

  clear(): void {
    if (this.total === 0) return
    this.counts.fill(0)
    this.total = 0
    this.max = 0
  }

  /** The duration under which a fraction `q` (0 to 1) of the counted calls ended; -1 when none was counted. */
  percentile(q: number): number {
    if (this.total === 0) return -1
    const rank = Math.max(1, Math.ceil(q * this.total))
    let seen = 0
    for (let i = 0; i < bucketCount; i++) {
      seen += this.counts[i]!
      if (seen >= rank) return Math.min(upperBoundOf(i), this.max)
    }
    return this.max
  }
}
