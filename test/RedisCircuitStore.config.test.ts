import { describe, expect, it } from "@effect/vitest"
import { Clock, ConfigProvider, Context, Duration, Effect, Exit, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import {
  CircuitBreaker,
  CircuitBreakerRegistry,
  CircuitDocument,
  CircuitStore,
  Limits,
  PolicyConfigError,
  RedisCircuitStore
} from "../src/index.js"
import { awaitConnected, awaitState, failing } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

const withEnv = (env: Record<string, string>) => Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))

const issuesOf = (exit: Exit.Exit<unknown, unknown>) => {
  if (Exit.isSuccess(exit)) return []
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  return error?._tag === "Fail" && error.error instanceof PolicyConfigError
    ? error.error.issues.map((issue) => [issue.field, issue.rule])
    : [["(not a PolicyConfigError)", String(error)]]
}

describe("RedisCircuitStore options", () => {
  it.effect("bad options fail the layer with a PolicyConfigError that names every bad field", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Layer.build(
          RedisCircuitStore.layer({
            url: "http://localhost:6379",
            mode: "fast" as never,
            flushInterval: -5,
            prefix: "",
            onUnavailable: "maybe" as never
          })
        ).pipe(Effect.scoped)
      )
      const fields = issuesOf(exit).map(([field]) => field)
      expect(fields.sort()).toEqual(["flushInterval", "mode", "onUnavailable", "prefix", "url"])
    }))

  it.effect("an idle time-to-live shorter than two resyncs is refused: circuits in use would expire", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Layer.build(RedisCircuitStore.layer({ idleTimeToLive: "1 second", resyncInterval: "1 second" })).pipe(
          Effect.scoped
        )
      )
      expect(issuesOf(exit)).toEqual([[
        "idleTimeToLive",
        "must be at least twice resyncInterval (1000 ms), or circuits in use could expire"
      ]])
    }))

  it.effect("options that would break the store are refused, each naming the field and the rule", () =>
    Effect.gen(function*() {
      const refused = [
        // Past any timer: the client's command timer overflowed and the store never connected.
        [{ commandTimeout: "100 days" }, "commandTimeout", "must be at most 2147483647 milliseconds"],
        // Past what PEXPIRE takes: every script failed, and the key kept no expiry.
        [{ idleTimeToLive: 1e20 }, "idleTimeToLive", "must be at most 2147483647 milliseconds"],
        // Past the script's arithmetic: every half-open admission failed, which counted as an outage.
        [{ probeLease: 1e19 }, "probeLease", "must be at most 2147483647 milliseconds"]
      ] as const
      for (const [options, field, rule] of refused) {
        const exit = yield* Effect.exit(Layer.build(RedisCircuitStore.layer(options)).pipe(Effect.scoped))
        const issues = issuesOf(exit)
        expect(issues.map(([f]) => f), field).toEqual([field])
        expect(issues[0]![1], field).toContain(rule)
      }
    }))

  it.effect("commandTimeout is at most 60 seconds (Limits.maxCommandTimeout), in code and in the environment", () =>
    Effect.gen(function*() {
      const none = withEnv({})
      expect(yield* RedisCircuitStore.fromConfig({ commandTimeout: "60 seconds" }).pipe(none)).toEqual({
        commandTimeout: "60 seconds"
      })
      for (const commandTimeout of ["10 days", "61 seconds", 60_001] as const) {
        const exit = yield* Effect.exit(RedisCircuitStore.fromConfig({ commandTimeout }).pipe(none))
        expect(issuesOf(exit).map(([field]) => field), String(commandTimeout)).toEqual(["commandTimeout"])
      }
      const fromEnv = yield* Effect.exit(
        RedisCircuitStore.fromConfig().pipe(withEnv({ RESILIENCE_REDIS_COMMAND_TIMEOUT: "2 minutes" }))
      )
      expect(issuesOf(fromEnv)).toEqual([[
        "RESILIENCE_REDIS_COMMAND_TIMEOUT",
        expect.stringContaining("must be at most 60000 milliseconds (Limits.maxCommandTimeout)")
      ]])
      expect(Duration.toMillis(Limits.maxCommandTimeout)).toBe(60_000)
    }))

  it.effect("reads REDIS_URL and the RESILIENCE_REDIS_* variables over the base options", () =>
    Effect.gen(function*() {
      const options = yield* RedisCircuitStore.fromConfig({ prefix: "base:", mode: "strict" }).pipe(withEnv({
        REDIS_URL: "redis://cache:6380",
        RESILIENCE_REDIS_MODE: "shared",
        RESILIENCE_REDIS_FLUSH_INTERVAL: "250",
        RESILIENCE_REDIS_IDLE_TTL: "2 hours",
        RESILIENCE_REDIS_ON_UNAVAILABLE: "reject"
      }))
      expect(options).toEqual({
        prefix: "base:",
        url: "redis://cache:6380",
        mode: "shared",
        flushInterval: 250,
        idleTimeToLive: "2 hours",
        onUnavailable: "reject"
      })
    }))

  it.effect("a bad variable is reported under the variable's name", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        RedisCircuitStore.fromConfig().pipe(withEnv({
          REDIS_URL: "localhost",
          RESILIENCE_REDIS_FLUSH_INTERVAL: "soon"
        }))
      )
      expect(issuesOf(exit).map(([field]) => field).sort()).toEqual(["REDIS_URL", "RESILIENCE_REDIS_FLUSH_INTERVAL"])
    }))

  it.effect("breakers keep their circuits in memory unless a store layer says otherwise", () =>
    Effect.gen(function*() {
      expect((yield* CircuitStore.CircuitStore).kind).toBe("memory")
    }))
})

describe.skipIf(!redisAvailable)("RedisCircuitStore with a registry", () => {
  it.effect(
    "keyed breakers of several registries (several instances) share each key's circuit",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const registry = Effect.gen(function*() {
          const context = yield* Layer.build(RedisCircuitStore.layer({ url: server.url }))
          yield* awaitConnected(Context.get(context, RedisCircuitStore.RedisCircuitStore))
          return yield* CircuitBreakerRegistry.make({ config: { consecutiveFailures: 2 } }).pipe(
            Effect.provide(context)
          )
        })
        const one = yield* registry
        const two = yield* registry
        const a = yield* one.get("tenant-a")
        const opened = yield* awaitState({ breaker: a }, "Open")
        yield* Effect.exit(failing.pipe(one.execute("tenant-a")))
        yield* Effect.exit(failing.pipe(two.execute("tenant-a")))
        yield* Effect.exit(failing.pipe(two.execute("tenant-b")))
        yield* TestClock.adjust("100 millis")
        yield* Fiber.join(opened)
        expect(yield* (yield* one.get("tenant-b")).state).toBe("Closed")
        // A registry breaker made after the trip learns the fleet's state as it is made.
        const three = yield* registry
        expect(yield* (yield* three.get("tenant-a")).state).toBe("Open")
      }).pipe(Effect.scoped),
    30_000
  )
})

describe("a circuit moved by a shared store", () => {
  /** A store that keeps nothing, and hands the test the local circuit it links, as a shared store sees it. */
  const capturingStore = () => {
    const linked: Array<CircuitStore.LocalCircuit> = []
    const store: CircuitStore.CircuitStore = {
      ...CircuitStore.memory,
      kind: "capturing",
      link: (circuit) =>
        Effect.sync(() => {
          linked.push(circuit)
          return CircuitStore.localOnlyLink
        })
    }
    return { linked, layer: Layer.succeed(CircuitStore.CircuitStore, store) }
  }

  it.effect("news of an opening that has already ended does not re-open a half-open circuit", () =>
    Effect.gen(function*() {
      const store = capturingStore()
      const breaker = yield* CircuitBreaker.make({
        name: "late-news",
        consecutiveFailures: 1,
        openDuration: "10 seconds"
      }).pipe(Effect.provide(store.layer))
      const local = store.linked[0]!
      yield* Effect.exit(breaker.execute(Effect.fail("boom")))
      yield* TestClock.adjust("10 seconds")
      expect(yield* breaker.state).toBe("HalfOpen")
      const events = yield* breaker.subscribe
      const transitions = yield* Effect.forkScoped(
        events.pipe(Stream.filter((event) => event._tag === "StateChanged"), Stream.take(1), Stream.runCollect)
      )
      // An answer to a resync sent a moment before the opening ended arrives now: no transition.
      const now = yield* Clock.currentTimeMillis
      yield* local.adopt("Open", now, 1, "ConsecutiveFailures")
      expect(yield* breaker.state).toBe("HalfOpen")
      // News of an opening still running does move it.
      yield* local.adopt("Open", now + 5_000, 2, "ProbeFailed")
      expect(yield* breaker.state).toBe("Open")
      expect(local.read(now)).toEqual({ state: "Open", until: now + 5_000, openedAt: now, consecutiveOpenings: 2 })
      // The first transition seen is that one.
      const [first] = yield* Fiber.join(transitions)
      expect(first?._tag === "StateChanged" && [first.from, first.to, first.reason]).toEqual([
        "HalfOpen",
        "Open",
        "ProbeFailed"
      ])
    }).pipe(Effect.scoped))

  it.effect("a store's count of openings past Limits.maxConsecutiveCount stops at the bound: the circuit still exports", () =>
    Effect.gen(function*() {
      const store = capturingStore()
      const config = { name: "counted-far", consecutiveFailures: 1, openDuration: "10 seconds" } as const
      const breaker = yield* CircuitBreaker.make(config).pipe(Effect.provide(store.layer))
      const local = store.linked[0]!
      const now = yield* Clock.currentTimeMillis
      // Redis's script counts up to 2^53 - 1.
      yield* local.adopt("Open", now + 5_000, Number.MAX_SAFE_INTEGER, "ProbeFailed")
      expect(local.read(now).consecutiveOpenings).toBe(Limits.maxConsecutiveCount)
      const document = yield* breaker.export
      expect(document.consecutiveOpenings).toBe(Limits.maxConsecutiveCount)
      const elsewhere = yield* CircuitBreaker.make(config)
      yield* elsewhere.restore(CircuitDocument.toJson(document))
      expect(yield* elsewhere.snapshot).toMatchObject({
        state: "Open",
        consecutiveOpenings: Limits.maxConsecutiveCount
      })
    }).pipe(Effect.scoped))
})
