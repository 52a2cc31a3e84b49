/**
 * Two copies of the library in one process (its ESM and CJS builds, or two
 * versions installed side by side): each copy's guards and policies must
 * recognise the errors and values the other copy makes. The second copy here is
 * a fresh evaluation of src/ (`vi.resetModules`), with its own classes, beside
 * the same `effect`; the consumer test (scripts/consumer-test.mjs) checks the
 * ESM and CJS builds of the packed tarball the same way.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { vi } from "vitest"
import * as Resilience from "../src/index.js"

const other: typeof Resilience = await (async () => {
  vi.resetModules()
  return await import("../src/index.js")
})()

const errorsOf = (copy: typeof Resilience) => ({
  open: new copy.CircuitOpenError({ breaker: "payments", state: "Open", retryAfter: Duration.seconds(30) }),
  full: new copy.BulkheadFullError({ bulkhead: "reports", reason: "QueueFull", maxConcurrent: 1, maxQueued: 0 }),
  timeout: new copy.TimeoutError({ policy: "search", duration: Duration.seconds(2) }),
  registryFull: new copy.CircuitBreakerRegistry.RegistryFullError({ registry: "hosts", key: "a", maxBreakers: 1 }),
  registryKey: new copy.CircuitBreakerRegistry.RegistryKeyError({
    registry: "hosts",
    key: "",
    rule: "must not be empty"
  })
})

const guardsOf = (copy: typeof Resilience) => ({
  open: [copy.isCircuitOpenError],
  full: [copy.isBulkheadFullError, copy.Bulkhead.isBulkheadFullError],
  timeout: [copy.isTimeoutError, copy.Timeout.isTimeoutError],
  registryFull: [copy.CircuitBreakerRegistry.isRegistryFullError],
  registryKey: [copy.CircuitBreakerRegistry.isRegistryKeyError]
})

/** Runs `effect` in a fiber, moves the clock by a minute, and returns its exit. */
const runForAMinute = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Effect.exit(effect))
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.join(fiber)
  })

/** An effect that counts its runs and always fails with `error`. */
const failingWith = <E>(error: E) => {
  const runs = { count: 0 }
  return { runs, effect: Effect.suspend(() => (runs.count++, Effect.fail(error))) }
}

describe("two copies of the library in one process", () => {
  it("the second copy has classes of its own: instanceof cannot tell their errors apart", () => {
    expect(other.CircuitOpenError).not.toBe(Resilience.CircuitOpenError)
    expect(errorsOf(other).open).not.toBeInstanceOf(Resilience.CircuitOpenError)
  })

  it("every error guard recognises the errors of either copy, and only its own kind", () => {
    for (const [maker, checker] of [[Resilience, other], [other, Resilience]] as const) {
      const errors = errorsOf(maker)
      const guards = guardsOf(checker)
      for (const kind of ["open", "full", "timeout", "registryFull", "registryKey"] as const) {
        for (const guard of guards[kind]) {
          for (const [errorKind, error] of Object.entries(errors)) {
            expect(guard(error), `${guard.name} of ${errorKind}`).toBe(errorKind === kind)
          }
          expect(guard({ _tag: errors[kind]._tag }), "a look-alike without the type id").toBe(false)
        }
      }
    }
  })

  it("the type id changes nothing the schema encodes", () => {
    const { full, open, timeout } = errorsOf(Resilience)
    expect(Schema.encodeSync(Resilience.CircuitOpenError)(open)).toEqual({
      _tag: "CircuitOpenError",
      breaker: "payments",
      state: "Open",
      retryAfter: Duration.seconds(30)
    })
    expect(Schema.encodeSync(Resilience.BulkheadFullError)(full)).toEqual({
      _tag: "BulkheadFullError",
      bulkhead: "reports",
      reason: "QueueFull",
      maxConcurrent: 1,
      maxQueued: 0
    })
    expect(Schema.encodeSync(Resilience.TimeoutError)(timeout)).toEqual({
      _tag: "TimeoutError",
      policy: "search",
      duration: Duration.seconds(2)
    })
    expect(Object.keys(open)).toEqual(["_tag", "breaker", "state", "retryAfter"])
  })

  it.effect("a retry never retries the other copy's CircuitOpenError or BulkheadFullError", () =>
    Effect.gen(function*() {
      const retry = yield* Resilience.Retry.make({ retries: 3, baseDelay: 100 })
      for (const error of [errorsOf(other).open, errorsOf(other).full]) {
        const { effect, runs } = failingWith(error)
        const exit = yield* runForAMinute(effect.pipe(Resilience.Retry.retry(retry)))
        expect(exit).toEqual(Exit.fail(error))
        expect(runs.count, error._tag).toBe(1)
      }
    }))

  it.effect("a hedge starts no other attempt after the other copy's rejection", () =>
    Effect.gen(function*() {
      const hedge = yield* Resilience.Hedge.make({ delay: 10, attempts: 3 })
      const { effect, runs } = failingWith(errorsOf(other).open)
      yield* runForAMinute(effect.pipe(Resilience.Hedge.hedge(hedge)))
      expect(runs.count).toBe(1)
    }))

  it("the default classifiers ignore the other copy's BulkheadFullError", () => {
    const full = Exit.fail(errorsOf(other).full)
    expect(Resilience.Classifier.defaultClassifier(full)).toBe("ignored")
    expect(Resilience.Classifier.fromOptions({ ignore: ["NotFound"] })!(full)).toBe("ignored")
  })

  it.effect("a breaker counts a call failed by the other copy's TimeoutError as slow", () =>
    Effect.gen(function*() {
      // Only slow calls trip these breakers, and no call lasts anywhere near an hour.
      const make = Resilience.CircuitBreaker.make({ slowCallRate: 1, slowCallDuration: "1 hour", minimumCalls: 1 })
      const timedOut = yield* make
      yield* Effect.exit(timedOut.execute(Effect.fail(errorsOf(other).timeout)))
      expect(yield* timedOut.state).toBe("Open")
      const failedFast = yield* make
      yield* Effect.exit(failedFast.execute(Effect.fail("down")))
      expect(yield* failedFast.state).toBe("Closed")
    }))

  it.effect("a fallback on tags catches the other copy's errors", () =>
    Effect.gen(function*() {
      const fallback = yield* Resilience.Fallback.make({ on: ["CircuitOpenError"], value: "queued" })
      const served = yield* Effect.fail(errorsOf(other).open).pipe(Resilience.Fallback.fallback(fallback))
      expect(served).toBe("queued")
    }))

  it.effect("the health report takes the other copy's breakers and registries", () =>
    Effect.gen(function*() {
      const breaker = yield* other.CircuitBreaker.make({ name: "payments" })
      const registry = yield* other.CircuitBreakerRegistry.make({ name: "hosts" })
      yield* registry.execute(Effect.void, "api.example.com")
      expect(Resilience.CircuitBreakerRegistry.isCircuitBreakerRegistry(registry)).toBe(true)
      const report = yield* Resilience.Health.report([breaker, registry])
      expect(report.circuits.map((circuit) => circuit.breaker)).toEqual(["payments", "api.example.com"])
    }).pipe(Effect.scoped))
})

describe("breakers and policies of another copy, or written against the interface", () => {
  it.effect("per-call options reach a breaker in a wrap made by the other copy, nested in this copy's wrap", () =>
    Effect.gen(function*() {
      const breaker = yield* other.CircuitBreaker.make({ consecutiveFailures: 1 })
      const inner = yield* other.Policy.wrap(breaker)
      const outer = yield* Resilience.Policy.wrap(inner)
      const exit = yield* Effect.exit(
        Resilience.Policy.apply(Effect.fail({ _tag: "NotFound" as const }), outer, { ignore: ["NotFound"] })
      )
      expect(exit).toEqual(Exit.fail({ _tag: "NotFound" }))
      expect(yield* breaker.state).toBe("Closed")
    }))

  it.effect("a breaker of the other copy guards calls through this copy's withCircuitBreaker, wrap and service", () =>
    Effect.gen(function*() {
      const breaker = yield* other.CircuitBreaker.make({ consecutiveFailures: 2 })
      const wrap = yield* Resilience.Policy.wrap(breaker)
      yield* Effect.exit(Resilience.withCircuitBreaker(Effect.fail("down"), breaker))
      yield* Effect.exit(Effect.fail("down").pipe(Resilience.Policy.apply(wrap)))
      expect(yield* breaker.state).toBe("Open")
      const viaService = yield* Effect.exit(
        Resilience.withCircuitBreaker(Effect.succeed(1)).pipe(
          Effect.provideService(Resilience.CircuitBreaker.CircuitBreaker, breaker)
        )
      )
      expect(Exit.isFailure(viaService) && Resilience.isCircuitOpenError(Cause.squash(viaService.cause))).toBe(true)
    }))

  it.effect("a test double written against the CircuitBreaker interface is used through its execute", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const real = yield* Resilience.CircuitBreaker.make({ name: "double" })
      const double: Resilience.CircuitBreaker.CircuitBreaker = {
        ...real,
        [Resilience.CircuitBreaker.TypeId]: Resilience.CircuitBreaker.TypeId,
        name: "double",
        config: real.config,
        state: real.state,
        snapshot: real.snapshot,
        events: real.events,
        subscribe: real.subscribe,
        observe: (observer) => real.observe(observer),
        forceOpen: real.forceOpen,
        disable: real.disable,
        reset: real.reset,
        execute: ((self: Effect.Effect<unknown, unknown, unknown>) =>
          Effect.sync(() =>
            seen.push("execute")
          ).pipe(Effect.andThen(self))) as never
      }
      const viaService = yield* Resilience.withCircuitBreaker(Effect.succeed(1)).pipe(
        Effect.provideService(Resilience.CircuitBreaker.CircuitBreaker, double)
      )
      const wrap = yield* Resilience.Policy.wrap(double)
      const viaWrap = yield* Effect.succeed(2).pipe(Resilience.Policy.apply(wrap))
      expect([viaService, viaWrap, seen]).toEqual([1, 2, ["execute", "execute"]])
    }))
})
