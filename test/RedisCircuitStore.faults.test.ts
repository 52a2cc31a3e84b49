import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Logger, Metric, Scope } from "effect"
import { TestClock } from "effect/testing"
import { Timeout } from "../src/index.js"
import { awaitConnected, awaitState, failing, instance, isRejected, joinAll, send } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

/** Captures the log lines of what it wraps. */
const capturingLogs = () => {
  const lines: Array<{ readonly level: string; readonly message: string }> = []
  const logger = Logger.make((options) => {
    const message = Array.isArray(options.message) ? options.message.join(" ") : String(options.message)
    lines.push({ level: options.logLevel, message })
  })
  return { lines, layer: Logger.layer([logger]) }
}

const config = { name: "db", consecutiveFailures: 3, openDuration: "1 minute" } as const

describe.skipIf(!redisAvailable)("RedisCircuitStore when Redis fails", () => {
  it.effect("unreachable at start: breakers protect with local state, and join the fleet when Redis comes", () => {
    const logs = capturingLogs()
    return Effect.gen(function*() {
      const server = yield* redisServer
      yield* server.kill
      const lonely = yield* instance(server.url, config, undefined, false)
      expect(yield* lonely.store.connected).toBe(false)
      // Calls run, and the local circuit still trips.
      yield* lonely.breaker.execute(Effect.void)
      for (let i = 0; i < 3; i++) yield* Effect.exit(lonely.breaker.execute(failing))
      expect(yield* lonely.breaker.state).toBe("Open")
      for (let i = 0; i < 50; i++) yield* Effect.exit(lonely.breaker.execute(Effect.void))
      yield* server.restart
      yield* awaitConnected(lonely.store)
      // The opening it kept is now the fleet's: a newcomer sees it at once.
      const newcomer = yield* instance(server.url, config)
      expect(yield* newcomer.breaker.state).toBe("Open")
      const warnings = logs.lines.filter((line) => line.level === "Warn" && line.message.includes("unreachable"))
      expect(warnings).toHaveLength(1)
      expect(logs.lines.some((line) => line.message.includes("reachable again"))).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  }, 30_000)

  it.effect(
    "killed mid-run, restarted empty: local protection meanwhile, one log per outage, then resynchronised",
    () => {
      const logs = capturingLogs()
      return Effect.gen(function*() {
        const server = yield* redisServer
        const a = yield* instance(server.url, config)
        const b = yield* instance(server.url, config)
        yield* server.kill
        yield* awaitConnected(a.store, false)
        yield* awaitConnected(b.store, false)
        // Hundreds of calls during the outage: none fails because of Redis, and the flush loop keeps going.
        for (let i = 0; i < 200; i++) yield* b.breaker.execute(Effect.void)
        yield* TestClock.adjust("1 second")
        for (let i = 0; i < 3; i++) yield* Effect.exit(a.breaker.execute(failing))
        expect(yield* a.breaker.state).toBe("Open")
        expect(yield* b.breaker.state).toBe("Closed")
        const bOpens = yield* awaitState(b, "Open")
        yield* server.restart
        yield* awaitConnected(a.store)
        yield* awaitConnected(b.store)
        // Redis came back empty; a re-opened the fleet's circuit from what it kept, and b followed: at
        // once through pub/sub, or, if its subscription was not back yet, at its next resync.
        yield* TestClock.adjust("1 second")
        yield* joinAll([bOpens])
        expect(yield* b.breaker.state).toBe("Open")
        const outages = logs.lines.filter((line) => line.level === "Warn" && line.message.includes("unreachable"))
        expect(outages).toHaveLength(2) // one per store, not one per call
      }).pipe(Effect.scoped, Effect.provide(logs.layer))
    },
    30_000
  )

  it.effect(
    "onUnavailable: \"reject\" rejects calls while Redis is away, and lets them run once it is back",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const strictPolicy = yield* instance(server.url, { name: "fail-closed" }, { onUnavailable: "reject" })
        yield* strictPolicy.breaker.execute(Effect.void)
        yield* server.kill
        yield* awaitConnected(strictPolicy.store, false)
        const rejected = yield* Effect.exit(strictPolicy.breaker.execute(Effect.void))
        expect(isRejected(rejected)).toBe(true)
        const events = yield* strictPolicy.breaker.snapshot
        expect(events.state).toBe("ForcedOpen")
        yield* server.restart
        yield* awaitConnected(strictPolicy.store)
        expect(yield* strictPolicy.breaker.state).toBe("Closed")
        yield* strictPolicy.breaker.execute(Effect.void)
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )

  it.effect(
    "Redis refusing writes (out of memory) counts as an outage, and the store recovers without a reconnection",
    () => {
      const logs = capturingLogs()
      return Effect.gen(function*() {
        const server = yield* redisServer
        const a = yield* instance(server.url, config, { mode: "strict" })
        yield* send(server.url, "CONFIG", "SET", "maxmemory-policy", "noeviction")
        yield* send(server.url, "CONFIG", "SET", "maxmemory", "1")
        // The call runs: the store's refusal (of its outcome, which the caller does not wait for) is
        // not the call's failure.
        yield* a.breaker.execute(Effect.void)
        yield* awaitConnected(a.store, false)
        yield* send(server.url, "CONFIG", "SET", "maxmemory", "0")
        const back = yield* Effect.forkScoped(awaitConnected(a.store))
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(back)
        yield* a.breaker.execute(Effect.void)
        expect(logs.lines.filter((line) => line.message.includes("unreachable"))).toHaveLength(1)
      }).pipe(Effect.scoped, Effect.provide(logs.layer))
    },
    30_000
  )

  it.effect("a Redis that hangs is an outage after the command timeout: calls go on, the local circuit trips", () => {
    const logs = capturingLogs()
    return Effect.gen(function*() {
      const server = yield* redisServer
      const a = yield* instance(server.url, config, { mode: "strict", commandTimeout: "200 millis" })
      // Redis stops answering anyone for two seconds.
      yield* send(server.url, "CLIENT", "PAUSE", "2000", "ALL")
      // The call waits for the store at most the command timeout, then runs on the local circuit.
      expect(yield* a.breaker.execute(Effect.succeed("served"))).toBe("served")
      expect(yield* a.store.connected).toBe(false)
      for (let i = 0; i < 3; i++) yield* Effect.exit(a.breaker.execute(failing))
      expect(yield* a.breaker.state).toBe("Open")
      expect(logs.lines.filter((line) => line.message.includes("unreachable"))).toHaveLength(1)
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  }, 30_000)

  for (const mode of ["strict", "shared"] as const) {
    it.effect(
      `${mode} mode: a caller waiting on a hung Redis for its admission can be interrupted at once`,
      () =>
        Effect.gen(function*() {
          const server = yield* redisServer
          // A command timeout far longer than the test: only interruption can end the wait.
          const a = yield* instance(server.url, { ...config, name: `hung-${mode}`, consecutiveFailures: 1 }, {
            mode,
            commandTimeout: "20 seconds"
          })
          const timeout = yield* Timeout.make({ duration: "100 millis" })
          if (mode === "shared") {
            // Shared mode asks Redis only for half-open probes: trip the fleet's circuit, then let it half-open.
            yield* Effect.exit(a.breaker.execute(failing))
            yield* a.store.sync
            yield* TestClock.adjust("1 minute")
          }
          yield* a.breaker.execute(Effect.void).pipe(Effect.when(Effect.succeed(mode === "strict")))
          yield* send(server.url, "CLIENT", "PAUSE", "3000", "ALL")
          const call = yield* Effect.forkChild(Effect.exit(timeout.apply(a.breaker.execute(Effect.succeed("ran")))), {
            startImmediately: true
          })
          yield* TestClock.adjust("100 millis")
          // A real clock is needed here: Redis is paused in real time (CLIENT PAUSE, 3 s), which no
          // TestClock moves. A caller held until Redis answers would still be waiting after 1.5 s of
          // real time; one that can be interrupted has its TimeoutError at once. The 1.5 s only bounds
          // a failing run: a passing run never waits for it.
          const realWait = () => new Promise((resolve) => setTimeout(resolve, 1_500)) // real clock: Redis pauses in real time
          const stuck = Effect.as(Effect.promise(realWait), "stuck")
          const result = yield* Effect.raceFirst(Fiber.join(call), stuck)
          expect(typeof result !== "string" && Exit.isFailure(result) && result.cause.reasons[0]?._tag === "Fail").toBe(
            true
          )
          yield* send(server.url, "CLIENT", "UNPAUSE")
        }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
      30_000
    )
  }

  it.effect("strict mode falls back to the local circuit while Redis is away", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const ledger = yield* instance(server.url, config, { mode: "strict" })
      yield* server.kill
      yield* awaitConnected(ledger.store, false)
      yield* ledger.breaker.execute(Effect.void)
      for (let i = 0; i < 3; i++) yield* Effect.exit(ledger.breaker.execute(failing))
      expect(yield* ledger.breaker.state).toBe("Open")
    }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))), 30_000)
})

describe.skipIf(!redisAvailable)("RedisCircuitStore and foreign data", () => {
  const key = "effect-resilience:circuit:{ledger}"

  it.effect("data under the prefix that it did not write is reported and treated as absent", () => {
    const logs = capturingLogs()
    return Effect.gen(function*() {
      const server = yield* redisServer
      yield* send(server.url, "SET", key, "not a circuit")
      const a = yield* instance(server.url, {
        name: "ledger",
        consecutiveFailures: 1,
        window: { _tag: "CountWindow", size: 2 }
      })
      expect(yield* a.breaker.state).toBe("Closed")
      expect(yield* send(server.url, "HGET", key, "v")).toBe("2")
      // A hash with a field that is not a number, and a window entry that is not one. Such reports are
      // logged at most once a minute: the clock moves a minute between them.
      yield* TestClock.adjust("1 minute")
      yield* send(server.url, "HSET", key, "calls", "many")
      yield* a.store.sync
      yield* TestClock.adjust("1 minute")
      yield* send(server.url, "HSET", key, "reason", "BecauseISaidSo")
      yield* a.store.sync
      yield* TestClock.adjust("1 minute")
      yield* send(server.url, "RPUSH", `${key}:w`, "garbage")
      yield* send(server.url, "HSET", key, "calls", "2")
      yield* Effect.exit(a.breaker.execute(failing))
      const opened = yield* awaitState(a, "Open")
      yield* TestClock.adjust("100 millis")
      yield* joinAll([opened])
      // A message on the channel that is not a transition.
      yield* send(server.url, "PUBLISH", "effect-resilience:circuit:transitions", "{\"hello\":1}")
      yield* a.store.sync
      const reports = logs.lines.filter((line) => line.level === "Warn").map((line) => line.message)
      expect(reports.some((m) => m.includes("holds a string"))).toBe(true)
      expect(reports.some((m) => m.includes("field calls is not a non-negative integer"))).toBe(true)
      expect(reports.some((m) => m.includes("unknown transition reason BecauseISaidSo"))).toBe(true)
      expect(reports.some((m) => m.includes("malformed window entry"))).toBe(true)
      expect(yield* a.breaker.state).toBe("Open")
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  }, 30_000)
})

describe.skipIf(!redisAvailable)("RedisCircuitStore and foreign data beside a circuit", () => {
  it.effect("a window key of another type is reported and replaced when the window is first written", () => {
    const logs = capturingLogs()
    return Effect.gen(function*() {
      const server = yield* redisServer
      yield* send(server.url, "SET", "effect-resilience:circuit:{orders}:w", "someone else's")
      const a = yield* instance(server.url, { name: "orders", consecutiveFailures: 2 })
      const opened = yield* awaitState(a, "Open")
      yield* Effect.exit(a.breaker.execute(failing))
      yield* Effect.exit(a.breaker.execute(failing))
      yield* TestClock.adjust("100 millis")
      yield* joinAll([opened])
      expect(logs.lines.some((line) => line.message.includes("holds a string, not a window list"))).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  }, 30_000)
})

describe.skipIf(!redisAvailable)("RedisCircuitStore resources", () => {
  it.effect(
    "closes every connection and ends every fiber with its scope, and keys idle circuits out",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        // Counts the fibers started under the store (its loops, its subscription, its reconnection callbacks).
        let live = 0
        const fibers: Metric.FiberRuntimeMetricsService = {
          recordFiberStart: () => {
            live++
          },
          recordFiberEnd: () => {
            live--
          }
        }
        const scope = yield* Scope.make()
        const a = yield* instance(server.url, { name: "idle" }, { idleTimeToLive: "1 minute" }).pipe(
          Scope.provide(scope),
          Effect.provideService(Metric.FiberRuntimeMetrics, fibers)
        )
        yield* a.breaker.execute(Effect.void)
        yield* a.store.sync
        expect(live).toBeGreaterThan(0)
        const ttl = yield* send(server.url, "PTTL", "effect-resilience:circuit:{idle}")
        expect(ttl).toBeGreaterThan(50_000)
        expect(ttl).toBeLessThanOrEqual(60_000)
        const clients = (yield* send(server.url, "CLIENT", "LIST")) as string
        expect(clients.trim().split("\n").length).toBeGreaterThanOrEqual(3) // commands, subscriber, this one
        yield* Scope.close(scope, Exit.void)
        const after = (yield* send(server.url, "CLIENT", "LIST")) as string
        expect(after.trim().split("\n")).toHaveLength(1) // only the connection asking
        expect(live).toBe(0)
        // After its store is gone, the breaker goes on with its local circuit.
        yield* a.breaker.execute(Effect.void)
      }).pipe(Effect.scoped),
    30_000
  )
})
