/**
 * The three ways an adaptive concurrency limit moves, after Netflix's
 * concurrency-limits (AIMDLimit, Gradient2Limit, VegasLimit): plain,
 * synchronous state machines fed one sample per finished call — its round
 * trip, the calls in flight when it started, and whether it was a drop.
 *
 * Where this code departs from Netflix's, it says so: drops never enter the
 * latency estimates (a rejection's round trip is near zero, and would read as
 * a dependency with no load at all), a round trip the clock could not
 * measure (zero) moves nothing but AIMD, and Gradient2's long-term average
 * does not learn the queue its own limit lets build (see `Gradient2`).
 *
 * @internal
 */

/** @internal */
export interface LimitAlgorithm {
  /** The current limit: an integer in [minLimit, maxLimit]. */
  readonly limit: number
  /** The algorithm's reference round trip in nanoseconds (Vegas: no-load; Gradient2: long-term average), or 0. */
  readonly baselineNanos: number
  /**
   * Feeds one finished call: its round trip, the calls in flight when it
   * started (itself included), whether it was a drop, and whether it took
   * the last free slot (the limit was reached when it started).
   */
  sample(rttNanos: number, inFlight: number, dropped: boolean, limited: boolean): void
  /** A call found the limit reached and was refused: it never ran, so it is no sample. */
  rejected(): void
}

/** The bounds every algorithm keeps its limit in. @internal */
export interface Bounds {
  readonly initialLimit: number
  readonly minLimit: number
  readonly maxLimit: number
}

const clamp = (value: number, bounds: Bounds): number => Math.min(bounds.maxLimit, Math.max(bounds.minLimit, value))

/** `max(1, floor(log10(n)))`: Netflix's `Log10RootIntFunction`, the step Vegas scales with. @internal */
export const log10Step = (n: number): number => Math.max(1, Math.floor(Math.log10(Math.max(1, n))))

/**
 * AIMD: one more slot after each good call made while at least half the limit
 * was in use; the limit times `backoffRatio` after a drop or a call slower
 * than `slowNanos`.
 *
 * @internal
 */
export class Aimd implements LimitAlgorithm {
  limit: number
  readonly baselineNanos = 0

  constructor(
    private readonly bounds: Bounds,
    private readonly backoffRatio: number,
    private readonly slowNanos: number
  ) {
    this.limit = bounds.initialLimit
  }

  /** A refused call tells this algorithm nothing: it never ran. */
  rejected(): void {}

  sample(rttNanos: number, inFlight: number, dropped: boolean): void {
    const limit = this.limit
    if (dropped || rttNanos >= this.slowNanos) {
      this.limit = clamp(Math.floor(limit * this.backoffRatio), this.bounds)
    } else if (inFlight * 2 >= limit) {
      this.limit = clamp(limit + 1, this.bounds)
    }
  }
}

/** An exponential average over about `window` samples, starting at the first (0 before it). */
class ExpAverage {
  value = 0
  private readonly factor: number

  constructor(window: number) {
    this.factor = 2 / (window + 1)
  }

  add(sample: number): number {
    this.value = this.value === 0 ? sample : this.value * (1 - this.factor) + sample * this.factor
    return this.value
  }
}

/**
 * Gradient2: compares each round trip (short term) with a long-term
 * exponential average. `gradient = clamp(tolerance × long / short, 0.5, 1)`;
 * the new limit is `limit × gradient + queueSize`, smoothed:
 * `limit × (1 − smoothing) + new × smoothing`. The limit does not grow while
 * fewer than half of it are in flight. A drop counts as the largest decrease
 * a sample may make (gradient 0.5, without `queueSize`: the limit times
 * `1 − smoothing / 2`); Netflix's ignores drops.
 *
 * The long-term average is the dependency's latency, not the queue the limit
 * lets build, and Netflix's learns both: in a sustained overload it follows
 * the round trips that `tolerance` and `queueSize` allow, which lets the limit
 * grow, the queue too, and the average after them, until callers time out.
 * So, departing from Netflix's:
 *
 * - a sample taken at the limit (a call of it took the last free slot) may
 *   lower the long-term average but not raise it: its round trip holds what
 *   the limit let queue;
 * - the average starts at the first sample, not at the mean of the first
 *   ten: a limit that starts too high has a queue within its first samples;
 * - every `probeEvery` samples refused so, the limit is halved (not below
 *   `minLimit`; as Netflix's GradientLimit does when it probes) until a sample arrives whose calls all
 *   started with at most that many in flight, and then goes back to where it
 *   was (a drop meanwhile backs off where it goes back to, and keeps the
 *   probe's limit at most that). The probe's round trip, with the queue drained, corrects the average
 *   when it lies below it (the average held a queue) or above `tolerance`
 *   times it (the dependency got slower for good: a limit that only shrank
 *   would never learn it while every slot stays in use).
 *
 * @internal
 */
export class Gradient2 implements LimitAlgorithm {
  private estimate: number
  private readonly longRtt: ExpAverage
  /** Samples taken at the limit whose round trip the long-term average refused since the last probe. */
  private refused = 0
  /** While probing: the limit to return to, and the lower limit the probe runs at. */
  private probe: { readonly resume: number; readonly limit: number } | undefined = undefined
  /** Calls refused while probing since a call last finished. */
  private starved = 0

  constructor(
    private readonly bounds: Bounds,
    private readonly tolerance: number,
    private readonly smoothing: number,
    private readonly queueSize: number,
    longWindow: number,
    private readonly probeEvery: number
  ) {
    this.estimate = bounds.initialLimit
    this.longRtt = new ExpAverage(longWindow)
  }

  get limit(): number {
    return Math.floor(this.estimate)
  }

  get baselineNanos(): number {
    return this.longRtt.value
  }

  sample(rttNanos: number, inFlight: number, dropped: boolean, limited: boolean): void {
    const probe = this.probe
    if (probe !== undefined) {
      this.starved = 0
      if (dropped) {
        // The drop backs off the limit the probe returns to; the probe goes on, never above it.
        const resume = this.backOff(probe.resume)
        const limit = Math.min(probe.limit, Math.floor(resume))
        this.probe = { resume, limit }
        this.estimate = limit
        return
      }
      // Calls that started before the limit was lowered still carry the queue.
      if (rttNanos <= 0 || inFlight > probe.limit) return
      return this.endProbe(probe, rttNanos)
    }
    const estimate = this.estimate
    if (dropped) {
      this.estimate = this.backOff(estimate)
      return
    }
    if (rttNanos <= 0) return
    let long = this.longRtt.value
    if (limited && long > 0 && rttNanos > long) {
      if (++this.refused >= this.probeEvery) return this.startProbe(estimate)
    } else {
      long = this.longRtt.add(rttNanos)
    }
    // Back from a long overload the long average is far above the short one: bring it down faster.
    if (long / rttNanos > 2) this.longRtt.value = long * 0.95
    // Application-limited: too few calls to learn anything about more.
    if (inFlight < estimate / 2) return
    const gradient = Math.max(0.5, Math.min(1, this.tolerance * long / rttNanos))
    const target = estimate * gradient + this.queueSize
    this.estimate = clamp(estimate * (1 - this.smoothing) + target * this.smoothing, this.bounds)
  }

  /**
   * A drop's move: gradient 0.5 without `queueSize`, which would outweigh it
   * below `2 × queueSize` and let drops raise a small limit.
   */
  private backOff(estimate: number): number {
    return clamp(estimate * (1 - this.smoothing / 2), this.bounds)
  }

  /**
   * A probe can only end on a call it admitted; while calls that started
   * before it hold its slots (long polls, streams, calls without a timeout)
   * it admits none, and no call finishes to free one. After `probeEvery`
   * refusals with no call finishing, it gives up and the limit goes back.
   */
  rejected(): void {
    const probe = this.probe
    if (probe === undefined || ++this.starved < this.probeEvery) return
    this.probe = undefined
    this.starved = 0
    this.estimate = probe.resume
  }

  private startProbe(estimate: number): void {
    this.refused = 0
    this.starved = 0
    const limit = Math.max(this.bounds.minLimit, Math.floor(estimate / 2))
    this.probe = { resume: estimate, limit }
    this.estimate = limit
  }

  private endProbe(probe: { readonly resume: number }, rttNanos: number): void {
    this.probe = undefined
    this.estimate = probe.resume
    const long = this.longRtt.value
    if (rttNanos < long || rttNanos > this.tolerance * long) this.longRtt.value = rttNanos
  }
}

/**
 * Vegas: estimates the calls queued at the dependency as
 * `limit × (1 − rttNoLoad / rtt)`, `rttNoLoad` being the least round trip
 * seen since the last probe. Queue at most `log10(limit)`: grow by `beta`;
 * below `alpha`: grow by `log10(limit)`; above `beta`: shrink by
 * `log10(limit)`; in between: stay. A drop shrinks by `log10(limit)`. Every
 * `probeMultiplier × limit` samples (with jitter) the next round trip becomes
 * the new `rttNoLoad`, so that a dependency that got slower for good is
 * relearned.
 *
 * @internal
 */
export class Vegas implements LimitAlgorithm {
  private estimate: number
  private rttNoLoad = 0
  private probeCount = 0
  private probeJitter: number

  constructor(
    private readonly bounds: Bounds,
    /** Fixed alpha and beta, or `undefined` for Netflix's `3 × log10(limit)` and `6 × log10(limit)`. */
    private readonly alpha: number | undefined,
    private readonly beta: number | undefined,
    private readonly smoothing: number,
    private readonly probeMultiplier: number,
    /** A number in [0, 1): the jitter of the probe period. */
    private readonly random: () => number
  ) {
    this.estimate = bounds.initialLimit
    this.probeJitter = this.nextJitter()
  }

  get limit(): number {
    return Math.floor(this.estimate)
  }

  get baselineNanos(): number {
    return this.rttNoLoad
  }

  private nextJitter(): number {
    return 0.5 + this.random() / 2
  }

  /** A refused call tells this algorithm nothing: it never ran. */
  rejected(): void {}

  sample(rttNanos: number, inFlight: number, dropped: boolean): void {
    const estimate = this.estimate
    const step = log10Step(estimate)
    if (dropped) return this.move(estimate - step)
    if (rttNanos <= 0) return
    this.probeCount++
    if (this.probeJitter * this.probeMultiplier * estimate <= this.probeCount) {
      this.probeJitter = this.nextJitter()
      this.probeCount = 0
      this.rttNoLoad = rttNanos
      return
    }
    if (this.rttNoLoad === 0 || rttNanos < this.rttNoLoad) {
      this.rttNoLoad = rttNanos
      return
    }
    // Not near the limit: the round trips say nothing about more concurrency.
    if (inFlight * 2 < estimate) return
    const queue = Math.ceil(estimate * (1 - this.rttNoLoad / rttNanos))
    const alpha = this.alpha ?? 3 * step
    const beta = this.beta ?? 6 * step
    if (queue <= step) this.move(estimate + beta)
    else if (queue < alpha) this.move(estimate + step)
    else if (queue > beta) this.move(estimate - step)
  }

  private move(target: number): void {
    const bounded = clamp(target, this.bounds)
    this.estimate = clamp((1 - this.smoothing) * this.estimate + this.smoothing * bounded, this.bounds)
  }
}

/**
 * Averages `size` samples into one before the algorithm sees them (Netflix's
 * `WindowedLimit`, counted in samples rather than time): the mean round trip
 * of the window's good calls, the most calls in flight one of them saw,
 * whether one was a drop, and whether one took the last free slot. An
 * average of ten round trips varies a third as much as one, so the algorithm
 * reads queueing rather than noise; a burst of drops backs off once, not
 * once per call.
 *
 * @internal
 */
export class Windowed implements LimitAlgorithm {
  private count = 0
  private good = 0
  private rttSum = 0
  private maxInFlight = 0
  private dropped = false
  private limited = false

  constructor(private readonly algorithm: LimitAlgorithm, private readonly size: number) {}

  get limit(): number {
    return this.algorithm.limit
  }

  get baselineNanos(): number {
    return this.algorithm.baselineNanos
  }

  sample(rttNanos: number, inFlight: number, dropped: boolean, limited: boolean): void {
    this.count++
    if (limited) this.limited = true
    if (dropped) {
      this.dropped = true
    } else if (rttNanos > 0) {
      this.good++
      this.rttSum += rttNanos
    }
    if (inFlight > this.maxInFlight) this.maxInFlight = inFlight
    if (this.count < this.size) return
    const rtt = this.good === 0 ? 0 : this.rttSum / this.good
    const maxInFlight = this.maxInFlight
    const anyDrop = this.dropped
    const anyLimited = this.limited
    this.count = 0
    this.good = 0
    this.rttSum = 0
    this.maxInFlight = 0
    this.dropped = false
    this.limited = false
    this.algorithm.sample(rtt, maxInFlight, anyDrop, anyLimited)
  }

  rejected(): void {
    this.algorithm.rejected()
  }
}
