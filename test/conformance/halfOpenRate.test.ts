/**
 * The breaker contract on every store: a half-open period decided by the
 * failure rate over its probes (`halfOpenFailureRate`, Resilience4j's
 * mode). The scenarios follow Resilience4j's
 * `shouldTransitionBackToOpenStateWhenFailureRateIsAboveThreshold`,
 * `shouldTransitionBackToClosedStateWhenFailureIsBelowThreshold` and
 * `shouldTransitionBackToOpenStateWhenSlowCallRateIsAboveThreshold`: four
 * probes, a rate of 50%.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import type { CircuitBreaker, CircuitBreakerConfig } from "../../src/index.js"
import { attempt, boom, expectRejected, ok } from "../helpers.js"
import { expectState, lasting, started } from "./scenario.js"
import type { StoreUnderTest } from "./stores.js"
import { forEachStore, timeout } from "./stores.js"

/** A breaker half-open now (by the operator), deciding by the failure rate over four probes. */
const halfOpenByRate = (store: StoreUnderTest, config: CircuitBreakerConfig.CircuitBreakerConfig) =>
  Effect.gen(function*() {
    const breaker = yield* store.make({
      halfOpenPermits: 4,
      halfOpenFailureRate: 0.5,
      openDuration: "5 seconds",
      ...config
    })
    yield* breaker.halfOpen
    yield* store.settle
    return breaker
  })

/** Runs one probe of each outcome in `outcomes` (`f` fails, `s` succeeds), one after the other. */
const probes = (store: StoreUnderTest, breaker: CircuitBreaker.CircuitBreaker, outcomes: string) =>
  Effect.forEach(
    outcomes.split(""),
    (outcome) => Effect.andThen(Effect.exit(breaker.execute(outcome === "f" ? boom : ok)), store.settle),
    { discard: true }
  )

forEachStore((driver) => {
  describe("HalfOpen decided by the failure rate over its probes", () => {
    it.effect(
      "waits for every probe, then reopens when failures / probes is at or above the rate (3 of 4)",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* halfOpenByRate(store, { name: "rate-reopens" })
          // One failed probe decides nothing yet: three of four permits are left.
          yield* probes(store, breaker, "ffs")
          const undecided = yield* expectState(breaker, "HalfOpen")
          expect(undecided.probeSuccesses).toBe(1)
          yield* probes(store, breaker, "f")
          const snapshot = yield* expectState(breaker, "Open")
          expect([snapshot.openReason, snapshot.consecutiveOpenings]).toEqual(["ProbeFailureRate", 1])
          expectRejected(yield* attempt(breaker, ok), "Open", 5000)
        }),
      timeout
    )

    it.effect(
      "closes when the rate over the probes is below it (1 of 4), and at it reopens (2 of 4)",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const closes = yield* halfOpenByRate(store, { name: "rate-closes" })
          yield* probes(store, closes, "fss")
          yield* expectState(closes, "HalfOpen")
          yield* probes(store, closes, "s")
          yield* expectState(closes, "Closed")
          const atRate = yield* halfOpenByRate(store, { name: "rate-at" })
          yield* probes(store, atRate, "sffs")
          expect((yield* expectState(atRate, "Open")).openReason).toBe("ProbeFailureRate")
        }),
      timeout
    )

    it.effect(
      "a slow probe is a failed probe when slow calls can trip (3 slow of 4 reopens)",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* halfOpenByRate(store, {
            name: "rate-slow",
            slowCallRate: 0.5,
            slowCallDuration: "4 seconds"
          })
          for (let i = 0; i < 3; i++) {
            expect(Exit.isSuccess(yield* lasting(breaker, "5 seconds", ok))).toBe(true)
            yield* store.settle
          }
          yield* expectState(breaker, "HalfOpen")
          expect(Exit.isSuccess(yield* lasting(breaker, "1 second", ok))).toBe(true)
          yield* store.settle
          expect((yield* expectState(breaker, "Open")).openReason).toBe("ProbeFailureRate")
        }),
      timeout
    )

    it.effect(
      "probes run at once: the fifth caller is rejected, an interrupted probe gives its permit back",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* halfOpenByRate(store, { name: "rate-permits" })
          const gate = yield* Deferred.make<void>()
          const running = [
            yield* started(breaker, Effect.andThen(Deferred.await(gate), boom)),
            yield* started(breaker, Deferred.await(gate)),
            yield* started(breaker, Deferred.await(gate)),
            yield* started(breaker, Deferred.await(gate))
          ]
          expectRejected(yield* attempt(breaker, ok), "HalfOpen", 0)
          yield* Fiber.interrupt(running[3]!)
          yield* store.settle
          yield* Deferred.succeed(gate, undefined)
          yield* Effect.forEach(running.slice(0, 3), Fiber.await)
          yield* store.settle
          // Three decided (one failed): the period waits for a fourth probe.
          yield* expectState(breaker, "HalfOpen")
          yield* TestClock.adjust("1 millis")
          yield* probes(store, breaker, "s")
          yield* expectState(breaker, "Closed")
        }),
      timeout
    )
  })
})
