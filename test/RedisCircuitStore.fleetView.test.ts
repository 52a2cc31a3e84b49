/**
 * A shared circuit's snapshot carries the fleet's view beside the
 * instance's own window.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { TestClock } from "effect/testing"
import { CircuitBreaker } from "../src/index.js"
import { failing, fleet } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

describe("the fleet's view in a snapshot", () => {
  it.effect("is null for a circuit kept in memory", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "local" })
      yield* breaker.execute(Effect.void)
      expect((yield* breaker.snapshot).fleet).toBeNull()
    }).pipe(Effect.scoped))

  it.effect.skipIf(!redisAvailable)(
    "shows the fleet's merged window and state, read with every flush",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const [a, b] = yield* fleet(2, server.url, {
          name: "fleet-view",
          failureRate: 0.9,
          minimumCalls: 100,
          window: { _tag: "CountWindow", size: 100 }
        })
        for (let n = 0; n < 3; n++) yield* a!.breaker.execute(Effect.void)
        yield* Effect.exit(a!.breaker.execute(failing))
        for (let n = 0; n < 5; n++) yield* b!.breaker.execute(Effect.void)
        yield* Effect.exit(b!.breaker.execute(failing))
        yield* TestClock.adjust("100 millis")
        yield* a!.store.sync
        yield* b!.store.sync
        yield* a!.store.sync
        const own = yield* a!.breaker.snapshot
        expect([own.calls, own.failures]).toEqual([4, 1])
        expect(own.fleet).toMatchObject({ state: "Closed", calls: 10, failures: 2, failureRate: 0.2, readAt: 100 })
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )
})
