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
import type { Duration, Fiber, Scheduler } from "effect"
import { Effect, Exit, Schema } from "effect"
import type { Bulkhead, BulkheadOptions } from "../Bulkhead.js"
import { BulkheadFullError } from "../BulkheadFullError.js"
import { ConfigIssue } from "../ConfigIssue.js"
import { maxConcurrent, maxQueued } from "../Limits.js"
import { policies as policyMetrics } from "../Metrics.js"
import type { PolicyConfigError } from "../PolicyConfigError.js"
import type { BulkheadRejectionReason } from "../PolicyEvent.js"
import { BulkheadRejected } from "../PolicyEvent.js"
import type { Cell } from "./metrics.js"
import { Name } from "./options.js"
import type { Setup } from "./policy.js"
import { makePolicy, metricsOption, PolicyBase } from "./policy.js"
import { durationInput, IntBetween } from "./schemas.js"

/** @internal */
export const defaults = { maxConcurrent: 25, maxQueued: 0 } as const

const BulkheadOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  maxConcurrent: Schema.optional(IntBetween(1, maxConcurrent)),
  maxQueued: Schema.optional(IntBetween(0, maxQueued)),
  maxQueueWait: Schema.optional(durationInput({ allowZero: false })),
  ...metricsOption
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
  /** The dispatcher of the queued call's fiber, which wakes it when it gets a slot. */
  dispatcher: Scheduler.SchedulerDispatcher | undefined = undefined
  /** The fiber that ends the wait after `maxQueueWait`. */
  timer: Fiber.Fiber<void> | undefined = undefined

  /** Forgets the waiting call, so that a ticket left in the queue holds nothing alive. */
  settle(state: typeof RUNNING | typeof DONE): void {
    this.state = state
    this.resume = undefined
    this.dispatcher = undefined
    this.timer?.interruptUnsafe()
    this.timer = undefined
  }
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

  private readonly rejections: Record<BulkheadRejectionReason, Cell>

  constructor(
    setup: Setup,
    readonly maxConcurrent: number,
    readonly maxQueued: number,
    readonly maxQueueWait: Duration.Duration | undefined
  ) {
    super(setup)
    const name = setup.name
    this.rejections = {
      QueueFull: this.counter(policyMetrics.bulkheadRejections, { reason: "QueueFull" }),
      QueueTimeout: this.counter(policyMetrics.bulkheadRejections, { reason: "QueueTimeout" })
    }
    this.gauge(policyMetrics.bulkheadRunning, () => this.running)
    this.gauge(policyMetrics.bulkheadQueued, () => this.queued)
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
        Effect.withFiber((fiber) => this.enter(ticket, self, fiber)),
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

  private enter<A, E, R>(
    ticket: Ticket,
    self: Effect.Effect<A, E, R>,
    fiber: Fiber.Fiber<unknown, unknown>
  ): Effect.Effect<A, E | BulkheadFullError, R> {
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
    ticket.dispatcher = fiber.currentDispatcher
    this.queued++
    this.queue.push(ticket)
    const queueTimeout = this.queueTimeout
    const wait = Effect.callback<void, BulkheadFullError>((resume) => {
      if (ticket.state === QUEUED) {
        ticket.resume = resume
      } else {
        // Served (or timed out) before the wait began.
        resume(ticket.state === RUNNING ? Effect.void : queueTimeout)
      }
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
    ticket.settle(DONE)
    if (state === RUNNING) {
      this.release()
    } else if (state === QUEUED) {
      // Interrupted while waiting: leave the queue; the slot was never held.
      this.queued--
      this.compact()
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
      const resume = next.resume
      const dispatcher = next.dispatcher
      next.settle(RUNNING)
      this.queued--
      this.compact()
      // Woken through its scheduler, not run from here: a queue of calls that finish at once
      // would otherwise hand the slot down one nested call deeper each time.
      if (resume !== undefined) dispatcher!.scheduleTask(() => resume(Effect.void), 0)
      return
    }
    this.running--
    this.compact()
  }

  /** Ends the wait of a ticket still queued after `maxQueueWait`. */
  private expire(ticket: Ticket): void {
    if (ticket.state !== QUEUED) return
    const resume = ticket.resume
    ticket.timer = undefined // this very fiber: it ends by itself
    ticket.settle(DONE)
    this.queued--
    this.compact()
    this.rejected("QueueTimeout")
    resume?.(this.queueTimeout)
  }

  /**
   * Drops the queue's consumed front, and the tickets that left it early when
   * they outnumber the waiting ones, so an outage full of timeouts cannot grow it.
   */
  private compact(): void {
    const waiting = this.queue.length - this.head
    if (waiting === 0) {
      this.queue = []
      this.head = 0
    } else if (waiting > 2 * this.queued + 64) {
      this.queue = this.queue.slice(this.head).filter((ticket) => ticket !== undefined && ticket.state === QUEUED)
      this.head = 0
    } else if (this.head > 64 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
  }

  private rejected(reason: BulkheadRejectionReason): void {
    this.rejections[reason].count++
    if (this.publisher.active) {
      this.publisher.publish(new BulkheadRejected({ policy: this.name, reason, at: this.now() }))
    }
  }
}

/** @internal */
export const isBulkhead = (u: unknown): u is Bulkhead => typeof u === "object" && u !== null && BulkheadTypeId in u

/** @internal */
export const makeBulkhead = (options: BulkheadOptions | undefined): Effect.Effect<Bulkhead, PolicyConfigError> =>
  makePolicy(
    "Bulkhead",
    BulkheadOptionsSchema,
    options,
    (decoded, setup) =>
      new BulkheadImpl(
        setup,
        decoded.maxConcurrent ?? defaults.maxConcurrent,
        decoded.maxQueued ?? defaults.maxQueued,
        decoded.maxQueueWait
      ),
    (decoded, invalid) =>
      decoded.maxQueueWait !== undefined && !invalid.has("maxQueued") &&
        (decoded.maxQueued ?? defaults.maxQueued) === 0
        ? [new ConfigIssue({ field: "maxQueueWait", rule: "has no effect unless maxQueued is at least 1" })]
        : []
  )
