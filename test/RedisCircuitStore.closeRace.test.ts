import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Logger, Scope } from "effect"
import { instance, isRejected, send } from "./redis/fleet.js"
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
        yield* send(server.url, "HSET", "effect-resilience:circuit:{closing}", "state", "ForcedOpen", "reason", "ForceOpen")

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
})
