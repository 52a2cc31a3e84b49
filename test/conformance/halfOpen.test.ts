/**
 * The breaker contract on every store: half-open probes, their permits, and
 * `halfOpenMaxWait`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Schedule, Scope } from "effect"
import { TestClock } from "effect/testing"
import type { CircuitBreakerConfig } from "../../src/index.js"
import { attempt, boom, expectRejected, failTimes, ok, succeedTimes } from "../helpers.js"
import { collectEvents, expectState, lasting, started, transitions } from "./scenario.js"
import type { StoreUnderTest } from "./stores.js"
import { forEachStore, timeout } from "./stores.js"

/** A breaker tripped at 0 and half-open since 10 s. */
const tripped = (store: StoreUnderTest, config: CircuitBreakerConfig.CircuitBreakerConfig) =>
  Effect.gen(function*() {
    const breaker = yield* store.make({ consecutiveFailures: 1, openDuration: "10 seconds", ...config })
    yield* failTimes(breaker, 1)
    yield* store.settle
    yield* expectState(breaker, "Open")
    yield* TestClock.adjust("10 seconds")
    yield* expectState(breaker, "HalfOpen")
    return breaker
  })

/** A breaker tripped at 0, half-open from 5 s, whose undecided probes may take 1 s. */
const halfOpenAt5s = (store: StoreUnderTest, name: string) =>
  Effect.gen(function*() {
    const breaker = yield* store.make({
      name,
      consecutiveFailures: 1,
      openDuration: "5 seconds",
      halfOpenMaxWait: "1 second"
    })
    yield* failTimes(breaker, 1)
    yield* store.settle
    yield* expectState(breaker, "Open")
    return breaker
  })

forEachStore((driver) => {
  describe("HalfOpen", () => {
    it.effect(
      "admits halfOpenPermits probes at once, and rejects everyone else with state HalfOpen",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* tripped(store, { name: "permits", halfOpenPermits: 2 })
          const gate = yield* Deferred.make<void>()
          const probes = [yield* started(breaker, Deferred.await(gate)), yield* started(breaker, Deferred.await(gate))]
          yield* expectState(breaker, "HalfOpen")
          const error = expectRejected(yield* attempt(breaker, ok), "HalfOpen", 0)
          expect(error.message).toContain("half-open")
          yield* Deferred.succeed(gate, undefined)
          const exits = yield* Effect.forEach(probes, Fiber.await)
          expect(exits.every(Exit.isSuccess)).toBe(true)
          yield* store.settle
          yield* expectState(breaker, "Closed")
        }),
      timeout
    )

    it.effect("admits exactly halfOpenPermits probes when 50 callers arrive at once", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* tripped(store, { name: "stampede", halfOpenPermits: 3 })
        const callers = 50
        let ran = 0
        let rejected = 0
        const decided = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const tally = Effect.suspend(() =>
          ran + rejected === callers ? Deferred.succeed(decided, undefined) : Effect.void
        )
        const call = Effect.suspend(() => {
          ran++
          return Effect.andThen(tally, Deferred.await(release))
        })
        const fibers = yield* Effect.forEach(
          Array.from({ length: callers }),
          () =>
            breaker.execute(call).pipe(
              Effect.tapError((error) =>
                error._tag === "CircuitOpenError" ? Effect.suspend(() => (rejected++, tally)) : Effect.void
              ),
              Effect.forkScoped
            ),
          { concurrency: "unbounded" }
        )
        yield* Deferred.await(decided)
        expect({ ran, rejected }).toEqual({ ran: 3, rejected: callers - 3 })
        yield* Deferred.succeed(release, undefined)
        const exits = yield* Effect.forEach(fibers, Fiber.await)
        expect(exits.filter(Exit.isSuccess)).toHaveLength(3)
        yield* store.settle
        yield* expectState(breaker, "Closed")
      }), timeout)

    it.effect(
      "counts permits per half-open period: a probe that finished does not free its permit",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* tripped(store, { name: "permits-total", halfOpenPermits: 2, successThreshold: 2 })
          yield* succeedTimes(breaker, 1)
          const gate = yield* Deferred.make<void>()
          const second = yield* started(breaker, Deferred.await(gate))
          yield* store.settle
          yield* expectState(breaker, "HalfOpen")
          expectRejected(yield* attempt(breaker, ok), "HalfOpen")
          yield* Deferred.succeed(gate, undefined)
          expect(Exit.isSuccess(yield* Fiber.await(second))).toBe(true)
          yield* store.settle
          yield* expectState(breaker, "Closed")
        }),
      timeout
    )

    it.effect("successThreshold successful probes close the circuit", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* tripped(store, { name: "threshold", halfOpenPermits: 3, successThreshold: 2 })
        yield* succeedTimes(breaker, 1)
        yield* store.settle
        yield* expectState(breaker, "HalfOpen")
        yield* succeedTimes(breaker, 1)
        yield* store.settle
        expect((yield* expectState(breaker, "Closed")).consecutiveOpenings).toBe(0)
      }), timeout)

    it.effect("any failed probe reopens the circuit, at the next step of the backoff", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* tripped(store, { name: "probe-fails", halfOpenPermits: 3, successThreshold: 3 })
        yield* succeedTimes(breaker, 2)
        yield* failTimes(breaker, 1)
        yield* store.settle
        const snapshot = yield* expectState(breaker, "Open")
        expect(snapshot.consecutiveOpenings).toBe(2)
        expect(snapshot.openReason).toBe("ProbeFailed")
      }), timeout)

    it.effect("a slow probe fails when slow calls can trip the circuit", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* tripped(store, {
          name: "slow-probe",
          slowCallRate: 0.5,
          slowCallDuration: "1 second",
          minimumCalls: 2
        })
        expect(Exit.isSuccess(yield* lasting(breaker, "2 seconds", ok))).toBe(true)
        yield* store.settle
        yield* expectState(breaker, "Open")
      }), timeout)

    it.effect("an interrupted probe gives its permit back and counts as nothing", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* tripped(store, { name: "probe-interrupted" })
        const probe = yield* started(breaker, Effect.never)
        expectRejected(yield* attempt(breaker, ok), "HalfOpen")
        yield* Fiber.interrupt(probe)
        yield* store.settle
        expect((yield* expectState(breaker, "HalfOpen")).probesInFlight).toBe(0)
        expect(yield* breaker.execute(ok)).toBe("ok")
        yield* store.settle
        yield* expectState(breaker, "Closed")
      }), timeout)

    it.effect(
      "the snapshot shows the half-open period's probes in flight and its successes",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* tripped(store, { name: "probe-snapshot", halfOpenPermits: 3, successThreshold: 3 })
          yield* succeedTimes(breaker, 1)
          const gate = yield* Deferred.make<void>()
          const probes = [yield* started(breaker, Deferred.await(gate)), yield* started(breaker, Deferred.await(gate))]
          yield* store.settle
          const snapshot = yield* expectState(breaker, "HalfOpen")
          expect({ inFlight: snapshot.probesInFlight, successes: snapshot.probeSuccesses }).toEqual({
            inFlight: 2,
            successes: 1
          })
          yield* Deferred.succeed(gate, undefined)
          yield* Effect.forEach(probes, Fiber.await)
          yield* store.settle
          yield* expectState(breaker, "Closed")
        }),
      timeout
    )

    it.effect("a probe classified as ignored gives its permit back", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* tripped(store, { name: "probe-ignored" })
        expect(Exit.isFailure(yield* Effect.exit(breaker.execute(boom, { ignore: ["Boom"] })))).toBe(true)
        yield* store.settle
        expect((yield* expectState(breaker, "HalfOpen")).probesInFlight).toBe(0)
        yield* succeedTimes(breaker, 1)
        yield* store.settle
        yield* expectState(breaker, "Closed")
      }), timeout)
  })

  describe("halfOpenMaxWait bounds undecided probes, counted from the first probe's admission", () => {
    it.effect(
      "an undecided half-open period reopens at the deadline, and the late probe is stale",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* tripped(store, {
            name: "max-wait",
            halfOpenMaxWait: "5 seconds",
            openDuration: Schedule.exponential("10 seconds")
          })
          const probe = yield* started(breaker, Effect.sleep("6 seconds"))
          yield* TestClock.adjust("5 seconds")
          yield* store.settle
          const snapshot = yield* expectState(breaker, "Open")
          expect(snapshot.consecutiveOpenings).toBe(2)
          expect(snapshot.openReason).toBe("HalfOpenMaxWait")
          expect(Duration.toMillis(snapshot.retryAfter)).toBe(20_000)
          yield* TestClock.adjust("1 second")
          expect(Exit.isSuccess(yield* Fiber.await(probe))).toBe(true) // succeeds, too late to close the circuit
          yield* store.settle
          yield* expectState(breaker, "Open")
        }),
      timeout
    )

    it.effect(
      "a half-open period that no caller reached stays half-open and steps nothing",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const scope = yield* Scope.make()
          const breaker = yield* halfOpenAt5s(store, "unreached").pipe(Scope.provide(scope))
          const events = yield* collectEvents(breaker, scope)
          yield* TestClock.adjust("10 minutes")
          yield* store.settle
          expect((yield* expectState(breaker, "HalfOpen")).consecutiveOpenings).toBe(1)
          expect(transitions(yield* events.done)).toEqual(["Open->HalfOpen:OpenDurationElapsed@5000"])
        }),
      timeout
    )

    it.effect(
      "one caller every 10 s after a trip is admitted at once, and closes the circuit",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* halfOpenAt5s(store, "one-caller")
          let admitted = 0
          for (let i = 0; i < 30; i++) {
            yield* TestClock.adjust("10 seconds")
            expect(Exit.isSuccess(yield* attempt(breaker, Effect.sync(() => admitted++)))).toBe(true)
          }
          expect(admitted).toBe(30)
          yield* store.settle
          expect((yield* expectState(breaker, "Closed")).consecutiveOpenings).toBe(0)
        }),
      timeout
    )

    it.effect(
      "the wait starts when the first probe is admitted, however late in the period",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* halfOpenAt5s(store, "late-probe")
          yield* TestClock.adjust("30 seconds") // half-open since 5 s, no caller yet
          const probe = yield* started(breaker, Effect.never)
          yield* TestClock.adjust("999 millis")
          yield* store.settle
          yield* expectState(breaker, "HalfOpen")
          yield* TestClock.adjust("1 milli")
          yield* store.settle
          const snapshot = yield* expectState(breaker, "Open")
          expect(snapshot.consecutiveOpenings).toBe(2)
          expect(Duration.toMillis(snapshot.retryAfter)).toBe(5_000)
          yield* Fiber.interrupt(probe)
        }),
      timeout
    )

    it.effect(
      "a probe that decided leaves nothing undecided: the next probe starts a new wait",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* store.make({
            name: "decided",
            consecutiveFailures: 1,
            openDuration: "5 seconds",
            halfOpenPermits: 2,
            halfOpenMaxWait: "1 second"
          })
          yield* failTimes(breaker, 1)
          yield* store.settle
          yield* TestClock.adjust("5 seconds")
          yield* succeedTimes(breaker, 1) // 1 of 2 successes: still half-open, no probe in flight
          yield* TestClock.adjust("61 seconds")
          yield* store.settle
          yield* expectState(breaker, "HalfOpen")
          const probe = yield* started(breaker, Effect.never)
          yield* TestClock.adjust("1 second")
          yield* store.settle
          yield* expectState(breaker, "Open")
          yield* Fiber.interrupt(probe)
        }),
      timeout
    )

    it.effect("an interrupted probe gives its permit back and leaves nothing undecided", () =>
      Effect.gen(function*() {
        const store = yield* driver.store
        const breaker = yield* halfOpenAt5s(store, "interrupted-wait")
        yield* TestClock.adjust("5 seconds")
        const probe = yield* started(breaker, Effect.never)
        yield* Fiber.interrupt(probe)
        yield* TestClock.adjust("61 seconds")
        yield* store.settle
        yield* expectState(breaker, "HalfOpen")
        expect(yield* breaker.execute(ok)).toBe("ok")
        yield* store.settle
        yield* expectState(breaker, "Closed")
      }), timeout)
  })
})
