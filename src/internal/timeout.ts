/**
 * The timeout policy. The call runs in a fiber of its own beside a timer
 * fiber, both forked in the caller's context (its services, its `Clock`);
 * the caller waits on one callback. Whichever ends first decides: the call's
 * exit, or — when the timer fires — the call is interrupted and, once it has
 * stopped, the caller fails with the policy's `TimeoutError`. The exit
 * finaliser around the wait stops both fibers however the wait ends.
 *
 * This is what `Effect.timeout` does, with one callback instead of a race
 * combinator, an `Option` and a `flatMap` on top: about a third less per call.
 *
 * @internal
 */
import type { Context } from "effect"
import { Duration, Effect, Exit, Fiber, Schema } from "effect"
import { policies as policyMetrics } from "../Metrics.js"
import type { PolicyConfigError } from "../PolicyConfigError.js"
import { TimedOut } from "../PolicyEvent.js"
import type { Timeout, TimeoutOptions } from "../Timeout.js"
import { TimeoutError } from "../TimeoutError.js"
import type { Cell } from "./metrics.js"
import { Name } from "./options.js"
import type { Setup } from "./policy.js"
import { makePolicy, metricsOption, PolicyBase } from "./policy.js"
import { durationInput } from "./schemas.js"

const TimeoutOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  duration: durationInput({ allowZero: false }),
  ...metricsOption
})

/** One call in flight under a timeout. */
class TimedCall<A, E> {
  private work: Fiber.Fiber<A, E> | undefined = undefined
  private timer: Fiber.Fiber<void> | undefined = undefined
  /** Whether the outcome is decided: by the call's exit, the timer, or the caller leaving. */
  private decided = false
  /** Whether the timer decided it: the caller fails with the timeout once the call has stopped. */
  private timedOut = false

  constructor(
    private readonly policy: TimeoutImpl,
    private readonly self: Effect.Effect<A, E, unknown>,
    private readonly context: Context.Context<never>
  ) {}

  begin(resume: (effect: Effect.Effect<A, E | TimeoutError>) => void): void {
    const policy = this.policy
    const startedAt = policy.clockMillis()
    const work = Effect.runForkWith(this.context)(this.self as Effect.Effect<A, E>)
    this.work = work
    work.addObserver((exit) => {
      if (!this.decided) {
        this.decided = true
        this.timer?.interruptUnsafe()
        resume(exit)
      } else if (this.timedOut) {
        resume(this.policy.failure)
      }
    })
    if (this.decided) return
    // The call ran synchronously until it first waited: that time counts against its limit.
    const elapsed = policy.clockMillis() - startedAt
    const limit = elapsed > 0
      ? Duration.millis(Math.max(0, Duration.toMillis(policy.duration) - elapsed))
      : policy.duration
    const timer = Effect.runForkWith(this.context)(Effect.sleep(limit))
    this.timer = timer
    timer.addObserver((exit) => {
      if (Exit.isSuccess(exit) && !this.decided) {
        this.decided = true
        this.timedOut = true
        policy.reportTimedOut()
        work.interruptUnsafe()
      }
    })
  }

  /** Stops both fibers; the effect awaits the call's end. */
  stop(): Effect.Effect<void> | undefined {
    this.decided = true
    this.timer?.interruptUnsafe()
    const work = this.work
    if (work === undefined || work.pollUnsafe() !== undefined) return undefined
    work.interruptUnsafe()
    return Effect.asVoid(Fiber.await(work))
  }
}

class TimeoutImpl extends PolicyBase<never, TimeoutError, never, never, TimedOut> implements Timeout {
  readonly kind = "Timeout" as const
  /** Every timed-out call fails with the same error value: it carries no per-call data. */
  readonly failure: Exit.Exit<never, TimeoutError>

  private readonly timeouts: Cell

  constructor(setup: Setup, readonly duration: Duration.Duration) {
    super(setup)
    this.failure = Exit.fail(new TimeoutError({ policy: setup.name, duration }))
    this.timeouts = this.counter(policyMetrics.timeouts)
  }

  readonly apply = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | TimeoutError, R> =>
    Effect.withFiber((fiber) => {
      const call = new TimedCall<A, E>(this, self, fiber.context)
      return Effect.onExitPrimitive(
        Effect.callback<A, E | TimeoutError>((resume) => call.begin(resume)),
        () => call.stop()
      )
    })

  clockMillis(): number {
    return this.now()
  }

  reportTimedOut(): void {
    this.timeouts.count++
    if (this.publisher.active) {
      this.publisher.publish(new TimedOut({ policy: this.name, duration: this.duration, at: this.now() }))
    }
  }
}

/** @internal */
export const makeTimeout = (options: TimeoutOptions): Effect.Effect<Timeout, PolicyConfigError> =>
  makePolicy(
    "Timeout",
    TimeoutOptionsSchema,
    options,
    (decoded, setup) => new TimeoutImpl(setup, decoded.duration)
  )
