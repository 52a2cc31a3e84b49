/**
 * The Effect side of a circuit breaker: reads the `Clock`, asks the
 * synchronous state machine (`internal/circuit.ts`) for a decision, and runs,
 * rejects or records the call.
 *
 * The Closed path is the hot path and is written with `Effect.withFiber` and
 * `Effect.onExitPrimitive` rather than `Effect.gen`: one primitive to admit,
 * one to observe the exit, no clock read unless something needs the time, no
 * allocation beyond the finaliser closure. Anything that takes a half-open
 * permit runs inside `uninterruptibleMask`, so an interruption can never land
 * between taking a permit and installing the finaliser that gives it back.
 *
 * @internal
 */
import { Cause, Clock, Context, Duration, Effect, Exit, Scope, Stream } from "effect"
import type { CircuitBreaker } from "../CircuitBreaker.js"
import type { ResolvedConfig } from "../CircuitBreakerConfig.js"
import type { CircuitBreakerEvent } from "../CircuitBreakerEvent.js"
import { Snapshot } from "../CircuitBreakerSnapshot.js"
import type { CircuitOpenError } from "../CircuitOpenError.js"
import type { State } from "../CircuitState.js"
import type { Classifier, ClassifyOptions, Outcome } from "../Classifier.js"
import { isTimeoutError } from "../TimeoutError.js"
import { defaultClassifier, fromOptions } from "../Classifier.js"
import type { Admission } from "./circuit.js"
import { Circuit } from "./circuit.js"
import { EventHub } from "./events.js"
import { makeOpenDurations } from "./openDuration.js"
import { hasTypeId, isEffectValue } from "./service.js"

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
    context: Context.Context<never>
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
      return (self: Effect.Effect<unknown, unknown, unknown>) => Effect.suspend(() => this.guard(self, classify))
    }) as CircuitBreaker["execute"]
  }

  get state(): Effect.Effect<State> {
    return this.read((now) => this.circuit.advance(now)._tag)
  }

  get snapshot(): Effect.Effect<Snapshot> {
    return this.read((now) => {
      const data = this.circuit.snapshot(now)
      return new Snapshot({
        breaker: this.name,
        state: data.state,
        calls: data.calls,
        failures: data.failures,
        slowCalls: data.slowCalls,
        failureRate: data.calls === 0 ? 0 : data.failures / data.calls,
        slowCallRate: data.calls === 0 ? 0 : data.slowCalls / data.calls,
        consecutiveFailures: data.consecutiveFailures,
        consecutiveOpenings: data.consecutiveOpenings,
        retryAfter: data.retryAfterMillis === Infinity ? Duration.infinity : Duration.millis(data.retryAfterMillis),
        probesInFlight: data.probesInFlight,
        probeSuccesses: data.probeSuccesses
      })
    })
  }

  get forceOpen(): Effect.Effect<void> {
    return this.read((now) => this.circuit.forceOpen(now))
  }

  get disable(): Effect.Effect<void> {
    return this.read((now) => this.circuit.disable(now))
  }

  get reset(): Effect.Effect<void> {
    return this.read((now) => this.circuit.reset(now))
  }

  get subscribe(): Effect.Effect<Stream.Stream<CircuitBreakerEvent>, never, Scope.Scope> {
    return Effect.flatMap(this.eventHub, (hub) => hub.subscribe)
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
    return Effect.suspend(() => this.guard(self, classify))
  }

  /** Admits, rejects or probes: the body of every guarded call, run when the call runs. */
  guard<A, E, R>(self: Effect.Effect<A, E, R>, classify: Classifier<A, E>): Effect.Effect<A, E | CircuitOpenError, R> {
    const circuit = this.circuit
    const phase = circuit.current
    if (phase._tag === "Closed" || phase._tag === "Disabled") {
      const admission = phase.admission
      if (!circuit.needsTime) {
        return Effect.onExitPrimitive(self, this.finisher(admission, classify), true)
      }
      const startedAt = this.clock.currentTimeMillisUnsafe()
      return Effect.onExitPrimitive(self, (exit) => this.finish(admission, exit, classify, startedAt), true)
    }
    const now = this.clock.currentTimeMillisUnsafe()
    if (phase._tag === "ForcedOpen" || (phase._tag === "Open" && now < phase.until)) {
      return circuit.reject(phase, now)
    }
    return Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        const now = this.clock.currentTimeMillisUnsafe()
        const admission = circuit.admit(now)
        const timer = this.takeTimer(now)
        const run: Effect.Effect<A, E | CircuitOpenError, R> = Exit.isExit(admission)
          ? admission
          : Effect.onExitPrimitive(restore(self), (exit) => this.finish(admission, exit, classify, now))
        return timer === undefined ? run : Effect.andThen(timer, run)
      })
    )
  }

  // The finaliser of an untimed call depends only on the admission and the
  // classifier: for the breaker's own classifier it is made once per phase,
  // not once per call.
  private lastAdmission: Admission | undefined = undefined
  private lastFinisher: ((exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void> | undefined) | undefined =
    undefined

  private finisher<A, E>(
    admission: Admission,
    classify: Classifier<A, E>
  ): (exit: Exit.Exit<A, E>) => Effect.Effect<void> | undefined {
    if (classify !== this.classifier) return (exit) => this.finish(admission, exit, classify, NaN)
    if (admission !== this.lastAdmission || this.lastFinisher === undefined) {
      this.lastAdmission = admission
      this.lastFinisher = (exit) => this.finish(admission, exit, this.classifier, NaN)
    }
    return this.lastFinisher
  }

  /** Classifies and records a finished call; returns an effect only when a timer must start. */
  private finish<A, E>(
    admission: Admission,
    exit: Exit.Exit<A, E>,
    classify: Classifier<A, E>,
    startedAt: number
  ): Effect.Effect<void> | undefined {
    const circuit = this.circuit
    let outcome: Outcome
    let defect: { readonly value: unknown } | undefined
    try {
      outcome = classify(exit)
    } catch (thrown) {
      // A classifier that throws is a bug in the caller's code: the call dies
      // with it, and the outcome counts as nothing (a probe gives its permit back).
      outcome = "ignored"
      defect = { value: thrown }
    }
    const now = startedAt === startedAt || circuit.needsTime ? this.clock.currentTimeMillisUnsafe() : NaN
    circuit.complete(admission, outcome, startedAt, now, exit._tag === "Failure" && hasTimeout(exit.cause))
    const timer = circuit.pendingDeadline === undefined ? undefined : this.takeTimer(now)
    if (defect === undefined) return timer
    return timer === undefined ? Effect.die(defect.value) : Effect.andThen(timer, Effect.die(defect.value))
  }

  /**
   * Starts a timer for the circuit's next time-driven transition, if one was
   * scheduled, so that `Open -> HalfOpen` (and a half-open timeout) are
   * applied and reported on time even when no call arrives. The state itself
   * never depends on the timer: every read applies due transitions first.
   */
  private takeTimer(now: number): Effect.Effect<void> | undefined {
    const deadline = this.circuit.pendingDeadline
    if (deadline === undefined) return undefined
    this.circuit.pendingDeadline = undefined
    const at = now === now ? now : this.clock.currentTimeMillisUnsafe()
    const wake: Effect.Effect<void> = Effect.suspend(() => {
      const time = this.clock.currentTimeMillisUnsafe()
      this.circuit.advance(time)
      return this.takeTimer(time) ?? Effect.void
    })
    const sleep = this.clock.sleep(Duration.millis(Math.max(0, deadline - at)))
    return Effect.asVoid(Effect.uninterruptible(Effect.forkIn(Effect.andThen(sleep, wake), this.scope)))
  }

  private read<A>(f: (now: number) => A): Effect.Effect<A> {
    return Effect.suspend(() => {
      const now = this.clock.currentTimeMillisUnsafe()
      const value = f(now)
      const timer = this.takeTimer(now)
      return timer === undefined ? Effect.succeed(value) : Effect.as(timer, value)
    })
  }
}

Object.defineProperty(CircuitBreakerImpl.prototype, TypeId, { value: TypeId })
