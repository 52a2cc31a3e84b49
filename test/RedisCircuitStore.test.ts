import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { TestClock } from "effect/testing"
import { awaitState, failing, fleet, joinAll } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

describe.skipIf(!redisAvailable)("RedisCircuitStore, shared mode", () => {
  it.effect("trips every instance when the fleet's failures reach the rule, though no instance saw enough alone", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const instances = yield* fleet(5, server.url, { name: "payments", consecutiveFailures: 4 })
      // Four failures, one on each of four instances: no local window would trip.
      for (const instance of instances.slice(0, 4)) {
        expect(Exit.isFailure(yield* Effect.exit(instance.breaker.execute(failing)))).toBe(true)
      }
      for (const instance of instances) expect(yield* instance.breaker.state).toBe("Closed")
      const opened = yield* Effect.forEach(instances, (instance) => awaitState(instance, "Open"))
      yield* TestClock.adjust("100 millis")
      yield* joinAll(opened)
      for (const instance of instances) expect(yield* instance.breaker.state).toBe("Open")
    }).pipe(Effect.scoped), 30_000)
})
