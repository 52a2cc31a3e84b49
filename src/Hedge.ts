/**
 * Hedged calls: when a call is slow to answer, send another and take the
 * first answer — the tail-latency cure for idempotent reads (a search, a
 * price, a product page).
 *
 * The call starts; if it has not answered after `delay`, a second attempt
 * starts beside it, and so on up to `attempts` in all. An attempt that fails
 * with a typed error starts the next one at once (unless it was rejected by
 * an open circuit, a full bulkhead, an adaptive limit or a rate limit, which
 * another attempt now would only repeat). The first success wins and the
 * other attempts are interrupted; when every attempt has failed, the call
 * fails with the last failure, so hedging adds no error to the call's type.
 * A defect or an interruption ends the call at once. Delays use the fiber's
 * `Clock`: `TestClock` drives them in tests.
 *
 * Only hedge calls that are safe to repeat.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Hedge } from "effect-resilience"
 *
 * declare const search: (q: string) => Effect.Effect<ReadonlyArray<string>, Error>
 *
 * const program = Effect.gen(function*() {
 *   const hedge = yield* Hedge.make({ name: "search", delay: "150 millis", attempts: 3 })
 *   return yield* search("lamp").pipe(Hedge.hedge(hedge))
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Cause, Context, Scope, Stream } from "effect"
import { Duration, Effect, Exit, Fiber, Schema } from "effect"
import { isCircuitOpenError } from "./CircuitOpenError.js"
import { isLocalRejection } from "./internal/localRejection.js"
import type { Cell } from "./internal/metrics.js"
import { Name } from "./internal/options.js"
import type { Setup } from "./internal/policy.js"
import { applyPolicy, makePolicy, metricsOption, PolicyBase, recoverableError } from "./internal/policy.js"
import { durationInput, IntBetween } from "./internal/schemas.js"
import { maxHedgeAttempts } from "./Limits.js"
import { policies as policyMetrics } from "./Metrics.js"
import type { Policy } from "./Policy.js"
import type { PolicyConfigError } from "./PolicyConfigError.js"
import { HedgeStarted, HedgeSucceeded } from "./PolicyEvent.js"

/**
 * The options of `Hedge.make`.
 *
 * @category models
 * @since 0.1.0
 */
export interface HedgeOptions {
  /**
   * Shown in events: a non-blank string of at most `Limits.maxNameLength` (256)
   * characters, without control characters. Default `"default"`.
   */
  readonly name?: string | undefined
  /**
   * How long an attempt may go unanswered before the next starts: 0 (every
   * attempt at once) or from 1 millisecond to `Limits.maxDuration`. Default
   * 2 seconds (as Polly).
   */
  readonly delay?: Duration.Input | undefined
  /**
   * Attempts in all, the first included: an integer from 1 (no hedging) to
   * `Limits.maxHedgeAttempts` (10, as Polly bounds its hedged attempts).
   * Default 2 (as Polly).
   */
  readonly attempts?: number | undefined
  /** Report this policy's metrics (see the `Metrics` module). Default: as the context says (`Metrics.layer`). */
  readonly metrics?: boolean | undefined
}

/**
 * A hedging policy. It never changes a call's types.
 *
 * @category models
 * @since 0.1.0
 */
export interface Hedge extends Policy {
  readonly kind: "Hedge"
  readonly delay: Duration.Duration
  readonly attempts: number
  /** `HedgeStarted` for every extra attempt, `HedgeSucceeded` for the winning one. */
  readonly events: Stream.Stream<HedgeStarted | HedgeSucceeded>
  /** Subscribes now and returns the stream of events from this moment on. */
  readonly subscribe: Effect.Effect<Stream.Stream<HedgeStarted | HedgeSucceeded>, never, Scope.Scope>
}

/**
 * Makes a hedging policy. Bad options (a `NaN` delay, zero attempts, more
 * than `Limits.maxHedgeAttempts`) fail with `PolicyConfigError`.
 *
 * @example
 * ```ts
 * import { Hedge } from "effect-resilience"
 *
 * const hedge = Hedge.make({ name: "prices", delay: "100 millis" })
 * // Effect<Hedge, PolicyConfigError>
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options?: HedgeOptions): Effect.Effect<Hedge, PolicyConfigError> =>
  makePolicy(
    "Hedge",
    HedgeOptionsSchema,
    options,
    (decoded, setup) =>
      new HedgeImpl(
        setup,
        decoded.delay ?? Duration.fromInputUnsafe(hedgeDefaults.delay),
        decoded.attempts ?? hedgeDefaults.attempts
      )
  )

/**
 * Applies a hedging policy to a call (data-first or data-last).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Hedge } from "effect-resilience"
 *
 * declare const hedge: Hedge.Hedge
 * declare const price: (sku: string) => Effect.Effect<number, Error>
 *
 * const fastPrice = (sku: string) => price(sku).pipe(Hedge.hedge(hedge))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const hedge: {
  (policy: Hedge): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, policy: Hedge): Effect.Effect<A, E, R>
} = applyPolicy as never

/**
 * The defaults of `Hedge.make`.
 *
 * @category defaults
 * @since 0.1.0
 */
export const hedgeDefaults: { readonly attempts: number; readonly delay: Duration.Input } = {
  attempts: 2,
  delay: "2 seconds"
}

// ---------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------

const HedgeOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  delay: Schema.optional(durationInput({ allowZero: true })),
  attempts: Schema.optional(IntBetween(1, maxHedgeAttempts)),
  ...metricsOption
})

/**
 * One hedged call in flight. The calling fiber waits on one callback.
 * Attempts and the timer are fibers forked in the caller's context (its
 * services, its `Clock`), whose exits are observed synchronously: JavaScript
 * runs one observer at a time, so an attempt finishing and the timer firing
 * never race. The exit finaliser installed around the wait interrupts
 * whatever still runs, however the call ends; the losing attempts are
 * awaited, so they have stopped when the caller sees the result.
 */
class HedgedCall<A, E> {
  private readonly running = new Set<Fiber.Fiber<A, E>>()
  private timer: Fiber.Fiber<void> | undefined = undefined
  private started = 0
  private finished = 0
  private lastFailure: Cause.Cause<E> | undefined = undefined
  private done = false
  private resume: ((effect: Effect.Effect<A, E>) => void) | undefined = undefined

  constructor(
    private readonly policy: HedgeImpl,
    private readonly self: Effect.Effect<A, E, unknown>,
    private readonly context: Context.Context<never>
  ) {}

  /** Starts the first attempt; `resume` receives the outcome. */
  begin(resume: (effect: Effect.Effect<A, E>) => void): void {
    this.resume = resume
    this.launch()
  }

  /** Stops every attempt and the timer; the effect awaits the attempts' end. */
  stop(): Effect.Effect<void> | undefined {
    this.done = true
    this.timer?.interruptUnsafe()
    return this.running.size === 0 ? undefined : Fiber.interruptAll([...this.running])
  }

  private launch(): void {
    const attempt = ++this.started
    if (attempt > 1) this.policy.reportStarted(attempt)
    const fiber = Effect.runForkWith(this.context)(this.self as Effect.Effect<A, E>)
    this.running.add(fiber)
    fiber.addObserver((exit) => this.attemptEnded(attempt, fiber, exit))
    // An attempt that failed at once may have launched the next one already: only the newest arms the timer.
    if (!this.done && attempt === this.started && attempt < this.policy.attempts) this.arm(attempt)
  }

  /** The next attempt starts after `delay`, unless this one has been overtaken by then. */
  private arm(attempt: number): void {
    this.timer?.interruptUnsafe()
    const timer = Effect.runForkWith(this.context)(Effect.sleep(this.policy.delay))
    this.timer = timer
    timer.addObserver((exit) => {
      if (Exit.isSuccess(exit) && !this.done && attempt === this.started) this.launch()
    })
  }

  private attemptEnded(attempt: number, fiber: Fiber.Fiber<A, E>, exit: Exit.Exit<A, E>): void {
    this.running.delete(fiber)
    this.finished++
    if (this.done) return
    if (Exit.isSuccess(exit)) {
      this.finish(exit)
      if (this.started > 1) this.policy.reportSucceeded(attempt)
      return
    }
    const failed = recoverableError(exit.cause)
    // Defects and interruptions pass through, as everywhere in the library: no hedge hides a bug.
    if (failed === undefined) return this.finish(exit)
    this.lastFailure = exit.cause
    // A rejection by a breaker, a bulkhead, an adaptive limit or a rate limit would only be repeated
    // by another attempt started now.
    const rejected = isCircuitOpenError(failed.error) || isLocalRejection(failed.error)
    if (!rejected && this.started < this.policy.attempts) {
      this.launch()
    } else if (this.finished === this.started) {
      this.finish(Exit.failCause(this.lastFailure))
    }
  }

  private finish(exit: Exit.Exit<A, E>): void {
    this.done = true
    this.resume!(exit)
  }
}

class HedgeImpl extends PolicyBase<never, never, never, never, HedgeStarted | HedgeSucceeded> implements Hedge {
  readonly kind = "Hedge" as const

  private readonly hedges: Cell
  private readonly firstWins: Cell
  private readonly hedgeWins: Cell

  constructor(setup: Setup, readonly delay: Duration.Duration, readonly attempts: number) {
    super(setup)
    this.hedges = this.counter(policyMetrics.hedges)
    this.firstWins = this.counter(policyMetrics.hedgeWins, { attempt: "first" })
    this.hedgeWins = this.counter(policyMetrics.hedgeWins, { attempt: "hedge" })
  }

  readonly apply = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    this.attempts === 1 ? self : Effect.withFiber((fiber) => {
      const call = new HedgedCall<A, E>(this, self, fiber.context)
      return Effect.onExitPrimitive(
        Effect.callback<A, E>((resume) => call.begin(resume)),
        () => call.stop()
      )
    })

  reportStarted(attempt: number): void {
    this.hedges.count++
    if (this.publisher.active) {
      this.publisher.publish(new HedgeStarted({ policy: this.name, attempt, at: this.now() }))
    }
  }

  reportSucceeded(attempt: number): void {
    if (attempt === 1) this.firstWins.count++
    else this.hedgeWins.count++
    if (this.publisher.active) {
      this.publisher.publish(new HedgeSucceeded({ policy: this.name, attempt, at: this.now() }))
    }
  }
}
