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

describe("failures recorded as an error of the classifier's choosing (Classifier.failureAs)", () => {
  // An HTTP client's call succeeds with a 503: the value says it failed, and the record should say why.
  interface Answer {
    readonly status: number
  }
  const answer503: Effect.Effect<Answer> = Effect.succeed({ status: 503 })
  const byStatus = (options?: { readonly openFor?: Duration.Input }): C.Classifier<Answer, unknown> => (exit) =>
    Exit.isSuccess(exit) && exit.value.status >= 500
      ? Classifier.failureAs(new Error(`HTTP ${exit.value.status}`), options)
      : Classifier.defaultClassifier(exit)

  it.effect("the call's value reaches the caller; the breaker records the error: snapshots and rejections say it", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "10 seconds" })
      expect(yield* breaker.execute(answer503, { classify: byStatus() })).toEqual({ status: 503 })
      const rejected = expectRejected(yield* Effect.exit(breaker.execute(ok)), "Open", 10_000)
      expect((rejected.lastFailure as Error).message).toBe("HTTP 503")
      const snapshot = yield* breaker.snapshot
      expect([snapshot.openedBy?.message, snapshot.lastFailure?.message]).toEqual(["HTTP 503", "HTTP 503"])
      expect(snapshot.lastFailure?.tag).toBe("Error")
    }).pipe(Effect.scoped))

  it.effect("with openFor, it is an open hint too; without, the opening is the configured one", () =>
    Effect.gen(function*() {
      const hintedBreaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "10 seconds" })
      yield* hintedBreaker.execute(answer503, { classify: byStatus({ openFor: "40 seconds" }) })
      expectRejected(yield* Effect.exit(hintedBreaker.execute(ok)), "Open", 40_000)
      const plain = yield* CircuitBreaker.make({ consecutiveFailures: 2, openDuration: "10 seconds" })
      yield* plain.execute(answer503, { classify: byStatus() })
      expect(yield* plain.state).toBe("Closed") // one failure of two
      yield* plain.execute(answer503, { classify: byStatus() })
      expectRejected(yield* Effect.exit(plain.execute(ok)), "Open", 10_000)
    }).pipe(Effect.scoped))

  it.effect("an openFor that is not a finite, non-negative duration is a classifier bug: the call counts as nothing", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
      const exit = yield* Effect.exit(
        breaker.execute(answer503, { classify: byStatus({ openFor: Duration.infinity }) })
      )
      expect(Exit.isFailure(exit)).toBe(true) // a call that succeeded dies with its classifier's bug
      expect(yield* breaker.state).toBe("Closed")
      expect((yield* breaker.snapshot).calls).toBe(0)
    }).pipe(Effect.scoped))

  it("is told apart from the other verdicts", () => {
    const verdict = Classifier.failureAs("down", { openFor: "5 seconds" })
    expect([verdict.outcome, verdict.error, Duration.toMillis(verdict.openFor!)]).toEqual(["failure", "down", 5_000])
    expect(Classifier.failureAs("down").openFor).toBeUndefined()
    expect([Classifier.isFailureAs(verdict), Classifier.isHintedFailure(verdict)]).toEqual([true, false])
    expect(Classifier.isFailureAs(Classifier.failureWithOpenHint("5 seconds"))).toBe(false)
  })
})
