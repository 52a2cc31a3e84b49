import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Schedule } from "effect"
import { TestClock } from "effect/testing"
import type { Classifier as C } from "../src/index.js"
import { CircuitBreaker, CircuitBreakerRegistry, Classifier } from "../src/index.js"
import { boom, expectRejected, ok } from "./helpers.js"

// A classifier may answer a failure with an open-duration hint (what an HTTP Retry-After asks for):
// when the circuit opens on that failure, the opening lasts at least the hint, capped by maxOpenDuration.
const hinted = (openFor: Duration.Input): C.Classifier => (exit) =>
  Exit.isSuccess(exit) ? "success" : Classifier.failureWithOpenHint(openFor)

describe("open-duration hints", () => {
  it.effect("a trip on a hinted failure opens the circuit for the hint, longer than openDuration", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2, openDuration: "10 seconds" })
      const classify = hinted("30 seconds")
      yield* Effect.exit(breaker.execute(boom, { classify }))
      yield* Effect.exit(breaker.execute(boom, { classify }))
      expectRejected(yield* Effect.exit(breaker.execute(ok)), "Open", 30_000)
      yield* TestClock.adjust("10 seconds")
      // Without the hint the circuit would be half-open now.
      expectRejected(yield* Effect.exit(breaker.execute(ok)), "Open", 20_000)
      yield* TestClock.adjust("20 seconds")
      expect(yield* breaker.state).toBe("HalfOpen")
    }).pipe(Effect.scoped))

  it.effect("the hint is capped by maxOpenDuration", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        consecutiveFailures: 1,
        openDuration: "5 seconds",
        maxOpenDuration: "20 seconds"
      })
      yield* Effect.exit(breaker.execute(boom, { classify: hinted("1 hour") }))
      expectRejected(yield* Effect.exit(breaker.execute(ok)), "Open", 20_000)
    }).pipe(Effect.scoped))

  it.effect("a hint never shortens the opening", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "10 seconds" })
      yield* Effect.exit(breaker.execute(boom, { classify: hinted("1 second") }))
      expectRejected(yield* Effect.exit(breaker.execute(ok)), "Open", 10_000)
    }).pipe(Effect.scoped))

  it.effect("only the failure that opens the circuit counts: an earlier hint is forgotten", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2, openDuration: "10 seconds" })
      yield* Effect.exit(breaker.execute(boom, { classify: hinted("1 minute") }))
      yield* Effect.exit(breaker.execute(boom))
      expectRejected(yield* Effect.exit(breaker.execute(ok)), "Open", 10_000)
    }).pipe(Effect.scoped))

  it.effect("a failed probe with a hint reopens for the hint; the backoff still steps", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        consecutiveFailures: 1,
        openDuration: Schedule.exponential("1 second")
      })
      yield* Effect.exit(breaker.execute(boom))
      expectRejected(yield* Effect.exit(breaker.execute(ok)), "Open", 1_000)
      yield* TestClock.adjust("1 second")
      yield* Effect.exit(breaker.execute(boom, { classify: hinted("45 seconds") }))
      expectRejected(yield* Effect.exit(breaker.execute(ok)), "Open", 45_000)
      yield* TestClock.adjust("45 seconds")
      // The third opening is the backoff's third step (4 seconds): the hint did not reset or skip it.
      yield* Effect.exit(breaker.execute(boom))
      expectRejected(yield* Effect.exit(breaker.execute(ok)), "Open", 4_000)
    }).pipe(Effect.scoped))

  it.effect("a hint that is not a finite, non-negative duration is a classifier bug: the call counts as nothing", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
      const exit = yield* Effect.exit(breaker.execute(boom, { classify: hinted(Duration.infinity) }))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* breaker.state).toBe("Closed")
      expect((yield* breaker.snapshot).calls).toBe(0)
    }).pipe(Effect.scoped))

  it.effect("a breaker's configured classifier and a registry's breakers take hints too", () =>
    Effect.gen(function*() {
      const registry = yield* CircuitBreakerRegistry.make({
        config: { consecutiveFailures: 1, openDuration: "1 second", classify: hinted("12 seconds") }
      })
      yield* Effect.exit(registry.execute(boom, "https://api.example.com"))
      expectRejected(yield* Effect.exit(registry.execute(ok, "https://api.example.com")), "Open", 12_000)
    }).pipe(Effect.scoped))
})
