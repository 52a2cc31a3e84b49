/**
 * The timeout policy: `Effect.timeoutOrElse` with a typed error made once per
 * policy, and a `TimedOut` event when someone listens.
 *
 * @internal
 */
import type { Context, Duration } from "effect"
import { Effect, Exit, Schema } from "effect"
import type { PolicyConfigError } from "../PolicyConfigError.js"
import { TimedOut } from "../PolicyEvent.js"
import type { Timeout, TimeoutOptions } from "../Timeout.js"
import { TimeoutError } from "../TimeoutError.js"
import { Name } from "./options.js"
import { makePolicy, PolicyBase } from "./policy.js"
import { durationInput } from "./schemas.js"

const TimeoutOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  duration: durationInput({ allowZero: false })
})

class TimeoutImpl extends PolicyBase<never, TimeoutError, never, never, TimedOut> implements Timeout {
  readonly kind = "Timeout" as const
  /** Every timed-out call fails with the same error value: it carries no per-call data. */
  private readonly failure: Exit.Exit<never, TimeoutError>
  private readonly options: {
    readonly duration: Duration.Duration
    readonly orElse: () => Exit.Exit<never, TimeoutError>
  }

  constructor(name: string, readonly duration: Duration.Duration, context: Context.Context<never>) {
    super(name, context)
    this.failure = Exit.fail(new TimeoutError({ policy: name, duration }))
    this.options = { duration, orElse: () => this.timedOut() }
  }

  readonly apply = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | TimeoutError, R> =>
    Effect.timeoutOrElse(self, this.options)

  private timedOut(): Exit.Exit<never, TimeoutError> {
    if (this.publisher.active) {
      this.publisher.publish(new TimedOut({ policy: this.name, duration: this.duration, at: this.now() }))
    }
    return this.failure
  }
}

/** @internal */
export const makeTimeout = (options: TimeoutOptions): Effect.Effect<Timeout, PolicyConfigError> =>
  makePolicy(
    "Timeout",
    TimeoutOptionsSchema,
    options,
    (decoded, name, context) => new TimeoutImpl(name, decoded.duration, context)
  )
