import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Logger, Scope } from "effect"
import { TestClock } from "effect/testing"
import { failing, instance, isRejected, send } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

// The store's close waits for the commands in flight (`RedisCommands.idle`), then for the fibers their
// answers start: an answer that came while the store was open is applied as any other.

describe.skipIf(!redisAvailable)("RedisCircuitStore closing while a strict admission is in flight", () => {
  it.effect(
    "strict mode: an admission Redis rejected before the store closed is a rejection, not a local call",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const storeScope = yield* Scope.make()
        const a = yield* instance(server.url, { name: "closing", consecutiveFailures: 1000 }, {
          mode: "strict",
          commandTimeout: "5 seconds"
        }).pipe(Scope.provide(storeScope))
        yield* a.breaker.execute(Effect.void)
        // The fleet's circuit is open, and this instance has not heard yet (the news is on its way).
        yield* send(
          server.url,
          "HSET",
          "effect-resilience:circuit:{closing}",
          "state",
          "ForcedOpen",
          "reason",
          "ForceOpen"
        )

        // Redis stalls (a slow network) while the admission is on its way, and the store starts closing.
        yield* server.hang
        let ran = 0
        const caller = yield* Effect.forkChild(Effect.exit(a.breaker.execute(Effect.sync(() => ran++))))
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
        const closing = yield* Effect.forkChild(Scope.close(storeScope, Exit.void))
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
        // Redis answers, before the store has closed: the circuit is open.
        yield* server.resume
        yield* Fiber.join(closing)
        const exit = yield* Fiber.join(caller)
        expect(isRejected(exit)).toBe(true)
        expect(ran).toBe(0)
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )
  it.effect(
    "a probe lease granted to a caller that left goes back to the fleet before the store closes",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const storeScope = yield* Scope.make()
        const a = yield* instance(server.url, { name: "leaving", consecutiveFailures: 1, openDuration: "1 second" }, {
          mode: "strict",
          commandTimeout: "5 seconds",
          probeLease: "1 minute"
        }).pipe(Scope.provide(storeScope))
        // The fleet's circuit opens, then its opening ends: the next admission is a probe's.
        yield* Effect.exit(a.breaker.execute(failing))
        yield* TestClock.adjust("2 seconds")
        // Redis stalls while the probe's admission is on its way; its caller leaves, and the store closes.
        yield* server.hang
        const caller = yield* Effect.forkChild(a.breaker.execute(Effect.void))
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
        yield* Fiber.interrupt(caller)
        const closing = yield* Effect.forkChild(Scope.close(storeScope, Exit.void))
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
        yield* server.resume
        yield* Fiber.join(closing)
        // Redis granted the lease to the caller that left: it is given back, and the fleet's one probe
        // permit is free again (not held until the lease expires, a minute on).
        expect(yield* send(server.url, "HLEN", "effect-resilience:circuit:{leaving}:p")).toBe(0)
        expect(yield* send(server.url, "HGET", "effect-resilience:circuit:{leaving}", "permits")).toBe("1")
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )
})
