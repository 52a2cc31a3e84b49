/**
 * `fleetCircuits` lists the circuits of every instance sharing the store's
 * prefix, with the fleet's view of each, counts the live instances, and
 * skips what is not a circuit of this store's.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Logger } from "effect"
import { TestClock } from "effect/testing"
import { failing, instance, send } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

const prefix = "effect-resilience:circuit:"

describe.skipIf(!redisAvailable)("RedisCircuitStore.fleetCircuits", () => {
  it.effect(
    "lists the circuits of other instances with the fleet's figures, and counts the instances",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const a = yield* instance(server.url, { name: "alpha", minimumCalls: 100 })
        const b = yield* instance(server.url, { name: "beta", minimumCalls: 100 })
        yield* a.breaker.execute(Effect.void)
        for (let n = 0; n < 3; n++) yield* b.breaker.execute(Effect.void)
        yield* Effect.exit(b.breaker.execute(failing))
        yield* TestClock.adjust("100 millis")
        yield* a.store.sync
        yield* b.store.sync
        const listing = yield* a.store.fleetCircuits()
        expect(listing.circuits.map((c) => c.name)).toEqual(["alpha", "beta"])
        expect(listing.circuits[1]!.fleet).toMatchObject({
          state: "Closed",
          calls: 4,
          failures: 1,
          failureRate: 0.25,
          slowCalls: 0,
          readAt: 100
        })
        expect(listing.circuits[0]!.fleet).toMatchObject({ calls: 1, failures: 0 })
        expect(listing).toMatchObject({ skipped: 0, complete: true, instances: 2, readAt: 100 })

        // An instance that stops renewing its entry stops counting three resync intervals later.
        yield* send(server.url, "ZADD", `${prefix}instances`, "3100", "gone-soon")
        expect((yield* a.store.fleetCircuits()).instances).toBe(3)
        yield* TestClock.adjust("3 seconds")
        expect((yield* a.store.fleetCircuits()).instances).toBe(2)
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )

  it.effect("skips and counts data under the prefix that is not a circuit of this store", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const a = yield* instance(server.url, { name: "alpha" })
      yield* a.breaker.execute(Effect.void)
      yield* TestClock.adjust("100 millis")
      yield* a.store.sync
      yield* send(server.url, "SET", `${prefix}{a-string}`, "hello")
      yield* send(server.url, "HSET", `${prefix}{old-format}`, "v", "1", "state", "Closed")
      yield* send(server.url, "HSET", `${prefix}{bad-state}`, "v", "2", "state", "Bogus")
      yield* send(server.url, "RPUSH", `${prefix}{a-list}`, "x")
      // Not circuit keys at all: the window of a circuit, and a key that only shares the prefix.
      yield* send(server.url, "SET", `${prefix}unrelated`, "x")
      const listing = yield* a.store.fleetCircuits()
      expect(listing.circuits.map((c) => c.name)).toEqual(["alpha"])
      expect(listing.skipped).toBe(4)
      expect(listing.complete).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))), 30_000)

  it.effect("stops at maxCircuits, and refuses a maxCircuits out of range", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const a = yield* instance(server.url, { name: "alpha" })
      const b = yield* instance(server.url, { name: "beta" })
      yield* a.breaker.execute(Effect.void)
      yield* b.breaker.execute(Effect.void)
      yield* TestClock.adjust("100 millis")
      yield* a.store.sync
      yield* b.store.sync
      const one = yield* a.store.fleetCircuits({ maxCircuits: 1 })
      expect(one.circuits).toHaveLength(1)
      expect(one.complete).toBe(false)
      const refused = yield* Effect.exit(a.store.fleetCircuits({ maxCircuits: 0 }))
      expect(Exit.isFailure(refused) && JSON.stringify(refused.cause)).toContain("maxCircuits")
    }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))), 30_000)
})
