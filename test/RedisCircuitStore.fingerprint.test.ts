/**
 * Instances that share a circuit name with different configurations find
 * out: a typed error in strict mode, a warning once in shared mode.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Logger } from "effect"
import { CircuitBreaker, CircuitBreakerConfig } from "../src/index.js"
import { instance } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

const warnings = () => {
  const lines: Array<string> = []
  const logger = Logger.make((options) => {
    if (options.logLevel === "Warn") {
      lines.push(Array.isArray(options.message) ? options.message.join(" ") : String(options.message))
    }
  })
  return { lines, layer: Logger.layer([logger]) }
}

describe.skipIf(!redisAvailable)("RedisCircuitStore and configurations that differ", () => {
  it.effect(
    "strict mode: a breaker configured unlike the fleet's circuit is refused with a typed error",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const first = yield* instance(server.url, { name: "ledger", consecutiveFailures: 3 }, { mode: "strict" })
        // The same configuration joins.
        const same = yield* instance(server.url, { name: "ledger", consecutiveFailures: 3 }, { mode: "strict" })
        expect(yield* same.breaker.state).toBe("Closed")
        // Another one is refused, naming the field and the rule.
        const other = yield* CircuitBreaker.make({ name: "ledger", consecutiveFailures: 5 }).pipe(
          Effect.provide(first.context),
          Effect.exit
        )
        expect(Exit.isFailure(other)).toBe(true)
        if (Exit.isFailure(other)) {
          const error = other.cause.reasons[0]
          expect(error?._tag === "Fail" && error.error instanceof CircuitBreakerConfig.CircuitBreakerConfigError).toBe(
            true
          )
          if (error?._tag === "Fail") {
            expect(error.error.issues[0]?.field).toBe("name")
            expect(error.error.issues[0]?.rule).toContain("configured differently")
          }
        }
        // Another name is another circuit.
        const renamed = yield* CircuitBreaker.make({ name: "ledger-v2", consecutiveFailures: 5 }).pipe(
          Effect.provide(first.context)
        )
        expect(yield* renamed.state).toBe("Closed")
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )

  it.effect("shared mode: a breaker configured unlike the fleet's circuit is warned about once", () => {
    const logs = warnings()
    return Effect.gen(function*() {
      const server = yield* redisServer
      yield* instance(server.url, { name: "catalog", consecutiveFailures: 3 })
      const other = yield* instance(server.url, { name: "catalog", failureRate: 0.5, minimumCalls: 10 })
      for (let n = 0; n < 3; n++) yield* other.store.sync
      expect(yield* other.breaker.state).toBe("Closed")
      const conflicts = logs.lines.filter((line) => line.includes("configured differently"))
      expect(conflicts).toHaveLength(1)
      expect(conflicts[0]).toContain(`"catalog"`)
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  }, 30_000)
})
