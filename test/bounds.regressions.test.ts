/**
 * The inputs fuzzing found (issue 10), one test each: refused with a typed
 * error naming the field and the rule, where they used to die with a
 * `RangeError`, allocate gigabytes, start thousands of fibers, or be
 * accepted as nonsense.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Scope } from "effect"
import { ConfigProvider, Duration, Effect, Exit, Fiber, Layer, Schedule } from "effect"
import { HttpRouter } from "effect/http"
import { TestClock } from "effect/testing"
import {
  Bulkhead,
  CircuitBreaker,
  CircuitBreakerConfig,
  CircuitBreakerRegistry,
  Fallback,
  Health,
  Hedge,
  Limits,
  Policy,
  RedisCircuitStore,
  Retry,
  SlidingWindow,
  Timeout
} from "../src/index.js"
import { decode as decodeStoreOptions } from "../src/RedisCircuitStore.js"
import { failTimes, rejection } from "./helpers.js"

interface ConfigError {
  readonly _tag: string
  readonly issues: ReadonlyArray<{ readonly field: string; readonly rule: string }>
}

/** The typed error `effect` fails with: one typed failure, never a defect. */
const configError = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Effect.scoped(effect))
    if (Exit.isSuccess(exit)) throw new Error("expected a configuration error")
    expect(exit.cause.reasons.map((reason) => reason._tag)).toEqual(["Fail"])
    const reason = exit.cause.reasons[0]!
    if (reason._tag !== "Fail") throw new Error("unreachable")
    return reason.error as unknown as ConfigError
  })

/** `rules` maps each field the error must name to a pattern of its rule; no other field is named. */
const expectIssues = (error: ConfigError, rules: Readonly<Record<string, RegExp>>) => {
  expect(error.issues.map((issue) => issue.field).sort()).toEqual(Object.keys(rules).sort())
  for (const issue of error.issues) expect(issue.rule).toMatch(rules[issue.field]!)
}

const withEnv = (env: Record<string, string>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

const maxMillis = 2 ** 31 - 1

describe("windows past their bounds are refused before anything is allocated", () => {
  it.effect.each(
    [
      ["countWindow(2 ** 53)", SlidingWindow.countWindow(2 ** 53), {
        "window.size": /between 1 and 1000000.*9007199254740992/
      }],
      ["countWindow(1e308)", SlidingWindow.countWindow(1e308), { "window.size": /between 1 and 1000000.*1e\+308/ }],
      ["countWindow(1e10)", SlidingWindow.countWindow(1e10), { "window.size": /between 1 and 1000000/ }],
      ["countWindow(2 ** 31 - 1)", SlidingWindow.countWindow(2 ** 31 - 1), { "window.size": /between 1 and 1000000/ }],
      [
        "timeWindow(1e12, 1e11)",
        SlidingWindow.timeWindow(1e12, 1e11),
        { "window.duration": /at most 2147483647 milliseconds/, "window.buckets": /between 1 and 10000\b/ }
      ]
    ] as const
  )("%s", ([, window, rules]) =>
    Effect.gen(function*() {
      expectIssues(yield* configError(CircuitBreaker.make({ window })), rules)
    }))

  it.effect("WINDOW_SIZE=1e20 from the environment names the variable", () =>
    Effect.gen(function*() {
      const error = yield* configError(CircuitBreakerConfig.fromConfig("P"))
      expectIssues(error, { P_WINDOW_SIZE: /between 1 and 1000000 \(got 100000000000000000000\)/ })
    }).pipe(withEnv({ P_WINDOW_SIZE: "1e20" })))

  it.effect("a count window of 100,000 and one of Limits.maxCountWindowSize trip and close", () =>
    Effect.gen(function*() {
      for (const size of [100_000, Limits.maxCountWindowSize]) {
        const breaker = yield* CircuitBreaker.make({
          failureRate: 0.5,
          minimumCalls: 2,
          window: SlidingWindow.countWindow(size),
          openDuration: "1 second"
        })
        yield* failTimes(breaker, 2)
        expect(yield* breaker.state).toBe("Open")
        yield* TestClock.adjust("1 second")
        yield* breaker.execute(Effect.void)
        expect(yield* breaker.state).toBe("Closed")
      }
    }).pipe(Effect.scoped))

  it.effect("makeResolved refuses a window changed by hand past its bounds", () =>
    Effect.gen(function*() {
      const config = yield* CircuitBreakerConfig.decode({})
      const error = yield* configError(
        CircuitBreaker.makeResolved({ ...config, window: { _tag: "CountWindow", size: 2 ** 31 - 1 } })
      )
      expectIssues(error, { "window.size": /between 1 and 1000000/ })
    }))
})

describe("counts, permits and durations past their bounds are refused", () => {
  it.effect("Hedge attempts: 100,000 copies of one call are refused; 10 are the most", () =>
    Effect.gen(function*() {
      expectIssues(yield* configError(Hedge.make({ attempts: 100_000, delay: 0 })), {
        attempts: /between 1 and 10 \(got 100000\)/
      })
      expectIssues(yield* configError(Hedge.make({ attempts: 11 })), { attempts: /between 1 and 10/ })
      expect((yield* Hedge.make({ attempts: Limits.maxHedgeAttempts, delay: 0 })).attempts).toBe(10)
    }))

  it.effect("halfOpenPermits 1e15, openDuration 9e15 ms and halfOpenMaxWait 1 ns are listed together", () =>
    Effect.gen(function*() {
      const error = yield* configError(
        CircuitBreaker.make({ halfOpenPermits: 1e15, openDuration: 9e15, halfOpenMaxWait: "1 nanos" })
      )
      expectIssues(error, {
        halfOpenPermits: /between 1 and 1000 \(got 1000000000000000\)/,
        openDuration: /at most 2147483647 milliseconds.*timer/,
        halfOpenMaxWait: /at least 1 millisecond \(got "1 nanos"\)/
      })
    }))

  it.effect("Bulkhead maxQueued 1e21 is refused", () =>
    Effect.gen(function*() {
      expectIssues(yield* configError(Bulkhead.make({ maxQueued: 1e21 })), {
        maxQueued: /between 0 and 100000 \(got 1e\+21\)/
      })
    }))

  it.effect("a duration may be zero only where zero means something, and is otherwise at least 1 ms", () =>
    Effect.gen(function*() {
      expectIssues(yield* configError(CircuitBreaker.make({ openDuration: "500 micros" })), {
        openDuration: /0 or at least 1 millisecond/
      })
      expect((yield* CircuitBreakerConfig.decode({ openDuration: 0 })).openDuration).toEqual(Duration.zero)
      expectIssues(yield* configError(Retry.make({ maxDelay: "0.5 millis" })), { maxDelay: /at least 1 millisecond/ })
    }))
})

describe("every constructor lists every broken rule at once", () => {
  it.effect("Bulkhead: a bad limit and a wait without a queue", () =>
    Effect.gen(function*() {
      expectIssues(yield* configError(Bulkhead.make({ maxConcurrent: 0, maxQueueWait: "1 second" })), {
        maxConcurrent: /between 1 and 100000 \(got 0\)/,
        maxQueueWait: /no effect unless maxQueued/
      })
    }))

  it.effect("Retry: a bad count and a wait that needs waitForOpenCircuit", () =>
    Effect.gen(function*() {
      expectIssues(yield* configError(Retry.make({ retries: -1, maxCircuitWait: "1 second" })), {
        retries: /between 0 and 1000/,
        maxCircuitWait: /no effect unless waitForOpenCircuit/
      })
    }))

  it.effect("Fallback: a bad name and no fallback at all", () =>
    Effect.gen(function*() {
      expectIssues(yield* configError(Fallback.make({ name: " " } as never)), {
        name: /non-empty/,
        orElse: /is required/
      })
    }))

  it.effect("Policy.make: an unknown option and a layer of the wrong kind", () =>
    Effect.gen(function*() {
      expectIssues(yield* configError(Policy.make({ foo: 1, retry: 3 } as never)), {
        foo: /is not a policy option/,
        retry: /must be a Retry policy/
      })
    }))

  it.effect("CircuitBreaker: a bad permit count and a rule the window can never satisfy", () =>
    Effect.gen(function*() {
      // successThreshold is not compared with an invalid halfOpenPermits: one issue per broken field.
      expectIssues(
        yield* configError(CircuitBreaker.make({ halfOpenPermits: 0, successThreshold: 5, minimumCalls: 500 })),
        {
          halfOpenPermits: /between 1 and 1000/,
          minimumCalls: /at most the count window's size \(100\)/
        }
      )
    }))

  it.effect("CircuitBreakerRegistry: its own options and the shared configuration", () =>
    Effect.gen(function*() {
      expectIssues(yield* configError(CircuitBreakerRegistry.make({ maxBreakers: 0, config: { failureRate: 2 } })), {
        maxBreakers: /between 1 and 1000000/,
        "config.failureRate": /between 0 and 1/
      })
    }))

  it.effect("RedisCircuitStore: a bad prefix and a time to live shorter than two resyncs", () =>
    Effect.gen(function*() {
      expectIssues(yield* configError(decodeStoreOptions({ prefix: "", idleTimeToLive: "1 second" })), {
        prefix: /1 to 256 characters/,
        idleTimeToLive: /at least twice resyncInterval/
      })
    }))

  it.effect("environment: both kinds of window and a bad bucket count", () =>
    Effect.gen(function*() {
      expectIssues(yield* configError(CircuitBreakerConfig.fromConfig("P")), {
        P_WINDOW_SIZE: /not both/,
        P_WINDOW_BUCKETS: /between 1 and 10000/
      })
    }).pipe(withEnv({ P_WINDOW_SIZE: "10", P_WINDOW_DURATION: "1m", P_WINDOW_BUCKETS: "0" })))

  it.effect("environment: WINDOW_SIZE with WINDOW_BUCKETS is a conflict too, not a bucket count ignored", () =>
    Effect.gen(function*() {
      const error = yield* configError(CircuitBreakerConfig.fromConfig("P"))
      expect(error.issues.find((issue) => issue.field === "P_WINDOW_SIZE")?.rule).toMatch(/P_WINDOW_BUCKETS.*not both/)
    }).pipe(withEnv({ P_WINDOW_SIZE: "10", P_WINDOW_BUCKETS: "5" })))
})

describe("environment variables", () => {
  it.effect("an unknown variable under the breaker's prefix names it and suggests the nearest option", () =>
    Effect.gen(function*() {
      const error = yield* configError(CircuitBreakerConfig.fromConfig("PAYMENTS_BREAKER"))
      expectIssues(error, {
        PAYMENTS_BREAKER_FAILURE_RATIO:
          /^is not a circuit breaker variable: did you mean PAYMENTS_BREAKER_FAILURE_RATE\?$/,
        PAYMENTS_BREAKER_COLOUR:
          /^is not a circuit breaker variable \(each is PAYMENTS_BREAKER_ followed by an option in upper snake case, such as PAYMENTS_BREAKER_FAILURE_RATE\)$/
      })
    }).pipe(withEnv({
      PAYMENTS_BREAKER_FAILURE_RATIO: "0.5",
      PAYMENTS_BREAKER_COLOUR: "blue",
      // Another breaker's variables, under a longer prefix, and another program's are left alone.
      PAYMENTS_BREAKER_EU_FAILURE_RATE: "0.5",
      PAYMENTS_API_KEY: "secret"
    })))

  it.effect("the Redis store's variables are checked the same way", () =>
    Effect.gen(function*() {
      const error = yield* configError(RedisCircuitStore.fromConfig())
      expectIssues(error, { RESILIENCE_REDIS_FLUSH_INTERVALL: /did you mean RESILIENCE_REDIS_FLUSH_INTERVAL\?/ })
    }).pipe(withEnv({ RESILIENCE_REDIS_FLUSH_INTERVALL: "1s", RESILIENCE_REDIS_PROBE_LEASE: "10s" })))

  it.effect("durations accept the forms operators write: 30s, 1m, 250ms, PT30S, beside \"30 seconds\"", () =>
    Effect.gen(function*() {
      const config = yield* CircuitBreakerConfig.fromConfig("P")
      expect(Duration.toMillis(config.openDuration as Duration.Duration)).toBe(30_000)
      expect(Duration.toMillis(config.slowCallDuration!)).toBe(250)
      expect(Duration.toMillis(config.halfOpenMaxWait!)).toBe(60_000)
      expect(Duration.toMillis(config.maxOpenDuration!)).toBe(30_000)
      const store = yield* RedisCircuitStore.fromConfig()
      expect(yield* decodeStoreOptions(store)).toMatchObject({ flushMillis: 250, leaseMillis: 90_000 })
    }).pipe(withEnv({
      P_OPEN_DURATION: "30s",
      P_SLOW_CALL_RATE: "0.5",
      P_SLOW_CALL_DURATION: "250ms",
      P_HALF_OPEN_MAX_WAIT: "1m",
      P_MAX_OPEN_DURATION: "PT30S",
      RESILIENCE_REDIS_FLUSH_INTERVAL: "250ms",
      RESILIENCE_REDIS_PROBE_LEASE: "PT1M30S"
    })))

  it.effect("a duration in no known form is a typed error naming the variable and the forms", () =>
    Effect.gen(function*() {
      expectIssues(yield* configError(CircuitBreakerConfig.fromConfig("P")), {
        P_OPEN_DURATION: /must be a duration such as .*"30s".*"PT30S".*\(got "half a minute"\)/,
        P_MAX_OPEN_DURATION: /years or months/
      })
    }).pipe(withEnv({ P_OPEN_DURATION: "half a minute", P_MAX_OPEN_DURATION: "P1M" })))
})

describe("delays computed at run time are capped at Limits.maxDuration", () => {
  it.effect("an openDuration schedule's delay past the bound opens the circuit for Limits.maxDuration", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: Schedule.spaced("100 days") })
      yield* failTimes(breaker, 1)
      const error = rejection(yield* Effect.exit(breaker.execute(Effect.void)))
      expect(Duration.toMillis(error.retryAfter)).toBe(maxMillis)
      yield* TestClock.adjust(Limits.maxDuration)
      expect(yield* breaker.state).toBe("HalfOpen")
    }).pipe(Effect.scoped))

  it.effect("a retry schedule's delay past the bound waits Limits.maxDuration", () =>
    Effect.gen(function*() {
      const retry = yield* Retry.make({ schedule: Schedule.spaced("100 days").pipe(Schedule.upTo({ times: 1 })) })
      let attempts = 0
      const call = Effect.suspend(() => {
        attempts++
        return Effect.fail("boom")
      })
      const fiber = yield* Effect.forkChild(call.pipe(Retry.retry(retry)))
      yield* TestClock.adjust(Limits.maxDuration)
      expect(attempts).toBe(2)
      yield* Fiber.interrupt(fiber)
    }))
})

describe("Health.layerHttp", () => {
  it.effect("a degradedStatus that is no HTTP status fails the layer with a typed error", () =>
    Effect.gen(function*() {
      const error = yield* configError(
        Layer.build(Health.layerHttp({ sources: [], degradedStatus: 1000 })).pipe(Effect.provide(HttpRouter.layer))
      )
      expect(error._tag).toBe("PolicyConfigError")
      expectIssues(error, { degradedStatus: /between 200 and 599 \(got 1000\)/ })
    }))
})

describe("options that cannot be read are refused with a typed error, never a defect or a throw", () => {
  const boom = (): never => {
    throw new Error("getter boom")
  }
  const getter = (field: string, base: object = {}) =>
    Object.defineProperty({ ...base }, field, { get: boom, enumerable: true })
  const proxies = {
    get: (field: string) => new Proxy({ [field]: 1 }, { get: boom }),
    ownKeys: () => new Proxy({}, { ownKeys: boom }),
    has: () => new Proxy({ name: "p" }, { has: boom })
  }

  const constructors: ReadonlyArray<
    readonly [string, string, (options: never) => Effect.Effect<unknown, unknown, Scope.Scope>, object?]
  > = [
    ["CircuitBreaker.make", "consecutiveFailures", CircuitBreaker.make],
    ["CircuitBreaker.make", "name", CircuitBreaker.make],
    ["CircuitBreaker.make", "classify", CircuitBreaker.make],
    ["CircuitBreakerConfig.decode", "window", CircuitBreakerConfig.decode],
    ["CircuitBreakerRegistry.make", "config", CircuitBreakerRegistry.make],
    ["CircuitBreakerRegistry.make", "maxBreakers", CircuitBreakerRegistry.make],
    ["Retry.make", "retries", Retry.make],
    ["Retry.makeBudget", "ratio", Retry.makeBudget],
    ["Hedge.make", "attempts", Hedge.make],
    ["Timeout.make", "duration", Timeout.make],
    ["Bulkhead.make", "maxConcurrent", Bulkhead.make],
    ["Fallback.make", "value", Fallback.make],
    ["Fallback.make", "on", Fallback.make, { value: 1 }],
    ["Fallback.lastKnownGood", "maxEntries", (o: never) => Fallback.lastKnownGood()(o)],
    ["RedisCircuitStore options", "url", decodeStoreOptions],
    ["Policy.make", "retry", Policy.make]
  ]

  it.effect.each(constructors)(
    "%s with a throwing getter for %s names the field",
    ([, field, make, base]) =>
      Effect.gen(function*() {
        const error = yield* configError(make(getter(field, base) as never))
        expect(error.issues.find((issue) => issue.field === field)?.rule).toBe("could not be read (getter boom)")
      })
  )

  it.effect.each(constructors)(
    "%s given a Proxy whose get trap throws names %s",
    ([, field, make]) =>
      Effect.gen(function*() {
        const error = yield* configError(make(proxies.get(field) as never))
        expect(error.issues.find((issue) => issue.field === field)?.rule).toBe("could not be read (getter boom)")
      })
  )

  it.effect.each(constructors)(
    "%s given a Proxy whose ownKeys trap throws names the options",
    ([, , make]) =>
      Effect.gen(function*() {
        const error = yield* configError(make(proxies.ownKeys() as never))
        expect(error.issues).toHaveLength(1)
        expect(error.issues[0]!.field).toMatch(/^\((options|config)\)$/)
        expect(error.issues[0]!.rule).toBe("could not be read (getter boom)")
      })
  )

  it("Policy.make and Policy.wrap do not throw before an Effect runs", () => {
    expect(() => Policy.make(proxies.ownKeys() as never)).not.toThrow()
    expect(() => Policy.make(getter("retry") as never)).not.toThrow()
    expect(() => Policy.wrap(proxies.has() as never)).not.toThrow()
  })

  it.effect("Policy.wrap given a Proxy whose has trap throws names its place", () =>
    Effect.gen(function*() {
      expectIssues(yield* configError(Policy.wrap(proxies.has() as never)), { "[0]": /^could not be read/ })
    }))

  it.effect("durations and windows that cannot be read name their field", () =>
    Effect.gen(function*() {
      expectIssues(
        yield* configError(CircuitBreaker.make({
          openDuration: getter("minutes", { seconds: 1 }) as Duration.Input,
          slowCallRate: 0.5,
          slowCallDuration: proxies.ownKeys() as Duration.Input,
          halfOpenMaxWait: new Proxy({ seconds: 5 }, { get: boom }) as Duration.Input
        })),
        {
          openDuration: /^could not be read \(getter boom\)$/,
          slowCallDuration: /^could not be read \(getter boom\)$/,
          halfOpenMaxWait: /^could not be read \(getter boom\)$/
        }
      )
      const error = yield* configError(CircuitBreaker.make({
        window: getter("size", { _tag: "CountWindow" }) as SlidingWindow.WindowSpec
      }))
      expect(error.issues.map((issue) => [issue.field, issue.rule])).toEqual([
        ["window", "could not be read (getter boom)"]
      ])
      expectIssues(
        yield* configError(CircuitBreaker.make({
          window: SlidingWindow.timeWindow(getter("seconds") as Duration.Input)
        })),
        { "window.duration": /^could not be read \(getter boom\)$/ }
      )
    }))

  it.effect("a value thrown that is no Error is described, and a long message is cut", () =>
    Effect.gen(function*() {
      const options = Object.defineProperty({}, "retries", {
        enumerable: true,
        get: () => {
          throw "x".repeat(100_000)
        }
      })
      const error = yield* configError(Retry.make(options))
      expect(error.issues[0]!.field).toBe("retries")
      expect(error.issues[0]!.rule.length).toBeLessThan(200)
    }))
})

describe("a decoded configuration cannot be changed in place", () => {
  it.effect("decode returns a frozen configuration, its window frozen too: the change fails where it is made", () =>
    Effect.gen(function*() {
      const config = yield* CircuitBreakerConfig.decode({ name: "m", window: SlidingWindow.timeWindow("1 minute") })
      expect(Object.isFrozen(config)).toBe(true)
      expect(Object.isFrozen(config.window)).toBe(true)
      expect(() => {
        ;(config as { window: unknown }).window = SlidingWindow.countWindow(2 ** 53)
      }).toThrow(TypeError)
      expect(() => {
        ;(config as { halfOpenPermits: number }).halfOpenPermits = 1e15
      }).toThrow(TypeError)
      expect(() => {
        ;(config.window as { buckets: number }).buckets = 1e11
      }).toThrow(TypeError)
      // Made from the unchanged configuration.
      const breaker = yield* CircuitBreaker.makeResolved(config)
      expect(breaker.config.halfOpenPermits).toBe(1)
    }).pipe(Effect.scoped))

  it.effect("so are the configurations read from the environment and those a registry makes per key", () =>
    Effect.gen(function*() {
      const fromEnv = yield* CircuitBreakerConfig.fromConfig("P").pipe(withEnv({ P_WINDOW_SIZE: "20" }))
      expect(Object.isFrozen(fromEnv) && Object.isFrozen(fromEnv.window)).toBe(true)
      const registry = yield* CircuitBreakerRegistry.make({ config: (key) => ({ consecutiveFailures: key.length }) })
      const breaker = yield* registry.get("abc")
      expect(Object.isFrozen(breaker.config) && Object.isFrozen(breaker.config.window)).toBe(true)
      const shared = yield* CircuitBreakerRegistry.make({ config: { name: "api" } })
      expect(Object.isFrozen((yield* shared.get("eu")).config)).toBe(true)
    }).pipe(Effect.scoped))

  it.effect("a copy changed by hand is still checked, its name included", () =>
    Effect.gen(function*() {
      const config = yield* CircuitBreakerConfig.decode({})
      expectIssues(yield* configError(CircuitBreaker.makeResolved({ ...config, name: "n".repeat(257) })), {
        name: /at most 256 characters/
      })
    }))
})

describe("names are bounded", () => {
  it.effect("every constructor refuses a name past Limits.maxNameLength, or with control characters, and says so briefly", () =>
    Effect.gen(function*() {
      const huge = "x".repeat(10_000_000)
      const makes: ReadonlyArray<(name: string) => Effect.Effect<unknown, unknown, Scope.Scope>> = [
        (name) => CircuitBreaker.make({ name }),
        (name) => CircuitBreakerRegistry.make({ name }),
        (name) => Retry.make({ name }),
        (name) => Timeout.make({ name, duration: "1 second" }),
        (name) => Bulkhead.make({ name }),
        (name) => Hedge.make({ name }),
        (name) => Fallback.make({ name, value: 1 }),
        (name) => Policy.make({ name })
      ]
      for (const make of makes) {
        const error = yield* configError(make(huge))
        expectIssues(error, { name: /at most 256 characters.*\(got "x{20,64}…" \(10000000 characters\)\)/ })
        expect(JSON.stringify(error).length).toBeLessThan(1000)
        expect(error._tag === "CircuitBreakerConfigError" ? (error as { breaker?: string }).breaker : "").not.toBe(huge)
        expectIssues(yield* configError(make("a\nb")), { name: /without control characters \(got "a\\nb"\)/ })
        expectIssues(yield* configError(make("n".repeat(257))), { name: /at most 256 characters/ })
      }
      expect(Limits.maxNameLength).toBe(256)
      expect((yield* CircuitBreaker.make({ name: "n".repeat(256) })).name).toHaveLength(256)
    }).pipe(Effect.scoped))
})

describe("NaN is no duration, however it is written", () => {
  it.effect("[NaN, 0] (hrtime) is refused as the number NaN is", () =>
    Effect.gen(function*() {
      for (const openDuration of [NaN, [NaN, 0], [0, NaN]] as const) {
        expectIssues(yield* configError(CircuitBreaker.make({ openDuration: openDuration as Duration.Input })), {
          openDuration: /^must be a duration, got NaN$/
        })
      }
    }))
})

describe("messages read the same everywhere", () => {
  it.effect("Fallback: a tag list with a bad entry names the entry only; a bad name reads as elsewhere", () =>
    Effect.gen(function*() {
      expectIssues(yield* configError(Fallback.make({ value: 1, on: [5] } as never)), {
        "on.0": /^must be an error tag \(a string\) \(got 5\)$/
      })
      expectIssues(yield* configError(Fallback.make({ value: 1, on: 5 } as never)), {
        on: /^must be a non-empty array of error tags or a refinement \(error\) => boolean \(got 5\)$/
      })
      expectIssues(yield* configError(Fallback.make({ value: 1, on: [] } as never)), {
        on: /must name at least one error tag/
      })
      const names = []
      const makes: ReadonlyArray<Effect.Effect<unknown, unknown>> = [
        Fallback.make({ name: 5, value: 1 } as never),
        Timeout.make({ name: 5 } as never)
      ]
      for (const make of makes) {
        names.push((yield* configError(make)).issues.find((issue) => issue.field === "name")?.rule)
      }
      expect(names[0]).toMatch(/^must be a non-empty string/)
      expect(names[0]).toBe(names[1])
    }))
})

describe("a fallback's tag list is bounded", () => {
  it.effect("more than Limits.maxErrorTags tags is refused, by the fallback and by a cache", () =>
    Effect.gen(function*() {
      const tags = Array.from({ length: Limits.maxErrorTags + 1 }, (_, i) => `Tag${i}`)
      const fallback = yield* Effect.flip(Fallback.make({ on: tags, value: 0 }))
      expect(fallback.issues.map((issue) => [issue.field, issue.rule])).toEqual([
        ["on", `must name at most 100 error tags (got 101)`]
      ])
      const cache = yield* Effect.flip(Fallback.lastKnownGood<number>()({ on: tags }))
      expect(cache.issues[0]!.field).toBe("on")
      // The bound itself is fine.
      yield* Fallback.make({ on: tags.slice(0, Limits.maxErrorTags), value: 0 })
    }))
})
