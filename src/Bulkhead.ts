/**
 * Bulkheads: a limit on the calls to one dependency that run at once, so a
 * slow dependency ties up a bounded share of the program instead of all of
 * it.
 *
 * At most `maxConcurrent` calls run at once. When every slot is taken, up to
 * `maxQueued` calls wait in a fair first-in, first-out queue (a call that
 * arrives later never takes a slot from one already waiting), each for at
 * most `maxQueueWait`. Every other call fails at once with a typed
 * `BulkheadFullError`. A slot is given back however the call ends: success,
 * failure, defect or interruption.
 *
 * Like circuit breakers, bulkheads are services: provide one per dependency
 * as a layer and guard calls with `withBulkhead`.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Bulkhead } from "effect-resilience"
 *
 * class ReportsBulkhead extends Bulkhead.Service<ReportsBulkhead>()("reports") {}
 *
 * declare const renderReport: Effect.Effect<Uint8Array, Error>
 *
 * // Effect<Uint8Array, Error | BulkheadFullError, ReportsBulkhead>
 * const report = renderReport.pipe(Bulkhead.withBulkhead(ReportsBulkhead))
 *
 * const program = report.pipe(
 *   Effect.provide(ReportsBulkhead.layer({ maxConcurrent: 4, maxQueued: 16, maxQueueWait: "2 seconds" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { Duration, Fiber, Scheduler, Scope, Stream } from "effect"
import { Context, Effect, Exit, Layer, Schema } from "effect"
import { BulkheadFullError } from "./BulkheadFullError.js"
import { ConfigIssue } from "./ConfigIssue.js"
import { BulkheadTypeId, isBulkhead as isBulkheadInternal } from "./internal/bulkhead.js"
import type { Cell } from "./internal/metrics.js"
import { Name } from "./internal/options.js"
import type { Setup } from "./internal/policy.js"
import { makePolicy, metricsOption, PolicyBase } from "./internal/policy.js"
import { durationInput, IntBetween } from "./internal/schemas.js"
import type { ServiceClassOf } from "./internal/service.js"
import { InstanceLookup, isEffectValue, isServiceKey, serviceClass } from "./internal/service.js"
import { maxConcurrent, maxQueued } from "./Limits.js"
import { policies as policyMetrics } from "./Metrics.js"
import type { Policy } from "./Policy.js"
import type { PolicyConfigError } from "./PolicyConfigError.js"
import type { BulkheadRejectionReason } from "./PolicyEvent.js"
import { BulkheadRejected } from "./PolicyEvent.js"

export {
  /**
   * A call a bulkhead turned away (re-exported from the `BulkheadFullError`
   * module).
   *
   * @category errors
   * @since 0.1.0
   */
  BulkheadFullError,
  /**
   * Whether a value is a `BulkheadFullError` (re-exported from the
   * `BulkheadFullError` module).
   *
   * @category guards
   * @since 0.1.0
   */
  isBulkheadFullError
} from "./BulkheadFullError.js"

/**
 * A bulkhead's occupancy: calls `running` and `queued`, and its limits.
 *
 * @category models
 * @since 0.1.0
 */
export class BulkheadSnapshot extends Schema.Class<BulkheadSnapshot>("BulkheadSnapshot")({
  bulkhead: Schema.String,
  running: Schema.Number,
  queued: Schema.Number,
  maxConcurrent: Schema.Number,
  maxQueued: Schema.Number
}) {}

/**
 * The options of a bulkhead.
 *
 * @category models
 * @since 0.1.0
 */
export interface BulkheadOptions {
  /**
   * Shown in errors, events and snapshots: a non-blank string of at most `Limits.maxNameLength` (256)
   * characters, without control characters. Default `"default"`.
   */
  readonly name?: string | undefined
  /** Calls that may run at once: an integer from 1 to `Limits.maxConcurrent` (100,000). Default 25 (as Resilience4j). */
  readonly maxConcurrent?: number | undefined
  /**
   * Calls that may wait for a slot: an integer from 0 to `Limits.maxQueued`
   * (100,000). Default 0: a full bulkhead rejects at once.
   */
  readonly maxQueued?: number | undefined
  /**
   * How long a queued call waits for a slot before it is rejected: from 1
   * millisecond to `Limits.maxDuration`, only with `maxQueued` >= 1.
   * Default: until a slot frees.
   */
  readonly maxQueueWait?: Duration.Input | undefined
  /** Report this policy's metrics (see the `Metrics` module). Default: as the context says (`Metrics.layer`). */
  readonly metrics?: boolean | undefined
}

/**
 * A bulkhead instance. As a policy it adds `BulkheadFullError` to the calls
 * it guards.
 *
 * @category models
 * @since 0.1.0
 */
export interface Bulkhead extends Policy<never, BulkheadFullError> {
  readonly kind: "Bulkhead"
  readonly maxConcurrent: number
  readonly maxQueued: number
  readonly maxQueueWait: Duration.Duration | undefined
  /** Calls running and queued now. */
  readonly snapshot: Effect.Effect<BulkheadSnapshot>
  /** A `BulkheadRejected` event for every call turned away, from the moment the stream runs. */
  readonly events: Stream.Stream<BulkheadRejected>
  /** Subscribes now and returns the stream of events from this moment on. */
  readonly subscribe: Effect.Effect<Stream.Stream<BulkheadRejected>, never, Scope.Scope>
}

/**
 * Whether a value is a bulkhead instance.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 *
 * Bulkhead.isBulkhead({}) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isBulkhead: (u: unknown) => u is Bulkhead = isBulkheadInternal

/**
 * The default bulkhead service, used by `withBulkhead(effect)`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bulkhead } from "effect-resilience"
 *
 * const occupancy = Effect.flatMap(Bulkhead.Bulkhead, (bulkhead) => bulkhead.snapshot)
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const Bulkhead: Context.Service<Bulkhead, Bulkhead> = Context.Service<Bulkhead>("effect-resilience/Bulkhead")

/**
 * Makes a bulkhead. Bad options (a zero or negative limit, a `NaN` wait)
 * fail with `PolicyConfigError` naming each field and rule.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bulkhead } from "effect-resilience"
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ name: "pdf", maxConcurrent: 2, maxQueued: 10 })
 *   return yield* Effect.succeed("rendered").pipe(Bulkhead.withBulkhead(bulkhead))
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options?: BulkheadOptions): Effect.Effect<Bulkhead, PolicyConfigError> =>
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

/**
 * Provides the default `Bulkhead` service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bulkhead } from "effect-resilience"
 *
 * const program = Effect.succeed(1).pipe(
 *   Bulkhead.withBulkhead(),
 *   Effect.provide(Bulkhead.layer({ name: "db", maxConcurrent: 10 }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: BulkheadOptions): Layer.Layer<Bulkhead, PolicyConfigError> =>
  Layer.effect(Bulkhead, make(options))

/**
 * Provides a bulkhead under your own service key.
 *
 * @example
 * ```ts
 * import { Context } from "effect"
 * import { Bulkhead } from "effect-resilience"
 *
 * class Search extends Context.Service<Search, Bulkhead.Bulkhead>()("app/SearchBulkhead") {}
 *
 * const SearchBulkheadLive = Bulkhead.layerAs(Search, { name: "search", maxConcurrent: 8 })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerAs = <I>(
  tag: Context.Key<I, Bulkhead>,
  options?: BulkheadOptions
): Layer.Layer<I, PolicyConfigError> => Layer.effect(tag, make(options))

/**
 * A named bulkhead service made with `Service`. Its key is
 * `effect-resilience/Bulkhead/Name`, so it never collides with a circuit
 * breaker service of the same name.
 *
 * @category models
 * @since 0.1.0
 */
export type ServiceClass<Self, Name extends string> = ServiceClassOf<
  Self,
  `effect-resilience/Bulkhead/${Name}`,
  Bulkhead,
  BulkheadOptions,
  PolicyConfigError
>

/**
 * Declares a named bulkhead service: one per dependency, each in the
 * requirements of the code that uses it. The bulkhead is named after the key
 * unless the options name it.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Bulkhead } from "effect-resilience"
 *
 * class PaymentsBulkhead extends Bulkhead.Service<PaymentsBulkhead>()("payments") {}
 * class InventoryBulkhead extends Bulkhead.Service<InventoryBulkhead>()("inventory") {}
 *
 * const Bulkheads = Layer.mergeAll(
 *   PaymentsBulkhead.layer({ maxConcurrent: 5 }),
 *   InventoryBulkhead.layer({ maxConcurrent: 20, maxQueued: 50 })
 * )
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const Service: <Self>() => <const Name extends string>(name: Name) => ServiceClass<Self, Name> = serviceClass(
  "effect-resilience/Bulkhead",
  layerAs
)

/**
 * Guards an effect with a bulkhead: the default `Bulkhead` service, a named
 * bulkhead service, or an instance, data-first or data-last. The error type
 * gains `BulkheadFullError`; the requirements gain the bulkhead's service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bulkhead } from "effect-resilience"
 *
 * declare const query: Effect.Effect<ReadonlyArray<string>, Error>
 *
 * const a = Bulkhead.withBulkhead(query) // the default service
 * const b = query.pipe(Bulkhead.withBulkhead()) // the same, data-last
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withBulkhead: {
  <I>(
    bulkhead: Context.Key<I, Bulkhead>
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadFullError, R | I>
  (bulkhead: Bulkhead): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadFullError, R>
  (): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadFullError, R | Bulkhead>
  <A, E, R, I>(
    self: Effect.Effect<A, E, R>,
    bulkhead: Context.Key<I, Bulkhead>
  ): Effect.Effect<A, E | BulkheadFullError, R | I>
  <A, E, R>(self: Effect.Effect<A, E, R>, bulkhead: Bulkhead): Effect.Effect<A, E | BulkheadFullError, R>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadFullError, R | Bulkhead>
} = ((first?: unknown, second?: unknown) => {
  if (isEffectValue(first) && !isServiceKey(first)) return guard(first, (second ?? Bulkhead) as BulkheadRef)
  const bulkhead = (first ?? Bulkhead) as BulkheadRef
  return (self: Effect.Effect<unknown, unknown, unknown>) => guard(self, bulkhead)
}) as never

type BulkheadRef = Bulkhead | Context.Key<unknown, Bulkhead>

const instances = new InstanceLookup<Bulkhead>()

const guard = (
  self: Effect.Effect<unknown, unknown, unknown>,
  bulkhead: BulkheadRef
): Effect.Effect<unknown, unknown, unknown> =>
  isBulkhead(bulkhead)
    ? bulkhead.apply(self)
    : Effect.withFiber((fiber) => instances.get(fiber.context, bulkhead).apply(self))

// ---------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------

const defaults = { maxConcurrent: 25, maxQueued: 0 } as const

const BulkheadOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  maxConcurrent: Schema.optional(IntBetween(1, maxConcurrent)),
  maxQueued: Schema.optional(IntBetween(0, maxQueued)),
  maxQueueWait: Schema.optional(durationInput({ allowZero: false })),
  ...metricsOption
})

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

/**
 * The bulkhead. Every call carries a ticket through its life: new, queued,
 * running, done. The slot a finishing call frees is handed straight to the
 * ticket at the head of the queue, so a call that arrives later never
 * overtakes one that waits. The ticket is watched by an exit finaliser
 * installed *before* the call takes anything, so whatever ends it (success,
 * failure, defect, interruption while queued or while running, a queue
 * timeout) gives back exactly what it held.
 */
class BulkheadImpl extends PolicyBase<never, BulkheadFullError, never, never, BulkheadRejected> implements Bulkhead {
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
