import { describe, expect, it } from "@effect/vitest"
import { Cause, ConfigProvider, Effect, Exit, Fiber, Metric, Option, Random, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Chaos, Fallback, Metrics, PolicyConfigError, Timeout, TimeoutError } from "../src/index.js"

// Fault injection: deterministic under a seed and TestClock.

class Unavailable {
  readonly _tag = "Unavailable"
}

const failure = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

const counted = () => {
  const runs = { count: 0 }
  return { runs, call: Effect.sync(() => ++runs.count) }
}

/** How many of `n` calls fail, each through `chaos`. */
const failuresOf = (chaos: Chaos.Chaos<Unavailable>, n: number) =>
  Effect.gen(function*() {
    let failed = 0
    for (let i = 0; i < n; i++) {
      if (Exit.isFailure(yield* Effect.exit(Effect.void.pipe(Chaos.inject(chaos))))) failed++
    }
    return failed
  })

describe("Chaos", () => {
  it.effect("fails about `rate` of the calls with the typed error, without running them; the same seed, the same calls", () =>
    Effect.gen(function*() {
      const options = {
        enabled: true,
        seed: 42,
        faults: [{ kind: "fail", rate: 0.3, error: () => new Unavailable() }]
      } as const
      const first = yield* Chaos.make<Unavailable>(options)
      const second = yield* Chaos.make<Unavailable>(options)
      const { call, runs } = counted()
      const exits = yield* Effect.forEach(
        Array.from({ length: 1000 }),
        () => Effect.exit(call.pipe(Chaos.inject(first)))
      )
      const failed = exits.filter(Exit.isFailure)
      expect(failed.length).toBeGreaterThan(250)
      expect(failed.length).toBeLessThan(350)
      expect(failure(failed[0]!)).toBeInstanceOf(Unavailable)
      expect(runs.count).toBe(1000 - failed.length)
      expect(yield* failuresOf(second, 1000)).toBe(failed.length)
    }))

  it.effect("without a seed, draws from the context's Random: Random.withSeed makes it repeatable", () =>
    Effect.gen(function*() {
      const chaos = yield* Chaos.make<Unavailable>({
        enabled: true,
        faults: [{ kind: "fail", rate: 0.5, error: () => new Unavailable() }]
      })
      const a = yield* failuresOf(chaos, 200).pipe(Random.withSeed("run"))
      const b = yield* failuresOf(chaos, 200).pipe(Random.withSeed("run"))
      expect(a).toBe(b)
      expect(a).toBeGreaterThan(0)
    }))

  it.effect("latency delays the call; a hang never answers, so a timeout outside it fires", () =>
    Effect.gen(function*() {
      const slow = yield* Chaos.make({ enabled: true, faults: [{ kind: "latency", rate: 1, delay: "2 seconds" }] })
      const { call, runs } = counted()
      const delayed = yield* Effect.forkChild(call.pipe(Chaos.inject(slow)))
      yield* TestClock.adjust("1999 millis")
      expect(runs.count).toBe(0)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(delayed)).toBe(1)

      const hang = yield* Chaos.make({ enabled: true, faults: [{ kind: "hang", rate: 1 }] })
      const timeout = yield* Timeout.make({ duration: "1 second" })
      const hung = yield* Effect.forkChild(Effect.exit(call.pipe(Chaos.inject(hang), Timeout.timeout(timeout))))
      yield* TestClock.adjust("1 second")
      expect(failure(yield* Fiber.join(hung))).toBeInstanceOf(TimeoutError)
      expect(runs.count).toBe(1)
    }))

  it.effect("a defect and an interruption end the call as such", () =>
    Effect.gen(function*() {
      const dies = yield* Chaos.make({ enabled: true, faults: [{ kind: "die", rate: 1 }] })
      const died = yield* Effect.exit(Effect.void.pipe(Chaos.inject(dies)))
      expect(Exit.isFailure(died) && Cause.hasDies(died.cause)).toBe(true)
      const interrupts = yield* Chaos.make({ enabled: true, faults: [{ kind: "interrupt", rate: 1 }] })
      const interrupted = yield* Effect.exit(Effect.void.pipe(Chaos.inject(interrupts)))
      expect(Exit.isFailure(interrupted) && Cause.hasInterrupts(interrupted.cause)).toBe(true)
    }))

  it.effect("is off unless switched on: disabled, a Config that is not set, and disable at run time", () =>
    Effect.gen(function*() {
      const faults = [{ kind: "fail", rate: 1, error: () => new Unavailable() }] as const
      const off = yield* Chaos.make<Unavailable>({ enabled: false, faults })
      expect(yield* failuresOf(off, 10)).toBe(0)
      const unset = yield* Chaos.make<Unavailable>({
        enabled: Chaos.enabledFrom("CHAOS_INVENTORY"),
        faults
      }).pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: {} }))))
      expect(yield* failuresOf(unset, 10)).toBe(0)
      const set = yield* Chaos.make<Unavailable>({ enabled: Chaos.enabledFrom("CHAOS_INVENTORY"), faults }).pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { CHAOS_INVENTORY: "true" } })))
      )
      expect(yield* failuresOf(set, 10)).toBe(10)
      yield* set.disable
      expect(yield* failuresOf(set, 10)).toBe(0)
      yield* unset.enable
      expect(yield* unset.enabled).toBe(true)
      expect(yield* failuresOf(unset, 10)).toBe(10)
    }))

  it.effect("with recheck, the Config is read again at run time: flipping it switches the injection", () => {
    // A provider over a record the test changes, as a configuration service or a file would change.
    const env: Record<string, string> = {}
    return Effect.gen(function*() {
      const faults = [{ kind: "fail", rate: 1, error: () => new Unavailable() }] as const
      const chaos = yield* Chaos.make<Unavailable>({
        enabled: Chaos.enabledFrom("CHAOS"),
        recheck: "10 seconds",
        faults
      })
      expect(yield* failuresOf(chaos, 5)).toBe(0)
      env.CHAOS = "true"
      expect(yield* failuresOf(chaos, 5)).toBe(0) // not due yet: read again after 10 seconds
      yield* TestClock.adjust("10 seconds")
      expect(yield* failuresOf(chaos, 5)).toBe(5)
      env.CHAOS = "maybe" // unreadable: off, never on by accident
      yield* TestClock.adjust("10 seconds")
      expect(yield* failuresOf(chaos, 5)).toBe(0)
      env.CHAOS = "false"
      yield* chaos.enable // lasts until the next read
      expect(yield* failuresOf(chaos, 5)).toBe(5)
      yield* TestClock.adjust("10 seconds")
      expect(yield* failuresOf(chaos, 5)).toBe(0)
    }).pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))))
  })

  it.effect("a Config that cannot be read, and bad faults, fail make with PolicyConfigError naming the field", () =>
    Effect.gen(function*() {
      const unreadable = failure(
        yield* Effect.exit(
          Chaos.make({ enabled: Chaos.enabledFrom("CHAOS"), faults: [{ kind: "hang", rate: 1 }] }).pipe(
            Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { CHAOS: "maybe" } })))
          )
        )
      ) as PolicyConfigError
      expect(unreadable).toBeInstanceOf(PolicyConfigError)
      expect(unreadable.issues.map((issue) => issue.field)).toEqual(["enabled"])
      const bad = failure(
        yield* Effect.exit(
          Chaos.make({
            enabled: true,
            seed: -1,
            faults: [{ kind: "latency", rate: 2, delay: "0 millis" }]
          })
        )
      ) as PolicyConfigError
      expect(bad.issues.map((issue) => issue.field).sort()).toEqual(["faults.0.delay", "faults.0.rate", "seed"])
      const none = failure(yield* Effect.exit(Chaos.make({ enabled: true, faults: [] }))) as PolicyConfigError
      expect(none.issues.map((issue) => issue.field)).toEqual(["faults"])
      const recheck = failure(
        yield* Effect.exit(Chaos.make({ enabled: true, recheck: "1 second", faults: [{ kind: "hang", rate: 1 }] }))
      ) as PolicyConfigError
      expect(recheck.issues.map((issue) => issue.field)).toEqual(["recheck"])
    }))

  it.effect("every injection is an event and a metric", () =>
    Effect.gen(function*() {
      const chaos = yield* Chaos.make({
        name: "inventory",
        enabled: true,
        metrics: true,
        faults: [{ kind: "latency", rate: 1, delay: "1 millis" }]
      })
      const events = yield* chaos.subscribe
      const call = yield* Effect.forkChild(Effect.void.pipe(Chaos.inject(chaos)))
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(call)
      const [event] = yield* Stream.runCollect(Stream.take(events, 1))
      expect(event).toMatchObject({ _tag: "FaultInjected", policy: "inventory", fault: "latency" })
      const injected = yield* Metric.value(
        Metric.withAttributes(Metrics.policies.faultsInjected, { policy: "inventory", fault: "latency" })
      )
      expect(injected.count).toBe(1)
    }).pipe(Effect.scoped))

  it.effect("recipe: prove the fallback works — every call to the dependency fails, the fallback answers", () =>
    Effect.gen(function*() {
      const chaos = yield* Chaos.make<Unavailable>({
        enabled: true,
        faults: [{ kind: "fail", rate: 1, error: () => new Unavailable() }]
      })
      const cached = yield* Fallback.make({ on: ["Unavailable"], value: 0 })
      const stock = Effect.succeed(12).pipe(Chaos.inject(chaos), Fallback.fallback(cached))
      expect(yield* stock).toBe(0)
    }))
})
