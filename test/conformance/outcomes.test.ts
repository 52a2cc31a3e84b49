/**
 * The breaker contract on every store: how outcomes are classified, that
 * every admitted call ends as exactly one recorded outcome (interrupted
 * included) while the caller keeps its typed failures, that outcomes of calls
 * admitted before a transition are dropped, and what the snapshot measures.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Option, Scope } from "effect"
import { TestClock } from "effect/testing"
import type { CircuitBreakerConfig } from "../../src/index.js"
import { CircuitBreaker } from "../../src/index.js"
import { Boom, boom, failTimes, ok, succeedTimes } from "../helpers.js"
import { collectEvents, expectState, interruptedWhileRunning, lasting, recordedCalls, started } from "./scenario.js"
import type { StoreUnderTest } from "./stores.js"
import { forEachStore, timeout } from "./stores.js"

/** How a call is admitted: the state, and which of the breaker's paths records it. */
const admissions = [
  { name: "Closed (untimed)", state: "Closed", config: {} },
  { name: "Closed (timed: a time window)", state: "Closed", config: { window: CircuitBreaker.timeWindow("1 minute") } },
  { name: "Disabled", state: "Disabled", config: {} },
  { name: "HalfOpen (a probe)", state: "HalfOpen", config: {} }
] as const satisfies ReadonlyArray<{ name: string; state: string; config: CircuitBreakerConfig.CircuitBreakerConfig }>

type Admission = (typeof admissions)[number]

/** A breaker that trips on one failure, put in the state the call is to be admitted in. */
const breakerIn = (store: StoreUnderTest, admission: Admission, name: string) =>
  Effect.gen(function*() {
    const breaker = yield* store.make({ name, consecutiveFailures: 1, openDuration: "10 seconds", ...admission.config })
    if (admission.state === "Disabled") yield* breaker.disable
    if (admission.state === "HalfOpen") {
      yield* failTimes(breaker, 1)
      yield* store.settle
      yield* TestClock.adjust("10 seconds")
    }
    yield* expectState(breaker, admission.state)
    return breaker
  })

/** Ends with a typed failure, after a second it cannot be interrupted during. */
/**
 * A call that cannot be interrupted once it runs, and fails after a second. It says it runs from
 * inside its uninterruptible region: an interruption before that would stop it before it started.
 */
const failsUninterruptibly = (signalRunning: Effect.Effect<void>) =>
  Effect.uninterruptible(
    Effect.andThen(signalRunning, Effect.andThen(Effect.sleep("1 second"), Effect.fail(new Boom({}))))
  )

forEachStore((driver) => {
  describe("classification", () => {
    it.effect("defects count as failures; interruptions count as nothing", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({ name: "defects", consecutiveFailures: 2 })
        yield* Effect.exit(breaker.execute(Effect.die("bug")))
        yield* Fiber.interrupt(yield* started(breaker, Effect.never))
        yield* store.settle
        const snapshot = yield* expectState(breaker, "Closed")
        expect([snapshot.calls, snapshot.failures]).toEqual([1, 1])
        yield* Effect.exit(breaker.execute(Effect.die("bug")))
        yield* store.settle
        yield* expectState(breaker, "Open")
      }), timeout)

    it.effect("ignore: errors with these tags are not recorded", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({ name: "ignore", consecutiveFailures: 1 })
        const exit = yield* Effect.exit(breaker.execute(boom, { ignore: ["Boom"] }))
        expect(Exit.isFailure(exit)).toBe(true)
        yield* store.settle
        expect((yield* expectState(breaker, "Closed")).calls).toBe(0)
      }), timeout)

    it.effect(
      "isFailure: errors it rejects count as a success and end the failure streak",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* store.make({ name: "is-failure", consecutiveFailures: 2 })
          const notFound = Effect.fail(new Boom({ n: 404 }))
          const isFailure = (error: Boom) => error.n !== 404
          yield* failTimes(breaker, 1)
          yield* Effect.exit(breaker.execute(notFound, { isFailure }))
          yield* store.settle
          const snapshot = yield* expectState(breaker, "Closed")
          expect([snapshot.calls, snapshot.failures]).toEqual([2, 1])
          yield* failTimes(breaker, 1) // one in a row since the success
          yield* store.settle
          yield* expectState(breaker, "Closed")
          yield* failTimes(breaker, 1)
          yield* store.settle
          yield* expectState(breaker, "Open")
        }),
      timeout
    )

    it.effect(
      "classify: a successful value can count as a failure, and the caller still gets it",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* store.make({ name: "classify", consecutiveFailures: 2 })
          const status503 = Effect.succeed({ status: 503 })
          const classify = (exit: Exit.Exit<{ status: number }, never>) =>
            Exit.isSuccess(exit) && exit.value.status >= 500 ? "failure" as const : "success" as const
          expect((yield* breaker.execute(status503, { classify })).status).toBe(503)
          yield* breaker.execute(status503, { classify })
          yield* store.settle
          yield* expectState(breaker, "Open")
        }),
      timeout
    )

    it.effect(
      "a classifier from the config applies to every call; per-call options replace it",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* store.make({
            name: "config-classifier",
            consecutiveFailures: 1,
            classify: (exit) => (Exit.isFailure(exit) ? "ignored" : "success")
          })
          yield* failTimes(breaker, 3)
          yield* store.settle
          yield* expectState(breaker, "Closed")
          yield* Effect.exit(breaker.execute(boom, { classify: () => "failure" }))
          yield* store.settle
          yield* expectState(breaker, "Open")
        }),
      timeout
    )

    it.effect("a classifier that throws makes the call die and records nothing", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({ name: "classifier-bug", consecutiveFailures: 1 })
        const exit = yield* Effect.exit(breaker.execute(ok, {
          classify: () => {
            throw new Error("classifier bug")
          }
        }))
        expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
        yield* store.settle
        expect((yield* expectState(breaker, "Closed")).calls).toBe(0)
      }), timeout)
  })

  describe("every admitted call ends as exactly one recorded outcome", () => {
    it.effect("success, failure and ignored calls are each recorded once, in order", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const scope = yield* Scope.make()
        const breaker = yield* store.make({ name: "recorded", consecutiveFailures: 3 }).pipe(Scope.provide(scope))
        const events = yield* collectEvents(breaker, scope)
        yield* succeedTimes(breaker, 1)
        yield* failTimes(breaker, 1)
        yield* Effect.exit(breaker.execute(boom, { ignore: ["Boom"] }))
        yield* Effect.exit(breaker.execute(Effect.die("bug")))
        yield* store.settle
        expect(recordedCalls(yield* events.done)).toEqual([
          ["Closed", "success", true],
          ["Closed", "failure", true],
          ["Closed", "ignored", false],
          ["Closed", "failure", true]
        ])
      }), timeout)

    for (const admission of admissions) {
      it.effect(
        `${admission.name}: an interrupted call is one CallRecorded event, ignored, then the next call's`,
        () =>
          Effect.gen(function*() {
            const store = yield* driver.store
            const scope = yield* Scope.make()
            const breaker = yield* breakerIn(store, admission, "interrupted").pipe(Scope.provide(scope))
            const events = yield* collectEvents(breaker, scope)
            const exit = yield* interruptedWhileRunning(breaker, Effect.never, "1 millis")
            expect(Exit.hasInterrupts(exit)).toBe(true)
            yield* store.settle
            yield* expectState(breaker, admission.state)
            yield* breaker.execute(ok)
            yield* store.settle
            expect(recordedCalls(yield* events.done)).toEqual([
              [admission.state, "ignored", false],
              [admission.state, "success", true]
            ])
          }),
        timeout
      )

      it.effect(
        `${admission.name}: a call that fails while its caller is interrupted keeps its failure`,
        () =>
          Effect.gen(function*() {
            const store = yield* driver.store
            const breaker = yield* breakerIn(store, admission, "fails-interrupted")
            const exit = yield* interruptedWhileRunning(breaker, failsUninterruptibly, "1 second")
            expect(Exit.isFailure(exit)).toBe(true)
            if (Exit.isFailure(exit)) {
              expect(Cause.hasInterrupts(exit.cause)).toBe(true)
              expect(Option.getOrUndefined(Cause.findErrorOption(exit.cause))).toBeInstanceOf(Boom)
            }
            yield* store.settle
            // One failure trips a closed circuit and reopens a half-open one; a disabled circuit counts it.
            if (admission.state === "Disabled") {
              expect((yield* expectState(breaker, "Disabled")).failures).toBe(1)
            } else {
              yield* expectState(breaker, "Open")
            }
          }),
        timeout
      )
    }

    it.effect(
      "a typed failure reaches the caller unchanged, in every state that runs calls",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* store.make({ name: "typed", consecutiveFailures: 2, openDuration: "10 seconds" })
          const failure = new Boom({ n: 1 })
          const expectFailure = (exit: Exit.Exit<unknown, unknown>) =>
            expect(Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : exit).toBe(failure)
          expectFailure(yield* Effect.exit(breaker.execute(Effect.fail(failure)))) // Closed
          expectFailure(yield* Effect.exit(breaker.execute(Effect.fail(failure)))) // Closed, the tripping call
          yield* store.settle
          yield* expectState(breaker, "Open")
          yield* TestClock.adjust("10 seconds")
          expectFailure(yield* Effect.exit(breaker.execute(Effect.fail(failure)))) // HalfOpen
          yield* breaker.disable
          expectFailure(yield* Effect.exit(breaker.execute(Effect.fail(failure)))) // Disabled
        }),
      timeout
    )
  })

  describe("stale outcomes", () => {
    it.effect(
      "a call admitted before a trip that fails afterwards does not touch the new state",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* store.make({
            name: "stale-failure",
            consecutiveFailures: 2,
            openDuration: "10 seconds"
          })
          const gate = yield* Deferred.make<void>()
          const slowFailure = yield* started(breaker, Effect.andThen(Deferred.await(gate), boom))
          yield* failTimes(breaker, 2)
          yield* store.settle
          yield* expectState(breaker, "Open")
          yield* TestClock.adjust("10 seconds")
          yield* succeedTimes(breaker, 1)
          yield* store.settle
          yield* expectState(breaker, "Closed")
          yield* Deferred.succeed(gate, undefined)
          expect(Exit.isFailure(yield* Fiber.await(slowFailure))).toBe(true)
          yield* store.settle
          const snapshot = yield* expectState(breaker, "Closed")
          expect([snapshot.calls, snapshot.consecutiveFailures]).toEqual([0, 0])
          // The fleet's streak was not touched either: one more failure does not trip.
          yield* failTimes(breaker, 1)
          yield* store.settle
          yield* expectState(breaker, "Closed")
        }),
      timeout
    )

    it.effect("a success admitted before a trip does not close the new open period", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({ name: "stale-success", consecutiveFailures: 1 })
        const gate = yield* Deferred.make<void>()
        const early = yield* started(breaker, Deferred.await(gate))
        yield* failTimes(breaker, 1)
        yield* store.settle
        yield* Deferred.succeed(gate, undefined)
        expect(Exit.isSuccess(yield* Fiber.await(early))).toBe(true)
        yield* store.settle
        yield* expectState(breaker, "Open")
      }), timeout)

    it.effect("a stale outcome is recorded once, as not counted", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const scope = yield* Scope.make()
        const breaker = yield* store.make({ name: "stale-event", consecutiveFailures: 1 }).pipe(Scope.provide(scope))
        const events = yield* collectEvents(breaker, scope)
        const gate = yield* Deferred.make<void>()
        const early = yield* started(breaker, Effect.andThen(Deferred.await(gate), boom))
        yield* failTimes(breaker, 1)
        yield* store.settle
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.await(early)
        yield* store.settle
        expect(recordedCalls(yield* events.done)).toEqual([
          ["Closed", "failure", true],
          ["Closed", "failure", false]
        ])
      }), timeout)
  })

  describe("snapshot", () => {
    it.effect("shows the window's measurements and the failure streak", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* store.make({
          name: "measured",
          consecutiveFailures: 10,
          slowCallRate: 0.9,
          slowCallDuration: "1 second",
          minimumCalls: 100
        })
        yield* succeedTimes(breaker, 2)
        yield* lasting(breaker, "1 second", ok)
        yield* failTimes(breaker, 1)
        yield* succeedTimes(breaker, 1)
        yield* failTimes(breaker, 2)
        yield* store.settle
        const snapshot = yield* expectState(breaker, "Closed")
        expect({
          calls: snapshot.calls,
          failures: snapshot.failures,
          slowCalls: snapshot.slowCalls,
          consecutiveFailures: snapshot.consecutiveFailures,
          lastFailure: snapshot.lastFailure?.tag
        }).toEqual({ calls: 7, failures: 3, slowCalls: 1, consecutiveFailures: 2, lastFailure: "Boom" })
      }), timeout)
  })
})
