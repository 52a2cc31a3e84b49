import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { instance } from "./redis/fleet.js"
import { realDelay, realDuration } from "./redis/realTime.js"
import { redisAvailable, redisServer } from "./redis/server.js"

describe.skipIf(!redisAvailable)("RedisCircuitStore when Redis hangs", () => {
  it.effect(
    "strict mode: no guarded call waits for a hung Redis longer than commandTimeout + 10%",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const timeout = 300
        const a = yield* instance(server.url, { name: "hung-wait", consecutiveFailures: 1000 }, {
          mode: "strict",
          commandTimeout: `${timeout} millis`
        })
        yield* a.breaker.execute(Effect.void)
        yield* server.hang
        // Eight callers, started an eighth of the timeout apart, each waiting for its own admission
        // until its own deadline. Real time is the subject here: the command timeout bounds a wait in
        // real time (a hung Redis), which no TestClock moves, so each wait is measured with
        // performance.now() and the callers are spread with real timers. The whole test waits about
        // twice the timeout.
        const waits = yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) => i),
          (i) => Effect.andThen(realDelay((i * timeout) / 8), realDuration(a.breaker.execute(Effect.void))),
          { concurrency: "unbounded" }
        )
        // The first caller did wait for Redis (the store asked it), and none waited past the bound.
        expect(waits[0]).toBeGreaterThanOrEqual(timeout * 0.95)
        expect(Math.max(...waits)).toBeLessThanOrEqual(timeout * 1.1)
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )
})
