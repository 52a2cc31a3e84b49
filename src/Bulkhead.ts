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
import type { Duration, Scope, Stream } from "effect"
import { Context, Effect, Layer } from "effect"
import type { BulkheadFullError } from "./BulkheadFullError.js"
import type { BulkheadSnapshot } from "./internal/bulkhead.js"
import { isBulkhead as isBulkheadInternal, makeBulkhead } from "./internal/bulkhead.js"
import type { ServiceClassOf } from "./internal/service.js"
import { InstanceLookup, isEffectValue, isServiceKey, serviceClass } from "./internal/service.js"
import type { Policy } from "./Policy.js"
import type { PolicyConfigError } from "./PolicyConfigError.js"
import type { BulkheadRejected } from "./PolicyEvent.js"

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

export {
  /**
   * A bulkhead's occupancy: calls `running` and `queued`, and its limits.
   *
   * @category models
   * @since 0.1.0
   */
  BulkheadSnapshot
} from "./internal/bulkhead.js"

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
export const make: (options?: BulkheadOptions) => Effect.Effect<Bulkhead, PolicyConfigError> = makeBulkhead

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
