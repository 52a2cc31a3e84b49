/**
 * One breaker's link to its shared circuit in the Redis store: it counts the
 * breaker's outcomes for the store's next flush, asks Redis for admissions
 * when Redis decides them (strict mode, half-open probes), and moves the
 * breaker's circuit to the fleet's state.
 *
 * @internal
 */
import { Cause, Duration, Effect, Exit } from "effect"
import type * as Redis from "effect/persistence/Redis"
import type { ResolvedConfig } from "../CircuitBreakerConfig.js"
import type { TransitionReason } from "../CircuitBreakerEvent.js"
import type { State } from "../CircuitState.js"
import type { Outcome } from "../Classifier.js"
import type { CircuitBreakerImpl } from "./breaker.js"
import type { CircuitObserver } from "./circuit.js"
import type { Admission, Rejection } from "./phase.js"
import { notRun } from "./redisErrors.js"
import type { Reply, ScriptCall } from "./redisScript.js"
import { decodeReply } from "./redisScript.js"
import type { RedisStore } from "./redisStore.js"
import type { RemoteCircuit, RemoteGrant } from "./store.js"

/** What an instance knows of its circuit, to seed a fleet circuit with after an outage. */
interface LocalState {
  readonly state: State
  /** When an opening ends (epoch millis); 0 for other states. */
  readonly until: number
  readonly openedAt: number
}

/**
 * One breaker's link to its shared circuit: it counts the breaker's outcomes
 * for the next flush, answers the breaker's remote admissions, and moves the
 * breaker's circuit to the fleet's state.
 *
 * @internal
 */
export class Attachment implements CircuitObserver, RemoteCircuit {
  readonly needsTime = false
  readonly keys: readonly [string, string, string]
  /** The fleet generation this instance last saw. */
  gen = 0
  /** The fleet's consecutive openings, as last seen. */
  openings = 0
  private calls = 0
  private failures = 0
  private slow = 0
  private trailing = 0
  private sawSuccess = false
  private batchGen = 0
  /** When the first outcome of the current batch was counted. */
  private batchStartedAt = 0
  /** Shared mode: the fleet had no probe permit left at the last answer; cleared by any newer news. */
  private probesExhausted = false
  private openMillisOpenings = -1
  private openMillisCached = 0
  private pendingControl: "ForcedOpen" | "Disabled" | "Reset" | undefined = undefined
  private used = false
  /** A transition was announced while the store was not up: re-read once it is. */
  missedNews = false
  /** The state before the store forced the circuit open for an outage (`onUnavailable: "reject"`). */
  private beforeOutage: LocalState | undefined = undefined
  private readonly config: ResolvedConfig
  /** The trip rules and the window, as the script reads them: the same for every flush. */
  private readonly rules: ReadonlyArray<string | number>
  private readonly maxWaitMillis: number

  constructor(readonly store: RedisStore, readonly breaker: CircuitBreakerImpl) {
    const base = `${store.settings.prefix}{${breaker.name}}`
    this.keys = [base, `${base}:w`, `${base}:p`]
    const config = breaker.config
    this.config = config
    const window = config.window
    this.rules = [
      config.consecutiveFailures ?? 0,
      config.failureCount ?? 0,
      config.failureRate ?? -1,
      config.slowCallRate ?? -1,
      config.minimumCalls,
      ...(window._tag === "CountWindow"
        ? ["c", window.size, 0]
        : ["t", window.buckets, Math.max(1, Math.floor(Duration.toMillis(window.duration) / window.buckets))])
    ]
    this.maxWaitMillis = config.halfOpenMaxWait === undefined ? 0 : Duration.toMillis(config.halfOpenMaxWait)
  }

  get routesCalls(): boolean {
    return this.store.strict && this.store.up
  }

  get grantsProbes(): boolean {
    return this.store.up
  }

  onTransition(): void {}

  onReject(): void {
    this.used = true
  }

  onCall(state: Admission["state"], outcome: Outcome, slow: boolean, _d: number, counted: boolean): void {
    this.used = true
    if (!counted || state === "HalfOpen" || this.routesCalls) return
    if (this.calls === 0) {
      this.batchGen = this.gen
      this.batchStartedAt = this.store.clock.currentTimeMillisUnsafe()
      this.store.dirty.add(this)
    }
    this.calls++
    if (outcome === "failure") {
      this.failures++
      this.trailing++
    } else {
      this.sawSuccess = true
      this.trailing = 0
    }
    if (slow) this.slow++
  }

  markDue(): void {
    this.used = true
  }

  /** Whether the periodic resync should look at this circuit. */
  due(): boolean {
    const due = this.used || this.breaker.circuit.current._tag !== "Closed"
    this.used = false
    return due
  }

  flush(now: number): Effect.Effect<void> {
    if (this.calls === 0) return Effect.void
    const { batchGen, calls, failures, sawSuccess, slow, trailing } = this
    this.dropBatch()
    return this.sendBatch(now, batchGen, calls, failures, slow, trailing, sawSuccess)
  }

  /** Sends outcomes counted under fleet generation `gen` to be merged into the fleet's window. */
  private sendBatch(
    now: number,
    gen: number,
    calls: number,
    failures: number,
    slow: number,
    trailing: number,
    sawSuccess: boolean
  ): Effect.Effect<void> {
    const args = [String(gen), calls, failures, slow, trailing, sawSuccess ? 0 : 1, ...this.rules]
    return this.call("flush", now, args, (error) =>
      Effect.suspend(() => {
        // Kept for the next flush when Redis surely did not run it (and the circuit did not move on):
        // after a timeout it may have, and an outcome counted twice is worse than one lost.
        if (this.gen === gen && notRun(error)) this.keep(gen, calls, failures, slow, trailing, sawSuccess)
        return this.store.lost(error)
      }))
  }

  /** Catches up with the fleet's state. */
  sync(now: number): Effect.Effect<void> {
    return this.call("sync", now, ["", 0, 0, 0])
  }

  /**
   * After an outage (or at the first connection): the operator's pending
   * control call, then the fleet's state, then the outcomes counted
   * meanwhile. A circuit this instance holds open re-opens a fleet circuit
   * that has recorded nothing, such as one lost by a Redis restart.
   */
  rejoin(now: number): Effect.Effect<void> {
    const control = this.pendingControl
    this.pendingControl = undefined
    const epoch = this.store.epoch
    const known = this.beforeOutage ?? this.localState(now)
    // An opening that has ended is no news for the fleet.
    const seed = known.state === "Open" && known.until <= now
      ? { state: "Closed" as const, until: 0, openedAt: 0 }
      : known
    const first = control === undefined ?
      Effect.void :
      this.call("control", now, [control], (error) =>
        Effect.suspend(() => {
          this.pendingControl ??= control
          return this.store.lost(error)
        }))
    const sync = this.call(
      "sync",
      now,
      [seed.state, Math.max(0, seed.until - now), this.breaker.circuit.consecutiveOpenings, seed.openedAt],
      undefined,
      "StoreSync"
    )
    const flush = Effect.suspend(() => {
      if (this.store.epoch !== epoch) return Effect.void
      // The fleet has this instance's state now: what the outage made of the breaker is history.
      this.beforeOutage = undefined
      // An operator's control call made while this catch-up ran goes to the fleet now.
      const late = this.pendingControl
      if (late !== undefined) {
        this.pendingControl = undefined
        return Effect.andThen(this.call("control", now, [late]), this.flushKept(now, epoch))
      }
      return this.flushKept(now, epoch)
    })
    return Effect.andThen(Effect.andThen(first, sync), flush)
  }

  /** The outcomes counted during an outage, sent once the circuit caught up. */
  private flushKept(now: number, epoch: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.store.epoch !== epoch) return Effect.void
      // Outcomes seen during the outage are real and join the fleet's window, unless a time window
      // has moved past them: they would all land in the current bucket.
      const window = this.config.window
      if (
        this.calls > 0 && window._tag === "TimeWindow" &&
        now - this.batchStartedAt >= Duration.toMillis(window.duration)
      ) {
        this.dropBatch()
        return Effect.void
      }
      this.batchGen = this.gen
      return this.flush(now)
    })
  }

  /** The store closes: this breaker goes on with its local circuit, as it was before any outage. */
  get leave(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.breaker.circuit.localTrips = true
      const before = this.beforeOutage
      this.beforeOutage = undefined
      if (before === undefined) return Effect.void
      // An opening that ended meanwhile ends here too: the circuit half-opens on its next read.
      return this.breaker.applyRemote(before.state, before.until, this.openings, "StoreSync")
    })
  }

  /** Redis is unreachable: the local circuit decides alone, or rejects every call. */
  goLocal(): Effect.Effect<void> {
    if (this.store.isClosed) return Effect.void
    const circuit = this.breaker.circuit
    circuit.localTrips = true
    if (this.store.settings.onUnavailable === "allow") return Effect.void
    return Effect.suspend(() => {
      this.beforeOutage ??= this.localState(this.store.clock.currentTimeMillisUnsafe())
      return this.breaker.applyRemote("ForcedOpen", 0, circuit.consecutiveOpenings, "StoreUnavailable")
    })
  }

  admit(now: number): Effect.Effect<RemoteGrant | Rejection | "local"> {
    // Shared mode: once the fleet said no probe is left, callers are turned away here until newer
    // news arrives (a transition, or the next resync), instead of each asking Redis again.
    if (this.probesExhausted && !this.store.strict && this.breaker.circuit.current._tag === "HalfOpen") {
      return this.rejection(now)
    }
    const epoch = this.store.epoch
    // The caller may leave while it waits for Redis (a timeout around the call, an interrupted
    // request): the wait is interruptible even inside the breaker's mask, and an answer that comes
    // after the caller left gives back the lease it carries.
    const answer = Effect.interruptible(
      this.store.runHeld(this.scriptCall("admit", now, []), (raw) => this.giveBack(raw, now))
    )
    return Effect.flatMap(
      Effect.exit(answer),
      (exit): Effect.Effect<RemoteGrant | Rejection | "local"> => {
        if (Exit.isFailure(exit)) {
          // The caller left: nothing was admitted, and Redis is not to blame.
          if (Cause.hasInterruptsOnly(exit.cause)) return Effect.failCause(exit.cause as Cause.Cause<never>)
          // Redis is gone: the local circuit decides this call.
          return Effect.as(this.store.lost(Cause.squash(exit.cause)), "local" as const)
        }
        return Effect.flatMap(
          this.apply(exit.value, "admit", now, undefined, epoch),
          (reply): Effect.Effect<RemoteGrant | Rejection | "local"> => {
            // Not applied (the store went down meanwhile, or the answer is unreadable): a lease it
            // may carry goes back, and the local circuit decides.
            if (reply === undefined) return Effect.as(this.giveBack(exit.value, now), "local" as const)
            const granted = reply[12]
            if (granted >= 0) {
              const state: Admission["state"] = granted > 0
                ? "HalfOpen"
                : reply[1] === "Disabled"
                ? "Disabled"
                : "Closed"
              return Effect.succeed<RemoteGrant>({ token: granted, gen: reply[3], state })
            }
            if (reply[1] === "HalfOpen" && Number(reply[3]) >= this.gen) this.probesExhausted = true
            return this.rejection(now)
          }
        )
      }
    )
  }

  done(grant: RemoteGrant, outcome: Outcome, slow: boolean, now: number): Effect.Effect<void> {
    if (grant.token > 0) {
      // Judged as in memory (a slow probe fails when slow calls can trip the circuit).
      const reported = outcome === "ignored"
        ? outcome
        : this.breaker.circuit.probeFailed(outcome, slow)
        ? "failure"
        : "success"
      // A lost probe report is not retried: the lease expires and another instance probes.
      return this.call("probe", now, [String(grant.token), reported, this.config.successThreshold])
    }
    if (outcome === "ignored") return Effect.void
    const failure = outcome === "failure" ? 1 : 0
    return this.sendBatch(now, Number(grant.gen), 1, failure, slow ? 1 : 0, failure, failure === 0)
  }

  control(target: "ForcedOpen" | "Disabled" | "Reset", now: number): Effect.Effect<void> {
    if (!this.store.up) {
      this.pendingControl = target
      return Effect.void
    }
    return this.call("control", now, [target], (error) =>
      Effect.suspend(() => {
        this.pendingControl = target
        return this.store.lost(error)
      }))
  }

  /** Gives back the probe lease an admission answer carries, when nobody will use it. */
  private giveBack(raw: unknown, now: number): Effect.Effect<void> {
    const decoded = decodeReply(raw)
    if (Exit.isFailure(decoded) || decoded.value[12] <= 0) return Effect.void
    const call = this.scriptCall("probe", now, [String(decoded.value[12]), "ignored", this.config.successThreshold])
    return Effect.ignore(this.store.run(call))
  }

  private localState(now: number): LocalState {
    const phase = this.breaker.circuit.advance(now)
    return phase._tag === "Open"
      ? { state: "Open", until: phase.until, openedAt: phase.openedAt }
      : { state: phase._tag, until: 0, openedAt: 0 }
  }

  private dropBatch(): void {
    this.calls =
      this.failures =
      this.slow =
      this.trailing =
        0
    this.sawSuccess = false
  }

  private keep(
    gen: number,
    calls: number,
    failures: number,
    slow: number,
    trailing: number,
    sawSuccess: boolean
  ): void {
    if (this.calls === 0) {
      this.batchGen = gen
      this.batchStartedAt = this.store.clock.currentTimeMillisUnsafe()
      this.store.dirty.add(this)
    } else if (this.batchGen !== gen) {
      return
    }
    // The kept batch is older than what was counted since.
    this.trailing = this.sawSuccess ? this.trailing : this.trailing + trailing
    this.sawSuccess = this.sawSuccess || sawSuccess
    this.calls += calls
    this.failures += failures
    this.slow += slow
  }

  private rejection(now: number): Effect.Effect<Rejection> {
    return Effect.sync(() => {
      const circuit = this.breaker.circuit
      const phase = circuit.advance(now)
      if (phase._tag === "Open" || phase._tag === "HalfOpen" || phase._tag === "ForcedOpen") {
        return circuit.reject(phase, now)
      }
      // The fleet rejected, but its newer state reached this instance first: reject as at the end of an opening.
      return circuit.reject({ _tag: "Open", gen: -1, openedAt: now, until: now }, now)
    })
  }

  private scriptCall(op: ScriptCall["op"], now: number, extra: ReadonlyArray<string | number>): ScriptCall {
    const settings = this.store.settings
    const config = this.config
    return {
      keys: this.keys,
      op,
      // Whole milliseconds: the script keeps integers (a TestClock can stand at 1.5 ms).
      now: Math.floor(now),
      idleMillis: settings.idleMillis,
      channel: this.store.channel,
      name: this.breaker.name,
      permits: config.halfOpenPermits,
      openMillis: this.openMillis(now),
      maxWaitMillis: this.maxWaitMillis,
      leaseMillis: settings.leaseMillis,
      origin: this.store.origin,
      knownGen: this.gen,
      extra
    }
  }

  /** The next opening's duration for the fleet's count of openings: stepped once per count, not per call. */
  private openMillis(now: number): number {
    if (this.openMillisOpenings !== this.openings) {
      this.openMillisOpenings = this.openings
      this.openMillisCached = this.breaker.circuit.openMillisFor(this.openings + 1, now)
    }
    return this.openMillisCached
  }

  /** Runs an operation and applies its reply; a failure marks Redis unreachable (or runs `onError`). */
  private call(
    op: ScriptCall["op"],
    now: number,
    extra: ReadonlyArray<string | number>,
    onError?: (error: Redis.RedisError) => Effect.Effect<void>,
    reason?: TransitionReason
  ): Effect.Effect<void> {
    const epoch = this.store.epoch
    return this.store.run(this.scriptCall(op, now, extra)).pipe(
      Effect.flatMap((raw) => this.apply(raw, op, now, reason, epoch)),
      Effect.asVoid,
      Effect.catch((error) => onError === undefined ? this.store.lost(error) : onError(error))
    )
  }

  /**
   * Moves the local circuit to the state in the reply to an operation sent at
   * `now`, unless a newer state was seen already.
   */
  private apply(
    raw: unknown,
    op: string,
    now: number,
    reason: TransitionReason | undefined,
    epoch: number
  ): Effect.Effect<Reply | undefined> {
    return Effect.flatMap(this.store.report(raw, `${op} on circuit "${this.breaker.name}"`), (reply) => {
      // An answer sent before an outage began must not undo what the outage did.
      if (reply === undefined || this.store.epoch !== epoch) return Effect.succeed(undefined)
      const gen = Number(reply[3])
      if (gen < this.gen) return Effect.succeed(reply)
      this.gen = gen
      this.openings = reply[5]
      if (reply[1] !== "HalfOpen" || reply[6] > 0) this.probesExhausted = false
      const why = reply[13] !== "" ? reply[13] : reason ?? reply[2]
      // The remaining time counts from when the operation was sent, not from when its reply arrived.
      return Effect.as(this.breaker.applyRemote(reply[1], now + reply[4], reply[5], why), reply)
    })
  }
}
