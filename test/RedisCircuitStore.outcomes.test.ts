/**
 * Every outcome counted once, call by call, whatever happens to Redis around
 * it: strict mode's batches keep the rules exact, a call is counted by how it
 * was admitted (not by what the store is when it ends), the last outcomes
 * reach Redis before the store closes, an answer that arrives while Redis
 * counts as unreachable moves nothing, and a store's refusal of a registry
 * key's configuration is the registry's own typed error.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Logger } from "effect"
import { TestClock } from "effect/testing"
import { CircuitBreaker, CircuitBreakerRegistry } from "../src/index.js"
import { awaitConnected, instance, send } from "./redis/fleet.js"
import { realDelay, withinRealTime } from "./redis/realTime.js"
import { redisAvailable, redisServer } from "./redis/server.js"

const quiet = {
  failureRate: 0.99,
  minimumCalls: 1000,
  window: { _tag: "CountWindow", size: 1000 }
} as const

/** A call that signals it started, then waits for `release`, then ends with `end`. */
const held = <E>(started: Deferred.Deferred<void>, release: Deferred.Deferred<void>, end: Effect.Effect<void, E>) =>
  Effect.andThen(Deferred.succeed(started, undefined), Effect.andThen(Deferred.await(release), end))

describe.skipIf(!redisAvailable)("review of issue 11: strict mode's outcomes", () => {
  it.effect(
    "a call Redis admitted that ends while Redis is down (killed) is counted once, not twice",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const a = yield* instance(server.url, { name: "killed-mid-call", ...quiet }, {
          mode: "strict",
          commandTimeout: "200 millis"
        })
        const started = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const call = yield* Effect.forkChild(
          Effect.exit(a.breaker.execute(held(started, release, Effect.fail("boom"))))
        )
        yield* Deferred.await(started)
        yield* server.kill
        yield* withinRealTime(awaitConnected(a.store, false), 10_000, "the store saw the outage")
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(call)
        yield* server.restart
        yield* TestClock.adjust("1 second")
        yield* withinRealTime(awaitConnected(a.store), 10_000, "the store is back")
        yield* a.store.sync
        // Redis restarted empty: the one failure that ended during the outage is all the fleet holds.
        // Counted by RedisLink.onCall (routesCalls is false by then) and kept again by the strict
        // batch's failed flush (notRun): [2, 2].
        const fleet = (yield* a.breaker.snapshot).fleet
        expect([fleet?.calls, fleet?.failures]).toEqual([1, 1])
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )

  it.effect(
    "a call admitted locally during an outage that ends after Redis is back reaches the fleet",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const a = yield* instance(server.url, { name: "local-then-back", ...quiet }, {
          mode: "strict",
          commandTimeout: "200 millis"
        })
        yield* server.kill
        yield* withinRealTime(awaitConnected(a.store, false), 10_000, "the store saw the outage")
        const started = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const call = yield* Effect.forkChild(
          Effect.exit(a.breaker.execute(held(started, release, Effect.fail("boom"))))
        )
        yield* Deferred.await(started)
        yield* server.restart
        yield* TestClock.adjust("1 second")
        yield* withinRealTime(awaitConnected(a.store), 10_000, "the store is back")
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(call)
        yield* a.store.sync
        // RedisLink.onCall drops it (routesCalls is true again), and no grant carries it: [0, 0].
        const fleet = (yield* a.breaker.snapshot).fleet
        expect([fleet?.calls, fleet?.failures]).toEqual([1, 1])
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )

  it.effect(
    "the outcome of the last call before the store's scope closes reaches Redis",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const config = { name: "shutdown", consecutiveFailures: 1, openDuration: "1 minute" } as const
        yield* Effect.scoped(Effect.gen(function*() {
          const a = yield* instance(server.url, config, { mode: "strict" })
          yield* Effect.exit(a.breaker.execute(Effect.fail("boom")))
        }))
        // The tripping failure sat in the strict batch until a microtask that found the store closed.
        const b = yield* instance(server.url, config, { mode: "strict" })
        expect(yield* b.breaker.state).toBe("Open")
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )

  it.effect(
    "onUnavailable reject: an outcome's answer arriving while Redis counts as unreachable does not close the circuit",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const a = yield* instance(server.url, { name: "reject-while-down", ...quiet }, {
          mode: "strict",
          onUnavailable: "reject"
        })
        const started = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const call = yield* Effect.forkChild(Effect.exit(a.breaker.execute(held(started, release, Effect.void))))
        yield* Deferred.await(started)
        // Redis refuses writes: the next outcome's flush fails, and the store counts Redis as unreachable.
        yield* send(server.url, "CONFIG", "SET", "maxmemory", "1")
        yield* Effect.exit(a.breaker.execute(Effect.fail("boom")))
        yield* withinRealTime(awaitConnected(a.store, false), 10_000, "the store saw the outage")
        expect(yield* a.breaker.state).toBe("ForcedOpen")
        yield* send(server.url, "CONFIG", "SET", "maxmemory", "0")
        // The held call ends; its outcome is sent although the store is down, and its answer is adopted.
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(call)
        // The outcome's answer is real I/O: up to 2 s of real time for it (a passing run waits all of it).
        for (let i = 0; i < 40 && (yield* a.breaker.state) === "ForcedOpen"; i++) yield* realDelay(50)
        // No resync ran (the test clock did not move): the store still counts Redis as unreachable.
        expect(yield* a.store.connected).toBe(false)
        let ran = 0
        yield* Effect.exit(a.breaker.execute(Effect.sync(() => ran++)))
        expect(ran).toBe(0)
        expect(yield* a.breaker.state).toBe("ForcedOpen")
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )
})

describe.skipIf(!redisAvailable)("review of issue 11: strict mode decides call by call", () => {
  it.effect(
    "consecutiveFailures: 3 trips on three failures in a row, even when a success follows in the same tick",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const a = yield* instance(server.url, { name: "streak-in-batch", consecutiveFailures: 3 }, { mode: "strict" })
        // In memory the same four calls trip the breaker at the third failure.
        yield* Effect.forEach(
          [0, 1, 2, 3],
          (i) => Effect.exit(a.breaker.execute(i < 3 ? Effect.fail("boom") : Effect.void)),
          { concurrency: "unbounded" }
        )
        yield* a.store.sync
        // The batch sends trailing = 0 after the success: the run of three is never seen by the script.
        expect(yield* a.breaker.state).toBe("Open")
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )

  it.effect(
    "a failure rate reached at the tenth call trips, as it does in memory",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const config = {
          name: "rate-in-batch",
          failureRate: 0.25,
          minimumCalls: 10,
          window: { _tag: "CountWindow", size: 10 }
        } as const
        const a = yield* instance(server.url, config, { mode: "strict" })
        const memory = yield* CircuitBreaker.make({ ...config, name: "rate-in-memory" })
        // Three failures then three successes, then six successes: the tenth call sees 3 of 10 failed.
        for (const breaker of [a.breaker, memory]) {
          yield* Effect.forEach(
            [0, 1, 2, 3, 4, 5],
            (i) => Effect.exit(breaker.execute(i < 3 ? Effect.fail("boom") : Effect.void)),
            { concurrency: "unbounded" }
          )
          yield* a.store.sync
          yield* Effect.forEach([0, 1, 2, 3, 4, 5], () => Effect.exit(breaker.execute(Effect.void)), {
            concurrency: "unbounded"
          })
          yield* a.store.sync
        }
        expect(yield* memory.state).toBe("Open")
        // Strict: the rule is checked once per batch, over a window trimmed by proportion (10 calls, 2 failures).
        expect(yield* a.breaker.state).toBe("Open")
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )
})

describe.skipIf(!redisAvailable)("review of issue 11: the registry's error type", () => {
  it.effect(
    "a registry with one configuration (E = never) does not fail get with a CircuitBreakerConfigError",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const first = yield* instance(server.url, { name: "tenant-1", consecutiveFailures: 3 }, { mode: "strict" })
        const registry = yield* CircuitBreakerRegistry.make({ config: { consecutiveFailures: 5 } }).pipe(
          Effect.provide(first.context)
        )
        // Typed Effect<CircuitBreaker, RegistryFullError | RegistryKeyError>: it fails with an error
        // outside its type (the strict store's refusal of a differing fingerprint).
        const got = yield* Effect.exit(registry.get("tenant-1"))
        const error = Exit.isFailure(got) ? Cause.squash(got.cause) : undefined
        expect(error === undefined || (error as { _tag?: string })._tag !== "CircuitBreakerConfigError").toBe(true)
        // The refusal is the registry's own typed error, naming the key and the rule.
        expect(error).toMatchObject({ _tag: "RegistryKeyError", key: "tenant-1" })
        expect((error as { rule: string }).rule).toContain("configured differently")
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )
})
