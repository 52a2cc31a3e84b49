import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer, Metric } from "effect"
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

describe("the prefix", () => {
  const badPrefixes = ["", "_", "P_", "_P", "P Q", "pay", "A__B", "1P", "P-Q", "P".repeat(257)]

  it.effect("is checked by every entry point before any variable is read: a typed error naming prefix and the rule", () =>
    Effect.gen(function*() {
      class Search extends CircuitBreaker.Service<Search>()("search") {}
      const entries = (prefix: string): ReadonlyArray<Effect.Effect<unknown, CircuitBreakerConfigError>> => [
        CircuitBreakerConfig.fromConfig(prefix),
        CircuitBreaker.makeFromConfig(prefix).pipe(Effect.scoped),
        Effect.scoped(Layer.build(CircuitBreaker.layerConfig(prefix))),
        Effect.scoped(Layer.build(Search.layerConfig(prefix)))
      ]
      for (const prefix of badPrefixes) {
        for (const entry of entries(prefix)) {
          const error = failure(yield* Effect.exit(entry)) as CircuitBreakerConfigError
          expect(error._tag, prefix).toBe("CircuitBreakerConfigError")
          expect(error.issues.map((issue) => issue.field)).toEqual(["prefix"])
          expect(error.issues[0]!.rule).toMatch(
            /^must be upper-case letters, digits and single underscores, starting with a letter and not ending with "_", at most 256 characters \(got .{0,90}\)$/
          )
        }
      }
    }).pipe(withEnv({ _FAILURE_RATE: "0.5", FAILURE_RATE: "0.5", P__FAILURE_RATE: "0.5" })))

  it.effect("accepts upper-case letters, digits and single underscores", () =>
    Effect.gen(function*() {
      for (const prefix of ["P", "PAYMENTS_BREAKER", "API2", "EU_WEST_1_BREAKER", "P".repeat(256)]) {
        const config = yield* CircuitBreakerConfig.fromConfig(prefix)
        expect(config.name).toBe(prefix.toLowerCase())
      }
    }).pipe(withEnv({})))
})

describe("unknown variables", () => {
  it.effect("are reported 20 at most, then one issue saying how many more; each issue is short", () =>
    Effect.gen(function*() {
      const error = failure(yield* Effect.exit(CircuitBreakerConfig.fromConfig("P"))) as CircuitBreakerConfigError
      expect(error.issues).toHaveLength(21)
      expect(error.issues.slice(0, 20).every((issue) => /^P_FOO\d+$/.test(issue.field))).toBe(true)
      expect(error.issues[20]).toMatchObject({
        field: "P_*",
        rule: "is not a circuit breaker variable: 4980 more variables under P_ name no option (the first 20 are listed)"
      })
      for (const issue of error.issues) expect(issue.rule.length).toBeLessThan(200)
      expect(error.message.length).toBeLessThan(5000)
    }).pipe(withEnv(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`P_FOO${i}`, "x"])))))

  it.effect("with no option near, the rule names one option as an example, not the whole list", () =>
    Effect.gen(function*() {
      const error = failure(yield* Effect.exit(CircuitBreakerConfig.fromConfig("P"))) as CircuitBreakerConfigError
      expect(error.issues.map((issue) => [issue.field, issue.rule])).toEqual([
        [
          "P_COLOUR",
          "is not a circuit breaker variable (each is P_ followed by an option in upper snake case, such as P_FAILURE_RATE)"
        ]
      ])
    }).pipe(withEnv({ P_COLOUR: "blue" })))

  it.effect("a variable name of 100,000 characters is cut in the issue", () =>
    Effect.gen(function*() {
      const error = failure(yield* Effect.exit(CircuitBreakerConfig.fromConfig("P"))) as CircuitBreakerConfigError
      expect(error.issues).toHaveLength(1)
      expect(error.issues[0]!.field.length).toBeLessThanOrEqual(257)
      expect(error.issues[0]!.field).toMatch(/^P_X+…$/)
    }).pipe(withEnv({ ["P_" + "X".repeat(100_000)]: "x" })))
})

describe("empty variables", () => {
  it.effect("an empty variable counts as unset (P_CONSECUTIVE_FAILURES= in a container's environment)", () =>
    Effect.gen(function*() {
      const config = yield* CircuitBreakerConfig.fromConfig("P", { consecutiveFailures: 3 })
      expect(config.consecutiveFailures).toBe(3)
      expect(Duration.toMillis(config.openDuration as Duration.Duration)).toBe(60_000)
      expect(config.name).toBe("p")
    }).pipe(withEnv({ P_CONSECUTIVE_FAILURES: "", P_OPEN_DURATION: "", P_NAME: "" })))
})
