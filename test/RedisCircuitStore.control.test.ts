/**
 * An operator's control call is never undone, even briefly, by the answer
 * to an operation sent before it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Logger, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { CircuitBreakerEvent } from "../src/index.js"
import { CircuitBreaker, CircuitDocument, CircuitStore } from "../src/index.js"
import { failing, fleet, instance } from "./redis/fleet.js"
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

  it.effect(
    "a timed opening and a half-opening reach the fleet; the fleet's probes decide by their failure rate",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const config = { name: "fleet-timed", halfOpenPermits: 2, halfOpenFailureRate: 0.5 }
        const [a, b] = yield* fleet(2, server.url, config)
        yield* a!.breaker.openFor("5 minutes")
        yield* b!.store.sync
        const seen = yield* b!.breaker.snapshot
        expect([seen.state, seen.openReason, seen.consecutiveOpenings]).toEqual(["Open", "ManualOpen", 0])
        expect(Duration.toMillis(seen.retryAfter)).toBe(300_000)
        yield* a!.breaker.halfOpen
        yield* b!.store.sync
        expect(yield* b!.breaker.state).toBe("HalfOpen")
        // One probe on each instance, one failed of two: at the rate, the fleet reopens.
        expect(yield* a!.breaker.execute(Effect.succeed("ok"))).toBe("ok")
        yield* Effect.exit(b!.breaker.execute(failing))
        yield* b!.store.sync
        yield* a!.store.sync
        expect((yield* a!.breaker.snapshot).openReason).toBe("ProbeFailureRate")
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )

  it.effect(
    "a restored opening is offered to the fleet: taken where the fleet has not moved since, else the fleet wins",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const config = { name: "restored", consecutiveFailures: 1, openDuration: "10 seconds" } as const
        // An opening at 0 s, exported by a breaker that kept its circuit in memory.
        const source = yield* CircuitBreaker.make(config).pipe(Effect.provide(CircuitStore.layerMemory))
        yield* Effect.exit(source.execute(failing))
        const document = CircuitDocument.toJson(yield* source.export)
        yield* TestClock.adjust("1 second")
        const [a, b] = yield* fleet(2, server.url, config)
        // The fleet moved after the opening began (an operator reset it at 1 s): the fleet's state wins.
        yield* a!.breaker.forceOpen
        yield* a!.breaker.reset
        yield* a!.breaker.restore(document)
        expect(yield* a!.breaker.state).toBe("Closed")
        // A fleet that has not moved takes it: every instance rejects for the rest of the opening.
        const fresh = { ...config, name: "restored-fresh" }
        const [c, d] = yield* fleet(2, server.url, fresh)
        const freshDocument = { ...(document as Record<string, unknown>), breaker: "restored-fresh" }
        yield* c!.breaker.restore(freshDocument)
        yield* d!.store.sync
        expect(yield* d!.breaker.state).toBe("Open")
        expect(Duration.toMillis((yield* d!.breaker.snapshot).retryAfter)).toBe(9000)
        expect(yield* b!.breaker.state).toBe("Closed")
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )
})
