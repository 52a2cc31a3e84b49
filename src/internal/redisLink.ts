/**
 * One breaker's link to its shared circuit in the Redis store (the store's
 * `CircuitLink`): it counts the breaker's outcomes for the store's next
 * flush, asks Redis for admissions when Redis decides them (strict mode,
 * half-open probes), keeps the breaker's local circuit in step with the
 * fleet's, and decides what the local circuit does while Redis cannot be
 * reached. It reaches the breaker only through `LocalCircuit`.
 *
 * @internal
 */
import { Cause, Duration, Effect, Exit } from "effect"
import type * as Redis from "effect/persistence/Redis"
import type { ResolvedConfig } from "../CircuitBreakerConfig.js"
import type { TransitionReason } from "../CircuitBreakerEvent.js"
import type { CircuitOpenError } from "../CircuitOpenError.js"
import type {
  CircuitLink,
  CircuitObserver,
  ControlTarget,
  FleetView,
  LocalCircuit,
  StoreGrant
} from "../CircuitStore.js"
import type { Outcome } from "../Classifier.js"
import type { OutcomeCounts } from "./outcomeCounts.js"
import { countArgs, PendingOutcomes } from "./outcomeCounts.js"
import { CircuitArgs } from "./redisCircuitArgs.js"
import { OperatorControls, seedArgs } from "./redisControl.js"
import { notRun } from "./redisErrors.js"
import { LocalDuringOutage } from "./redisOutage.js"
import type { CircuitReply, ScriptCall } from "./redisScript.js"
import { decodeReply, fleetViewOf } from "./redisScript.js"
import type { RedisStore } from "./redisStore.js"
import type { StrictBatchLink } from "./redisStrictBatch.js"
import { StrictBatch } from "./redisStrictBatch.js"

type Rejection = Exit.Exit<never, CircuitOpenError>
type Answer = StoreGrant | Rejection | "local"

/**
 * One breaker's link to its shared circuit: it counts the breaker's outcomes
 * for the next flush, answers the admissions Redis decides, and moves the
 * local circuit to the fleet's state.
 *
 * @internal
 */
export class RedisLink implements CircuitObserver, CircuitLink, StrictBatchLink {
  readonly needsTime = false
  /** The fleet generation this instance last saw. */
  gen = 0
  /** The fleet's consecutive openings, as last seen. */
  openings = 0
  /** Outcomes the local circuit admitted, counted for the next flush. */
  private readonly pending: PendingOutcomes
  /** Shared mode: the fleet had no probe permit left at the last answer; cleared by any newer news. */
  private probesExhausted = false
  /** The operator's control calls, sent to the fleet or waiting for it. */
  private readonly controls: OperatorControls
  private used = false
  /** A transition was announced while the store was not up: re-read once it is. */
  missedNews = false
  /** What the local circuit does while Redis cannot be reached. */
  private readonly outage: LocalDuringOutage
  private readonly config: ResolvedConfig
  /** The trip rules and the window, as the script reads them: the same for every flush. */
  readonly rules: ReadonlyArray<string | number>
  /** `halfOpenFailureRate` as a probe report sends it: empty when not set. */
  private readonly probeRate: number | ""
  /** The last reply applied and when its operation was sent: the fleet's view, built when asked for. */
  private lastReply: CircuitReply | undefined = undefined
  private lastReplyAt = 0
  /** This instance's configuration fingerprint, kept with the circuit by the first instance to sync. */
  readonly fingerprint: string
  /** The fingerprint the circuit keeps, when it is not this instance's. */
  conflictingFingerprint: string | undefined = undefined

  constructor(readonly store: RedisStore, readonly local: LocalCircuit) {
    this.config = local.config
    this.pending = new PendingOutcomes(() => store.clock.currentTimeMillisUnsafe())
    this.args = new CircuitArgs(store.settings, store.channel, store.origin, local)
    this.rules = this.args.rules
    this.probeRate = this.config.halfOpenFailureRate ?? ""
    this.fingerprint = this.args.fingerprint
    this.strictBatch = new StrictBatch(this)
    this.outage = new LocalDuringOutage(local, store.settings.onUnavailable)
    this.controls = new OperatorControls({
      fingerprint: this.fingerprint,
      up: () => store.up,
      // A restored state's sync is the operator's too: answers sent before it are stale.
      run: (op, now, extra, onError) =>
        this.call(op, now, extra, onError, op === "sync" ? "StoreSync" : undefined, true),
      lost: (error) => store.lost(error),
      restoredDuringOutage: (state) => this.outage.restored(state)
    })
  }

  /** What every script call of this circuit sends. */
  private readonly args: CircuitArgs

  /** Strict mode's admissions and outcomes, sent together (see `StrictBatch`). */
  private readonly strictBatch: StrictBatch

  readonly now = (): number => this.store.clock.currentTimeMillisUnsafe()

  readonly closed = (): boolean => this.store.isClosed

  start(operation: Effect.Effect<void>): void {
    this.store.startDetached(operation)
  }

  /** Sends outcomes (the flush arguments) counted under `gen`; `kept` keeps them when Redis surely did not. */
  flushOutcomes(
    now: number,
    gen: number,
    outcomes: ReadonlyArray<string | number>,
    kept: () => void
  ): Effect.Effect<void> {
    return this.call("flush", now, outcomes, (error) =>
      Effect.suspend(() => {
        // Kept for the next flush when Redis surely did not run it (and the circuit did not move on):
        // after a timeout it may have, and an outcome counted twice is worse than one lost.
        if (this.gen === gen && notRun(error)) kept()
        return this.store.lost(error)
      }))
  }

  // While the store catches up after an outage, Redis answers again: a circuit that adopted the
  // fleet's half-open state asks Redis for its probes' leases from then on, never probing alone.
  get routesCalls(): boolean {
    return this.store.strict && this.store.answering
  }

  get grantsProbes(): boolean {
    return this.store.answering
  }

  onTransition(): void {}

  onReject(): void {
    this.used = true
  }

  onCall(
    state: StoreGrant["state"],
    outcome: Outcome,
    slow: boolean,
    _d: number,
    counted: boolean,
    _at: number | undefined,
    byStore: boolean,
    openHintMillis?: number
  ): void {
    this.used = true
    // A call Redis admitted reached Redis through `done`; a call the local circuit admitted (in shared
    // mode's closed state, or while Redis was away, however the outage has gone since) is counted
    // for the next flush. What the store does when the call ends does not matter: how it was admitted does.
    if (!counted || state === "HalfOpen" || byStore) return
    if (this.pending.count(this.gen, outcome === "failure", slow, openHintMillis)) this.store.dirty.add(this)
  }

  markDue(): void {
    this.used = true
  }

  /** Whether the periodic resync should look at this circuit. */
  due(): boolean {
    const due = this.used || this.local.read(this.store.clock.currentTimeMillisUnsafe()).state !== "Closed"
    this.used = false
    return due
  }

  /** Starts sending strict mode's outcomes not sent yet. */
  sendOutcomesNow(): void {
    this.strictBatch.sendOutcomesNow()
  }

  flush(now: number): Effect.Effect<void> {
    // Strict mode's outcomes not sent yet go too (the breaker or the store is closing, say).
    this.strictBatch.sendOutcomesNow()
    const taken = this.pending.take()
    return taken === undefined ? Effect.void : this.sendBatch(now, taken.gen, taken.counts)
  }

  /** Sends outcomes counted under fleet generation `gen` to be merged into the fleet's window. */
  private sendBatch(now: number, gen: number, counts: OutcomeCounts): Effect.Effect<void> {
    // No sequence (shared mode counts calls, not their order), then the batch's open-duration hint.
    const args = [...countArgs(gen, counts), ...this.rules, "", counts.openHint]
    return this.flushOutcomes(now, gen, args, () => this.keep(gen, counts))
  }

  /** Catches up with the fleet's state. */
  sync(now: number): Effect.Effect<void> {
    return this.call("sync", now, ["", 0, 0, 0, this.fingerprint])
  }

  /**
   * After an outage (or at the first connection): the operator's pending
   * control call, then the fleet's state, then the outcomes counted
   * meanwhile. A circuit this instance holds open re-opens a fleet circuit
   * that has recorded nothing, such as one lost by a Redis restart.
   */
  rejoin(now: number): Effect.Effect<void> {
    const control = this.controls.take()
    const epoch = this.store.epoch
    const known = this.outage.known(now)
    const first = control === undefined ? Effect.void : this.controls.sendTaken(control, now)
    const sync = this.call("sync", now, seedArgs(known, now, this.fingerprint), undefined, "StoreSync")
    const flush = Effect.suspend(() => {
      if (this.store.epoch !== epoch) return Effect.void
      this.outage.caughtUp()
      // An operator's control call made while this catch-up ran goes to the fleet now.
      const late = this.controls.take()
      if (late !== undefined) return Effect.andThen(this.controls.send(late, now), this.flushKept(now, epoch))
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
      if (window._tag === "TimeWindow" && this.pending.dropIfOlder(now, Duration.toMillis(window.duration))) {
        return Effect.void
      }
      this.pending.regenerate(this.gen)
      return this.flush(now)
    })
  }

  /** The store closes: this breaker goes on with its local circuit, as it was before any outage. */
  get leave(): Effect.Effect<void> {
    return Effect.suspend(() => this.outage.leave(this.openings))
  }

  storeUp(): void {
    this.outage.storeUp()
  }

  goLocal(): Effect.Effect<void> {
    return this.store.isClosed ? Effect.void : this.outage.goLocal()
  }

  fleet(): FleetView | undefined {
    return this.lastReply === undefined ? undefined : fleetViewOf(this.lastReply, this.lastReplyAt)
  }

  admit(now: number): Effect.Effect<StoreGrant | Rejection | "local"> {
    // Shared mode: once the fleet said no probe is left, callers are turned away here until newer
    // news arrives (a transition, or the next resync), instead of each asking Redis again.
    if (this.probesExhausted && !this.store.strict && this.local.read(now).state === "HalfOpen") {
      return this.rejection(now)
    }
    // Strict mode, closed: this tick's callers are admitted together, with the outcomes finished
    // since the last operation (see `StrictBatch`).
    if (this.store.strict) {
      const state = this.local.read(now).state
      if (state === "Closed" || state === "Disabled") return this.strictBatch.admit()
    }
    return Effect.suspend(() => {
      // Strict mode's outcomes not sent yet go first: Redis records them before this admission.
      this.strictBatch.sendOutcomesNow()
      return Effect.map(this.admitMany(now), (answers) => answers[0]!)
    })
  }

  /**
   * Asks Redis to admit `admissions` calls at once, with a batch of outcomes
   * (`outcomes`: the flush arguments) recorded first. A grant of a probe goes
   * to the first caller; the others are rejected. `leftCallers` tells, once
   * the answer is in, which callers stopped waiting: a probe lease granted to
   * one of them goes back.
   */
  private admitMany(now: number): Effect.Effect<ReadonlyArray<Answer>> {
    const epoch = this.store.epoch
    const sent = ++this.operations
    // The caller may leave while it waits for Redis (a timeout around the call, an interrupted
    // request): the wait is interruptible even inside the breaker's mask, and an answer that comes
    // after the caller left gives back the lease it carries.
    const call = this.scriptCall("admit", now, [1])
    const answer = Effect.interruptible(this.store.runHeld(call, (raw) => this.giveBack(raw, now)))
    return Effect.flatMap(
      Effect.exit(answer),
      (exit) => this.answersTo(exit, now, 1, undefined, undefined, epoch, sent)
    )
  }

  /**
   * Strict mode's tick: asks Redis to admit `admissions` calls at once, with
   * a batch of outcomes (`outcomes`: the flush arguments) recorded first, and
   * hands the answers to `onAnswers`. Sent from outside any fiber: a busy
   * strict circuit sends one per call, and a closed circuit's answer (almost
   * every answer) is applied on the spot; any other goes the full way, in a
   * fiber of its own.
   *
   * @internal
   */
  admitTick(
    now: number,
    admissions: number,
    outcomes: ReadonlyArray<string | number> | undefined,
    onUnsent: ((error: Redis.RedisError) => void) | undefined,
    leftCallers: () => boolean,
    onAnswers: (answers: ReadonlyArray<Answer>) => void
  ): void {
    const epoch = this.store.epoch
    const sent = ++this.operations
    const call = this.scriptCall("admit", now, outcomes === undefined ? [admissions] : [admissions, ...outcomes])
    this.store.sendScript(call, (exit) => {
      const closed = Exit.isSuccess(exit) ? this.closedAnswer(exit.value, now, epoch, sent) : undefined
      if (closed !== undefined) return onAnswers(Array.from({ length: admissions }, () => closed))
      this.start(Effect.map(this.answersTo(exit, now, admissions, onUnsent, leftCallers, epoch, sent), onAnswers))
    }, (raw) => this.giveBack(raw, now))
  }

  /**
   * The grant a closed circuit's answer gives every caller, applied at once,
   * when nothing else is in it: no transition, no corrupt data, no
   * configuration to compare, the local circuit already in the same state.
   * Undefined for any other answer, which `apply` handles.
   */
  private closedAnswer(raw: unknown, now: number, epoch: number, sent: number): StoreGrant | undefined {
    const decoded = decodeReply(raw)
    if (Exit.isFailure(decoded)) return undefined
    const reply = decoded.value
    if (
      reply.granted !== 0 || reply.state !== "Closed" || reply.moved !== "" || reply.corrupt !== "" ||
      reply.config !== "" || this.store.epoch !== epoch || !this.store.answering
    ) return undefined
    const gen = Number(reply.gen)
    if (gen < this.gen || sent < this.lastControl) return undefined
    const local = this.local.read(now)
    if (local.state !== "Closed" || local.consecutiveOpenings !== reply.openings) return undefined
    this.gen = gen
    this.openings = reply.openings
    this.lastReply = reply
    this.lastReplyAt = now
    this.probesExhausted = false
    return { token: 0, version: reply.gen, state: "Closed" }
  }

  /** The answers an admission's exit gives its `admissions` callers. */
  private answersTo(
    exit: Exit.Exit<unknown, Redis.RedisError>,
    now: number,
    admissions: number,
    onUnsent: ((error: Redis.RedisError) => void) | undefined,
    leftCallers: (() => boolean) | undefined,
    epoch: number,
    sent: number
  ): Effect.Effect<ReadonlyArray<Answer>> {
    const all = <A>(answer: A): Array<A> => Array.from({ length: admissions }, () => answer)
    if (Exit.isFailure(exit)) {
      // The caller left: nothing was admitted, and Redis is not to blame.
      if (Cause.hasInterruptsOnly(exit.cause)) return Effect.failCause(exit.cause as Cause.Cause<never>)
      // Redis is gone: the local circuit decides these calls.
      const error = Cause.squash(exit.cause)
      onUnsent?.(error as Redis.RedisError)
      return Effect.as(this.store.lost(error), all("local" as const))
    }
    return Effect.flatMap(
      this.apply(exit.value, "admit", now, undefined, epoch, sent),
      (reply): Effect.Effect<ReadonlyArray<Answer>> => {
        // Not applied (the store went down meanwhile, or the answer is unreadable): a lease it
        // may carry goes back, and the local circuit decides.
        if (reply === undefined) return Effect.as(this.giveBack(exit.value, now), all("local" as const))
        if (reply.corrupt !== "") {
          // The script admitted against a circuit it had to make afresh; this instance's open
          // circuit (written back meanwhile) is the better answer.
          const state = this.local.read(now).state
          if (state === "Open" || state === "ForcedOpen") {
            return Effect.andThen(this.giveBack(exit.value, now), this.rejections(now, admissions))
          }
        }
        const granted = reply.granted
        if (granted === 0) {
          const state = reply.state === "Disabled" ? "Disabled" : "Closed"
          return Effect.succeed(all<StoreGrant>({ token: 0, version: reply.gen, state }))
        }
        if (reply.state === "HalfOpen" && granted < 0 && Number(reply.gen) >= this.gen) {
          this.probesExhausted = true
        }
        if (granted < 0) return this.rejections(now, admissions)
        // One probe lease: the first caller's (or back to the fleet when that caller left); the
        // others are rejected.
        if (leftCallers?.() === true) {
          return Effect.andThen(this.giveBack(exit.value, now), this.rejections(now, admissions))
        }
        const probe: StoreGrant = { token: granted, version: reply.gen, state: "HalfOpen" }
        return Effect.map(this.rejections(now, admissions - 1), (rest) => [probe, ...rest])
      }
    )
  }

  /**
   * Sends the outcome of a call Redis admitted. The caller does not wait
   * for the answer: the command is written at once, on the connection every
   * later admission uses, so Redis applies it before any admission sent
   * after it, and the answer moves the local circuit when it arrives. The
   * store waits for outcomes still on their way before it closes.
   */
  done(grant: StoreGrant, outcome: Outcome, slow: boolean, now: number, openHintMillis?: number): Effect.Effect<void> {
    // A failure's open-duration hint goes with it: the script opens for at least that long.
    const hint = outcome === "failure" ? openHintMillis ?? 0 : 0
    if (grant.token > 0) {
      // Judged as in memory (a slow probe fails when slow calls can trip the circuit).
      const reported = outcome === "ignored"
        ? outcome
        : this.local.probeFailed(outcome, slow)
        ? "failure"
        : "success"
      // A lost probe report is not retried: the lease expires and another instance probes.
      const extra = [String(grant.token), reported, this.config.successThreshold, hint, this.probeRate]
      return this.store.detach(this.call("probe", now, extra))
    }
    if (outcome === "ignored") return Effect.void
    const failure = outcome === "failure" ? 1 : 0
    if (this.store.strict) return this.strictBatch.outcome(Number(grant.version), failure === 1, slow, hint)
    return this.store.detach(
      this.sendBatch(now, Number(grant.version), {
        calls: 1,
        failures: failure,
        slow: slow ? 1 : 0,
        trailing: failure,
        sawSuccess: failure === 0,
        openHint: hint
      })
    )
  }

  control(target: ControlTarget, now: number): Effect.Effect<void> {
    return this.controls.control(target, now)
  }

  /**
   * Whether the local circuit is more protective than `fleetState`: open
   * (or forced open, or disabled by an operator) while the fleet's circuit
   * is not.
   */
  private outranks(fleetState: CircuitReply["state"], now: number): boolean {
    const local = this.local.read(now).state
    if (local === fleetState) return false
    return local === "ForcedOpen" || local === "Disabled" ||
      (local === "Open" && fleetState !== "ForcedOpen")
  }

  /**
   * The circuit keeps another configuration's fingerprint: instances share
   * this circuit configured differently. Logged once per circuit and process.
   */
  private noticeConflict(kept: string): Effect.Effect<void> | undefined {
    if (this.conflictingFingerprint === kept) return undefined
    this.conflictingFingerprint = kept
    return this.store.warnOnce(
      `config:${this.local.name}`,
      `Circuit breaker "${this.local.name}" shares its circuit through Redis with instances configured ` +
        `differently (fingerprint ${kept}, this instance ${this.fingerprint}): the fleet's circuit moves by ` +
        `the rules of whichever instance reports; give differently configured breakers different names`
    )
  }

  /** Writes this instance's state over a circuit made afresh, as after a Redis restart. */
  private reseed(now: number): Effect.Effect<void> {
    return this.call("sync", now, seedArgs(this.local.read(now), now, this.fingerprint), undefined, "StoreSync")
  }

  /** Gives back the probe lease an admission answer carries, when nobody will use it. */
  private giveBack(raw: unknown, now: number): Effect.Effect<void> {
    const decoded = decodeReply(raw)
    if (Exit.isFailure(decoded) || decoded.value.granted <= 0) return Effect.void
    const call = this.scriptCall("probe", now, [String(decoded.value.granted), "ignored", this.config.successThreshold])
    return Effect.ignore(this.store.run(call))
  }

  keep(gen: number, older: OutcomeCounts): void {
    // The kept batch is older than what was counted since.
    if (this.pending.keep(gen, older)) this.store.dirty.add(this)
  }

  private rejection(now: number): Effect.Effect<Rejection> {
    return Effect.sync(() => this.local.reject(now))
  }

  /** `count` rejections: each rejected caller is one (and one event). */
  private rejections(now: number, count: number): Effect.Effect<Array<Rejection>> {
    return Effect.sync(() => Array.from({ length: count }, () => this.local.reject(now)))
  }

  private scriptCall(op: ScriptCall["op"], now: number, extra: ReadonlyArray<string | number>): ScriptCall {
    return this.args.call(op, now, extra, this.gen, this.openings)
  }

  /**
   * Runs an operation and applies its reply; a failure marks Redis
   * unreachable (or runs `onError`). An `operator`'s operation makes older
   * answers stale (see `apply`).
   */
  private call(
    op: ScriptCall["op"],
    now: number,
    extra: ReadonlyArray<string | number>,
    onError?: (error: Redis.RedisError) => Effect.Effect<void>,
    reason?: TransitionReason,
    operator = op === "control"
  ): Effect.Effect<void> {
    return Effect.suspend(() => {
      // Strict mode's outcomes not sent yet go first: Redis records them before this operation.
      if (op !== "flush") this.strictBatch.sendOutcomesNow()
      const epoch = this.store.epoch
      const sent = ++this.operations
      if (operator) this.lastControl = sent
      return this.store.run(this.scriptCall(op, now, extra)).pipe(
        Effect.flatMap((raw) => this.apply(raw, op, now, reason, epoch, sent)),
        Effect.asVoid,
        Effect.catch((error) => onError === undefined ? this.store.lost(error) : onError(error))
      )
    })
  }

  /** Operations sent so far, numbered in the order they were sent. */
  private operations = 0
  /** The number of the last operator's control call sent. */
  private lastControl = 0

  /**
   * Moves the local circuit to the state in the reply to operation number
   * `sent`, sent at `now`, unless a newer state was seen already, or the
   * operation was sent before the operator's last control call: its answer
   * shows the circuit before the operator acted, and adopting it would undo
   * the control call until its own answer arrived.
   */
  private apply(
    raw: unknown,
    op: string,
    now: number,
    reason: TransitionReason | undefined,
    epoch: number,
    sent: number
  ): Effect.Effect<CircuitReply | undefined> {
    return Effect.flatMap(this.store.report(raw, `${op} on circuit "${this.local.name}"`), (reply) => {
      // An answer sent before an outage began must not undo what the outage did, nor one that arrives
      // while the store counts Redis as unreachable (the local circuit decides then, or rejects).
      if (reply === undefined || this.store.epoch !== epoch || !this.store.answering) {
        return Effect.succeed(undefined)
      }
      const conflict = reply.config !== "" && reply.config !== this.fingerprint
        ? this.noticeConflict(reply.config)
        : undefined
      if (conflict !== undefined) return Effect.andThen(conflict, this.apply(raw, op, now, reason, epoch, sent))
      const gen = Number(reply.gen)
      if (gen < this.gen || sent < this.lastControl) return Effect.succeed(reply)
      // Data the script could not trust was replaced by a fresh, closed circuit: this instance's
      // more protective state wins, and is written back for the fleet.
      if (reply.corrupt !== "" && this.outranks(reply.state, now)) {
        this.gen = gen
        return Effect.as(this.reseed(now), reply)
      }
      this.gen = gen
      this.openings = reply.openings
      // Kept as it is (strict mode applies a reply per call): the fleet's view is built when asked for.
      this.lastReply = reply
      this.lastReplyAt = now
      if (reply.state !== "HalfOpen" || reply.permits > 0) this.probesExhausted = false
      const why = reply.moved !== "" ? reply.moved : reason ?? reply.reason
      // The remaining time counts from when the operation was sent, not from when its reply arrived.
      return Effect.as(this.local.adopt(reply.state, now + reply.remaining, reply.openings, why), reply)
    })
  }
}
