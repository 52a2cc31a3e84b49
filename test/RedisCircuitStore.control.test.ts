/**
 * An operator's control call is never undone, even briefly, by the answer
 * to an operation sent before it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Logger, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { CircuitBreakerEvent } from "../src/index.js"
import { failing, instance } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

describe.skipIf(!redisAvailable)("RedisCircuitStore and control calls", () => {
  it.effect("a flush answered after a forceOpen does not close the circuit in between", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const a = yield* instance(server.url, { name: "operated", consecutiveFailures: 10 }, {
        commandTimeout: "10 seconds"
      })
      const events = yield* a.breaker.subscribe
      const transitions = yield* Effect.forkScoped(
        events.pipe(
          Stream.filter((event: CircuitBreakerEvent.CircuitBreakerEvent) => event._tag === "StateChanged"),
          Stream.take(2),
          Stream.runCollect
        )
      )
      // Outcomes to flush, then Redis hangs: the flush is sent, and waits.
      for (let n = 0; n < 3; n++) yield* Effect.exit(a.breaker.execute(failing))
      yield* server.hang
      yield* TestClock.adjust("100 millis")
      // The operator forces the circuit open meanwhile: applied here at once, sent to Redis after the flush.
      const forcing = yield* Effect.forkChild(a.breaker.forceOpen, { startImmediately: true })
      expect(yield* a.breaker.state).toBe("ForcedOpen")
      yield* server.resume
      // Redis answers the flush (the circuit as it was, closed), then the control call, which the
      // operator's call waits for. Then the operator disables the circuit.
      yield* Fiber.join(forcing)
      yield* a.breaker.disable
      const seen = yield* Fiber.join(transitions)
      expect(seen.map((event) => event._tag === "StateChanged" && `${event.from}->${event.to}`)).toEqual([
        "Closed->ForcedOpen",
        "ForcedOpen->Disabled"
      ])
    }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))), 30_000)
})
