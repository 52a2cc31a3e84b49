import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Exit, Fiber, Ref, Schedule, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { CircuitBreakerConfig } from "../src/index.js"
import { CircuitBreaker, isCircuitOpenError } from "../src/index.js"
import type { CircuitOpenError } from "../src/index.js"
import { attempt, Boom, boom, expectRejected, failTimes, ok, succeedTimes } from "./helpers.js"

describe("tripping: Closed -> Open", () => {
  it.effect("with no rule configured, trips on the 5th consecutive failure", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "default" })
      yield* failTimes(breaker, 4)
      expect(yield* breaker.state).toBe("Closed")
      yield* failTimes(breaker, 1)
      expect(yield* breaker.state).toBe("Open")
    }))

  it.effect("a success resets the consecutive-failure streak", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 3 })
      yield* failTimes(breaker, 2)
      yield* succeedTimes(breaker, 1)
      yield* failTimes(breaker, 2)
      expect(yield* breaker.state).toBe("Closed")
      expect((yield* breaker.snapshot).consecutiveFailures).toBe(2)
      yield* failTimes(breaker, 1)
      expect(yield* breaker.state).toBe("Open")
    }))

  it.effect("failureCount trips on n failures inside a count window, even when interleaved with successes", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ failureCount: 3, window: CircuitBreaker.countWindow(5) })
      // The first failure leaves the 5-call window; then F S F S F puts three in it.
      yield* failTimes(breaker, 1)
      yield* succeedTimes(breaker, 5)
      expect((yield* breaker.snapshot).failures).toBe(0)
      for (let i = 0; i < 2; i++) {
        yield* failTimes(breaker, 1)
        yield* succeedTimes(breaker, 1)
      }
      expect(yield* breaker.state).toBe("Closed")
      expect((yield* breaker.snapshot).failures).toBe(2)
      yield* failTimes(breaker, 1)
      expect(yield* breaker.state).toBe("Open")
    }))

  it.effect("failureCount over a time window forgets failures older than the window", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        failureCount: 3,
        window: CircuitBreaker.timeWindow("60 seconds", 6)
      })
      yield* failTimes(breaker, 2)
      yield* TestClock.adjust("61 seconds")
      expect((yield* breaker.snapshot).failures).toBe(0)
      yield* failTimes(breaker, 2)
      expect(yield* breaker.state).toBe("Closed")
      yield* TestClock.adjust("30 seconds")
      yield* failTimes(breaker, 1)
      expect(yield* breaker.state).toBe("Open")
    }))

  it.effect("failureRate trips at (not only above) the threshold, once minimumCalls are recorded", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        failureRate: 0.5,
        minimumCalls: 4,
        window: CircuitBreaker.countWindow(10)
      })
      yield* failTimes(breaker, 3)
      expect(yield* breaker.state).toBe("Closed") // 3 calls < minimumCalls
      yield* succeedTimes(breaker, 3)
      yield* failTimes(breaker, 1) // 4 failures / 7 calls = 0.57
      expect(yield* breaker.state).toBe("Open")
    }))

  it.effect("failureRate exactly at the threshold trips", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        failureRate: 0.3,
        minimumCalls: 10,
        window: CircuitBreaker.countWindow(10)
      })
      yield* succeedTimes(breaker, 7)
      yield* failTimes(breaker, 2)
      expect(yield* breaker.state).toBe("Closed")
      yield* failTimes(breaker, 1) // 3 / 10 = 0.3
      expect(yield* breaker.state).toBe("Open")
    }))

  it.effect("a success that completes minimumCalls can trip a rate rule", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ failureRate: 0.5, minimumCalls: 4 })
      yield* failTimes(breaker, 3)
      yield* succeedTimes(breaker, 1)
      expect(yield* breaker.state).toBe("Open")
      expect((yield* breaker.snapshot).consecutiveOpenings).toBe(1)
    }))

  it.effect("only configured rules apply: a rate rule alone ignores long failure streaks below the rate", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        failureRate: 0.9,
        minimumCalls: 20,
        window: CircuitBreaker.countWindow(20)
      })
      yield* succeedTimes(breaker, 10)
      yield* failTimes(breaker, 10) // 10 in a row, rate 0.5
      expect(yield* breaker.state).toBe("Closed")
    }))

  it.effect("slowCallRate trips on slow calls, successful or not", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        slowCallRate: 0.5,
        slowCallDuration: "1 second",
        minimumCalls: 4,
        window: CircuitBreaker.countWindow(4)
      })
      const slow = <A, E>(effect: Effect.Effect<A, E>) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.forkChild(
            Effect.exit(breaker.execute(Effect.andThen(Effect.sleep("1 second"), effect)))
          )
          yield* TestClock.adjust("1 second")
          return yield* Fiber.join(fiber)
        })
      yield* succeedTimes(breaker, 2)
      yield* slow(ok)
      expect(yield* breaker.state).toBe("Closed")
      expect((yield* breaker.snapshot).slowCalls).toBe(1)
      yield* slow(boom) // 2 slow of 4 = 0.5 (one of them a failure)
      expect(yield* breaker.state).toBe("Open")
    }))

  it.effect("a call faster than slowCallDuration is not slow", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ slowCallRate: 0.1, slowCallDuration: "1 second", minimumCalls: 1 })
      const fiber = yield* Effect.forkChild(breaker.execute(Effect.sleep("999 millis")))
      yield* TestClock.adjust("999 millis")
      yield* Fiber.join(fiber)
      expect(yield* breaker.state).toBe("Closed")
      expect((yield* breaker.snapshot).slowCalls).toBe(0)
    }))
})

describe("Open", () => {
  it.effect("rejects at once, without running the call, with the time left until a probe", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: "payments",
        consecutiveFailures: 1,
        openDuration: "30 seconds"
      })
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("10 seconds")
      const ran = yield* Ref.make(false)
      const exit = yield* attempt(breaker, Ref.set(ran, true))
      const error = expectRejected(exit, "Open", 20_000)
      expect(error.breaker).toBe("payments")
      expect(error.message).toContain("payments")
      expect(error.message).toContain("20s")
      expect(yield* Ref.get(ran)).toBe(false)
    }))

  it.effect("reads HalfOpen once openDuration has passed, with no call in between", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "30 seconds" })
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("29999 millis")
      expect(yield* breaker.state).toBe("Open")
      yield* TestClock.adjust("1 millis")
      expect(yield* breaker.state).toBe("HalfOpen")
    }))

  it.effect("openDuration as a Schedule: the n-th consecutive opening lasts the n-th delay, capped", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        consecutiveFailures: 1,
        openDuration: Schedule.exponential("1 second"),
        maxOpenDuration: "5 seconds"
      })
      const openFor: Array<number> = []
      yield* failTimes(breaker, 1)
      for (let i = 0; i < 5; i++) {
        const retryAfter = Duration.toMillis((yield* breaker.snapshot).retryAfter)
        openFor.push(retryAfter)
        yield* TestClock.adjust(retryAfter)
        expect(yield* breaker.state).toBe("HalfOpen")
        yield* failTimes(breaker, 1) // the probe fails: next backoff step
      }
      expect(openFor).toEqual([1000, 2000, 4000, 5000, 5000])
      expect((yield* breaker.snapshot).consecutiveOpenings).toBe(6)
    }))

  it.effect("the backoff starts over once the circuit closes", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        consecutiveFailures: 1,
        openDuration: Schedule.exponential("1 second")
      })
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("1 second")
      yield* failTimes(breaker, 1)
      expect(Duration.toMillis((yield* breaker.snapshot).retryAfter)).toBe(2000)
      yield* TestClock.adjust("2 seconds")
      yield* succeedTimes(breaker, 1)
      expect(yield* breaker.state).toBe("Closed")
      yield* failTimes(breaker, 1)
      expect(Duration.toMillis((yield* breaker.snapshot).retryAfter)).toBe(1000)
    }))

  it.effect("a schedule that ends repeats its last delay", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        consecutiveFailures: 1,
        openDuration: Schedule.exponential("1 second").pipe(Schedule.upTo({ times: 2 }))
      })
      const openFor: Array<number> = []
      yield* failTimes(breaker, 1)
      for (let i = 0; i < 4; i++) {
        const retryAfter = Duration.toMillis((yield* breaker.snapshot).retryAfter)
        openFor.push(retryAfter)
        yield* TestClock.adjust(retryAfter)
        yield* failTimes(breaker, 1)
      }
      expect(openFor).toEqual([1000, 2000, 2000, 2000])
    }))
})

describe("HalfOpen", () => {
  const tripped = (config: CircuitBreakerConfig.CircuitBreakerConfig) =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "10 seconds", ...config })
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("10 seconds")
      return breaker
    })

  it.effect("admits halfOpenPermits probes in total and rejects everyone else with state HalfOpen", () =>
    Effect.gen(function*() {
      const breaker = yield* tripped({ halfOpenPermits: 2 })
      const gate = yield* Deferred.make<void>()
      const probes = yield* Effect.forkChild(
        Effect.all([attempt(breaker, Deferred.await(gate)), attempt(breaker, Deferred.await(gate))], {
          concurrency: "unbounded"
        }),
        { startImmediately: true }
      )
      yield* Effect.yieldNow
      expect((yield* breaker.snapshot).probesInFlight).toBe(2)
      const error = expectRejected(yield* attempt(breaker, ok), "HalfOpen", 0)
      expect(error.message).toContain("half-open")
      yield* Deferred.succeed(gate, undefined)
      const exits = yield* Fiber.join(probes)
      expect(exits.every(Exit.isSuccess)).toBe(true)
      expect(yield* breaker.state).toBe("Closed")
    }))

  it.effect("successThreshold successful probes close the circuit", () =>
    Effect.gen(function*() {
      const breaker = yield* tripped({ halfOpenPermits: 3, successThreshold: 2 })
      yield* succeedTimes(breaker, 1)
      expect(yield* breaker.state).toBe("HalfOpen")
      expect((yield* breaker.snapshot).probeSuccesses).toBe(1)
      yield* succeedTimes(breaker, 1)
      expect(yield* breaker.state).toBe("Closed")
      expect((yield* breaker.snapshot).consecutiveOpenings).toBe(0)
    }))

  it.effect("any failed probe reopens the circuit", () =>
    Effect.gen(function*() {
      const breaker = yield* tripped({ halfOpenPermits: 3, successThreshold: 3 })
      yield* succeedTimes(breaker, 2)
      yield* failTimes(breaker, 1)
      expect(yield* breaker.state).toBe("Open")
      expect((yield* breaker.snapshot).consecutiveOpenings).toBe(2)
    }))

  it.effect("a slow probe fails when slow calls can trip the circuit", () =>
    Effect.gen(function*() {
      const breaker = yield* tripped({ slowCallRate: 0.5, slowCallDuration: "1 second", minimumCalls: 2 })
      const probe = yield* Effect.forkChild(breaker.execute(Effect.sleep("2 seconds")))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(probe)
      expect(yield* breaker.state).toBe("Open")
    }))

  it.effect("an interrupted probe gives its permit back and counts as nothing", () =>
    Effect.gen(function*() {
      const breaker = yield* tripped({})
      const probe = yield* Effect.forkChild(breaker.execute(Effect.never), { startImmediately: true })
      yield* Effect.yieldNow
      expectRejected(yield* attempt(breaker, ok), "HalfOpen")
      yield* Fiber.interrupt(probe)
      expect(yield* breaker.state).toBe("HalfOpen")
      expect((yield* breaker.snapshot).probesInFlight).toBe(0)
      expect(yield* breaker.execute(ok)).toBe("ok")
      expect(yield* breaker.state).toBe("Closed")
    }))

  it.effect("a probe classified as ignored gives its permit back", () =>
    Effect.gen(function*() {
      const breaker = yield* tripped({})
      yield* Effect.exit(breaker.execute(boom, { ignore: ["Boom"] }))
      expect(yield* breaker.state).toBe("HalfOpen")
      yield* succeedTimes(breaker, 1)
      expect(yield* breaker.state).toBe("Closed")
    }))

  it.effect("halfOpenMaxWait: an undecided half-open period reopens, and the late probe is stale", () =>
    Effect.gen(function*() {
      const breaker = yield* tripped({ halfOpenMaxWait: "5 seconds", openDuration: Schedule.exponential("10 seconds") })
      const probe = yield* Effect.forkChild(breaker.execute(Effect.sleep("6 seconds")))
      yield* TestClock.adjust("5 seconds")
      expect(yield* breaker.state).toBe("Open")
      const snapshot = yield* breaker.snapshot
      expect(snapshot.consecutiveOpenings).toBe(2)
      expect(Duration.toMillis(snapshot.retryAfter)).toBe(20_000)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(probe) // succeeds, but too late to close the circuit
      expect(yield* breaker.state).toBe("Open")
    }))
})

describe("halfOpenMaxWait bounds undecided probes, counted from the first probe's admission", () => {
  /** Trips at 0 and half-opens at 5 s, with a wait of 1 s. */
  const halfOpenAt5s = CircuitBreaker.make({
    consecutiveFailures: 1,
    openDuration: "5 seconds",
    halfOpenMaxWait: "1 second"
  }).pipe(Effect.tap((breaker) => failTimes(breaker, 1)))

  it.effect("a half-open period that no caller reached stays half-open and steps nothing", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const breaker = yield* halfOpenAt5s.pipe(Scope.provide(scope))
      const stream = yield* breaker.subscribe
      // Closing the breaker's scope ends the stream: every event of the 10 minutes is collected.
      const collected = yield* Effect.forkChild(Stream.runCollect(stream), { startImmediately: true })
      yield* TestClock.adjust("10 minutes")
      expect(yield* breaker.state).toBe("HalfOpen")
      expect((yield* breaker.snapshot).consecutiveOpenings).toBe(1)
      yield* Scope.close(scope, Exit.void)
      const transitions = (yield* Fiber.join(collected)).flatMap((event) =>
        event._tag === "StateChanged" ? [`${event.from}->${event.to}@${event.at}`] : []
      )
      expect(transitions).toEqual(["Open->HalfOpen@5000"])
    }))

  it.effect("one caller every 10 s after a trip is admitted at once, and closes the circuit", () =>
    Effect.gen(function*() {
      const breaker = yield* halfOpenAt5s
      let admitted = 0
      for (let i = 0; i < 60; i++) {
        yield* TestClock.adjust("10 seconds")
        const exit = yield* attempt(breaker, Effect.sync(() => admitted++))
        expect(Exit.isSuccess(exit)).toBe(true)
      }
      expect(admitted).toBe(60)
      expect(yield* breaker.state).toBe("Closed")
      expect((yield* breaker.snapshot).consecutiveOpenings).toBe(0)
    }))

  it.effect("the wait starts when the first probe is admitted, however late in the period", () =>
    Effect.gen(function*() {
      const breaker = yield* halfOpenAt5s
      yield* TestClock.adjust("30 seconds") // half-open since 5 s, no caller yet
      const probe = yield* Effect.forkChild(breaker.execute(Effect.never), { startImmediately: true })
      yield* Effect.yieldNow
      yield* TestClock.adjust("999 millis")
      expect(yield* breaker.state).toBe("HalfOpen")
      yield* TestClock.adjust("1 milli")
      const snapshot = yield* breaker.snapshot
      expect(snapshot.state).toBe("Open")
      expect(snapshot.consecutiveOpenings).toBe(2)
      expect(Duration.toMillis(snapshot.retryAfter)).toBe(5_000)
      yield* Fiber.interrupt(probe)
    }))

  it.effect("a probe that decided leaves nothing undecided: the next probe starts a new wait", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        consecutiveFailures: 1,
        openDuration: "5 seconds",
        halfOpenPermits: 2,
        halfOpenMaxWait: "1 second"
      })
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("5 seconds")
      yield* succeedTimes(breaker, 1) // 1 of 2 successes: still half-open, no probe in flight
      yield* TestClock.adjust("61 seconds")
      expect(yield* breaker.state).toBe("HalfOpen")
      const probe = yield* Effect.forkChild(breaker.execute(Effect.never), { startImmediately: true })
      yield* Effect.yieldNow
      yield* TestClock.adjust("1 second")
      expect(yield* breaker.state).toBe("Open")
      yield* Fiber.interrupt(probe)
    }))

  it.effect("an interrupted probe gives its permit back and leaves nothing undecided", () =>
    Effect.gen(function*() {
      const breaker = yield* halfOpenAt5s
      yield* TestClock.adjust("5 seconds")
      const probe = yield* Effect.forkChild(breaker.execute(Effect.never), { startImmediately: true })
      yield* Effect.yieldNow
      yield* Fiber.interrupt(probe)
      yield* TestClock.adjust("61 seconds")
      expect(yield* breaker.state).toBe("HalfOpen")
      expect(yield* breaker.execute(ok)).toBe("ok")
      expect(yield* breaker.state).toBe("Closed")
    }))
})

describe("classification", () => {
  it.effect("defects count as failures; interruptions count as nothing", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2 })
      yield* Effect.exit(breaker.execute(Effect.die("bug")))
      const fiber = yield* Effect.forkChild(breaker.execute(Effect.never), { startImmediately: true })
      yield* Effect.yieldNow
      yield* Fiber.interrupt(fiber)
      expect((yield* breaker.snapshot).calls).toBe(1)
      yield* Effect.exit(breaker.execute(Effect.die("bug")))
      expect(yield* breaker.state).toBe("Open")
    }))

  it.effect("ignore: errors with these tags are not recorded", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
      const exit = yield* Effect.exit(breaker.execute(boom, { ignore: ["Boom"] }))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* breaker.state).toBe("Closed")
      expect((yield* breaker.snapshot).calls).toBe(0)
    }))

  it.effect("isFailure: errors it rejects count as a success and reset the streak", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2 })
      const notFound = Effect.fail(new Boom({ n: 404 }))
      const isFailure = (error: Boom) => error.n !== 404
      yield* failTimes(breaker, 1)
      yield* Effect.exit(breaker.execute(notFound, { isFailure }))
      const snapshot = yield* breaker.snapshot
      expect(snapshot.consecutiveFailures).toBe(0)
      expect(snapshot.calls).toBe(2)
      expect(snapshot.failures).toBe(1)
    }))

  it.effect("classify: a successful value can count as a failure", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2 })
      const status503 = Effect.succeed({ status: 503 })
      const classify = (exit: Exit.Exit<{ status: number }, never>) =>
        Exit.isSuccess(exit) && exit.value.status >= 500 ? "failure" as const : "success" as const
      const first = yield* breaker.execute(status503, { classify })
      expect(first.status).toBe(503) // the caller still gets the value
      yield* breaker.execute(status503, { classify })
      expect(yield* breaker.state).toBe("Open")
    }))

  it.effect("a classifier from the config applies to every call; per-call options replace it", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        consecutiveFailures: 1,
        classify: (exit) => (Exit.isFailure(exit) ? "ignored" : "success")
      })
      yield* failTimes(breaker, 3)
      expect(yield* breaker.state).toBe("Closed")
      yield* Effect.exit(breaker.execute(boom, { classify: () => "failure" }))
      expect(yield* breaker.state).toBe("Open")
    }))

  it.effect("a classifier that throws makes the call die and records nothing", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
      const exit = yield* Effect.exit(breaker.execute(ok, {
        classify: () => {
          throw new Error("classifier bug")
        }
      }))
      expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
      expect((yield* breaker.snapshot).calls).toBe(0)
    }))
})

describe("manual control", () => {
  it.effect("forceOpen rejects every call with ForcedOpen and an infinite retryAfter until reset", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "db" })
      yield* breaker.forceOpen
      const error = expectRejected(yield* attempt(breaker, ok), "ForcedOpen")
      expect(Duration.isFinite(error.retryAfter)).toBe(false)
      expect(error.message).toContain("forced open")
      yield* TestClock.adjust("1 day")
      expect(yield* breaker.state).toBe("ForcedOpen")
      yield* breaker.reset
      expect(yield* breaker.execute(ok)).toBe("ok")
    }))

  it.effect("disable runs and records every call but never trips", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
      yield* breaker.disable
      yield* failTimes(breaker, 10)
      const snapshot = yield* breaker.snapshot
      expect(snapshot.state).toBe("Disabled")
      expect(snapshot.failures).toBe(10)
      expect(snapshot.failureRate).toBe(1)
      yield* breaker.reset
      expect(yield* breaker.snapshot).toMatchObject({ state: "Closed", calls: 0, consecutiveFailures: 0 })
    }))

  it.effect("reset closes an open circuit and restarts the backoff", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        consecutiveFailures: 1,
        openDuration: Schedule.exponential("1 second")
      })
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("1 second")
      yield* failTimes(breaker, 1)
      yield* breaker.reset
      expect(yield* breaker.state).toBe("Closed")
      yield* failTimes(breaker, 1)
      expect(Duration.toMillis((yield* breaker.snapshot).retryAfter)).toBe(1000)
    }))
})

describe("stale outcomes", () => {
  it.effect("a call admitted before a trip that fails afterwards does not touch the new state", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2, openDuration: "10 seconds" })
      const gate = yield* Deferred.make<void>()
      const slowFailure = yield* Effect.forkChild(
        Effect.exit(breaker.execute(Effect.andThen(Deferred.await(gate), boom))),
        { startImmediately: true }
      )
      yield* Effect.yieldNow
      yield* failTimes(breaker, 2)
      expect(yield* breaker.state).toBe("Open")
      yield* TestClock.adjust("10 seconds")
      yield* succeedTimes(breaker, 1)
      expect(yield* breaker.state).toBe("Closed")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(slowFailure)
      const snapshot = yield* breaker.snapshot
      expect(snapshot.state).toBe("Closed")
      expect(snapshot.calls).toBe(0)
      expect(snapshot.consecutiveFailures).toBe(0)
    }))

  it.effect("a success admitted before a trip does not close the new open period", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
      const gate = yield* Deferred.make<void>()
      const early = yield* Effect.forkChild(breaker.execute(Deferred.await(gate)), { startImmediately: true })
      yield* Effect.yieldNow
      yield* failTimes(breaker, 1)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(early)
      expect(yield* breaker.state).toBe("Open")
    }))
})

describe("recipes", () => {
  it.effect("retrying outside the breaker waits out an open circuit by honouring retryAfter", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "5 seconds" })
      yield* failTimes(breaker, 1)
      const attempts = yield* Ref.make(0)
      const call = Effect.andThen(Ref.update(attempts, (n) => n + 1), Effect.succeed(42))
      const retried = yield* Effect.forkChild(
        breaker.execute(call).pipe(
          Effect.retry({
            while: isCircuitOpenError,
            schedule: Schedule.exponential("100 millis").pipe(
              Schedule.setInputType<CircuitOpenError>(),
              Schedule.modifyDelay(({ input, duration }) => Effect.succeed(Duration.max(duration, input.retryAfter))),
              Schedule.upTo({ times: 3 })
            )
          })
        )
      )
      yield* TestClock.adjust("4999 millis")
      expect(yield* Ref.get(attempts)).toBe(0) // rejected once, now waiting for retryAfter
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(retried)).toBe(42)
      expect(yield* Ref.get(attempts)).toBe(1) // the probe, admitted exactly when the circuit half-opened
    }))
})

describe("scope", () => {
  it.effect("a breaker used after its scope closed still guards calls; nothing crashes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "1 second" }).pipe(
        Scope.provide(scope)
      )
      yield* Scope.close(scope, Exit.void)
      yield* failTimes(breaker, 1) // trips, and would start a timer in the closed scope
      expect(yield* breaker.state).toBe("Open")
      yield* TestClock.adjust("1 second")
      expect(yield* breaker.state).toBe("HalfOpen")
      expect(yield* breaker.execute(ok)).toBe("ok")
    }))
})
