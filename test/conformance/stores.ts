/**
 * The stores the breaker contract is checked against: one driver per store.
 * A new store (another database) is one more entry in `stores`; every
 * conformance scenario then runs against it.
 *
 * A driver gives each test a fresh store of its own (for Redis: its own
 * connections and its own key prefix, so no two tests ever share a circuit),
 * built inside the test so that its background loops run on the test's
 * `TestClock`, and a `settle` step: what a caller waits for until the store
 * has caught up with the calls made so far. Only the public API is used.
 */
import { afterAll, describe } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope, Stream } from "effect"
import type { CircuitBreakerConfig } from "../../src/index.js"
import { CircuitBreaker, CircuitStore, RedisCircuitStore } from "../../src/index.js"
import type { RedisServer } from "../redis/server.js"
import { redisAvailable, redisServer } from "../redis/server.js"

/** A store as one test sees it. */
export interface StoreUnderTest {
  /** Makes a breaker whose circuit lives in this store, for the current scope. */
  readonly make: (config?: CircuitBreakerConfig.CircuitBreakerConfig) => Effect.Effect<
    CircuitBreaker.CircuitBreaker,
    never,
    Scope.Scope
  >
  /**
   * Waits until the store has applied everything the calls so far told it,
   * without moving the clock: a scenario's times are the same on every store.
   */
  readonly settle: Effect.Effect<void>
}

/** One store of the conformance suite. */
export interface StoreDriver {
  readonly name: string
  /** Whether the store can run here (a missing `redis-server` skips with a notice, and fails under `CI`). */
  readonly available: boolean
  /** A fresh store for one test, living in the test's scope and on its clock. */
  readonly store: Effect.Effect<StoreUnderTest, never, Scope.Scope>
}

/** Makes breakers in `context`. */
const makeIn = <R>(context: Context.Context<R>): StoreUnderTest["make"] => (config) =>
  CircuitBreaker.make(config).pipe(Effect.provide(context), Effect.orDie)

/**
 * The file's `redis-server`: started by the first test that needs it, shared
 * by the file's tests (each under a key prefix of its own), stopped after the
 * file.
 */
const fileServer: Effect.Effect<RedisServer> = (() => {
  const scope = Effect.runSync(Scope.make())
  let server: Promise<RedisServer> | undefined
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)), 30_000)
  return Effect.promise(() => server ??= Effect.runPromise(Scope.provide(redisServer, scope)))
})()

let prefixes = 0

/**
 * A Redis store of its own. Settling is the store's `sync`: it sends the
 * outcomes counted so far now rather than at the next `flushInterval`, and
 * re-reads the circuit. Its command goes after every command the store sent
 * before (one connection, in order), so when it returns, every earlier answer
 * has reached Redis and the reply shows the fleet's decision. Moving the
 * clock by a flush interval instead would shift every later time in a
 * scenario (the opening would start at the flush), on this store only.
 */
const redis = (mode: "shared" | "strict"): StoreDriver => ({
  name: `Redis ${mode}`,
  available: redisAvailable,
  store: Effect.gen(function*() {
    const server = yield* fileServer
    const prefix = `conformance:${mode}:${++prefixes}:`
    const context = yield* Layer.build(RedisCircuitStore.layer({ url: server.url, prefix, mode })).pipe(Effect.orDie)
    const store = Context.get(context, RedisCircuitStore.RedisCircuitStore)
    // Breakers made before Redis answered would start on their local circuits.
    yield* store.connectedChanges.pipe(Stream.filter((up) => up), Stream.runHead)
    return { make: makeIn(context), settle: store.sync }
  })
})

/** Every store the breaker contract must hold for. */
export const stores: ReadonlyArray<StoreDriver> = [
  {
    name: "memory",
    available: true,
    store: Effect.succeed({
      make: (config) => CircuitBreaker.make(config).pipe(Effect.provide(CircuitStore.layerMemory), Effect.orDie),
      settle: Effect.void
    })
  },
  redis("shared"),
  redis("strict")
]

/** Per test: Redis answers in real time on a loaded machine. */
export const timeout = 30_000

/** Declares `body`'s tests once per available store, under the store's name. */
export const forEachStore = (body: (driver: StoreDriver) => void): void => {
  for (const driver of stores) describe.skipIf(!driver.available)(driver.name, () => body(driver))
}
