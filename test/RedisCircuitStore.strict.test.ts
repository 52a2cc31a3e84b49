/**
 * Strict mode sends one script call per tick per circuit: the callers that
 * arrive together share it, and it carries the outcomes finished since, which
 * Redis records before it admits anyone.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Logger } from "effect"
import { failing, fleet, isRejected, send } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

/** How many scripts Redis ran since the last reset of its statistics. */
const scriptsRun = (url: string) =>
  Effect.map(send(url, "INFO", "commandstats"), (info) => {
    const line = String(info).split("\n").find((l) => l.startsWith("cmdstat_evalsha:"))
    return Number(line?.match(/calls=(\d+)/)?.[1] ?? 0)
  })

describe.skipIf(!redisAvailable)("RedisCircuitStore, strict mode's batches", () => {
  it.effect(
    "fifty callers arriving together are admitted by one script call, and each outcome is counted",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const [a] = yield* fleet(1, server.url, {
          name: "batched",
          failureRate: 0.5,
          minimumCalls: 1000,
          window: { _tag: "CountWindow", size: 1000 }
        }, { mode: "strict" })
        yield* send(server.url, "CONFIG", "RESETSTAT")
        const exits = yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i),
          (i) => Effect.exit(a!.breaker.execute(i % 5 === 0 ? failing : Effect.succeed(i))),
          { concurrency: "unbounded" }
        )
        expect(exits.filter(Exit.isSuccess)).toHaveLength(40)
        expect(exits.filter(isRejected)).toHaveLength(0)
        yield* a!.store.sync
        // One admission script for the fifty, one for their outcomes, one for the sync.
        expect(yield* scriptsRun(server.url)).toBeLessThanOrEqual(3)
        const fleetView = (yield* a!.breaker.snapshot).fleet
        expect([fleetView?.calls, fleetView?.failures]).toEqual([50, 10])
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )

  it.effect(
    "an outcome reaches Redis before the next admission: a tripping failure rejects the very next call",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const [a, b] = yield* fleet(2, server.url, { name: "next-call", consecutiveFailures: 1 }, { mode: "strict" })
        let ran = 0
        const call = Effect.sync(() => ran++)
        // On the same instance, with no wait in between.
        yield* Effect.exit(a!.breaker.execute(failing))
        expect(isRejected(yield* Effect.exit(a!.breaker.execute(call)))).toBe(true)
        // And on another instance.
        expect(isRejected(yield* Effect.exit(b!.breaker.execute(call)))).toBe(true)
        expect(ran).toBe(0)
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )
})
