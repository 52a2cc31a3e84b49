/**
 * The bulkhead: at most `maxConcurrent` calls run at once, at most
 * `maxQueued` more wait in a first-in, first-out queue, each for at most
 * `maxQueueWait`; everyone else is turned away at once.
 *
 * Every call carries a ticket through its life: new, queued, running, done.
 * The slot a finishing call frees is handed straight to the ticket at the
 * head of the queue, so a call that arrives later never overtakes one that
 * waits. The ticket is watched by an exit finaliser installed *before* the
 * call takes anything, so whatever ends it (success, failure, defect,
 * interruption while queued or while running, a queue timeout) gives back
 * exactly what it held.
 *
 * @internal
 */
import type { Context, Duration, Fiber } from "effect"
import { Effect, Exit, Schema } from "effect"
import type { Bulkhead, BulkheadOptions } from "../Bulkhead.js"
import { BulkheadFullError } from "../BulkheadFullError.js"
import { ConfigIssue } from "../ConfigIssue.js"
import type { PolicyConfigError } from "../PolicyConfigError.js"
import type { BulkheadRejectionReason } from "../PolicyEvent.js"
import { BulkheadRejected } from "../PolicyEvent.js"
import { Name } from "./options.js"
import { makePolicy, PolicyBase } from "./policy.js"
import { durationInput, NonNegativeInt, PositiveInt } from "./schemas.js"

/** @internal */
export const defaults = { maxConcurrent: 25, maxQueued: 0 } as const

const BulkheadOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  maxConcurrent: Schema.optional(PositiveInt),
  maxQueued: Schema.optional(NonNegativeInt),
  maxQueueWait: Schema.optional(durationInput({ allowZero: false }))
})

/**
 * A bulkhead's occupancy (re-exported as `Bulkhead.BulkheadSnapshot`).
 *
 * @internal
 */
export class BulkheadSnapshot extends Schema.Class<BulkheadSnapshot>("BulkheadSnapshot")({
  bulkhead: Schema.String,
  running: Schema.Number,
  queued: Schema.Number,
  maxConcurrent: Schema.Number,
  maxQueued: Schema.Number
}) {}

const NEW = 0
const QUEUED = 1
const RUNNING = 2
const DONE = 3

/** One call's claim on the bulkhead. */
class Ticket {
  state: typeof NEW | typeof QUEUED | typeof RUNNING | typeof DONE = NEW
  /** Resumes the queued call: with `Effect.void` when it gets a slot, with a failure when it times out. */
  resume: ((effect: Effect.Effect<void, BulkheadFullError>) => void) | undefined = undefined
  /** The fiber that ends the wait after `maxQueueWait`. */
  timer: Fiber.Fiber<void> | undefined = undefined
}

/** @internal */
export const BulkheadTypeId = "~effect-resilience/Bulkhead" as const

/** @internal */
export class BulkheadImpl extends PolicyBase<never, BulkheadFullError, never, never, BulkheadRejected>
  implements Bulkhead
{
  readonly [BulkheadTypeId] = BulkheadTypeId
  readonly kind = "Bulkhead" as const
  private running = 0
  private queued = 0
  /** Queued tickets from `head` on; tickets that left early stay until `head` passes them. */
  private queue: Array<Ticket | undefined> = []
  private head = 0
  private readonly queueFull: Exit.Exit<never, BulkheadFullError>
  private readonly queueTimeout: Exit.Exit<never, BulkheadFullError>

  constructor(
    name: string,
    readonly maxConcurrent: number,
    readonly maxQueued: number,
    readonly maxQueueWait: Duration.Duration | undefined,
    context: Context.Context<never>
  ) {
    super(name, context)
    const error = (reason: BulkheadRejectionReason) =>
      Exit.fail(new BulkheadFullError({ bulkhead: name, reason, maxConcurrent, maxQueued }))
    this.queueFull = error("QueueFull")
    this.queueTimeout = error("QueueTimeout")
  }

  // A guarded effect may run many times (retried, hedged, repeated): every run
  // gets a ticket of its own, and its finaliser is in place before it enters.
  readonly apply = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadFullError, R> =>
    Effect.suspend(() => {
      const ticket = new Ticket()
      return Effect.onExitPrimitive(
        Effect.suspend(() => this.enter(ticket, self)),
        () => this.leave(ticket)
      )
    })

  get snapshot(): Effect.Effect<BulkheadSnapshot> {
    return Effect.sync(() =>
      new BulkheadSnapshot({
        bulkhead: this.name,
        running: this.running,
        queued: this.queued,
        maxConcurrent: this.maxConcurrent,
        maxQueued: this.maxQueued
      })
    )
  }

  private enter<A, E, R>(ticket: Ticket, self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadFullError, R> {
    if (this.running < this.maxConcurrent && this.queued === 0) {
      this.running++
      ticket.state = RUNNING
      return self
    }
    if (this.queued >= this.maxQueued) {
      ticket.state = DONE
      this.rejected("QueueFull")
      return this.queueFull
    }
    ticket.state = QUEUED
    this.queued++
    this.queue.push(ticket)
    const wait = Effect.callback<void, BulkheadFullError>((resume) => {
      // The ticket may have been served (or timed out) before the wait began.
      if (ticket.state === QUEUED) ticket.resume = resume
      else resume(ticket.state === RUNNING ? Effect.void : this.queueTimeout)
    })
    const waitThenRun = Effect.andThen(wait, self)
    const maxWait = this.maxQueueWait
    if (maxWait === undefined) return waitThenRun
    const timer = Effect.andThen(Effect.sleep(maxWait), Effect.sync(() => this.expire(ticket)))
    return Effect.flatMap(Effect.forkChild(timer), (fiber) => {
      ticket.timer = fiber
      return waitThenRun
    })
  }

  /** The exit finaliser of every call: gives back what its ticket holds. */
  private leave(ticket: Ticket): undefined {
    const state = ticket.state
    ticket.state = DONE
    if (state === RUNNING) {
      this.release()
    } else if (state === QUEUED) {
      // Interrupted while waiting: leave the queue; the slot was never held.
      this.queued--
      ticket.timer?.interruptUnsafe()
    }
    return undefined
  }

  /** Hands the freed slot to the longest-waiting call, or frees it. */
  private release(): void {
    const queue = this.queue
    while (this.head < queue.length) {
      const next = queue[this.head]!
      queue[this.head++] = undefined
      if (next.state !== QUEUED) continue
      next.state = RUNNING
      this.queued--
      this.compact()
      next.timer?.interruptUnsafe()
      // The state is settled before the waiting call resumes: it may run to its end right here.
      next.resume?.(Effect.void)
      return
    }
    this.running--
    this.compact()
  }

  /** Ends the wait of a ticket still queued after `maxQueueWait`. */
  private expire(ticket: Ticket): void {
    if (ticket.state !== QUEUED) return
    ticket.state = DONE
    this.queued--
    this.rejected("QueueTimeout")
    ticket.resume?.(this.queueTimeout)
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
    } else if (this.head > 64 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
  }

  private rejected(reason: BulkheadRejectionReason): void {
    if (this.publisher.active) {
      this.publisher.publish(new BulkheadRejected({ policy: this.name, reason, at: this.now() }))
    }
  }
}

/** @internal */
export const isBulkhead = (u: unknown): u is Bulkhead =>
  typeof u === "object" && u !== null && BulkheadTypeId in u

/** @internal */
export const makeBulkhead = (options: BulkheadOptions | undefined): Effect.Effect<Bulkhead, PolicyConfigError> =>
  makePolicy(
    "Bulkhead",
    BulkheadOptionsSchema,
    options,
    (decoded, name, context) =>
      new BulkheadImpl(
        name,
        decoded.maxConcurrent ?? defaults.maxConcurrent,
        decoded.maxQueued ?? defaults.maxQueued,
        decoded.maxQueueWait,
        context
      ),
    (decoded) =>
      decoded.maxQueueWait !== undefined && (decoded.maxQueued ?? defaults.maxQueued) === 0
        ? [new ConfigIssue({ field: "maxQueueWait", rule: "has no effect unless maxQueued is at least 1" })]
        : []
  )
