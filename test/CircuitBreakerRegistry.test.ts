import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Metric, Stream } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { TestClock } from "effect/testing"
import { vi } from "vitest"
import type { CircuitBreakerConfigError } from "../src/index.js"
import { CircuitBreakerRegistry, CircuitOpenError, Metrics } from "../src/index.js"
import { Circuit } from "../src/internal/circuit.js"
import type { Boom } from "./helpers.js"
import { boom, ok } from "./helpers.js"
import { failure } from "./policyHelpers.js"
import { capturingLogs } from "./redis/logs.js"

const isolatedMetrics = Effect.provideService(Metric.MetricRegistry, new Map())

describe("CircuitBreakerRegistry", () => {
  it.effect("makes one breaker per key, on demand, each with its own state, named after its key", () =>
    Effect.gen(function*() {
      const registry = yield* CircuitBreakerRegistry.make({ config: { consecutiveFailures: 2 } })
      yield* Effect.exit(boom.pipe(registry.execute("a")))
      yield* Effect.exit(boom.pipe(registry.execute("a")))
      expect(failure(yield* Effect.exit(ok.pipe(registry.execute("a"))))).toBeInstanceOf(CircuitOpenError)
      expect(yield* registry.execute(ok, "b")).toBe("ok")
      const snapshots = yield* registry.snapshots
      expect(snapshots.map((s) => [s.breaker, s.state])).toEqual([["a", "Open"], ["b", "Closed"]])
      const a = yield* registry.get("a")
      expect(a.name).toBe("a")
      expect(yield* registry.get("a")).toBe(a)
      expect(yield* registry.size).toBe(2)
    }).pipe(Effect.scoped, isolatedMetrics))

  it.effect("a per-key configuration function: each key its own rules; a bad one fails that key only", () =>
    Effect.gen(function*() {
      const registry = yield* CircuitBreakerRegistry.make({
        config: (key) =>
          key === "broken"
            ? { failureRate: 7 }
            : key.startsWith("vip-")
            ? { consecutiveFailures: 3 }
            : { consecutiveFailures: 1 }
      })
      yield* Effect.exit(boom.pipe(registry.execute("plain")))
      expect((yield* registry.get("plain")).config.consecutiveFailures).toBe(1)
      expect((yield* registry.get("vip-1")).config.consecutiveFailures).toBe(3)
      const error = failure(yield* Effect.exit(ok.pipe(registry.execute("broken")))) as CircuitBreakerConfigError
      expect(error._tag).toBe("CircuitBreakerConfigError")
      expect(error.breaker).toBe("broken")
      expect(error.issues[0]!.field).toBe("failureRate")
      expect(yield* registry.keys).toEqual(["plain", "vip-1"])
    }).pipe(Effect.scoped, isolatedMetrics))

  it.effect("evicts breakers idle for idleTimeToLive, never an open one", () =>
    Effect.gen(function*() {
      const registry = yield* CircuitBreakerRegistry.make({
        config: { consecutiveFailures: 1, openDuration: "1 day" },
        idleTimeToLive: "10 minutes"
      })
      yield* registry.execute(ok, "idle")
      yield* Effect.exit(registry.execute(boom, "open"))
      yield* registry.execute(ok, "busy")
      for (let minute = 0; minute < 30; minute++) {
        yield* TestClock.adjust("1 minute")
        yield* registry.execute(ok, "busy")
        yield* registry.snapshots // sweeps
      }
      expect([...(yield* registry.keys)].sort()).toEqual(["busy", "open"])
      // The evicted key starts afresh when used again.
      yield* registry.execute(ok, "idle")
      expect(yield* registry.size).toBe(3)
    }).pipe(Effect.scoped, isolatedMetrics))

  it.effect("holds at most maxBreakers: a new key evicts the least recently used closed one", () =>
    Effect.gen(function*() {
      const registry = yield* CircuitBreakerRegistry.make({ config: { consecutiveFailures: 1 }, maxBreakers: 3 })
      for (const key of ["a", "b", "c"]) yield* registry.execute(ok, key)
      yield* registry.snapshots
      yield* registry.execute(ok, "a") // a is used again: b is now the least recently used
      yield* registry.execute(ok, "d")
      const keys = yield* registry.keys
      expect(keys).toHaveLength(3)
      expect(keys).toContain("a")
      expect(keys).toContain("d")
    }).pipe(Effect.scoped, isolatedMetrics))

  it.effect("when every breaker is open, a new key fails with RegistryFullError instead of evicting one", () =>
    Effect.gen(function*() {
      const registry = yield* CircuitBreakerRegistry.make({
        name: "hosts",
        config: { consecutiveFailures: 1 },
        maxBreakers: 2
      })
      yield* Effect.exit(registry.execute(boom, "a"))
      yield* Effect.exit(registry.execute(boom, "b"))
      const exit = yield* Effect.exit(registry.execute(ok, "c"))
      const error = failure(exit) as CircuitBreakerRegistry.RegistryFullError
      expect(error._tag).toBe("RegistryFullError")
      expect(error).toMatchObject({ registry: "hosts", key: "c", maxBreakers: 2 })
      expect(error.message).toMatch(/full/)
      expect([...(yield* registry.keys)].sort()).toEqual(["a", "b"])
    }).pipe(Effect.scoped, isolatedMetrics))

  it.effect("an evicted breaker's scope is closed: its event streams end", () =>
    Effect.gen(function*() {
      const registry = yield* CircuitBreakerRegistry.make({ maxBreakers: 1 })
      const first = yield* registry.get("a")
      const events = yield* Effect.forkChild(Stream.runDrain(first.events), { startImmediately: true })
      yield* registry.execute(ok, "b")
      const exit = yield* Fiber.await(events)
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(yield* registry.remove("b")).toBe(true)
      expect(yield* registry.remove("b")).toBe(false)
    }).pipe(Effect.scoped, isolatedMetrics))

  it.effect("keyed breakers report metrics only when their configuration asks, whatever the context says", () =>
    Effect.gen(function*() {
      const quiet = yield* CircuitBreakerRegistry.make({ config: { consecutiveFailures: 2 } })
      const loud = yield* CircuitBreakerRegistry.make({ config: (key) => ({ name: `loud-${key}`, metrics: true }) })
      yield* quiet.execute(ok, "q")
      yield* loud.execute(ok, "l")
      const text = yield* PrometheusMetrics.format()
      expect(text).not.toMatch(/breaker="q"/)
      expect(text).toMatch(/breaker="loud-l"/)
    }).pipe(Effect.scoped, Metrics.enable, isolatedMetrics))

  it.effect("many fibers asking for one new key at once make one breaker", () =>
    Effect.gen(function*() {
      const registry = yield* CircuitBreakerRegistry.make({ config: { consecutiveFailures: 2 }, maxBreakers: 3 })
      const breakers = yield* Effect.forEach(Array.from({ length: 50 }), () => registry.get("hot"), {
        concurrency: "unbounded"
      })
      expect(new Set(breakers).size).toBe(1)
      const exits = yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => `k${i % 5}`),
        (key) => Effect.exit(registry.execute(ok, key)),
        { concurrency: "unbounded" }
      )
      // Never more than maxBreakers, however the creations interleave.
      expect(yield* registry.size).toBeLessThanOrEqual(3)
      expect(exits.filter(Exit.isSuccess).length).toBeGreaterThan(0)
    }).pipe(Effect.scoped, isolatedMetrics))

  it.effect("the overflow breaker: made once on first use, shared configuration, listed but no key, never evicted", () =>
    Effect.gen(function*() {
      const registry = yield* CircuitBreakerRegistry.make({
        name: "hosts",
        config: { consecutiveFailures: 1 },
        maxBreakers: 1,
        idleTimeToLive: "1 minute"
      })
      expect(yield* registry.snapshots).toEqual([])
      const [first, second] = yield* Effect.all([registry.overflow, registry.overflow], { concurrency: "unbounded" })
      expect(first).toBe(second)
      expect(first?.name).toBe("hosts/(overflow)")
      yield* Effect.exit(first!.execute(boom))
      expect(yield* first!.state).toBe("Open") // the shared configuration: one failure opens it
      yield* registry.execute(ok, "a")
      yield* TestClock.adjust("1 hour")
      expect((yield* registry.snapshots).map((s) => s.breaker)).toEqual(["hosts/(overflow)"]) // "a" was idle
      expect([yield* registry.size, yield* registry.keys]).toEqual([0, []])
      expect(yield* registry.overflow).toBe(first)
      // Beside a per-key function, the breaker defaults.
      const perKey = yield* CircuitBreakerRegistry.make({ config: () => ({ consecutiveFailures: 1 }) })
      const overflow = yield* perKey.overflow
      yield* Effect.exit(overflow.execute(boom))
      expect([overflow.name, yield* overflow.state]).toEqual(["default/(overflow)", "Closed"])
    }).pipe(Effect.scoped, isolatedMetrics))

  describe("executeOrOverflow", () => {
    const isOverflowWarning = (line: { readonly message: string }) =>
      line.message.includes("no breaker of its own for key")

    it.effect("a known key's call goes to its own breaker; a key with no room goes to the overflow breaker", () =>
      Effect.gen(function*() {
        const registry = yield* CircuitBreakerRegistry.make({
          name: "hosts",
          config: { consecutiveFailures: 1, openDuration: "1 hour" },
          maxBreakers: 1
        })
        yield* Effect.exit(boom.pipe(registry.executeOrOverflow("a"))) // a opens: it may not be evicted
        const refusedA = failure(yield* Effect.exit(registry.executeOrOverflow(ok, "a"))) as CircuitOpenError
        expect(refusedA.breaker).toBe("a")
        // No room for b: the overflow breaker guards it (and opens on its failure), b gets none.
        yield* Effect.exit(boom.pipe(registry.executeOrOverflow("b")))
        const refusedC = failure(yield* Effect.exit(registry.executeOrOverflow(ok, "c"))) as CircuitOpenError
        expect(refusedC.breaker).toBe("hosts/(overflow)")
        expect(yield* registry.keys).toEqual(["a"])
        // execute itself still refuses the key.
        expect(CircuitBreakerRegistry.isRegistryFullError(failure(yield* Effect.exit(registry.execute(ok, "d")))))
          .toBe(true)
      }).pipe(Effect.scoped, isolatedMetrics))

    it.effect("a key that breaks the key rules, or whose configuration a per-key function gets wrong, shares it too", () =>
      Effect.gen(function*() {
        const registry = yield* CircuitBreakerRegistry.make({
          name: "tenants",
          config: (key) => key === "broken" ? { consecutiveFailures: 0 } : {}
        })
        expect(yield* registry.executeOrOverflow(ok, "")).toBe("ok")
        expect(yield* registry.executeOrOverflow(ok, "broken")).toBe("ok")
        expect(yield* registry.executeOrOverflow(ok, "fine")).toBe("ok")
        const calls = (yield* registry.snapshots).map((snapshot) => [snapshot.breaker, snapshot.calls])
        expect(calls).toEqual([["fine", 1], ["tenants/(overflow)", 2]])
      }).pipe(Effect.scoped, isolatedMetrics))

    it.effect("the call's own errors are its own: a registry error the call fails with is not a refusal", () =>
      Effect.gen(function*() {
        const registry = yield* CircuitBreakerRegistry.make({ name: "hosts" })
        // The guarded call fails with a refusal of another registry of the same name.
        const inner = yield* CircuitBreakerRegistry.make({ name: "hosts" })
        let runs = 0
        const call = Effect.suspend(() => {
          runs++
          return inner.execute(ok, "")
        })
        const exit = yield* Effect.exit(registry.executeOrOverflow(call, "a"))
        expect(CircuitBreakerRegistry.isRegistryKeyError(failure(exit))).toBe(true)
        expect(runs).toBe(1)
        const calls = (yield* registry.snapshots).map((snapshot) => [snapshot.breaker, snapshot.calls])
        expect(calls).toEqual([["a", 1]])
      }).pipe(Effect.scoped, isolatedMetrics))

    it.effect("warns naming the key and why, at most once a minute, counting those left out", () =>
      Effect.gen(function*() {
        const logs = capturingLogs()
        yield* Effect.gen(function*() {
          const registry = yield* CircuitBreakerRegistry.make({
            name: "hosts",
            config: { consecutiveFailures: 1, openDuration: "1 hour" },
            maxBreakers: 1
          })
          yield* Effect.exit(boom.pipe(registry.executeOrOverflow("a"))) // a opens: it may not be evicted
          yield* registry.executeOrOverflow(ok, "b")
          yield* registry.executeOrOverflow(ok, "c")
          expect(logs.matching(isOverflowWarning).map((line) => [line.level, line.message])).toEqual([[
            "Warn",
            expect.stringMatching(
              /^Circuit breaker registry "hosts": no breaker of its own for key "b" \(.*is full.*\); its calls share the breaker "hosts\/\(overflow\)"$/
            )
          ]])
          yield* TestClock.adjust("59 seconds")
          yield* registry.executeOrOverflow(ok, "d")
          expect(logs.matching(isOverflowWarning)).toHaveLength(1)
          yield* TestClock.adjust("1 second")
          yield* registry.executeOrOverflow(ok, "e")
          const lines = logs.matching(isOverflowWarning)
          expect(lines).toHaveLength(2)
          expect(lines[1]?.message).toContain("key \"e\"")
          expect(lines[1]?.message).toContain("and 2 more like it")
        }).pipe(Effect.provide(logs.layer))
      }).pipe(Effect.scoped, isolatedMetrics))

    it("types: a refusal is no error of the result; the overflow breaker's making is", () => {
      const registry = {} as CircuitBreakerRegistry.CircuitBreakerRegistry<CircuitBreakerConfigError>
      expectTypeOf(() => registry.executeOrOverflow(boom, "a")).returns.toEqualTypeOf<
        Effect.Effect<never, Boom | CircuitOpenError | CircuitBreakerRegistry.RegistryKeyError>
      >()
      expectTypeOf(() => ok.pipe(registry.executeOrOverflow("a"))).returns.toEqualTypeOf<
        Effect.Effect<string, CircuitOpenError | CircuitBreakerRegistry.RegistryKeyError>
      >()
    })
  })

  it.effect("a key whose configuration is invalid evicts nothing to make room", () =>
    Effect.gen(function*() {
      const registry = yield* CircuitBreakerRegistry.make({
        config: (key) => key === "broken" ? { consecutiveFailures: -1 } : {},
        maxBreakers: 2
      })
      yield* registry.execute(ok, "a")
      yield* registry.execute(ok, "b")
      for (let i = 0; i < 3; i++) yield* Effect.exit(registry.execute(ok, "broken"))
      expect([...(yield* registry.keys)].sort()).toEqual(["a", "b"])
      const thrower = yield* CircuitBreakerRegistry.make({
        config: () => {
          throw new Error("no config")
        }
      })
      const error = failure(yield* Effect.exit(thrower.get("x"))) as CircuitBreakerConfigError
      expect(error.issues[0]).toMatchObject({ field: "config", rule: expect.stringMatching(/threw.*no config/) })
    }).pipe(Effect.scoped, isolatedMetrics))

  it.effect("evicted breakers leave the snapshots of the very read that evicted them; a shared config's name prefixes each key", () =>
    Effect.gen(function*() {
      const registry = yield* CircuitBreakerRegistry.make({ config: { name: "api" }, idleTimeToLive: "1 minute" })
      yield* registry.execute(ok, "a")
      expect((yield* registry.get("a")).name).toBe("api/a")
      yield* TestClock.adjust("2 minutes")
      yield* registry.snapshots // clears the mark of "a", used at creation time by get
      yield* TestClock.adjust("2 minutes")
      expect(yield* registry.snapshots).toEqual([])
    }).pipe(Effect.scoped, isolatedMetrics))

  it.effect("as a service", () =>
    Effect.gen(function*() {
      expect(yield* ok.pipe(CircuitBreakerRegistry.withCircuitBreaker("tenant-1"))).toBe("ok")
      const registry = yield* CircuitBreakerRegistry.CircuitBreakerRegistry
      expect(yield* registry.keys).toEqual(["tenant-1"])
    }).pipe(Effect.provide(CircuitBreakerRegistry.layer({ config: { consecutiveFailures: 2 } })), isolatedMetrics))

  describe("the registry never wedges", () => {
    const tripOnce = { consecutiveFailures: 1, openDuration: "1 minute", logTransitions: false } as const
    const isFull = (exit: Exit.Exit<unknown, unknown>) =>
      Exit.isFailure(exit) && (failure(exit) as { _tag?: string } | undefined)?._tag === "RegistryFullError"

    it.effect("a breaker that tripped once and was never called again is evicted once its opening has ended and it has had no call for idleTimeToLive", () =>
      Effect.gen(function*() {
        const registry = yield* CircuitBreakerRegistry.make({ config: tripOnce, idleTimeToLive: "10 minutes" })
        yield* Effect.exit(registry.execute(boom, "tripped"))
        yield* TestClock.adjust("9 minutes")
        // Half-open since minute 1, but its last call was 9 minutes ago: kept.
        expect((yield* registry.snapshots).map((s) => [s.breaker, s.state])).toEqual([["tripped", "HalfOpen"]])
        yield* TestClock.adjust("1 minute")
        expect(yield* registry.snapshots).toEqual([])
        expect(yield* registry.size).toBe(0)
      }).pipe(Effect.scoped, isolatedMetrics))

    it.effect("an open breaker is kept while its opening runs, however long idle, and evicted when it ends", () =>
      Effect.gen(function*() {
        const registry = yield* CircuitBreakerRegistry.make({
          config: { ...tripOnce, openDuration: "1 hour" },
          idleTimeToLive: "10 minutes"
        })
        yield* Effect.exit(registry.execute(boom, "open"))
        for (let minute = 0; minute < 59; minute++) {
          yield* TestClock.adjust("1 minute")
          yield* registry.snapshots
        }
        expect(yield* registry.keys).toEqual(["open"])
        // Its own timer moves it to half-open at the hour: idle for an hour, it goes at the next sweep.
        yield* TestClock.adjust("1 minute")
        expect(yield* registry.snapshots).toEqual([])
      }).pipe(Effect.scoped, isolatedMetrics))

    it.effect("forced-open and disabled breakers are kept however long idle; reset, one makes room at once", () =>
      Effect.gen(function*() {
        const registry = yield* CircuitBreakerRegistry.make({
          config: tripOnce,
          maxBreakers: 2,
          idleTimeToLive: "1 minute"
        })
        const forced = yield* registry.get("forced")
        yield* forced.forceOpen
        yield* (yield* registry.get("disabled")).disable
        yield* TestClock.adjust("1 day")
        yield* registry.snapshots
        expect([...(yield* registry.keys)].sort()).toEqual(["disabled", "forced"])
        expect(isFull(yield* Effect.exit(registry.execute(ok, "new")))).toBe(true)
        // An operator resets it through a reference held all along (no lookup): idle for a day, it
        // no longer holds, and the next new key takes its place.
        yield* forced.reset
        expect(yield* registry.execute(ok, "new")).toBe("ok")
        expect([...(yield* registry.keys)].sort()).toEqual(["disabled", "new"])
      }).pipe(Effect.scoped, isolatedMetrics))

    it.effect("a call, even a rejected one, restarts a breaker's idle time: never evicted sooner than idleTimeToLive after its last call", () =>
      Effect.gen(function*() {
        const registry = yield* CircuitBreakerRegistry.make({ config: tripOnce, idleTimeToLive: "10 minutes" })
        yield* Effect.exit(registry.execute(boom, "k")) // opens until minute 1
        yield* TestClock.adjust("30 seconds")
        yield* Effect.exit(registry.execute(ok, "k")) // rejected: the circuit is open
        yield* TestClock.adjust("8 minutes")
        yield* Effect.exit(registry.execute(boom, "k")) // a failed probe at 8:30 reopens it until 9:30
        for (let minute = 0; minute < 10; minute++) {
          yield* TestClock.adjust("1 minute")
          yield* registry.snapshots
          expect(yield* registry.keys).toEqual(["k"]) // up to 18:30, less than 10 minutes since 8:30
        }
        // The registry noticed the 8:30 call when it next looked, at 10:00: idle from then on.
        yield* TestClock.adjust("2 minutes")
        expect(yield* registry.snapshots).toEqual([])
      }).pipe(Effect.scoped, isolatedMetrics))

    it.effect("under churn, with a share of keys tripping, a full registry never refuses a key", () =>
      Effect.gen(function*() {
        const maxBreakers = 50
        const registry = yield* CircuitBreakerRegistry.make({
          config: { ...tripOnce, openDuration: "10 seconds" },
          maxBreakers,
          idleTimeToLive: "1 minute"
        })
        let refused = 0
        let largest = 0
        // 5,000 distinct keys, one in 50 tripping, 10 new keys a second: the tripped keys of the last
        // minute (about 12) are kept, and the rest make room. Without eviction of tripped keys, the
        // registry would be full of them after 2,500 keys.
        for (let i = 0; i < 5_000; i++) {
          const exit = yield* Effect.exit(registry.execute(i % 50 === 0 ? boom : ok, `key-${i}`))
          if (isFull(exit)) refused++
          largest = Math.max(largest, yield* registry.size)
          if (i % 10 === 9) yield* TestClock.adjust("1 second")
        }
        expect(refused).toBe(0)
        expect(largest).toBe(maxBreakers)
      }).pipe(Effect.scoped, isolatedMetrics))

    it.effect("a registry full of kept breakers makes room as soon as one becomes evictable", () =>
      Effect.gen(function*() {
        const registry = yield* CircuitBreakerRegistry.make({
          config: tripOnce,
          maxBreakers: 2,
          idleTimeToLive: "10 minutes"
        })
        yield* Effect.exit(registry.execute(boom, "a"))
        yield* TestClock.adjust("5 minutes")
        yield* Effect.exit(registry.execute(boom, "b"))
        // a is half-open, b open: both called within the last 10 minutes.
        expect(isFull(yield* Effect.exit(registry.execute(ok, "c")))).toBe(true)
        yield* TestClock.adjust("299999 millis")
        expect(isFull(yield* Effect.exit(registry.execute(ok, "c")))).toBe(true)
        // 10 minutes since a's last call: it goes, b stays.
        yield* TestClock.adjust("1 millis")
        expect(yield* registry.execute(ok, "c")).toBe("ok")
        expect([...(yield* registry.keys)].sort()).toEqual(["b", "c"])
      }).pipe(Effect.scoped, isolatedMetrics))

    it.effect("a half-open breaker whose probe closes it can make room at once", () =>
      Effect.gen(function*() {
        const registry = yield* CircuitBreakerRegistry.make({
          config: tripOnce,
          maxBreakers: 2,
          idleTimeToLive: "1 hour"
        })
        yield* Effect.exit(registry.execute(boom, "a"))
        yield* Effect.exit(registry.execute(boom, "b"))
        expect(isFull(yield* Effect.exit(registry.execute(ok, "c")))).toBe(true)
        yield* TestClock.adjust("1 minute")
        expect(isFull(yield* Effect.exit(registry.execute(ok, "c")))).toBe(true)
        expect(yield* registry.execute(ok, "a")).toBe("ok") // the probe closes a
        expect(yield* registry.execute(ok, "c")).toBe("ok")
        expect([...(yield* registry.keys)].sort()).toEqual(["b", "c"])
      }).pipe(Effect.scoped, isolatedMetrics))

    it.effect("refusing a new key when every breaker is kept looks at no breaker (no scan per refusal)", () =>
      Effect.gen(function*() {
        const maxBreakers = 200
        const registry = yield* CircuitBreakerRegistry.make({
          config: { ...tripOnce, openDuration: "1 hour" },
          maxBreakers
        })
        for (let i = 0; i < maxBreakers; i++) yield* Effect.exit(registry.execute(boom, `open-${i}`))
        expect(isFull(yield* Effect.exit(registry.execute(ok, "first")))).toBe(true)
        const reads = vi.spyOn(Circuit.prototype, "current", "get")
        try {
          for (let i = 0; i < maxBreakers; i++) {
            expect(isFull(yield* Effect.exit(registry.execute(ok, `new-${i}`)))).toBe(true)
          }
          // A sweep over every breaker per refusal would read 200 x 200 circuits.
          expect(reads.mock.calls.length).toBeLessThanOrEqual(maxBreakers)
        } finally {
          reads.mockRestore()
        }
      }).pipe(Effect.scoped, isolatedMetrics))
  })

  describe("keys are bounded: a key past the rules fails with RegistryKeyError and makes no breaker", () => {
    const long = "k".repeat(5_000_000)
    const cases: ReadonlyArray<readonly [string, unknown, RegExp]> = [
      ["a 5 MB key", long, /at most 256 characters \(got 5000000\)/],
      ["a key of 257 characters", "k".repeat(257), /at most 256 characters \(got 257\)/],
      ["an empty key", "", /must not be empty or blank/],
      ["a blank key", "   ", /must not be empty or blank/],
      ["a key with a newline", "tenant\nFAKE LOG LINE", /control characters/],
      ["a key with a NUL", "a\u0000b", /control characters/],
      ["a key that is no string", 42, /must be a string \(got 42\)/]
    ]
    it.effect.each(cases)("%s", ([, key, rule]) =>
      Effect.gen(function*() {
        const registry = yield* CircuitBreakerRegistry.make({ name: "tenants", config: { consecutiveFailures: 1 } })
        for (
          const attempt of [
            registry.get(key as string),
            registry.execute(ok, key as string),
            ok.pipe(registry.execute(key as string)),
            ok.pipe(
              CircuitBreakerRegistry.withCircuitBreaker(key as string),
              Effect.provideService(CircuitBreakerRegistry.CircuitBreakerRegistry, registry)
            )
          ] as ReadonlyArray<Effect.Effect<unknown, unknown>>
        ) {
          const exit = yield* Effect.exit(attempt)
          expect(Exit.isFailure(exit) && exit.cause.reasons.map((reason) => reason._tag)).toEqual(["Fail"])
          const error = failure(exit) as CircuitBreakerRegistry.RegistryKeyError
          expect(CircuitBreakerRegistry.isRegistryKeyError(error)).toBe(true)
          expect(error._tag).toBe("RegistryKeyError")
          expect(error.registry).toBe("tenants")
          expect(error.rule).toMatch(rule)
          // The key is cut in the error: the message stays short however long the key.
          expect(error.key.length).toBeLessThanOrEqual(65)
          expect(error.message.length).toBeLessThan(400)
        }
        expect(yield* registry.size).toBe(0)
      }).pipe(Effect.scoped, isolatedMetrics))

    it.effect("a key of 256 characters is accepted, and so are spaces, dots, slashes and non-ASCII letters", () =>
      Effect.gen(function*() {
        const registry = yield* CircuitBreakerRegistry.make({ config: { consecutiveFailures: 1 } })
        for (const key of ["k".repeat(256), "api.example.com:443", "tenant/eu west", "Zürich-東京"]) {
          expect(yield* registry.execute(ok, key)).toBe("ok")
          expect((yield* registry.get(key)).name).toBe(key)
        }
        expect(CircuitBreakerRegistry.isRegistryKeyError(new Error("x"))).toBe(false)
      }).pipe(Effect.scoped, isolatedMetrics))

    it.effect("a registry's name is bounded like every name", () =>
      Effect.gen(function*() {
        const error = failure(
          yield* Effect.exit(CircuitBreakerRegistry.make({ name: "r".repeat(257) }))
        ) as CircuitBreakerConfigError
        expect(error.issues.map((issue) => issue.field)).toEqual(["name"])
        expect(error.issues[0]!.rule).toMatch(/at most 256 characters/)
      }).pipe(Effect.scoped))
  })

  describe("bad options fail with CircuitBreakerConfigError naming the field", () => {
    const cases: ReadonlyArray<readonly [string, unknown, string, RegExp]> = [
      ["zero maxBreakers", { maxBreakers: 0 }, "maxBreakers", /integer between 1 and/],
      ["NaN ttl", { idleTimeToLive: NaN }, "idleTimeToLive", /NaN/],
      ["bad shared config", { config: { failureRate: 2 } }, "config.failureRate", /between 0 and 1/],
      ["config neither object nor function", { config: 5 }, "config", /function/],
      ["unknown option", { maxBreaker: 3 }, "maxBreaker", /not a registry option/]
    ]
    it.effect.each(cases)("%s", ([, options, field, rule]) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(CircuitBreakerRegistry.make(options as CircuitBreakerRegistry.RegistryOptions))
        const error = failure(exit) as CircuitBreakerConfigError
        expect(error._tag).toBe("CircuitBreakerConfigError")
        const issue = error.issues.find((i) => i.field === field)
        expect(issue, JSON.stringify(error.issues)).toBeDefined()
        expect(issue!.rule).toMatch(rule)
      }).pipe(Effect.scoped))
  })
})
