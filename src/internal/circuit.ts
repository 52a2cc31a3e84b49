/**
 * The circuit breaker's state machine, written as synchronous code.
 *
 * JavaScript runs one fiber step at a time, so a synchronous method is an
 * atomic section: admission, recording an outcome and every transition happen
 * without another fiber seeing a half-updated circuit. The Effect layer in
 * `internal/breaker.ts` only reads the `Clock`, calls these methods and turns
 * their answers into effects.
 *
 * The current phase lives in a `Ref`; a transition replaces it with a new
 * phase of a new generation. Every admission carries its phase's generation,
 * so an outcome that arrives after a transition (a call admitted before a trip
 * that finishes afterwards) is recognised as stale and dropped.
 *
 * @internal
 */
import type { Clock } from "effect"
import { Duration, Exit, MutableRef, Ref } from "effect"
import type { ResolvedConfig } from "../CircuitBreakerConfig.js"
import type { TransitionReason } from "../CircuitBreakerEvent.js"
import { CircuitOpenError } from "../CircuitOpenError.js"
import type { State } from "../CircuitState.js"
import type { CircuitObserver as CircuitObserverContract } from "../CircuitStore.js"
import type { Outcome } from "../Classifier.js"
import { maxConsecutiveCount, maxDuration } from "../Limits.js"
import type { Opening, RecordedFailure } from "./failures.js"
import { failureValue } from "./failures.js"
import { probeVerdict } from "./halfOpenDecision.js"
import type { OpenDurations } from "./openDuration.js"
import type {
  Admission,
  ClosedPhase,
  DisabledPhase,
  ForcedOpenPhase,
  HalfOpenPhase,
  OpenPhase,
  Phase,
  Rejection
} from "./phase.js"
import type { WindowImpl } from "./window.js"
import { CountWindowImpl, TimeWindowImpl } from "./window.js"

/**
 * Receives what the circuit does: the contract's observer (`CircuitStore.CircuitObserver`).
 *
 * @internal
 */
export type CircuitObserver = CircuitObserverContract

type CallObserver = CircuitObserver & Required<Pick<CircuitObserver, "onCall">>
type RejectObserver = CircuitObserver & Required<Pick<CircuitObserver, "onReject">>

/**
 * A transition to report: from, to, why, when, and until when (an opening).
 *
 * @internal
 */
export interface Transition {
  readonly from: State
  readonly to: State
  readonly reason: TransitionReason
  readonly at: number
  readonly until: number | undefined
}

/** @internal */
export interface SnapshotData {
  readonly state: State
  readonly calls: number
  readonly failures: number
  readonly slowCalls: number
  readonly consecutiveFailures: number
  readonly consecutiveOpenings: number
  readonly retryAfterMillis: number
  readonly probesInFlight: number
  readonly probeSuccesses: number
  readonly opening: Opening | undefined
  readonly lastFailure: RecordedFailure | undefined
}

const noObservers: ReadonlyArray<CircuitObserver> = []

/** One more failure in a row, up to `Limits.maxConsecutiveCount` (where counting stops). */
const nextStreak = (streak: number): number => streak < maxConsecutiveCount ? streak + 1 : streak

const makeWindow = (config: ResolvedConfig): WindowImpl =>
  config.window._tag === "CountWindow"
    ? new CountWindowImpl(config.window.size)
    : new TimeWindowImpl(Duration.toMillis(config.window.duration), config.window.buckets)

const optionalMillis = (duration: Duration.Duration | undefined): number | undefined =>
  duration === undefined ? undefined : Duration.toMillis(duration)

/** @internal */
export class Circuit {
  readonly phase: Ref.Ref<Phase>
  readonly window: WindowImpl
  consecutiveFailures = 0
  consecutiveOpenings = 0
  /** The last failure this circuit recorded, in any state. */
  lastFailure: RecordedFailure | undefined = undefined
  /** The current opening, while Open, HalfOpen or ForcedOpen. */
  opening: Opening | undefined = undefined
  /**
   * The instant of the next time-driven transition, set when one is
   * scheduled and taken by the Effect layer to start a timer, so that events
   * fire on time even when no call arrives.
   */
  pendingDeadline: number | undefined = undefined
  /** Whether anything needs the clock on the Closed fast path. */
  needsTime: boolean
  /** Whether the configuration itself times every call (a time window, a slow-call rule). */
  readonly timesCalls: boolean
  /**
   * Whether this circuit's own window may trip it. A store that merges the
   * windows of many instances turns this off while it can be reached: then
   * the merged window decides trips.
   */
  tripsOnOwnWindow = true

  private gen = 0
  private observers: ReadonlyArray<CircuitObserver> = noObservers
  /** The observers that hear of calls and of rejections: the loops on the call path go over these only. */
  private callObservers: ReadonlyArray<CallObserver> = noObservers as ReadonlyArray<CallObserver>
  private rejectObservers: ReadonlyArray<RejectObserver> = noObservers as ReadonlyArray<RejectObserver>
  private readonly timeWindow: boolean
  private readonly slowMillis: number | undefined
  private readonly maxWaitMillis: number | undefined
  /** The longest opening an open-duration hint may ask for: `maxOpenDuration`, else what timers hold. */
  readonly maxHintMillis: number
  private readonly slowProbesFail: boolean
  /** Whether a rate rule is set, so that a call that is neither failed nor slow may still trip. */
  private readonly ratesTrip: boolean
  private cachedRejection: Rejection | undefined = undefined
  private cachedRejectionGen = -1
  private cachedRejectionMillis = -1

  constructor(
    readonly config: ResolvedConfig,
    readonly durations: OpenDurations,
    private readonly clock: Clock.Clock
  ) {
    this.window = makeWindow(config)
    this.timeWindow = config.window._tag === "TimeWindow"
    this.slowMillis = optionalMillis(config.slowCallDuration)
    this.maxWaitMillis = optionalMillis(config.halfOpenMaxWait)
    this.maxHintMillis = Math.ceil(Duration.toMillis(config.maxOpenDuration ?? maxDuration))
    // When slow calls can trip the circuit, a slow probe is a failed probe:
    // closing on it would only trip again once the window fills.
    this.slowProbesFail = config.slowCallRate !== undefined
    this.ratesTrip = config.failureRate !== undefined || config.slowCallRate !== undefined
    this.timesCalls = this.timeWindow || this.slowMillis !== undefined
    this.needsTime = this.timesCalls
    this.phase = Ref.makeUnsafe<Phase>(this.closedPhase())
  }

  get current(): Phase {
    return Ref.getUnsafe(this.phase)
  }

  /**
   * Whether the circuit is pinned at `now`, read without moving it: while its
   * opening runs (one that has ended reads half-open), while forced open and
   * while disabled. A registry never forgets a pinned circuit: that would send
   * calls straight back to a dependency that is down, or undo an operator.
   */
  isPinned(now: number): boolean {
    const phase = this.current
    return phase._tag === "ForcedOpen" || phase._tag === "Disabled" || (phase._tag === "Open" && now < phase.until)
  }

  addObserver(observer: CircuitObserver): () => void {
    this.observers = [...this.observers, observer]
    this.updateObservers()
    return () => {
      this.observers = this.observers.filter((o) => o !== observer)
      this.updateObservers()
    }
  }

  /** Applies the transitions that time alone causes, up to `now`. */
  advance(now: number): Phase {
    let phase = this.current
    while (true) {
      if (phase._tag === "Open") {
        if (now < phase.until) return phase
        phase = this.toHalfOpen(phase, phase.until)
      } else if (phase._tag === "HalfOpen" && phase.waitingSince !== undefined && this.maxWaitMillis !== undefined) {
        const deadline = phase.waitingSince + this.maxWaitMillis
        if (now < deadline) return phase
        phase = this.toOpen(phase, deadline, "HalfOpenMaxWait", undefined)
      } else {
        return phase
      }
    }
  }

  /**
   * Admits a call or rejects it. Closed and Disabled admit everyone; HalfOpen
   * hands out its permits; Open and ForcedOpen reject.
   */
  admit(now: number): Admission | Rejection {
    const phase = this.advance(now)
    switch (phase._tag) {
      case "Closed":
      case "Disabled":
        return phase.admission
      case "HalfOpen":
        if (phase.permitsLeft > 0) {
          phase.permitsLeft--
          phase.inFlight++
          if (phase.waitingSince === undefined && this.maxWaitMillis !== undefined) {
            // The first undecided probe: from now on the period must decide in time.
            phase.waitingSince = now
            this.pendingDeadline = now + this.maxWaitMillis
          }
          return phase.admission
        }
        return this.reject(phase, now)
      case "Open":
      case "ForcedOpen":
        return this.reject(phase, now)
    }
  }

  /**
   * The failed exit of a call rejected in `phase`. An `Exit` is itself an
   * effect, so the rejection is returned as it is: one error and one exit per
   * phase and millisecond, however many callers are turned away.
   */
  reject(phase: OpenPhase | HalfOpenPhase | ForcedOpenPhase, now: number): Rejection {
    const retryAfterMillis = phase._tag === "Open" ? Math.max(0, phase.until - now) : phase._tag === "ForcedOpen"
      ? Infinity
      : 0
    const observers = this.rejectObservers
    for (let i = 0; i < observers.length; i++) observers[i]!.onReject(phase._tag, retryAfterMillis, now)
    if (
      this.cachedRejection !== undefined && this.cachedRejectionGen === phase.gen &&
      this.cachedRejectionMillis === retryAfterMillis
    ) {
      return this.cachedRejection
    }
    // Building a Schema error costs microseconds; while a circuit is open the
    // same rejection repeats for every caller within the same millisecond.
    const error = new CircuitOpenError({
      breaker: this.config.name,
      state: phase._tag,
      retryAfter: retryAfterMillis === Infinity ? Duration.infinity : Duration.millis(retryAfterMillis)
    })
    const failure = this.opening?.failure
    if (failure !== undefined) {
      // Not a schema field, and not enumerable: the error that broke the circuit rides along for the
      // caller, but is never serialised with the rejection (it may hold anything the dependency said).
      Object.defineProperty(error, "lastFailure", { value: failureValue(failure.exit), enumerable: false })
    }
    const rejection = Exit.fail(error)
    this.cachedRejection = rejection
    this.cachedRejectionGen = phase.gen
    this.cachedRejectionMillis = retryAfterMillis
    return rejection
  }

  /**
   * Records the outcome of an admitted call that started at `startedAt` and
   * ended at `now` with `exit`; `timedOut` marks it slow whatever its
   * duration. `openHint` (milliseconds) is the least opening a failure asks
   * for, should the circuit open on it.
   */
  complete(
    admission: Admission,
    outcome: Outcome,
    startedAt: number | undefined,
    now: number | undefined,
    timedOut: boolean,
    exit: Exit.Exit<unknown, unknown>,
    openHint?: number
  ): void {
    let phase = this.current
    // No `now` when the caller did not need the clock: then the call was admitted while Closed or
    // Disabled, and is stale if the phase moved on.
    if ((phase._tag === "Open" || phase._tag === "HalfOpen") && now !== undefined) phase = this.advance(now)
    const durationMillis = now !== undefined && startedAt !== undefined && now > startedAt ? now - startedAt : 0
    const slow = this.isSlow(durationMillis, timedOut)
    const current = phase.gen === admission.gen
    const counted = current && outcome !== "ignored"
    const observers = this.callObservers
    const hint = openHint === undefined ? undefined : Math.min(openHint, this.maxHintMillis)
    for (let i = 0; i < observers.length; i++) {
      observers[i]!.onCall(admission.state, outcome, slow, durationMillis, counted, now, false, hint)
    }
    if (!current) return
    const failure = outcome === "failure"
    if (failure) this.recordFailure(exit, now)
    if (admission.probe) {
      this.completeProbe(phase as HalfOpenPhase, outcome, slow, now, openHint)
      return
    }
    if (outcome === "ignored") return
    // Untimed only with a count window, which does not read the time.
    this.window.record(now ?? 0, failure, slow)
    this.consecutiveFailures = failure ? nextStreak(this.consecutiveFailures) : 0
    // A fast success trips nothing, unless a rate rule is set: it may be the call that brings the
    // window to `minimumCalls`, over a rate that was already past its threshold.
    if (phase._tag === "Closed" && this.tripsOnOwnWindow && (failure || slow || this.ratesTrip)) {
      const reason = this.tripReason()
      if (reason !== undefined) {
        const at = now ?? this.clock.currentTimeMillisUnsafe()
        const failed = reason !== "SlowCallRate"
        this.toOpen(phase, at, reason, failed ? this.lastFailure : undefined, failed ? openHint : undefined)
      }
    }
  }

  snapshot(now: number): SnapshotData {
    const phase = this.advance(now)
    this.window.expire(now)
    return {
      state: phase._tag,
      calls: this.window.calls,
      failures: this.window.failures,
      slowCalls: this.window.slowCalls,
      consecutiveFailures: this.consecutiveFailures,
      consecutiveOpenings: this.consecutiveOpenings,
      retryAfterMillis: phase._tag === "Open"
        ? Math.max(0, phase.until - now)
        : phase._tag === "ForcedOpen"
        ? Infinity
        : 0,
      probesInFlight: phase._tag === "HalfOpen" ? phase.inFlight : 0,
      probeSuccesses: phase._tag === "HalfOpen" ? phase.successes : 0,
      opening: this.opening,
      lastFailure: this.lastFailure
    }
  }

  /** Whether a call that took `durationMillis` (or timed out) was slow. */
  isSlow(durationMillis: number, timedOut: boolean): boolean {
    return timedOut || (this.slowMillis !== undefined && durationMillis >= this.slowMillis)
  }

  /**
   * Whether a probe with this outcome failed: when slow calls can trip the
   * circuit, a slow probe is a failed probe (closing on it would only trip
   * again once the window fills).
   */
  probeFailed(outcome: Outcome, slow: boolean): boolean {
    return outcome === "failure" || (slow && this.slowProbesFail)
  }

  /**
   * A call its store admitted begins: a probe counts as in flight in the
   * local half-open period (for snapshots). Returns the local phase's
   * generation, which its outcome is recorded against.
   */
  beginAdmittedByStore(state: Admission["state"]): number {
    const phase = this.current
    if (state === "HalfOpen" && phase._tag === "HalfOpen") phase.inFlight++
    return phase.gen
  }

  /**
   * Records a call its store admitted (in the phase of generation `gen`),
   * and whose outcome the store judges: the observers hear of it, and the
   * local window, streak and half-open counts keep it (for snapshots, and
   * for protection while the store cannot be reached), but it moves
   * nothing. An outcome that finds the phase moved on is stale, as in
   * `complete`. Returns whether the call was slow.
   */
  recordAdmittedByStore(
    state: Admission["state"],
    gen: number,
    outcome: Outcome,
    durationMillis: number,
    timedOut: boolean,
    now: number,
    exit: Exit.Exit<unknown, unknown>
  ): boolean {
    const slow = this.isSlow(durationMillis, timedOut)
    const phase = this.current
    const current = phase.gen === gen
    const counted = current && outcome !== "ignored"
    const failure = outcome === "failure"
    if (failure) this.recordFailure(exit, now)
    const observers = this.callObservers
    for (let i = 0; i < observers.length; i++) {
      observers[i]!.onCall(state, outcome, slow, durationMillis, counted, now, true)
    }
    if (!current) return slow
    if (state === "HalfOpen") {
      if (phase._tag === "HalfOpen") {
        phase.inFlight--
        if (outcome !== "ignored") {
          if (this.probeFailed(outcome, slow)) phase.failures++
          else phase.successes++
        }
      }
    } else if (counted) {
      this.window.record(now, failure, slow)
      this.consecutiveFailures = failure ? nextStreak(this.consecutiveFailures) : 0
    }
    return slow
  }

  /** How long the store's `openings`-th consecutive opening lasts, without moving this circuit's own backoff. */
  openMillisFor(openings: number, now: number): number {
    return this.durations.peek(openings, now)
  }

  private completeProbe(
    phase: HalfOpenPhase,
    outcome: Outcome,
    slow: boolean,
    now: number | undefined,
    openHint: number | undefined
  ): void {
    // A probe is admitted outside the fast path, so its outcome is always timed.
    const at = now ?? this.clock.currentTimeMillisUnsafe()
    phase.inFlight--
    if (outcome === "ignored") {
      // An interrupted or ignored probe tells nothing: its permit goes back.
      phase.permitsLeft++
    } else {
      if (this.probeFailed(outcome, slow)) {
        phase.failures++
        if (outcome === "failure") {
          // A slow success is a failed probe with no failure to show, nor a hint.
          phase.probeFailure = this.lastFailure
          if (openHint !== undefined) phase.openHint = Math.max(phase.openHint ?? 0, openHint)
        }
      } else {
        phase.successes++
      }
      const verdict = probeVerdict(this.config, phase.successes, phase.failures)
      if (verdict === "Close") {
        this.consecutiveOpenings = 0
        this.durations.reset()
        return this.set(phase, this.closedPhase(), "ProbesSucceeded", at)
      }
      if (verdict !== undefined) {
        const failure = phase.probeFailure
        return void this.toOpen(phase, at, verdict, failure, failure === undefined ? undefined : phase.openHint)
      }
    }
    // No probe left running: nothing is undecided, and the next probe starts a new wait.
    if (phase.inFlight === 0) phase.waitingSince = undefined
  }

  private tripReason(): TransitionReason | undefined {
    const config = this.config
    if (config.consecutiveFailures !== undefined && this.consecutiveFailures >= config.consecutiveFailures) {
      return "ConsecutiveFailures"
    }
    const window = this.window
    if (config.failureCount !== undefined && window.failures >= config.failureCount) return "FailureCount"
    if (window.calls < config.minimumCalls) return undefined
    if (
      config.failureRate !== undefined && window.failures > 0 && window.failures / window.calls >= config.failureRate
    ) {
      return "FailureRate"
    }
    if (
      config.slowCallRate !== undefined && window.slowCalls > 0 &&
      window.slowCalls / window.calls >= config.slowCallRate
    ) {
      return "SlowCallRate"
    }
    return undefined
  }

  private toOpen(
    from: Phase,
    at: number,
    reason: TransitionReason,
    failure: RecordedFailure | undefined,
    openHint?: number
  ): OpenPhase {
    this.opening = { at, reason, failure }
    const openings = Math.min(this.consecutiveOpenings + 1, maxConsecutiveCount)
    this.consecutiveOpenings = openings
    // A hint lengthens the opening (up to its cap), never shortens it; the backoff steps as always.
    const millis = Math.max(this.durations.next(openings, at), Math.min(openHint ?? 0, this.maxHintMillis))
    const next: OpenPhase = { _tag: "Open", gen: ++this.gen, openedAt: at, until: at + millis }
    this.clearCounts()
    this.pendingDeadline = next.until
    this.set(from, next, reason, at)
    return next
  }

  private toHalfOpen(from: OpenPhase, at: number): HalfOpenPhase {
    const next = this.halfOpenPhase()
    this.set(from, next, "OpenDurationElapsed", at)
    return next
  }

  /** A fresh half-open period (control transitions make one too). */
  halfOpenPhase(): HalfOpenPhase {
    const gen = ++this.gen
    return {
      _tag: "HalfOpen",
      gen,
      admission: { gen, probe: true, state: "HalfOpen" },
      permitsLeft: this.config.halfOpenPermits,
      inFlight: 0,
      successes: 0,
      failures: 0,
      probeFailure: undefined,
      openHint: undefined,
      waitingSince: undefined
    }
  }

  closedPhase(): ClosedPhase {
    const gen = ++this.gen
    return { _tag: "Closed", gen, admission: { gen, probe: false, state: "Closed" } }
  }

  disabledPhase(): DisabledPhase {
    const gen = ++this.gen
    return { _tag: "Disabled", gen, admission: { gen, probe: false, state: "Disabled" } }
  }

  clearCounts(): void {
    this.window.clear()
    this.consecutiveFailures = 0
  }

  /**
   * Transitions not yet reported to the program (logged): taken by the Effect
   * layer after every operation that may transition, when transitions are
   * logged.
   */
  readonly unreported: Array<Transition> = []
  /** Whether transitions are kept in `unreported`. */
  reportTransitions = false

  /** Keeps the failure a call ended with; only failures pay for it (and for a clock read when untimed). */
  private recordFailure(exit: Exit.Exit<unknown, unknown>, now: number | undefined): void {
    this.lastFailure = { at: now ?? this.clock.currentTimeMillisUnsafe(), exit }
  }

  /** The generation of a phase made now: outcomes of calls admitted before it are stale. */
  nextGen(): number {
    return ++this.gen
  }

  /** Replaces the phase `from` with `to`, and reports the transition (when the state changes). */
  set(from: Phase, to: Phase, reason: TransitionReason, at: number): void {
    MutableRef.set(this.phase.ref, to)
    if (to._tag === "Closed" || to._tag === "Disabled") this.opening = undefined
    if (from._tag === to._tag) return
    for (const observer of this.observers) observer.onTransition(from._tag, to._tag, reason, at)
    if (this.reportTransitions) {
      this.unreported.push({
        from: from._tag,
        to: to._tag,
        reason,
        at,
        until: to._tag === "Open" ? to.until : undefined
      })
    }
  }

  private updateObservers(): void {
    this.needsTime = this.timesCalls || this.observers.some((observer) => observer.needsTime !== false)
    this.callObservers = this.observers.filter((observer): observer is CallObserver => observer.onCall !== undefined)
    this.rejectObservers = this.observers.filter((observer): observer is RejectObserver =>
      observer.onReject !== undefined
    )
  }
}
