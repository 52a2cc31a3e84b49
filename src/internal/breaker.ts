/**
 * The Effect side of a circuit breaker: reads the `Clock`, asks the
 * synchronous state machine (`internal/circuit.ts`) for a decision, and runs,
 * rejects or records the call.
 *
 * The Closed path is the hot path and is written with `Effect.withFiber` and
 * `Effect.onExitPrimitive` rather than `Effect.gen`: one primitive to admit,
 * one to observe the exit, no clock read unless something needs the time, no
 * allocation beyond the finaliser closure. The finaliser is never installed
 * as interruptible (`onExitPrimitive`'s third argument): an interruptible one
 * is skipped when the caller is interrupted, which would lose the call's
 * outcome and drop a typed failure from the caller's `Exit`. Anything that takes a half-open
 * permit runs inside `uninterruptibleMask`, so an interruption can never land
 * between taking a permit and installing the finaliser that gives it back.
 *
 * @internal
 */
import type { Fiber, Tracer } from "effect"
import { Cause, Clock, Context, Duration, Effect, Exit, Result, Scope, Stream } from "effect"
import type { CircuitBreaker } from "../CircuitBreaker.js"
import type { CircuitBreakerConfigError, ResolvedConfig } from "../CircuitBreakerConfig.js"
import type { CircuitBreakerEvent } from "../CircuitBreakerEvent.js"
import type { Snapshot } from "../CircuitBreakerSnapshot.js"
import { CircuitControlError } from "../CircuitControlError.js"
import type { CircuitDocument } from "../CircuitDocument.js"
import type { CircuitOpenError } from "../CircuitOpenError.js"
import type { State } from "../CircuitState.js"
import type { CircuitLink, CircuitObserver, CircuitStore, ControlTarget, StoreGrant } from "../CircuitStore.js"
import { localOnlyLink } from "../CircuitStore.js"
import type { Classifier, ClassifyOptions } from "../Classifier.js"
import { defaultClassifier, fromOptions } from "../Classifier.js"
import type { ConfigIssue } from "../ConfigIssue.js"
import { Enabled } from "../Metrics.js"
import { isTimeoutError } from "../TimeoutError.js"
import { Circuit } from "./circuit.js"
import { disable, forceOpen, halfOpen, openUntil, reset } from "./circuitControl.js"
import { decodeDocument, exportDocument, restoreDocument } from "./circuitDocument.js"
import { ClassifierBug, classifySafely, openHintOf, outcomeOf, recordedExit } from "./classifySafely.js"
import { openForMillis, openUntilMillis } from "./controlInput.js"
import { EventHub } from "./events.js"
import { localCircuitOf } from "./localCircuit.js"
import { LogThrottle } from "./logThrottle.js"
import { BreakerMetrics, claimBreakerName } from "./metrics.js"
import { makeOpenDurations } from "./openDuration.js"
import type { Admission, Phase } from "./phase.js"
import { hasTypeId, isEffectValue } from "./service.js"
import { snapshotOf } from "./snapshotOf.js"
import { spanAttributes, tracedSpan, traceRejection } from "./spans.js"
import { transitionLog } from "./transitionLog.js"

/** @internal */
export const TypeId: TypeId = "~effect-resilience/CircuitBreaker"

/** @internal */
export type TypeId = "~effect-resilience/CircuitBreaker"

/** A call that timed out was too slow for its caller, whatever its duration. */
const hasTimeout = (cause: Cause.Cause<unknown>): boolean => {
  for (const reason of cause.reasons) {
    if (reason._tag === "Fail" && (isTimeoutError(reason.error) || Cause.isTimeoutError(reason.error))) return true
  }
  return false
}

/** A classifier bug is logged at most this often per breaker: a bug on every call must not flood the logs. */
const bugReportMillis = 60_000

/**
 * Runs what a call's finaliser or a timer leaves to do (logs, timers) so that
 * it can never fail: a logger that throws must not turn the call's typed
 * failure into a defect (a failing finaliser would), nor leak a probe permit.
 */
const neverFails = (effect: Effect.Effect<void>): Effect.Effect<void> => Effect.catchCause(effect, () => Effect.void)

/** @internal */
export const isCircuitBreaker = (u: unknown): u is CircuitBreaker => hasTypeId(u, TypeId)

/**
 * A circuit breaker instance. Only what every call needs is stored per
 * instance; the read and control effects are built on access and the event
 * hub on first subscription, so that a hundred thousand keyed breakers stay
 * small.
 *
 * @internal
 */
export class CircuitBreakerImpl implements CircuitBreaker {
  declare readonly [TypeId]: TypeId
  readonly name: string
  readonly circuit: Circuit
  readonly execute: CircuitBreaker["execute"]
  /** The classifier used when a call brings none: the config's, or the default. */
  readonly classifier: Classifier
  /** The link to the store that keeps this breaker's circuit (see `CircuitStore`). */
  private link: CircuitLink = localOnlyLink
  private hub: EventHub | undefined = undefined

  /**
   * The breaker keeps the `Clock` and the services of the context it was made
   * in: one breaker, one time source (so `TestClock` drives a breaker made
   * under it), and the `Random` its backoff schedule may jitter with.
   */
  private readonly clock: Clock.Clock

  constructor(
    readonly config: ResolvedConfig,
    private readonly scope: Scope.Scope,
    private readonly context: Context.Context<never>
  ) {
    this.name = config.name
    this.clock = Context.get(context, Clock.Clock)
    this.circuit = new Circuit(config, makeOpenDurations(config, context), this.clock)
    this.classifier = config.classify === undefined
      ? defaultClassifier
      : fromOptions({ classify: config.classify }) ?? defaultClassifier
    this.execute = ((selfOrOptions: unknown, options?: ClassifyOptions) => {
      if (isEffectValue(selfOrOptions)) return this.guardWith(selfOrOptions, options)
      // Data-last: resolve the classifier once, not on every call.
      const classify = fromOptions(selfOrOptions as ClassifyOptions | undefined) ?? this.classifier
      return (self: Effect.Effect<unknown, unknown, unknown>) =>
        Effect.withFiber((fiber) => this.guard(self, classify, fiber))
    }) as CircuitBreaker["execute"]
    this.circuit.reportTransitions = config.logTransitions
  }

  /**
   * Registers the breaker's metrics, when its configuration (or its context)
   * asks for them; returns what removes them, or `"name taken"` when another
   * live breaker already reports under this name.
   */
  registerMetrics(): (() => void) | "name taken" | undefined {
    const options = this.config.metrics
    const enabled = options === undefined ? Context.get(this.context, Enabled) : options !== false
    if (!enabled) return undefined
    const release = claimBreakerName(this.context, this.name)
    if (release === undefined) return "name taken"
    const metrics = new BreakerMetrics(
      this.name,
      this.circuit,
      this.context,
      this.clock,
      typeof options === "object" ? options.callDurations : undefined
    )
    const detach = this.circuit.addObserver(metrics)
    return () => {
      detach()
      metrics.remove()
      release()
    }
  }

  get state(): Effect.Effect<State> {
    return this.read((now) => this.circuit.advance(now)._tag)
  }

  get snapshot(): Effect.Effect<Snapshot> {
    return this.read((now) => snapshotOf(this.name, this.circuit.snapshot(now), now, this.link.fleet()))
  }

  get forceOpen(): Effect.Effect<void> {
    return this.control((now) => forceOpen(this.circuit, now))
  }

  get disable(): Effect.Effect<void> {
    return this.control((now) => disable(this.circuit, now))
  }

  get reset(): Effect.Effect<void> {
    return this.control((now) => reset(this.circuit, now))
  }

  get halfOpen(): Effect.Effect<void> {
    return this.control((now) => halfOpen(this.circuit, now))
  }

  get openFor(): CircuitBreaker["openFor"] {
    return (duration) =>
      this.control((now) => {
        const millis = openForMillis(duration)
        return typeof millis === "number"
          ? openUntil(this.circuit, now + millis, now)
          : this.refuse("openFor", [millis])
      })
  }

  get openUntil(): CircuitBreaker["openUntil"] {
    return (instant) =>
      this.control((now) => {
        const until = openUntilMillis(instant, now)
        return typeof until === "number" ? openUntil(this.circuit, until, now) : this.refuse("openUntil", [until])
      })
  }

  get export(): Effect.Effect<CircuitDocument> {
    return this.read((now) => exportDocument(this.circuit, this.name, now))
  }

  get restore(): CircuitBreaker["restore"] {
    return (document) =>
      this.control((now) => {
        const decoded = decodeDocument(document, this.circuit, this.name, now)
        return Result.isSuccess(decoded)
          ? restoreDocument(this.circuit, decoded.success, now)
          : this.refuse("restore", decoded.failure)
      })
  }

  private refuse(operation: CircuitControlError["operation"], issues: ReadonlyArray<ConfigIssue>) {
    return new CircuitControlError({
      breaker: this.name,
      operation,
      issues: issues as [ConfigIssue, ...Array<ConfigIssue>]
    })
  }

  /**
   * An operator's control call: applied here at once (or refused, leaving
   * the circuit as it was), then given to the store.
   */
  private control(apply: (now: number) => ControlTarget): Effect.Effect<void>
  private control(
    apply: (now: number) => ControlTarget | CircuitControlError
  ): Effect.Effect<void, CircuitControlError>
  private control(
    apply: (now: number) => ControlTarget | CircuitControlError
  ): Effect.Effect<void, CircuitControlError> {
    return Effect.flatMap(this.read(apply), (target) => {
      if (target instanceof CircuitControlError) return Effect.fail(target)
      const link = this.link
      return link === localOnlyLink ? Effect.void : link.control(target, this.clock.currentTimeMillisUnsafe())
    })
  }

  /**
   * Links this breaker's circuit to `store` for as long as the breaker's
   * scope is open: the store sees the circuit only through `LocalCircuit`,
   * and the breaker reaches the store only through the link it answers.
   */
  linkTo(store: CircuitStore): Effect.Effect<void, CircuitBreakerConfigError> {
    const local = localCircuitOf(this.circuit, this.config, this.clock, (step) => this.read(step))
    return Effect.map(store.link(local, this.scope), (link) => {
      this.link = link
    })
  }

  get subscribe(): Effect.Effect<Stream.Stream<CircuitBreakerEvent>, never, Scope.Scope> {
    return Effect.flatMap(this.eventHub, (hub) => hub.subscribe)
  }

  observe(observer: CircuitObserver): Effect.Effect<void, never, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.sync(() => this.circuit.addObserver(observer)),
      (detach) => Effect.sync(detach)
    ).pipe(Effect.asVoid)
  }

  get events(): Stream.Stream<CircuitBreakerEvent> {
    return Stream.unwrap(this.subscribe)
  }

  /** The event hub, made on first use; it ends its subscribers when the breaker's scope closes. */
  private get eventHub(): Effect.Effect<EventHub> {
    return Effect.suspend(() => {
      if (this.hub !== undefined) return Effect.succeed(this.hub)
      const hub = new EventHub(this.circuit, this.name, this.config.eventBufferSize)
      this.hub = hub
      return Effect.as(Scope.addFinalizer(this.scope, hub.close), hub)
    })
  }

  /** Guards `self` with the classifier resolved from per-call options. */
  guardWith<A, E, R>(
    self: Effect.Effect<A, E, R>,
    options: ClassifyOptions<A, E> | undefined
  ): Effect.Effect<A, E | CircuitOpenError, R> {
    const classify = (options === undefined ? this.classifier : fromOptions(options) ?? this.classifier) as Classifier<
      A,
      E
    >
    return Effect.withFiber((fiber) => this.guard(self, classify, fiber))
  }

  /**
   * Admits, rejects or probes: the body of every guarded call, run when the
   * call runs, in `fiber`. When the fiber has a span, the call annotates it
   * with the breaker's name, the state at admission and the outcome (a
   * rejection is also an event on the span).
   */
  guard<A, E, R>(
    self: Effect.Effect<A, E, R>,
    classify: Classifier<A, E>,
    fiber: Fiber.Fiber<unknown, unknown>
  ): Effect.Effect<A, E | CircuitOpenError, R> {
    // No closure is made here: V8 would give every call a context object for
    // the variables a closure captures, even on the path that makes none.
    const circuit = this.circuit
    const phase = circuit.current
    const span = tracedSpan(fiber)
    if (span !== undefined) span.attribute(spanAttributes.name, this.name)
    if (this.link.routesCalls) return this.storeCall(self, classify, span)
    if (phase._tag === "Closed" || phase._tag === "Disabled") {
      if (span !== undefined) span.attribute(spanAttributes.state, phase._tag)
      return span === undefined && !circuit.needsTime
        ? Effect.onExitPrimitive(self, this.finisher(phase.admission, classify))
        : this.timedCall(self, phase.admission, classify, span)
    }
    return this.notClosed(self, classify, phase, span)
  }

  /** A call admitted while Closed or Disabled whose duration or span matters. */
  private timedCall<A, E, R>(
    self: Effect.Effect<A, E, R>,
    admission: Admission,
    classify: Classifier<A, E>,
    span: Tracer.Span | undefined
  ): Effect.Effect<A, E | CircuitOpenError, R> {
    const startedAt = this.circuit.needsTime ? this.clock.currentTimeMillisUnsafe() : undefined
    return Effect.onExitPrimitive(self, (exit) => this.finish(admission, exit, classify, startedAt, span))
  }

  /** Open, ForcedOpen or HalfOpen: a rejection, or a probe. */
  private notClosed<A, E, R>(
    self: Effect.Effect<A, E, R>,
    classify: Classifier<A, E>,
    phase: Exclude<Phase, { readonly _tag: "Closed" | "Disabled" }>,
    span: Tracer.Span | undefined,
    storeMayGrant = true
  ): Effect.Effect<A, E | CircuitOpenError, R> {
    const circuit = this.circuit
    const now = this.clock.currentTimeMillisUnsafe()
    if (phase._tag === "ForcedOpen" || (phase._tag === "Open" && now < phase.until)) {
      const rejection = circuit.reject(phase, now)
      if (span !== undefined) this.traceRejection(span, rejection)
      return rejection
    }
    if (storeMayGrant && this.link.grantsProbes) return this.storeCall(self, classify, span)
    return Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        const now = this.clock.currentTimeMillisUnsafe()
        const admission = circuit.admit(now)
        const after = this.afterwards(now)
        let run: Effect.Effect<A, E | CircuitOpenError, R>
        if (Exit.isExit(admission)) {
          if (span !== undefined) this.traceRejection(span, admission)
          run = admission
        } else {
          // The state the call was admitted in: the circuit may have moved since the call arrived.
          if (span !== undefined) span.attribute(spanAttributes.state, admission.state)
          run = Effect.onExitPrimitive(restore(self), (exit) => this.finish(admission, exit, classify, now, span))
        }
        return after === undefined ? run : Effect.andThen(after, run)
      })
    )
  }

  /**
   * A call whose admission the store decides (`CircuitLink.routesCalls`, or
   * a half-open probe when `grantsProbes`). The store's answer has already
   * moved the local circuit when it arrives.
   */
  private storeCall<A, E, R>(
    self: Effect.Effect<A, E, R>,
    classify: Classifier<A, E>,
    span: Tracer.Span | undefined
  ): Effect.Effect<A, E | CircuitOpenError, R> {
    const link = this.link
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(
        link.admit(this.clock.currentTimeMillisUnsafe()),
        (grant): Effect.Effect<A, E | CircuitOpenError, R> => {
          if (grant === "local") {
            // The store could not decide (unreachable, or an answer it could not read): the breaker's
            // own circuit does, without asking the store again.
            const phase = this.circuit.current
            return restore(
              phase._tag === "Closed" || phase._tag === "Disabled"
                ? this.timedCall(self, phase.admission, classify, span)
                : this.notClosed(self, classify, phase, span, false)
            )
          }
          if (Exit.isExit(grant)) {
            if (span !== undefined) this.traceRejection(span, grant)
            return grant
          }
          if (span !== undefined) span.attribute(spanAttributes.state, grant.state)
          const startedAt = this.clock.currentTimeMillisUnsafe()
          const phase = this.circuit.current
          if (grant.token === 0 && !link.routesCalls && (phase._tag === "Closed" || phase._tag === "Disabled")) {
            // The store granted a probe's place, but its circuit closed meanwhile: an ordinary local call.
            return Effect.onExitPrimitive(
              restore(self),
              (exit) => this.finish(phase.admission, exit, classify, startedAt, span)
            )
          }
          const gen = this.circuit.beginAdmittedByStore(grant.state)
          return Effect.onExitPrimitive(
            restore(self),
            (exit) => this.finishStoreCall(grant, gen, link, exit, classify, startedAt, span)
          )
        }
      )
    )
  }

  /** Classifies a call the store admitted, and gives its outcome to the store. */
  private finishStoreCall<A, E>(
    grant: StoreGrant,
    gen: number,
    link: CircuitLink,
    exit: Exit.Exit<A, E>,
    classify: Classifier<A, E>,
    startedAt: number,
    span: Tracer.Span | undefined
  ): Effect.Effect<void> {
    const classified = classifySafely(classify, exit)
    const outcome = outcomeOf(classified)
    const now = this.clock.currentTimeMillisUnsafe()
    const timedOut = exit._tag === "Failure" && hasTimeout(exit.cause)
    const slow = this.circuit.recordAdmittedByStore(
      grant.state,
      gen,
      outcome,
      Math.max(0, now - startedAt),
      timedOut,
      now,
      recordedExit(classified, exit)
    )
    if (span !== undefined) span.attribute(spanAttributes.outcome, outcome)
    // An open-duration hint goes to the store, capped as the local circuit caps it: the store opens.
    const hint = openHintOf(classified)
    const done = link.done(
      grant,
      outcome,
      slow,
      now,
      hint === undefined ? undefined : Math.min(hint, this.circuit.maxHintMillis)
    )
    if (!(classified instanceof ClassifierBug)) return done
    const report = this.reportBug(classified, exit, now)
    return report === undefined ? done : Effect.andThen(done, report)
  }

  private traceRejection(span: Tracer.Span, rejection: Exit.Exit<never, CircuitOpenError>): void {
    traceRejection(span, rejection, this.name, this.clock.currentTimeNanosUnsafe())
  }

  // The finaliser of an untimed call depends only on the admission and the
  // classifier: for the breaker's own classifier it is made once per phase,
  // not once per call.
  private lastAdmission: Admission | undefined = undefined
  private lastFinisher: ((exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void> | undefined) | undefined = undefined

  private finisher<A, E>(
    admission: Admission,
    classify: Classifier<A, E>
  ): (exit: Exit.Exit<A, E>) => Effect.Effect<void> | undefined {
    if (classify !== this.classifier) return (exit) => this.finish(admission, exit, classify, undefined)
    if (admission !== this.lastAdmission || this.lastFinisher === undefined) {
      this.lastAdmission = admission
      this.lastFinisher = (exit) => this.finish(admission, exit, this.classifier, undefined)
    }
    return this.lastFinisher
  }

  /**
   * Classifies and records a finished call (and notes its outcome on `span`);
   * returns an effect only when there is something to do afterwards.
   * `startedAt` is known when the call was timed.
   */
  private finish<A, E>(
    admission: Admission,
    exit: Exit.Exit<A, E>,
    classify: Classifier<A, E>,
    startedAt: number | undefined,
    span?: Tracer.Span
  ): Effect.Effect<void> | undefined {
    const circuit = this.circuit
    const classified = classifySafely(classify, exit)
    const outcome = outcomeOf(classified)
    const now = startedAt !== undefined || circuit.needsTime ? this.clock.currentTimeMillisUnsafe() : undefined
    const timedOut = exit._tag === "Failure" && hasTimeout(exit.cause)
    circuit.complete(
      admission,
      outcome,
      startedAt,
      now,
      timedOut,
      recordedExit(classified, exit),
      openHintOf(classified)
    )
    if (span !== undefined) span.attribute(spanAttributes.outcome, outcome)
    const after = circuit.pendingDeadline === undefined && circuit.unreported.length === 0
      ? undefined
      : this.afterwards(now)
    if (!(classified instanceof ClassifierBug)) return after
    const report = this.reportBug(classified, exit, now)
    return after === undefined ? report : report === undefined ? after : Effect.andThen(after, report)
  }

  /** Classifier bugs are logged at most once a minute (made on the first bug: most breakers never have one). */
  private bugLog: LogThrottle | undefined = undefined

  /**
   * What the caller sees of a classifier bug. A call that succeeded dies
   * with it: nothing of the call's own is lost, and the bug is loud. A call
   * that failed keeps its own failure (a finaliser that fails would turn a
   * typed failure into a defect), and the bug is logged as an error, at most
   * once a minute per breaker.
   */
  private reportBug(
    bug: ClassifierBug,
    exit: Exit.Exit<unknown, unknown>,
    now: number | undefined
  ): Effect.Effect<void> | undefined {
    if (exit._tag === "Success") return Effect.die(bug.value)
    const unlogged = (this.bugLog ??= new LogThrottle(bugReportMillis)).take(
      now ?? this.clock.currentTimeMillisUnsafe()
    )
    if (unlogged === undefined) return undefined
    const since = unlogged === 0 ? "" : ` (and ${unlogged} more since the last report)`
    return neverFails(
      Effect.logError(
        `Circuit breaker "${this.name}": the classifier of a call failed${since}; ` +
          `the call kept its own failure and counted as nothing`,
        Cause.die(bug.value)
      ).pipe(Effect.annotateLogs({ circuit_breaker: this.name }))
    )
  }

  /**
   * What an operation that may have moved the circuit leaves to do: log the
   * transitions it caused, and start a timer for the next time-driven
   * transition, so that `Open -> HalfOpen` (and a half-open timeout) are
   * applied and reported on time even when no call arrives. The state itself
   * never depends on the timer: every read applies due transitions first.
   */
  private afterwards(now: number | undefined): Effect.Effect<void> | undefined {
    const logs = this.circuit.unreported.length === 0 ? undefined : neverFails(this.logTransitions())
    const timer = this.takeTimer(now)
    return logs === undefined ? timer : timer === undefined ? logs : Effect.andThen(logs, timer)
  }

  private takeTimer(now: number | undefined): Effect.Effect<void> | undefined {
    const deadline = this.circuit.pendingDeadline
    if (deadline === undefined) return undefined
    this.circuit.pendingDeadline = undefined
    const at = now ?? this.clock.currentTimeMillisUnsafe()
    const wake: Effect.Effect<void> = Effect.suspend(() => {
      const time = this.clock.currentTimeMillisUnsafe()
      this.circuit.advance(time)
      return this.afterwards(time) ?? Effect.void
    })
    const sleep = this.clock.sleep(Duration.millis(Math.max(0, deadline - at)))
    // The timer runs in the breaker's own context: what it logs belongs to the breaker, not to
    // the request that happened to start it.
    const timer = Effect.provideContext(Effect.andThen(sleep, wake), this.context)
    return Effect.asVoid(Effect.uninterruptible(Effect.forkIn(timer, this.scope)))
  }

  /** Logs each transition not yet logged, once: a warning when calls stop running, else info. */
  private logTransitions(): Effect.Effect<void> {
    const transitions = this.circuit.unreported.splice(0)
    return Effect.forEach(transitions, (transition) => transitionLog(this.name, transition), { discard: true })
  }

  private read<A>(f: (now: number) => A): Effect.Effect<A> {
    return Effect.suspend(() => {
      const now = this.clock.currentTimeMillisUnsafe()
      const value = f(now)
      const after = this.afterwards(now)
      return after === undefined ? Effect.succeed(value) : Effect.as(after, value)
    })
  }
}

Object.defineProperty(CircuitBreakerImpl.prototype, TypeId, { value: TypeId })

/**
 * Guards `self` with `breaker`, in `fiber`: through this copy's own admission
 * when the breaker is this copy's implementation (one primitive less per
 * call), or else through the public `execute` of the `CircuitBreaker`
 * contract — a breaker made by another copy or version of the library, or a
 * test double written against the interface.
 *
 * @internal
 */
export const guardIn = (
  breaker: CircuitBreaker,
  self: Effect.Effect<unknown, unknown, unknown>,
  classify: Classifier | undefined,
  fiber: Fiber.Fiber<unknown, unknown>
): Effect.Effect<unknown, unknown, unknown> => {
  if (breaker instanceof CircuitBreakerImpl) return breaker.guard(self, classify ?? breaker.classifier, fiber)
  return classify === undefined ? breaker.execute(self) : breaker.execute(self, { classify })
}
