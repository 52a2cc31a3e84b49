/**
 * Hedged calls: start the call; if it has not answered after `delay`, start
 * another, up to `attempts` in all; a failed attempt starts the next one at
 * once. The first success wins and the others are interrupted (and awaited,
 * so they have stopped when the caller sees the result); when every attempt
 * has failed, the call fails with the last failure.
 *
 * Attempts and timers are fibers in a scope of the call's own, and report to
 * one queue that the calling fiber reads: attempts finishing and timers
 * firing are messages, so no two events race.
 *
 * @internal
 */
import type { Cause, Context } from "effect"
import { Duration, Effect, Exit, Queue, Schema } from "effect"
import type { Hedge, HedgeOptions } from "../Hedge.js"
import type { PolicyConfigError } from "../PolicyConfigError.js"
import { HedgeStarted, HedgeSucceeded } from "../PolicyEvent.js"
import { Name } from "./options.js"
import { makePolicy, PolicyBase } from "./policy.js"
import { durationInput, PositiveInt } from "./schemas.js"

/** @internal */
export const defaults = { attempts: 2, delay: "2 seconds" } as const

const HedgeOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  delay: Schema.optional(durationInput({ allowZero: true })),
  attempts: Schema.optional(PositiveInt)
})

type Message<A, E> =
  | { readonly _tag: "Finished"; readonly attempt: number; readonly exit: Exit.Exit<A, E> }
  | { readonly _tag: "Timer"; readonly attempt: number }

class HedgeImpl extends PolicyBase<never, never, never, never, HedgeStarted | HedgeSucceeded> implements Hedge {
  readonly kind = "Hedge" as const

  constructor(
    name: string,
    readonly delay: Duration.Duration,
    readonly attempts: number,
    context: Context.Context<never>
  ) {
    super(name, context)
  }

  readonly apply = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    this.attempts === 1 ? self : Effect.scoped(this.race(self))

  private race<A, E, R>(self: Effect.Effect<A, E, R>) {
    return Effect.gen({ self: this }, function*() {
      const inbox = yield* Queue.unbounded<Message<A, E>>()
      let started = 0
      let finished = 0
      let lastFailure: Cause.Cause<E> | undefined

      const start = Effect.suspend(() => {
        const attempt = ++started
        if (attempt > 1 && this.watched) {
          this.report(new HedgeStarted({ policy: this.name, attempt, at: this.now() }))
        }
        const run = Effect.flatMap(
          Effect.exit(self),
          (exit) => Queue.offer(inbox, { _tag: "Finished", attempt, exit })
        )
        const timer = Effect.andThen(Effect.sleep(this.delay), Queue.offer(inbox, { _tag: "Timer", attempt }))
        return Effect.andThen(
          Effect.forkScoped(run),
          attempt < this.attempts ? Effect.asVoid(Effect.forkScoped(timer)) : Effect.void
        )
      })

      yield* start
      while (true) {
        const message = yield* Queue.take(inbox)
        if (message._tag === "Timer") {
          // Only the newest attempt's timer counts: a failure may have started a newer one meanwhile.
          if (message.attempt === started && started < this.attempts) yield* start
          continue
        }
        finished++
        const exit = message.exit
        if (Exit.isSuccess(exit)) {
          if (this.watched) {
            this.report(new HedgeSucceeded({ policy: this.name, attempt: message.attempt, at: this.now() }))
          }
          return exit.value
        }
        lastFailure = exit.cause
        if (started < this.attempts) yield* start
        else if (finished === started) return yield* Effect.failCause(lastFailure)
      }
    })
  }

  /** Whether anyone listens: events are built only then. */
  get watched(): boolean {
    return this.publisher.active
  }

  report(event: HedgeStarted | HedgeSucceeded): void {
    this.publisher.publish(event)
  }
}

/** @internal */
export const makeHedge = (options: HedgeOptions | undefined): Effect.Effect<Hedge, PolicyConfigError> =>
  makePolicy(
    "Hedge",
    HedgeOptionsSchema,
    options,
    (decoded, name, context) =>
      new HedgeImpl(
        name,
        decoded.delay ?? Duration.fromInputUnsafe(defaults.delay),
        decoded.attempts ?? defaults.attempts,
        context
      )
  )
