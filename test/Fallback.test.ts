import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit } from "effect"
import { TestClock } from "effect/testing"
import { CircuitBreaker, CircuitOpenError, Fallback, withCircuitBreaker } from "../src/index.js"
import { Boom, boom, NotFound } from "./helpers.js"
import { collectEvents, expectConfigIssue, failure } from "./policyHelpers.js"

/** A call that can fail with `Boom` or `NotFound`: it ends as `outcome` says. */
const stock = (outcome: Boom | NotFound | number): Effect.Effect<number, Boom | NotFound> =>
  typeof outcome === "number" ? Effect.succeed(outcome) : Effect.fail(outcome)

describe("Fallback", () => {
  it.effect("answers for the chosen tags only, with a value", () =>
    Effect.gen(function*() {
      const fallback = yield* Fallback.make({ name: "stock", on: ["Boom"], value: 0 })
      expect(yield* stock(new Boom({})).pipe(Fallback.fallback(fallback))).toBe(0)
      expect(failure(yield* Effect.exit(stock(new NotFound()).pipe(Fallback.fallback(fallback))))).toBeInstanceOf(
        NotFound
      )
      expect(yield* stock(7).pipe(Fallback.fallback(fallback))).toBe(7)
    }))

  it.effect("answers with an effect that receives the error", () =>
    Effect.gen(function*() {
      const fallback = yield* Fallback.make({
        on: (u: unknown): u is Boom => u instanceof Boom,
        orElse: (error) => Effect.succeed(`recovered ${error.n}`)
      })
      expect(yield* Effect.fail(new Boom({ n: 3 })).pipe(Fallback.fallback(fallback))).toBe("recovered 3")
      // The fallback's own failure is the call's failure.
      const failing = yield* Fallback.make({ orElse: () => Effect.fail("fallback failed") })
      expect(failure(yield* Effect.exit(boom.pipe(Fallback.fallback(failing))))).toBe("fallback failed")
    }))

  it.effect("`value: undefined` is a value of its own, and is no value beside orElse", () =>
    Effect.gen(function*() {
      const undefinedValue = yield* Fallback.make({ value: undefined })
      expect(yield* boom.pipe(Fallback.fallback(undefinedValue))).toBeUndefined()
      const defaults = { name: "spread", value: undefined }
      const withOrElse = yield* Fallback.make({ ...defaults, orElse: () => Effect.succeed("computed") })
      expect(yield* boom.pipe(Fallback.fallback(withOrElse))).toBe("computed")
    }))

  it.effect("with no `on`, answers for every typed error, but never for defects or interruptions", () =>
    Effect.gen(function*() {
      const fallback = yield* Fallback.make({ value: "default" })
      expect(yield* stock(new NotFound()).pipe(Fallback.fallback(fallback))).toBe("default")
      const died = yield* Effect.exit(Effect.die("bug").pipe(Fallback.fallback(fallback)))
      expect(Exit.isFailure(died) && died.cause.reasons[0]!._tag).toBe("Die")
      const interrupted = yield* Effect.exit(Effect.interrupt.pipe(Fallback.fallback(fallback)))
      expect(Exit.isFailure(interrupted) && interrupted.cause.reasons[0]!._tag).toBe("Interrupt")
    }))

  it.effect("serves a fallback while the circuit is open, and reports it", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
      const fallback = yield* Fallback.make({ name: "cached", on: ["CircuitOpenError"], value: "cached" })
      yield* Effect.exit(breaker.execute(boom))
      let ran = false
      const { result, events } = yield* collectEvents(
        fallback.subscribe,
        Effect.sync(() => (ran = true)).pipe(withCircuitBreaker(breaker), Fallback.fallback(fallback))
      )
      expect(result).toBe("cached")
      expect(ran).toBe(false)
      expect(events).toMatchObject([{ _tag: "FallbackUsed", policy: "cached", error: "CircuitOpenError" }])
    }))

  it.effect("orElse receives the error itself, with its fields", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "30 seconds" })
      yield* Effect.exit(breaker.execute(boom))
      yield* TestClock.adjust("10 seconds")
      // The library's errors are typed by their tag alone.
      const retryIn = yield* Fallback.make({
        on: ["CircuitOpenError"],
        orElse: (error) => Effect.succeed(Duration.toMillis(error.retryAfter))
      })
      expect(yield* Effect.succeed(0).pipe(withCircuitBreaker(breaker), Fallback.fallback(retryIn))).toBe(20_000)
      // Yours, by annotating the parameter.
      const which = yield* Fallback.make({ on: ["Boom"], orElse: (error: Boom) => Effect.succeed(error.n ?? -1) })
      expect(yield* stock(new Boom({ n: 4 })).pipe(Fallback.fallback(which))).toBe(4)
    }))

  describe("last-known-good cache", () => {
    interface Product {
      readonly sku: string
      readonly price: number
    }

    it.effect("keeps the last success per key and serves it, marked stale with its age, when the call fails", () =>
      Effect.gen(function*() {
        const cache = yield* Fallback.lastKnownGood<Product>()({ name: "products" })
        const fresh = yield* Effect.succeed({ sku: "a", price: 10 }).pipe(cache.serve("a"))
        expect(fresh).toBeInstanceOf(Fallback.Fresh)
        expect(fresh.value.price).toBe(10)
        yield* TestClock.adjust("90 seconds")
        const { result: stale, events } = yield* collectEvents(
          cache.subscribe,
          cache.serve(Effect.fail(new Boom({ n: 1 })), "a")
        )
        expect(stale._tag).toBe("Stale")
        if (stale._tag !== "Stale") return
        expect(stale.value).toEqual({ sku: "a", price: 10 })
        expect(Duration.toMillis(stale.age)).toBe(90_000)
        expect(stale.storedAt).toBe(0)
        expect(stale.error).toEqual(new Boom({ n: 1 }))
        expect(events).toMatchObject([{ _tag: "StaleValueServed", policy: "products", error: "Boom" }])
        // Another key has nothing cached: the error stands.
        expect(failure(yield* Effect.exit(cache.serve(boom, "b")))).toBeInstanceOf(Boom)
      }))

    it.effect("a newer success replaces the value; a value older than the TTL is never served", () =>
      Effect.gen(function*() {
        const cache = yield* Fallback.lastKnownGood<number>()({ ttl: "1 minute" })
        yield* cache.serve(Effect.succeed(1), "k")
        yield* TestClock.adjust("30 seconds")
        yield* cache.serve(Effect.succeed(2), "k")
        yield* TestClock.adjust("60 seconds")
        const served = yield* cache.serve(boom, "k")
        expect(served).toMatchObject({ _tag: "Stale", value: 2 })
        yield* TestClock.adjust("1 millis")
        expect(failure(yield* Effect.exit(cache.serve(boom, "k")))).toBeInstanceOf(Boom)
        expect(yield* cache.size).toBe(0)
      }))

    it.effect("holds at most maxEntries keys, evicting the least recently stored", () =>
      Effect.gen(function*() {
        const cache = yield* Fallback.lastKnownGood<string>()({ maxEntries: 2 })
        yield* cache.serve(Effect.succeed("a1"), "a")
        yield* cache.serve(Effect.succeed("b1"), "b")
        yield* cache.serve(Effect.succeed("a2"), "a") // "a" is now the most recent
        yield* cache.serve(Effect.succeed("c1"), "c") // evicts "b"
        expect(yield* cache.size).toBe(2)
        expect(failure(yield* Effect.exit(cache.serve(boom, "b")))).toBeInstanceOf(Boom)
        expect(yield* cache.serve(boom, "a")).toMatchObject({ _tag: "Stale", value: "a2" })
        yield* cache.invalidate("a")
        expect(failure(yield* Effect.exit(cache.serve(boom, "a")))).toBeInstanceOf(Boom)
      }))

    it.effect("serves only for the chosen errors", () =>
      Effect.gen(function*() {
        const cache = yield* Fallback.lastKnownGood<number>()({ on: ["CircuitOpenError"] })
        // A guarded call: it can fail with its own error or be rejected.
        const call = (error: Boom | CircuitOpenError | undefined): Effect.Effect<number, Boom | CircuitOpenError> =>
          error === undefined ? Effect.succeed(5) : Effect.fail(error)
        yield* cache.serve(call(undefined), "k")
        expect(failure(yield* Effect.exit(cache.serve(call(new Boom({})), "k")))).toBeInstanceOf(Boom)
        const rejected = new CircuitOpenError({ breaker: "b", state: "Open", retryAfter: Duration.seconds(1) })
        expect(yield* cache.serve(call(rejected), "k")).toMatchObject({ _tag: "Stale", value: 5 })
      }))
  })

  describe("bad options fail with PolicyConfigError naming the field", () => {
    const cases: ReadonlyArray<readonly [string, unknown, string, RegExp]> = [
      ["empty tag list", { on: [], value: 1 }, "on", /at least one error tag/],
      ["neither value nor orElse", { on: ["Boom"] }, "orElse", /required/],
      ["both value and orElse", { value: 1, orElse: () => Effect.succeed(2) }, "value", /cannot be combined/],
      ["orElse not a function", { orElse: 5 }, "orElse", /function/],
      ["on neither tags nor a function", { on: "Boom", value: 1 }, "on", /./],
      ["an Effect as the value", { value: Effect.succeed(1) }, "value", /is an Effect.*orElse/]
    ]
    it.effect.each(cases)(
      "%s",
      ([, options, field, rule]) => expectConfigIssue(Fallback.make(options as never), field, rule)
    )

    const cacheCases: ReadonlyArray<readonly [string, unknown, string, RegExp]> = [
      ["zero entries", { maxEntries: 0 }, "maxEntries", /integer between 1 and/],
      ["NaN ttl", { ttl: NaN }, "ttl", /NaN/],
      ["negative ttl", { ttl: -1 }, "ttl", /negative/],
      ["unknown option", { size: 3 }, "size", /not a last-known-good cache option/]
    ]
    it.effect.each(cacheCases)(
      "cache: %s",
      ([, options, field, rule]) =>
        expectConfigIssue(Fallback.lastKnownGood()(options as Fallback.LastKnownGoodOptions), field, rule)
    )
  })
})
