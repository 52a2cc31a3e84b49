/**
 * Where circuit breakers keep their circuits.
 *
 * By default every breaker keeps its circuit in memory, in the process that
 * made it: nothing to run, nothing to configure. A shared store (see
 * `RedisCircuitStore`) lets the breakers of several processes that share a
 * name share one circuit. The store is taken from the context a breaker is
 * made in, so switching is one layer and no breaker code changes.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import type { StoreImpl } from "./internal/store.js"

const TypeId: TypeId = "~effect-resilience/CircuitStore"

/**
 * @category type ids
 * @since 0.1.0
 */
export type TypeId = "~effect-resilience/CircuitStore"

/**
 * A place to keep circuits: `"memory"` (this process only) or `"redis"`
 * (shared by every process that uses the same Redis and key prefix).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitStore } from "effect-resilience"
 *
 * const kind = Effect.map(CircuitStore.CircuitStore, (store) => store.kind)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface CircuitStore {
  readonly [TypeId]: TypeId
  readonly kind: "memory" | "redis"
}

const memoryStore: StoreImpl = {
  [TypeId]: TypeId,
  kind: "memory",
  attach: () => Effect.void
}

/**
 * The in-memory store: each breaker's circuit lives in the breaker itself.
 *
 * @example
 * ```ts
 * import { CircuitStore } from "effect-resilience"
 *
 * CircuitStore.memory.kind // => "memory"
 * ```
 *
 * @category stores
 * @since 0.1.0
 */
export const memory: CircuitStore = memoryStore

/**
 * The store breakers made in this context use; the in-memory store unless a
 * layer such as `RedisCircuitStore.layer` provides another.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitStore } from "effect-resilience"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* CircuitStore.CircuitStore
 *   yield* Effect.log(`circuits live in ${store.kind}`)
 * })
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const CircuitStore: Context.Reference<CircuitStore> = Context.Reference<CircuitStore>(
  "effect-resilience/CircuitStore",
  { defaultValue: () => memoryStore }
)

/**
 * Makes the breakers built under it keep their circuits in memory, whatever
 * store the surrounding context provides.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker, CircuitStore } from "effect-resilience"
 *
 * const local = CircuitBreaker.make({ name: "local-only" }).pipe(
 *   Effect.provide(CircuitStore.layerMemory),
 *   Effect.scoped
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<never> = Layer.succeedContext(Context.make(CircuitStore, memoryStore))

/** @internal */
export const storeTypeId: TypeId = TypeId
