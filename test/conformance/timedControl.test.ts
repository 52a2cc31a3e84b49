/**
 * The breaker contract on every store: an operator's timed transitions —
 * open for a duration or until an instant, half-open now — and their
 * validation. The first two scenarios follow Resilience4j's
 * `shouldTransitionToHalfOpenAfterPassedWaitDuration` and
 * `shouldTransitionToHalfOpenAfterPassedWaitUntil`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Schedule, Scope } from "effect"
import { TestClock } from "effect/testing"
import { attempt, boom, expectRejected, failTimes, ok } from "../helpers.js"
import { collectEvents, expectState, transitions } from "./scenario.js"
import { forEachStore, timeout } from "./stores.js"

const hour = 3_600_000

forEachStore((driver) => {
  describe("timed control", () => {
    it.effect(
      "openFor opens for the duration, rejects with the time left, then half-opens as usual",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const scope = yield* Scope.make()
          const breaker = yield* store.make({ name: "open-for" }).pipe(Scope.provide(scope))
          const events = yield* collectEvents(breaker, scope)
          yield* breaker.openFor("2 hours")
          yield* store.settle
          const snapshot = yield* expectState(breaker, "Open")
          expect([snapshot.openReason, snapshot.openedAt, snapshot.consecutiveOpenings]).toEqual(["ManualOpen", 0, 0])
          expectRejected(yield* attempt(breaker, ok), "Open", 2 * hour)
          yield* TestClock.adjust("1 hour")
          yield* store.settle
          yield* expectState(breaker, "Open")
          expectRejected(yield* attempt(breaker, ok), "Open", hour)
          yield* TestClock.adjust(Duration.sum(Duration.hours(1), Duration.seconds(1)))
          yield* expectState(breaker, "HalfOpen")
          expect(yield* breaker.execute(ok)).toBe("ok")
          yield* store.settle
          yield* expectState(breaker, "Closed")
          expect(transitions(yield* events.done)).toEqual([
            "Closed->Open:ManualOpen@0",
            `Open->HalfOpen:OpenDurationElapsed@${2 * hour}`,
            `HalfOpen->Closed:ProbesSucceeded@${2 * hour + 1000}`
          ])
        }),
      timeout
    )

    it.effect(
      "openUntil opens until the instant (a Date or epoch millis), then half-opens",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* store.make({ name: "open-until" })
          yield* TestClock.adjust("1 second")
          yield* breaker.openUntil(new Date(1000 + 30 * 60_000))
          yield* store.settle
          expectRejected(yield* attempt(breaker, ok), "Open", 30 * 60_000)
          yield* TestClock.adjust("15 minutes")
          yield* store.settle
          yield* expectState(breaker, "Open")
          expectRejected(yield* attempt(breaker, ok), "Open", 15 * 60_000)
          yield* TestClock.adjust("15 minutes")
          yield* expectState(breaker, "HalfOpen")
          // Epoch millis too; over a half-open circuit.
          yield* breaker.openUntil(1000 + 30 * 60_000 + 500)
          yield* store.settle
          expectRejected(yield* attempt(breaker, ok), "Open", 500)
        }),
      timeout
    )

    it.effect(
      "a timed opening steps no backoff: a failed probe after it opens for the first step",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* store.make({
            name: "manual-backoff",
            consecutiveFailures: 1,
            openDuration: Schedule.exponential("1 second")
          })
          yield* breaker.openFor("1 minute")
          yield* store.settle
          yield* TestClock.adjust("1 minute")
          yield* expectState(breaker, "HalfOpen")
          yield* failTimes(breaker, 1)
          yield* store.settle
          const snapshot = yield* expectState(breaker, "Open")
          expect([snapshot.openReason, snapshot.consecutiveOpenings]).toEqual(["ProbeFailed", 1])
          expect(Duration.toMillis(snapshot.retryAfter)).toBe(1000)
        }),
      timeout
    )

    it.effect("openFor over an open circuit replaces its opening, shorter or longer", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({ name: "reopen", consecutiveFailures: 1, openDuration: "10 seconds" })
        yield* failTimes(breaker, 1)
        yield* store.settle
        yield* breaker.openFor("1 minute")
        yield* store.settle
        expectRejected(yield* attempt(breaker, ok), "Open", 60_000)
        yield* breaker.openFor("2 seconds")
        yield* store.settle
        expectRejected(yield* attempt(breaker, ok), "Open", 2000)
        yield* TestClock.adjust("2 seconds")
        yield* expectState(breaker, "HalfOpen")
      }), timeout)

    it.effect(
      "halfOpen lets probes through now, from Closed, Open and ForcedOpen; a half-open period is kept",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const scope = yield* Scope.make()
          const breaker = yield* store.make({ name: "half-open-now", consecutiveFailures: 1, openDuration: "1 hour" })
            .pipe(Scope.provide(scope))
          const events = yield* collectEvents(breaker, scope)
          yield* breaker.halfOpen
          yield* store.settle
          expect((yield* expectState(breaker, "HalfOpen")).openReason).toBe("ManualHalfOpen")
          yield* Effect.exit(breaker.execute(boom))
          yield* store.settle
          yield* expectState(breaker, "Open")
          yield* breaker.halfOpen
          yield* breaker.halfOpen
          yield* store.settle
          yield* expectState(breaker, "HalfOpen")
          expect(yield* breaker.execute(ok)).toBe("ok")
          yield* store.settle
          yield* breaker.forceOpen
          yield* breaker.halfOpen
          yield* store.settle
          yield* expectState(breaker, "HalfOpen")
          expect(transitions(yield* events.done)).toEqual([
            "Closed->HalfOpen:ManualHalfOpen@0",
            "HalfOpen->Open:ProbeFailed@0",
            "Open->HalfOpen:ManualHalfOpen@0",
            "HalfOpen->Closed:ProbesSucceeded@0",
            "Closed->ForcedOpen:ForceOpen@0",
            "ForcedOpen->HalfOpen:ManualHalfOpen@0"
          ])
        }),
      timeout
    )

    it.effect(
      "a duration or an instant out of range is refused, naming the field, and changes nothing",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* store.make({ name: "refused" })
          yield* TestClock.adjust("10 seconds")
          const refused = (effect: Effect.Effect<void, unknown>) =>
            Effect.map(Effect.flip(effect), (error) => {
              expect(error).toMatchObject({ _tag: "CircuitControlError", breaker: "refused" })
              return error as { readonly operation: string; readonly issues: ReadonlyArray<{ field: string }> }
            })
          for (const duration of [0, -5, "0 seconds", Number.NaN, "25 days", "soon"] as const) {
            const error = yield* refused(breaker.openFor(duration))
            expect([error.operation, error.issues.map((issue) => issue.field)]).toEqual(["openFor", ["duration"]])
          }
          for (const instant of [10_000, 5_000, new Date(Number.NaN), 10_000 + 2 ** 31, Infinity]) {
            const error = yield* refused(breaker.openUntil(instant))
            expect([error.operation, error.issues.map((issue) => issue.field)]).toEqual(["openUntil", ["until"]])
          }
          const past = yield* refused(breaker.openUntil(5_000))
          expect(JSON.stringify(past.issues)).toContain("must be in the future")
          yield* store.settle
          yield* expectState(breaker, "Closed")
          expect(Exit.isSuccess(yield* attempt(breaker, ok))).toBe(true)
          // The longest opening a timer holds is accepted.
          yield* breaker.openFor(2 ** 31 - 1)
          yield* store.settle
          expectRejected(yield* attempt(breaker, ok), "Open", 2 ** 31 - 1)
        }),
      timeout
    )
  })
})
