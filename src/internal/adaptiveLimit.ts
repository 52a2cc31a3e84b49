/**
 * The adaptive concurrency limit behind the `AdaptiveLimit` module: the
 * schema of its algorithms, and the policy that admits, rejects and feeds
 * every finished call to its algorithm.
 *
 * The hot path is two clock reads and a handful of field updates per call:
 * no fiber, no `Ref`, no allocation beyond the call's own record and the
 * finaliser that sees its exit. The finaliser is installed *before* the call
 * takes a slot and is not interruptible, so whatever ends the call (success,
 * failure, defect, interruption wherever it lands) gives back exactly what it took.
 *
 * @internal
 */
import { Cause, Context, Duration, Effect, Exit, Random, Schema } from "effect"
import type { AdaptiveLimit, AdaptiveLimitSnapshot, Algorithm } from "../AdaptiveLimit.js"
import { isBulkheadFullError } from "../BulkheadFullError.js"
import { isCircuitOpenError } from "../CircuitOpenError.js"
import type { Classifier } from "../Classifier.js"
import { defaultClassifier } from "../Classifier.js"
import { ConcurrencyLimitExceededError, isConcurrencyLimitExceededError } from "../ConcurrencyLimitExceededError.js"
import { policies as policyMetrics } from "../Metrics.js"
import { LimitChanged } from "../PolicyEvent.js"
import { isTimeoutError } from "../TimeoutError.js"
import { classifySafely, outcomeOf } from "./classifySafely.js"
import type { Bounds, LimitAlgorithm } from "./limitAlgorithms.js"
import { Aimd, Gradient2, Vegas, Windowed } from "./limitAlgorithms.js"
import type { Cell } from "./metrics.js"
import type { Setup } from "./policy.js"
import { PolicyBase } from "./policy.js"
import { durationInput, IntBetween, NumberBetween, PositiveRate } from "./schemas.js"

/** @internal */
export const defaults = {
  initialLimit: 20,
  minLimit: 1,
  maxLimit: 200,
  eventInterval: Duration.seconds(1),
  window: 10,
  aimd: { backoffRatio: 0.9, slowCallDuration: Duration.seconds(5) },
  gradient2: { rttTolerance: 1.25, smoothing: 0.2, queueSize: 4, longWindow: 600 },
  vegas: { smoothing: 1, probeMultiplier: 30 }
} as const

/** @internal */
export const AlgorithmSchema = Schema.Union([
  Schema.Struct({
    _tag: Schema.tag("Aimd"),
    backoffRatio: Schema.optional(NumberBetween(0.5, 0.99)),
    slowCallDuration: Schema.optional(durationInput({ allowZero: false }))
  }),
  Schema.Struct({
    _tag: Schema.tag("Gradient2"),
    rttTolerance: Schema.optional(NumberBetween(1, 10)),
    smoothing: Schema.optional(PositiveRate),
    queueSize: Schema.optional(IntBetween(0, 1_000)),
    longWindow: Schema.optional(IntBetween(10, 1_000_000))
  }),
  Schema.Struct({
    _tag: Schema.tag("Vegas"),
    alpha: Schema.optional(NumberBetween(0, 1_000)),
    beta: Schema.optional(NumberBetween(0, 1_000)),
    smoothing: Schema.optional(PositiveRate),
    probeMultiplier: Schema.optional(IntBetween(1, 100_000))
  })
]).annotate({ expected: "aimd(options), gradient2(options) or vegas(options)" })

type DecodedAlgorithm = typeof AlgorithmSchema.Type

/** What `AdaptiveLimit.make` hands the policy, decoded. @internal */
export interface Resolved {
  readonly algorithm: DecodedAlgorithm
  readonly bounds: Bounds
  readonly classify: Classifier | undefined
  readonly eventIntervalMillis: number
  readonly window: number
}

const nanosPerMilli = 1_000_000

/**
 * How many samples taken at the limit Gradient2's long-term average refuses
 * before it probes: ten probes per span of the average.
 *
 * @internal
 */
export const gradient2ProbeEvery = (longWindow: number): number => Math.max(1, Math.round(longWindow / 10))

const makeAlgorithm = (algorithm: DecodedAlgorithm, bounds: Bounds, random: Random.Random): LimitAlgorithm => {
  switch (algorithm._tag) {
    case "Aimd":
      return new Aimd(
        bounds,
        algorithm.backoffRatio ?? defaults.aimd.backoffRatio,
        Duration.toMillis(algorithm.slowCallDuration ?? defaults.aimd.slowCallDuration) * nanosPerMilli
      )
    case "Gradient2": {
      const longWindow = algorithm.longWindow ?? defaults.gradient2.longWindow
      return new Gradient2(
        bounds,
        algorithm.rttTolerance ?? defaults.gradient2.rttTolerance,
        algorithm.smoothing ?? defaults.gradient2.smoothing,
        algorithm.queueSize ?? defaults.gradient2.queueSize,
        longWindow,
        gradient2ProbeEvery(longWindow)
      )
    }
    case "Vegas":
      return new Vegas(
        bounds,
        algorithm.alpha,
        algorithm.beta,
        algorithm.smoothing ?? defaults.vegas.smoothing,
        algorithm.probeMultiplier ?? defaults.vegas.probeMultiplier,
        () => random.nextDoubleUnsafe()
      )
  }
}

/** A timeout or a rejection: a drop, whatever the classifier says. */
const isDropSignal = (error: unknown): boolean =>
  isTimeoutError(error) || Cause.isTimeoutError(error) || isCircuitOpenError(error) ||
  isBulkheadFullError(error) || isConcurrencyLimitExceededError(error)

const SUCCESS = 0
const DROP = 1
const IGNORED = 2
type Verdict = typeof SUCCESS | typeof DROP | typeof IGNORED

/** How a call's exit moves the limit. */
const verdictOf = (exit: Exit.Exit<unknown, unknown>, classify: Classifier): Verdict => {
  if (exit._tag === "Failure") {
    const reasons = exit.cause.reasons
    let interruptsOnly = true
    for (let i = 0; i < reasons.length; i++) {
      const reason = reasons[i]!
      if (reason._tag === "Fail" && isDropSignal(reason.error)) return DROP
      if (reason._tag !== "Interrupt") interruptsOnly = false
    }
    // An interrupted call tells nothing about the dependency, whatever a classifier says.
    if (interruptsOnly) return IGNORED
  } else if (classify === defaultClassifier) {
    return SUCCESS
  }
  const outcome = outcomeOf(classifySafely(classify, exit))
  return outcome === "success" ? SUCCESS : outcome === "failure" ? DROP : IGNORED
}

/** The fields of a snapshot. */
type SnapshotFields = ConstructorParameters<typeof AdaptiveLimitSnapshot>[0]

/**
 * One run of a guarded call: whether it holds a slot, since when, how many
 * were in flight then, and whether it took the last free one.
 */
class LimitedCall {
  admitted = false
  startNanos = 0
  inFlightAtStart = 0
  tookLastSlot = false
}

/** The weight of each good call's round trip in `recentRtt`: about the last 20 calls. */
const recentWeight = 0.1

/** The `retryAfter` of a rejection before a first round trip was measured. */
const unmeasuredRetryAfterMillis = 1_000

/** @internal */
export class AdaptiveLimitImpl extends PolicyBase<never, ConcurrencyLimitExceededError, never, never, LimitChanged>
  implements AdaptiveLimit
{
  readonly kind = "AdaptiveLimit" as const
  readonly algorithm: Algorithm["_tag"]
  private readonly bounds: Bounds
  private readonly limiter: LimitAlgorithm
  private readonly classify: Classifier
  private readonly eventIntervalMillis: number

  private limit: number
  private inFlight = 0
  /** An exponential average of the good calls' round trips, in nanoseconds (0: none yet). */
  private recentRttNanos = 0

  private successes = 0
  private drops = 0
  private ignored = 0
  private rejections = 0
  private readonly cells: { readonly [K in "success" | "dropped" | "ignored" | "rejected"]: Cell }

  /** The last rejection, reused while limit, in-flight count and hint stay the same. */
  private rejection: Exit.Exit<never, ConcurrencyLimitExceededError> | undefined = undefined
  private rejectionKey = ""

  /** Coalescing of `LimitChanged` events: the limit last reported, when, and the moves since. */
  private reportedLimit: number
  private reportedAt = -Infinity
  private unreportedMoves = 0

  constructor(
    setup: Setup,
    private readonly makeSnapshot: (fields: SnapshotFields) => AdaptiveLimitSnapshot,
    resolved: Resolved
  ) {
    super(setup)
    this.algorithm = resolved.algorithm._tag
    this.bounds = resolved.bounds
    const algorithm = makeAlgorithm(resolved.algorithm, resolved.bounds, Context.get(setup.context, Random.Random))
    this.limiter = resolved.window > 1 ? new Windowed(algorithm, resolved.window) : algorithm
    this.classify = resolved.classify ?? defaultClassifier
    this.eventIntervalMillis = resolved.eventIntervalMillis
    this.limit = this.limiter.limit
    this.reportedLimit = this.limit
    this.cells = {
      success: this.counter(policyMetrics.concurrencyLimitCalls, { outcome: "success" }),
      dropped: this.counter(policyMetrics.concurrencyLimitCalls, { outcome: "dropped" }),
      ignored: this.counter(policyMetrics.concurrencyLimitCalls, { outcome: "ignored" }),
      rejected: this.counter(policyMetrics.concurrencyLimitCalls, { outcome: "rejected" })
    }
    this.gauge(policyMetrics.concurrencyLimit, () => this.limit)
    this.gauge(policyMetrics.concurrencyLimitInFlight, () => this.inFlight)
  }

  // A guarded effect may run many times (retried, hedged, repeated): every run gets a record of
  // its own, and its finaliser is in place before it takes a slot.
  readonly apply = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | ConcurrencyLimitExceededError, R> =>
    Effect.suspend(() => {
      const call = new LimitedCall()
      return Effect.onExitPrimitive(
        Effect.suspend(() => this.enter(call, self)),
        (exit) => this.leave(call, exit)
      )
    })

  get snapshot(): Effect.Effect<AdaptiveLimitSnapshot> {
    return Effect.sync(() => {
      const baseline = this.limiter.baselineNanos
      return this.makeSnapshot({
        policy: this.name,
        algorithm: this.algorithm,
        limit: this.limit,
        inFlight: this.inFlight,
        minLimit: this.bounds.minLimit,
        maxLimit: this.bounds.maxLimit,
        recentRtt: this.recentRttNanos > 0 ? Duration.nanos(BigInt(Math.round(this.recentRttNanos))) : null,
        baselineRtt: baseline > 0 ? Duration.nanos(BigInt(Math.round(baseline))) : null,
        successes: this.successes,
        drops: this.drops,
        ignored: this.ignored,
        rejections: this.rejections
      })
    })
  }

  private nowNanos(): number {
    return Number(this.clock.monotonicTimeNanosUnsafe())
  }

  private enter<A, E, R>(
    call: LimitedCall,
    self: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | ConcurrencyLimitExceededError, R> {
    if (this.inFlight >= this.limit) return this.reject()
    call.admitted = true
    call.inFlightAtStart = ++this.inFlight
    call.tookLastSlot = this.inFlight >= this.limit
    call.startNanos = this.nowNanos()
    return self
  }

  /** The exit finaliser of every run: gives the slot back and feeds the algorithm. */
  private leave(call: LimitedCall, exit: Exit.Exit<unknown, unknown>): undefined {
    if (!call.admitted) return undefined
    call.admitted = false
    this.inFlight--
    const verdict = verdictOf(exit, this.classify)
    if (verdict === IGNORED) {
      this.ignored++
      this.cells.ignored.count++
    } else {
      const rtt = this.nowNanos() - call.startNanos
      if (verdict === SUCCESS) {
        this.successes++
        this.cells.success.count++
        if (rtt > 0) {
          this.recentRttNanos = this.recentRttNanos === 0 ? rtt : this.recentRttNanos + (rtt - this.recentRttNanos) *
              recentWeight
        }
      } else {
        this.drops++
        this.cells.dropped.count++
      }
      this.limiter.sample(rtt, call.inFlightAtStart, verdict === DROP, call.tookLastSlot)
      this.followLimiter()
    }
    if (this.unreportedMoves > 0) this.report()
    return undefined
  }

  /** Takes the algorithm's limit after it was fed, counting a move for the next event. */
  private followLimiter(): void {
    const limit = this.limiter.limit
    if (limit !== this.limit) {
      this.limit = limit
      this.unreportedMoves++
    }
  }

  private reject(): Effect.Effect<never, ConcurrencyLimitExceededError> {
    this.rejections++
    this.cells.rejected.count++
    const retryAfterMillis = this.recentRttNanos > 0
      ? Math.max(1, Math.ceil(this.recentRttNanos / nanosPerMilli))
      : unmeasuredRetryAfterMillis
    const key = `${this.limit}/${this.inFlight}/${retryAfterMillis}`
    if (this.rejection === undefined || key !== this.rejectionKey) {
      this.rejectionKey = key
      this.rejection = Exit.fail(
        new ConcurrencyLimitExceededError({
          policy: this.name,
          limit: this.limit,
          inFlight: this.inFlight,
          retryAfter: Duration.millis(retryAfterMillis)
        })
      )
    }
    const rejection = this.rejection
    // The refusal reaches the algorithm after the error says what refused the call.
    this.limiter.rejected()
    this.followLimiter()
    if (this.unreportedMoves > 0) this.report()
    return rejection
  }

  /** Publishes the moves since the last event, once an interval has passed since it. */
  private report(): void {
    if (!this.publisher.active) {
      // Nobody listens: the next subscriber hears of moves from now on.
      this.reportedLimit = this.limit
      this.unreportedMoves = 0
      return
    }
    const now = this.now()
    if (now - this.reportedAt < this.eventIntervalMillis) return
    if (this.limit !== this.reportedLimit) {
      this.publisher.publish(
        new LimitChanged({
          policy: this.name,
          from: this.reportedLimit,
          to: this.limit,
          changes: this.unreportedMoves,
          inFlight: this.inFlight,
          at: now
        })
      )
      this.reportedAt = now
    }
    this.reportedLimit = this.limit
    this.unreportedMoves = 0
  }
}
