/**
 * Corrupt or foreign data found in Redis never closes a circuit that is open
 * locally: the fleet converges on the more protective state.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { TestClock } from "effect/testing"
import { awaitState, failing, fleet, isRejected, joinAll, send } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

const corruptions: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["a fencing token past 2^53 - 1", ["token", "9007199254740993"]],
  ["an unknown state", ["state", "Bogus"]],
  ["a generation that is not a number", ["gen", "soon"]]
]

describe.skipIf(!redisAvailable)("RedisCircuitStore and corrupt data during an outage", () => {
  for (const mode of ["shared", "strict"] as const) {
    for (const [what, field] of corruptions) {
      it.effect(`${mode} mode: ${what} in an open circuit's hash leaves the fleet open`, () =>
        Effect.gen(function*() {
          const server = yield* redisServer
          const name = `corrupt-${mode}`
          const key = `effect-resilience:circuit:{${name}}`
          const instances = yield* fleet(2, server.url, { name, consecutiveFailures: 1, openDuration: "1 minute" }, {
            mode
          })
          const opened = yield* Effect.forEach(instances, (i) => awaitState(i, "Open"))
          yield* Effect.exit(instances[0]!.breaker.execute(failing))
          yield* TestClock.adjust("100 millis")
          yield* joinAll(opened)
          yield* send(server.url, "HSET", key, ...field)
          // Both instances read the circuit again (the resync of circuits that are not closed).
          for (const i of instances) yield* i.store.sync
          yield* TestClock.adjust("1 second")
          for (const i of instances) {
            yield* i.store.sync
            expect(yield* i.breaker.state).toBe("Open")
            let ran = 0
            for (let n = 0; n < 20; n++) {
              const exit = yield* Effect.exit(i.breaker.execute(Effect.sync(() => ran++)))
              expect(isRejected(exit)).toBe(true)
            }
            expect(ran).toBe(0)
          }
          // The fleet's circuit, written afresh, is open again too.
          expect(yield* send(server.url, "HGET", key, "state")).toBe("Open")
        }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))), 30_000)
    }
  }

  for (const [what, field] of corruptions) {
    it.effect(
      `strict mode: ${what} found by a call's admission rejects the call, and the fleet stays open`,
      () =>
        Effect.gen(function*() {
          const server = yield* redisServer
          const name = "corrupt-admission"
          const key = `effect-resilience:circuit:{${name}}`
          const [a] = yield* fleet(1, server.url, { name, consecutiveFailures: 1, openDuration: "1 minute" }, {
            mode: "strict"
          })
          yield* Effect.exit(a!.breaker.execute(failing))
          // The tripping outcome's answer (which the caller did not wait for) arrives before the sync's.
          yield* a!.store.sync
          expect(yield* a!.breaker.state).toBe("Open")
          yield* send(server.url, "HSET", key, ...field)
          let ran = 0
          for (let n = 0; n < 20; n++) {
            const exit = yield* Effect.exit(a!.breaker.execute(Effect.sync(() => ran++)))
            expect(isRejected(exit)).toBe(true)
          }
          expect(ran).toBe(0)
          expect(yield* send(server.url, "HGET", key, "state")).toBe("Open")
        }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
      30_000
    )
  }
})
