import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, Schedule, Schema } from "effect"
import type { CircuitBreakerConfig as Config } from "../src/index.js"
import { CircuitBreaker, CircuitBreakerConfig, CircuitBreakerConfigError } from "../src/index.js"

/** Makes a breaker from `config` and returns the config error it fails with. */
const configError = (config: unknown) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(CircuitBreaker.make(config as Config.CircuitBreakerConfig))
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isSuccess(exit)) throw new Error("expected a config error")
    expect(exit.cause.reasons).toHaveLength(1)
    const reason = exit.cause.reasons[0]!
    expect(reason._tag).toBe("Fail") // a typed failure, never a defect
    if (reason._tag !== "Fail") throw new Error("expected a typed failure")
    expect(reason.error).toBeInstanceOf(CircuitBreakerConfigError)
    return reason.error as CircuitBreakerConfigError
  })

const invalid: ReadonlyArray<readonly [string, unknown, string, RegExp]> = [
  ["negative count", { consecutiveFailures: -1 }, "consecutiveFailures", /integer between 1 and.*-1/],
  ["zero count", { failureCount: 0 }, "failureCount", /integer between 1 and.*got 0/],
  ["fractional count", { consecutiveFailures: 2.5 }, "consecutiveFailures", /integer between 1 and.*2\.5/],
  ["NaN count", { minimumCalls: NaN }, "minimumCalls", /integer between 1 and.*NaN/],
  ["non-integer permits", { halfOpenPermits: 1.5 }, "halfOpenPermits", /integer between 1 and/],
  ["zero success threshold", { successThreshold: 0 }, "successThreshold", /integer between 1 and/],
  ["rate above 1", { failureRate: 1.5 }, "failureRate", /between 0 and 1.*1\.5/],
  ["negative rate", { slowCallRate: -0.1 }, "slowCallRate", /between 0 and 1.*-0\.1/],
  ["NaN rate", { failureRate: NaN }, "failureRate", /between 0 and 1.*NaN/],
  ["string rate", { failureRate: "0.5" }, "failureRate", /number.*"0\.5"/],
  ["zero-size count window", { window: CircuitBreaker.countWindow(0) }, "window.size", /integer between 1 and.*got 0/],
  ["negative count window", { window: CircuitBreaker.countWindow(-3) }, "window.size", /integer between 1 and/],
  ["zero time window", { window: CircuitBreaker.timeWindow(0) }, "window.duration", /at least 1 millisecond/],
  ["NaN time window", { window: CircuitBreaker.timeWindow(NaN) }, "window.duration", /NaN/],
  ["zero buckets", { window: CircuitBreaker.timeWindow("1 minute", 0) }, "window.buckets", /integer between 1 and/],
  ["buckets narrower than 1ms", { window: CircuitBreaker.timeWindow(10, 20) }, "window.buckets", /1 millisecond/],
  ["negative open duration", { openDuration: -5 }, "openDuration", /negative/],
  ["negative open duration string", { openDuration: "-5 seconds" }, "openDuration", /negative/],
  ["NaN open duration", { openDuration: NaN }, "openDuration", /NaN/],
  ["infinite open duration", { openDuration: Infinity }, "openDuration", /finite/],
  ["unparseable duration", { openDuration: "soon" }, "openDuration", /duration such as.*"soon"/],
  ["empty duration object", { openDuration: {} }, "openDuration", /at least one unit/],
  ["duration object with a typo", { openDuration: { secs: 5 } }, "openDuration", /units among.*not "secs"/],
  ["duration object with NaN", { slowCallDuration: { seconds: NaN } }, "slowCallDuration", /finite number/],
  ["null config", null, "(config)", /object of circuit breaker options.*null/],
  ["zero slow-call duration", { slowCallDuration: 0 }, "slowCallDuration", /at least 1 millisecond/],
  ["negative max wait", { halfOpenMaxWait: -1 }, "halfOpenMaxWait", /negative/],
  ["negative max open duration", { maxOpenDuration: "-1 minute" }, "maxOpenDuration", /negative/],
  [
    "successThreshold above permits",
    { halfOpenPermits: 2, successThreshold: 3 },
    "successThreshold",
    /at most halfOpenPermits \(2\), got 3/
  ],
  [
    "minimumCalls above window",
    { window: CircuitBreaker.countWindow(10), minimumCalls: 11 },
    "minimumCalls",
    /at most the count window's size \(10\)/
  ],
  [
    "failureCount above window",
    { window: CircuitBreaker.countWindow(3), failureCount: 4 },
    "failureCount",
    /at most the count window's size \(3\)/
  ],
  ["empty name", { name: "  " }, "name", /non-empty/],
  ["unknown option", { failurRate: 0.5 }, "failurRate", /not a circuit breaker option/],
  ["classifier not a function", { classify: "yes" }, "classify", /function/],
  ["window of another kind", { window: { _tag: "Sliding", size: 3 } }, "window", /./],
  ["zero event buffer", { eventBufferSize: 0 }, "eventBufferSize", /integer between 1 and/],
  [
    "zero half-open failure rate",
    { halfOpenPermits: 4, halfOpenFailureRate: 0 },
    "halfOpenFailureRate",
    /greater than 0 and at most 1.*got 0/
  ],
  [
    "half-open failure rate above 1",
    { halfOpenPermits: 4, halfOpenFailureRate: 1.5 },
    "halfOpenFailureRate",
    /greater than 0/
  ],
  [
    "half-open failure rate over one probe",
    { halfOpenFailureRate: 0.5 },
    "halfOpenPermits",
    /at least 2 with halfOpenFailureRate.*got 1/
  ],
  [
    "half-open failure rate with a success threshold",
    { halfOpenPermits: 4, halfOpenFailureRate: 0.5, successThreshold: 2 },
    "successThreshold",
    /must not be set with halfOpenFailureRate/
  ]
]

describe("invalid configuration", () => {
  it.effect.each(invalid)(
    "%s fails with CircuitBreakerConfigError naming the field and the rule",
    ([, config, field, rule]) =>
      Effect.gen(function*() {
        const error = yield* configError(config)
        const issue = error.issues.find((issue) => issue.field === field)
        expect(issue, `issues: ${JSON.stringify(error.issues)}`).toBeDefined()
        expect(issue!.rule).toMatch(rule)
        expect(error.message).toContain(field)
      })
  )

  it.effect("lists every broken rule at once, and names the breaker", () =>
    Effect.gen(function*() {
      const error = yield* configError({ name: "payments", failureRate: 2, consecutiveFailures: 0, openDuration: -1 })
      expect(error.breaker).toBe("payments")
      expect(error.issues.map((issue) => issue.field).sort()).toEqual([
        "consecutiveFailures",
        "failureRate",
        "openDuration"
      ])
      expect(error.message).toMatch(/^Invalid configuration for circuit breaker "payments": /)
    }))

  it.effect("a config that is not an object is a config error", () =>
    Effect.gen(function*() {
      const error = yield* configError(42)
      expect(error.issues[0]!.field).toBe("(config)")
    }))

  it.effect("an openDuration schedule must compute its delays synchronously", () =>
    Effect.gen(function*() {
      const asyncSchedule = Schedule.spaced("1 second").pipe(
        Schedule.modifyDelay(({ duration }) => Effect.as(Effect.promise(() => Promise.resolve()), duration))
      )
      const error = yield* configError({ openDuration: asyncSchedule })
      expect(error.issues[0]!.field).toBe("openDuration")
      expect(error.issues[0]!.rule).toMatch(/synchronously/)
    }))

  it.effect("the error is a Schema error class that encodes to JSON", () =>
    Effect.gen(function*() {
      const error = yield* configError({ failureRate: 3 })
      const json = Schema.encodeSync(Schema.toCodecJson(CircuitBreakerConfigError))(error)
      expect(json).toMatchObject({ _tag: "CircuitBreakerConfigError", issues: [{ field: "failureRate" }] })
    }))
})

describe("defaults", () => {
  it.effect("an empty config: 5 consecutive failures, countWindow(100), 60s open, one probe", () =>
    Effect.gen(function*() {
      const config = yield* CircuitBreakerConfig.decode({})
      expect(config).toMatchObject({
        name: "default",
        consecutiveFailures: 5,
        failureCount: undefined,
        failureRate: undefined,
        window: { _tag: "CountWindow", size: 100 },
        minimumCalls: 100,
        halfOpenPermits: 1,
        successThreshold: 1,
        halfOpenMaxWait: undefined,
        maxOpenDuration: undefined
      })
      expect(Duration.toMillis(config.openDuration as Duration.Duration)).toBe(60_000)
    }))

  it.effect("configuring any rule drops the default consecutive-failure rule", () =>
    Effect.gen(function*() {
      const config = yield* CircuitBreakerConfig.decode({ failureRate: 0.5 })
      expect(config.consecutiveFailures).toBeUndefined()
    }))

  it.effect("minimumCalls defaults to at most the count window's size; slowCallDuration to 60s with slowCallRate", () =>
    Effect.gen(function*() {
      const small = yield* CircuitBreakerConfig.decode({ failureRate: 0.5, window: CircuitBreaker.countWindow(20) })
      expect(small.minimumCalls).toBe(20)
      const slow = yield* CircuitBreakerConfig.decode({ slowCallRate: 0.5 })
      expect(Duration.toMillis(slow.slowCallDuration!)).toBe(60_000)
    }))

  it.effect("successThreshold defaults to halfOpenPermits; durations accept any Duration input", () =>
    Effect.gen(function*() {
      const config = yield* CircuitBreakerConfig.decode({
        halfOpenPermits: 4,
        openDuration: { seconds: 2 },
        halfOpenMaxWait: Duration.seconds(3),
        window: CircuitBreaker.timeWindow(90_000)
      })
      expect(config.successThreshold).toBe(4)
      expect(Duration.toMillis(config.openDuration as Duration.Duration)).toBe(2000)
      expect(Duration.toMillis(config.halfOpenMaxWait!)).toBe(3000)
      expect(config.window).toMatchObject({ _tag: "TimeWindow", buckets: 10 })
    }))
})

describe("halfOpenFailureRate", () => {
  it.effect("resolves with successThreshold at halfOpenPermits, from code or a variable", () =>
    Effect.gen(function*() {
      const config = yield* CircuitBreakerConfig.decode({ halfOpenPermits: 4, halfOpenFailureRate: 0.5 })
      expect([config.halfOpenFailureRate, config.successThreshold]).toEqual([0.5, 4])
      expect((yield* CircuitBreakerConfig.decode({})).halfOpenFailureRate).toBeUndefined()
      const fromEnv = yield* CircuitBreakerConfig.fromConfig("PROBES", { halfOpenPermits: 3 }).pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { PROBES_HALF_OPEN_FAILURE_RATE: "0.34" } })))
      )
      expect(fromEnv.halfOpenFailureRate).toBe(0.34)
    }))

  it.effect("a resolved configuration changed by hand to one probe is refused by makeResolved", () =>
    Effect.gen(function*() {
      const config = yield* CircuitBreakerConfig.decode({ halfOpenPermits: 4, halfOpenFailureRate: 0.5 })
      const exit = yield* Effect.exit(
        CircuitBreaker.makeResolved({ ...config, halfOpenPermits: 1, successThreshold: 1 }).pipe(Effect.scoped)
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect(JSON.stringify(exit)).toContain("at least 2 with halfOpenFailureRate")
    }))
})
