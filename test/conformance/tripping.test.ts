/**
 * The breaker contract on every store: tripping by each rule, the open
 * state's rejections, and open durations.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Ref, Schedule } from "effect"
import { TestClock } from "effect/testing"
import { CircuitBreaker } from "../../src/index.js"
import { attempt, boom, expectRejected, failTimes, ok, succeedTimes } from "../helpers.js"
import { expectState, lasting } from "./scenario.js"
import { forEachStore, timeout } from "./stores.js"

forEachStore((driver) => {
  describe("tripping: Closed -> Open", () => {
    it.effect("with no rule configured, trips on the 5th consecutive failure", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({ name: "default-rule" })
        yield* failTimes(breaker, 4)
        yield* store.settle
        yield* expectState(breaker, "Closed")
        yield* failTimes(breaker, 1)
        yield* store.settle
        const snapshot = yield* expectState(breaker, "Open")
        expect(snapshot.openReason).toBe("ConsecutiveFailures")
      }), timeout)

    it.effect("a success resets the consecutive-failure streak", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({ name: "streak", consecutiveFailures: 3 })
        yield* failTimes(breaker, 2)
        yield* succeedTimes(breaker, 1)
        yield* failTimes(breaker, 2)
        yield* store.settle
        yield* expectState(breaker, "Closed")
        yield* failTimes(breaker, 1)
        yield* store.settle
        yield* expectState(breaker, "Open")
      }), timeout)

    it.effect(
      "failureCount trips on n failures inside a count window, interleaved with successes",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* store.make({
            name: "count-window",
            failureCount: 3,
            window: CircuitBreaker.countWindow(5)
          })
          // The first failure leaves the 5-call window; then F S F S F puts three in it.
          yield* failTimes(breaker, 1)
          yield* succeedTimes(breaker, 5)
          yield* store.settle
          expect((yield* expectState(breaker, "Closed")).failures).toBe(0)
          for (let i = 0; i < 2; i++) {
            yield* failTimes(breaker, 1)
            yield* succeedTimes(breaker, 1)
          }
          yield* store.settle
          expect((yield* expectState(breaker, "Closed")).failures).toBe(2)
          yield* failTimes(breaker, 1)
          yield* store.settle
          expect((yield* expectState(breaker, "Open")).openReason).toBe("FailureCount")
        }),
      timeout
    )

    it.effect("failureCount over a time window forgets failures older than the window", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({
          name: "time-window",
          failureCount: 3,
          window: CircuitBreaker.timeWindow("60 seconds", 6)
        })
        yield* failTimes(breaker, 2)
        yield* store.settle
        yield* TestClock.adjust("61 seconds")
        yield* store.settle
        expect((yield* expectState(breaker, "Closed")).failures).toBe(0)
        yield* failTimes(breaker, 2)
        yield* store.settle
        yield* expectState(breaker, "Closed")
        yield* TestClock.adjust("30 seconds")
        yield* failTimes(breaker, 1)
        yield* store.settle
        expect((yield* expectState(breaker, "Open")).openReason).toBe("FailureCount")
      }), timeout)

    it.effect("failureRate trips at the threshold, once minimumCalls are recorded", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({
          name: "rate",
          failureRate: 0.5,
          minimumCalls: 4,
          window: CircuitBreaker.countWindow(10)
        })
        yield* failTimes(breaker, 3)
        yield* store.settle
        yield* expectState(breaker, "Closed") // 3 calls < minimumCalls
        yield* succeedTimes(breaker, 3)
        yield* failTimes(breaker, 1) // 4 failures / 7 calls = 0.57
        yield* store.settle
        expect((yield* expectState(breaker, "Open")).openReason).toBe("FailureRate")
      }), timeout)

    it.effect("failureRate exactly at the threshold trips", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({
          name: "rate-exact",
          failureRate: 0.3,
          minimumCalls: 10,
          window: CircuitBreaker.countWindow(10)
        })
        yield* succeedTimes(breaker, 7)
        yield* failTimes(breaker, 2)
        yield* store.settle
        yield* expectState(breaker, "Closed")
        yield* failTimes(breaker, 1) // 3 / 10 = 0.3
        yield* store.settle
        yield* expectState(breaker, "Open")
      }), timeout)

    it.effect("a success that completes minimumCalls can trip a rate rule", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({ name: "rate-by-success", failureRate: 0.5, minimumCalls: 4 })
        yield* failTimes(breaker, 3)
        yield* store.settle
        yield* expectState(breaker, "Closed")
        yield* succeedTimes(breaker, 1)
        yield* store.settle
        expect((yield* expectState(breaker, "Open")).consecutiveOpenings).toBe(1)
      }), timeout)

    it.effect(
      "only configured rules apply: a rate rule alone ignores a long failure streak below the rate",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* store.make({
            name: "rate-only",
            failureRate: 0.9,
            minimumCalls: 20,
            window: CircuitBreaker.countWindow(20)
          })
          yield* succeedTimes(breaker, 10)
          yield* failTimes(breaker, 10) // 10 in a row, rate 0.5
          yield* store.settle
          yield* expectState(breaker, "Closed")
        }),
      timeout
    )

    it.effect("minimumCalls applies to the rates only: failureCount trips below it", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({
          name: "minimum-calls",
          failureCount: 2,
          failureRate: 0.9,
          minimumCalls: 50
        })
        yield* succeedTimes(breaker, 1)
        yield* failTimes(breaker, 1)
        yield* store.settle
        yield* expectState(breaker, "Closed")
        yield* failTimes(breaker, 1) // 2 failures of 3 calls: the count holds, the rate waits for 50 calls
        yield* store.settle
        expect((yield* expectState(breaker, "Open")).openReason).toBe("FailureCount")
      }), timeout)

    it.effect("slowCallRate trips on slow calls, successful or not", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({
          name: "slow",
          slowCallRate: 0.5,
          slowCallDuration: "1 second",
          minimumCalls: 4,
          window: CircuitBreaker.countWindow(4)
        })
        yield* succeedTimes(breaker, 2)
        yield* lasting(breaker, "1 second", ok)
        yield* store.settle
        expect((yield* expectState(breaker, "Closed")).slowCalls).toBe(1)
        yield* lasting(breaker, "1 second", boom) // 2 slow of 4 = 0.5 (one of them a failure)
        yield* store.settle
        expect((yield* expectState(breaker, "Open")).openReason).toBe("SlowCallRate")
      }), timeout)

    it.effect("a call faster than slowCallDuration is not slow", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({
          name: "fast",
          slowCallRate: 0.1,
          slowCallDuration: "1 second",
          minimumCalls: 1
        })
        yield* lasting(breaker, "999 millis", ok)
        yield* store.settle
        const snapshot = yield* expectState(breaker, "Closed")
        expect([snapshot.calls, snapshot.slowCalls]).toEqual([1, 0])
      }), timeout)
  })

  describe("Open", () => {
    it.effect(
      "rejects at once, without running the call, with the time left until a probe",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* store.make({ name: "payments", consecutiveFailures: 1, openDuration: "30 seconds" })
          yield* failTimes(breaker, 1)
          yield* store.settle
          yield* TestClock.adjust("10 seconds")
          yield* store.settle
          const ran = yield* Ref.make(false)
          const error = expectRejected(yield* attempt(breaker, Ref.set(ran, true)), "Open", 20_000)
          expect(error.breaker).toBe("payments")
          expect(yield* Ref.get(ran)).toBe(false)
          expect(Duration.toMillis((yield* expectState(breaker, "Open")).retryAfter)).toBe(20_000)
        }),
      timeout
    )

    it.effect("reads HalfOpen once openDuration has passed, with no call in between", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({ name: "half-opens", consecutiveFailures: 1, openDuration: "30 seconds" })
        yield* failTimes(breaker, 1)
        yield* store.settle
        yield* TestClock.adjust("29999 millis")
        yield* expectState(breaker, "Open")
        yield* TestClock.adjust("1 millis")
        // Read at once: the time alone moved the circuit, whatever the store has said yet.
        yield* expectState(breaker, "HalfOpen")
        yield* store.settle
        yield* expectState(breaker, "HalfOpen")
      }), timeout)

    it.effect(
      "openDuration as a Schedule: the n-th consecutive opening lasts the n-th delay, capped",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* store.make({
            name: "backoff",
            consecutiveFailures: 1,
            openDuration: Schedule.exponential("1 second"),
            maxOpenDuration: "5 seconds"
          })
          const openFor: Array<number> = []
          yield* failTimes(breaker, 1)
          yield* store.settle
          for (let i = 0; i < 5; i++) {
            const retryAfter = Duration.toMillis((yield* expectState(breaker, "Open")).retryAfter)
            openFor.push(retryAfter)
            yield* TestClock.adjust(retryAfter)
            yield* expectState(breaker, "HalfOpen")
            yield* failTimes(breaker, 1) // the probe fails: next backoff step
            yield* store.settle
          }
          expect(openFor).toEqual([1000, 2000, 4000, 5000, 5000])
          expect((yield* expectState(breaker, "Open")).consecutiveOpenings).toBe(6)
        }),
      timeout
    )

    it.effect("the backoff starts over once the circuit closes", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({
          name: "backoff-restarts",
          consecutiveFailures: 1,
          openDuration: Schedule.exponential("1 second")
        })
        yield* failTimes(breaker, 1)
        yield* store.settle
        yield* TestClock.adjust("1 second")
        yield* failTimes(breaker, 1)
        yield* store.settle
        expect(Duration.toMillis((yield* expectState(breaker, "Open")).retryAfter)).toBe(2000)
        yield* TestClock.adjust("2 seconds")
        yield* succeedTimes(breaker, 1)
        yield* store.settle
        expect((yield* expectState(breaker, "Closed")).consecutiveOpenings).toBe(0)
        yield* failTimes(breaker, 1)
        yield* store.settle
        expect(Duration.toMillis((yield* expectState(breaker, "Open")).retryAfter)).toBe(1000)
      }), timeout)

    it.effect("a schedule that ends repeats its last delay", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({
          name: "backoff-ends",
          consecutiveFailures: 1,
          openDuration: Schedule.exponential("1 second").pipe(Schedule.upTo({ times: 2 }))
        })
        const openFor: Array<number> = []
        yield* failTimes(breaker, 1)
        yield* store.settle
        for (let i = 0; i < 4; i++) {
          const retryAfter = Duration.toMillis((yield* expectState(breaker, "Open")).retryAfter)
          openFor.push(retryAfter)
          yield* TestClock.adjust(retryAfter)
          yield* failTimes(breaker, 1)
          yield* store.settle
        }
        expect(openFor).toEqual([1000, 2000, 2000, 2000])
      }), timeout)
  })
})
