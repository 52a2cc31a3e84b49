import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Metric } from "effect"
import type { CircuitBreakerConfigError } from "../src/index.js"
import { CircuitBreaker, CircuitBreakerConfig } from "../src/index.js"
import { failure } from "./policyHelpers.js"

const withEnv = (env: Record<string, string>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))))

describe("configuration from the environment", () => {
  it.effect("reads PREFIX_* variables over code configuration, through the same rules", () =>
    Effect.gen(function*() {
      const config = yield* CircuitBreakerConfig.fromConfig("PAYMENTS_BREAKER", {
        minimumCalls: 20,
        halfOpenPermits: 2
      })
      expect(config).toMatchObject({
        name: "payments",
        failureRate: 0.5,
        minimumCalls: 20,
        halfOpenPermits: 2,
        successThreshold: 2,
        metrics: false,
        consecutiveFailures: undefined
      })
      expect(Duration.toMillis(config.openDuration as Duration.Duration)).toBe(30_000)
      expect(Duration.toMillis(config.slowCallDuration!)).toBe(1500)
      expect(config.window).toMatchObject({ _tag: "TimeWindow", buckets: 6 })
    }).pipe(withEnv({
      PAYMENTS_BREAKER_NAME: "payments",
      PAYMENTS_BREAKER_FAILURE_RATE: "0.5",
      PAYMENTS_BREAKER_OPEN_DURATION: "30 seconds",
      PAYMENTS_BREAKER_SLOW_CALL_DURATION: "1500",
      PAYMENTS_BREAKER_WINDOW_DURATION: "1 minute",
      PAYMENTS_BREAKER_WINDOW_BUCKETS: "6",
      PAYMENTS_BREAKER_METRICS: "false",
      OTHER_BREAKER_FAILURE_RATE: "0.9"
    })))

  it.effect("an invalid variable fails with CircuitBreakerConfigError naming the variable and the rule", () =>
    Effect.gen(function*() {
      const error = failure(
        yield* Effect.exit(CircuitBreakerConfig.fromConfig("PAYMENTS_BREAKER"))
      ) as CircuitBreakerConfigError
      expect(error._tag).toBe("CircuitBreakerConfigError")
      const rules = Object.fromEntries(error.issues.map((issue) => [issue.field, issue.rule]))
      expect(rules).toMatchObject({
        PAYMENTS_BREAKER_FAILURE_RATE: expect.stringMatching(/between 0 and 1.*1\.5/),
        PAYMENTS_BREAKER_CONSECUTIVE_FAILURES: expect.stringMatching(/must be a number.*"three"/),
        PAYMENTS_BREAKER_METRICS: expect.stringMatching(/true or false.*"yes"/)
      })
      expect(error.message).toContain("PAYMENTS_BREAKER_FAILURE_RATE")
    }).pipe(withEnv({
      PAYMENTS_BREAKER_FAILURE_RATE: "1.5",
      PAYMENTS_BREAKER_CONSECUTIVE_FAILURES: "three",
      PAYMENTS_BREAKER_METRICS: "yes"
    })))

  it.effect("rules broken by the schema name their variable too, and code options keep their field name", () =>
    Effect.gen(function*() {
      const error = failure(
        yield* Effect.exit(CircuitBreakerConfig.fromConfig("P", { slowCallRate: 2 }))
      ) as CircuitBreakerConfigError
      const fields = error.issues.map((issue) => issue.field).sort()
      expect(fields).toEqual(["P_OPEN_DURATION", "P_WINDOW_SIZE", "slowCallRate"])
    }).pipe(withEnv({ P_OPEN_DURATION: "-5 seconds", P_WINDOW_SIZE: "0" })))

  it.effect("a count window and a time window at once is an error", () =>
    Effect.gen(function*() {
      const error = failure(yield* Effect.exit(CircuitBreakerConfig.fromConfig("P"))) as CircuitBreakerConfigError
      expect(error.issues[0]).toMatchObject({ field: "P_WINDOW_SIZE", rule: expect.stringMatching(/not both/) })
    }).pipe(withEnv({ P_WINDOW_SIZE: "10", P_WINDOW_DURATION: "1 minute" })))

  it.effect("named services and layers read their variables", () =>
    Effect.gen(function*() {
      class Search extends CircuitBreaker.Service<Search>()("search") {}
      const breaker = yield* Effect.provide(
        Effect.gen(function*() {
          return yield* Search
        }),
        Search.layerConfig("SEARCH_BREAKER", { consecutiveFailures: 9 })
      )
      expect(breaker.name).toBe("search")
      expect(breaker.config.consecutiveFailures).toBe(2)
      const fallback = yield* Effect.provide(
        Effect.gen(function*() {
          return yield* CircuitBreaker.CircuitBreaker
        }),
        CircuitBreaker.layerConfig("NONE")
      )
      expect(fallback.name).toBe("none")
    }).pipe(
      withEnv({ SEARCH_BREAKER_CONSECUTIVE_FAILURES: "2" }),
      Effect.provideService(Metric.MetricRegistry, new Map())
    ))
})
