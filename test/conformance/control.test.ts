/**
 * The breaker contract on every store: the operator's controls, and the
 * transitions the events stream reports, in order.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Schedule, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { attempt, expectRejected, failTimes, ok, succeedTimes } from "../helpers.js"
import { collectEvents, expectState, recordedCalls, transitions } from "./scenario.js"
import { forEachStore, timeout } from "./stores.js"

forEachStore((driver) => {
  describe("manual control", () => {
    it.effect(
      "forceOpen rejects every call with ForcedOpen and an infinite retryAfter until reset",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* store.make({ name: "db" })
          yield* breaker.forceOpen
          yield* expectState(breaker, "ForcedOpen")
          const error = expectRejected(yield* attempt(breaker, ok), "ForcedOpen")
          expect(Duration.isFinite(error.retryAfter)).toBe(false)
          expect(error.message).toContain("forced open")
          yield* TestClock.adjust("1 hour")
          yield* store.settle
          yield* expectState(breaker, "ForcedOpen")
          expectRejected(yield* attempt(breaker, ok), "ForcedOpen")
          yield* breaker.reset
          yield* expectState(breaker, "Closed")
          expect(yield* breaker.execute(ok)).toBe("ok")
          yield* store.settle
          yield* expectState(breaker, "Closed")
        }),
      timeout
    )

    it.effect("disable runs and records every call but never trips, until reset", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({ name: "disabled", consecutiveFailures: 1 })
        yield* breaker.disable
        yield* failTimes(breaker, 10)
        yield* store.settle
        const snapshot = yield* expectState(breaker, "Disabled")
        expect([snapshot.calls, snapshot.failures, snapshot.failureRate]).toEqual([10, 10, 1])
        yield* breaker.reset
        yield* store.settle
        expect(yield* expectState(breaker, "Closed")).toMatchObject({ calls: 0, consecutiveFailures: 0 })
        yield* failTimes(breaker, 1)
        yield* store.settle
        yield* expectState(breaker, "Open")
      }), timeout)

    it.effect("reset closes an open circuit and restarts the backoff", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({
          name: "reset",
          consecutiveFailures: 1,
          openDuration: Schedule.exponential("1 second")
        })
        yield* failTimes(breaker, 1)
        yield* store.settle
        yield* TestClock.adjust("1 second")
        yield* failTimes(breaker, 1)
        yield* store.settle
        yield* breaker.reset
        expect((yield* expectState(breaker, "Closed")).consecutiveOpenings).toBe(0)
        yield* store.settle
        yield* expectState(breaker, "Closed")
        yield* failTimes(breaker, 1)
        yield* store.settle
        expect(Duration.toMillis((yield* expectState(breaker, "Open")).retryAfter)).toBe(1000)
      }), timeout)

    it.effect("reset and forceOpen apply to a half-open circuit and its probes' permits", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({
          name: "control-half-open",
          consecutiveFailures: 1,
          openDuration: "1 second"
        })
        yield* failTimes(breaker, 1)
        yield* store.settle
        yield* TestClock.adjust("1 second")
        yield* expectState(breaker, "HalfOpen")
        yield* breaker.forceOpen
        yield* store.settle
        expectRejected(yield* attempt(breaker, ok), "ForcedOpen")
        yield* breaker.reset
        yield* store.settle
        yield* expectState(breaker, "Closed")
        yield* succeedTimes(breaker, 3)
        yield* store.settle
        expect((yield* expectState(breaker, "Closed")).calls).toBe(3)
      }), timeout)
  })

  describe("events", () => {
    it.effect(
      "the stream delivers transitions in order, stamped with when they happened",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const scope = yield* Scope.make()
          const breaker = yield* store.make({ name: "inv", consecutiveFailures: 2, openDuration: "10 seconds" }).pipe(
            Scope.provide(scope)
          )
          const events = yield* collectEvents(breaker, scope)
          yield* failTimes(breaker, 2)
          yield* store.settle
          expect(Exit.isFailure(yield* attempt(breaker, ok))).toBe(true)
          yield* TestClock.adjust("15 seconds")
          yield* succeedTimes(breaker, 1)
          yield* store.settle
          yield* breaker.forceOpen
          yield* store.settle
          yield* breaker.disable
          yield* store.settle
          yield* breaker.reset
          yield* store.settle
          const all = yield* events.done
          expect(transitions(all)).toEqual([
            "Closed->Open:ConsecutiveFailures@0",
            "Open->HalfOpen:OpenDurationElapsed@10000",
            "HalfOpen->Closed:ProbesSucceeded@15000",
            "Closed->ForcedOpen:ForceOpen@15000",
            "ForcedOpen->Disabled:Disable@15000",
            "Disabled->Closed:Reset@15000"
          ])
          expect(recordedCalls(all)).toEqual([
            ["Closed", "failure", true],
            ["Closed", "failure", true],
            ["HalfOpen", "success", true]
          ])
          const rejections = all.filter((event) => event._tag === "CallRejected")
          expect(rejections.map((event) => event.state)).toEqual(["Open"])
        }),
      timeout
    )

    it.effect(
      "Open -> HalfOpen is reported on time by a timer, even when no call arrives",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* store.make({ name: "timer", consecutiveFailures: 1, openDuration: "30 seconds" })
          const stream = yield* breaker.subscribe
          const firstTwo = yield* Effect.forkChild(
            Stream.runCollect(Stream.take(Stream.filter(stream, (event) => event._tag === "StateChanged"), 2)),
            { startImmediately: true }
          )
          yield* failTimes(breaker, 1)
          yield* store.settle
          yield* TestClock.adjust("30 seconds")
          expect(transitions(yield* Fiber.join(firstTwo))).toEqual([
            "Closed->Open:ConsecutiveFailures@0",
            "Open->HalfOpen:OpenDurationElapsed@30000"
          ])
        }),
      timeout
    )
  })
})
