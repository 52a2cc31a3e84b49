import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Option, Ref } from "effect"
import { TestClock } from "effect/testing"
import { CircuitBreaker, CircuitOpenError } from "../src/index.js"
import { boom, failTimes, ok } from "./helpers.js"

const FIBERS = 10_000

const rejectionState = (exit: Exit.Exit<unknown, unknown>) => {
  if (Exit.isSuccess(exit)) return undefined
  const error = Option.getOrUndefined(Cause.findErrorOption(exit.cause))
  return error instanceof CircuitOpenError ? error.state : undefined
}

/** A breaker that is HalfOpen with `permits` probe permits. */
const halfOpen = (permits: number) =>
  Effect.gen(function*() {
    const breaker = yield* CircuitBreaker.make({
      consecutiveFailures: 1,
      openDuration: "1 second",
      halfOpenPermits: permits
    })
    yield* failTimes(breaker, 1)
    yield* TestClock.adjust("1 second")
    expect(yield* breaker.state).toBe("HalfOpen")
    return breaker
  })

describe("concurrency", () => {
  it.effect.each([1, 7, 64])(
    "%i permits: 10,000 fibers at a HalfOpen breaker run exactly that many probes",
    (permits) =>
      Effect.gen(function*() {
        const breaker = yield* halfOpen(permits)
        const gate = yield* Deferred.make<void>()
        const running = yield* Ref.make(0)
        const probe = Effect.andThen(Ref.update(running, (n) => n + 1), Deferred.await(gate))
        const all = yield* Effect.forkChild(
          Effect.forEach(Array.from({ length: FIBERS }), () => Effect.exit(breaker.execute(probe)), {
            concurrency: "unbounded"
          })
        )
        // Every fiber has reached the breaker once the rejections stop coming.
        yield* Effect.repeat(Effect.yieldNow, { times: 20 })
        expect(yield* Ref.get(running)).toBe(permits)
        expect((yield* breaker.snapshot).probesInFlight).toBe(permits)
        yield* Deferred.succeed(gate, undefined)
        const exits = yield* Fiber.join(all)
        const succeeded = exits.filter(Exit.isSuccess).length
        const rejected = exits.map(rejectionState)
        expect(succeeded).toBe(permits)
        expect(rejected.filter((state) => state === "HalfOpen").length).toBe(FIBERS - permits)
        expect(yield* breaker.state).toBe("Closed")
      })
  )

  it.effect("10,000 calls admitted before a trip that finish afterwards leave the new state alone", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 3, openDuration: "1 minute" })
      const gate = yield* Deferred.make<void>()
      const inFlight = yield* Effect.forkChild(
        Effect.forEach(
          Array.from({ length: FIBERS }, (_, i) => i),
          (i) => Effect.exit(breaker.execute(Effect.andThen(Deferred.await(gate), i % 2 === 0 ? boom : ok))),
          { concurrency: "unbounded" }
        )
      )
      yield* Effect.repeat(Effect.yieldNow, { times: 20 })
      yield* failTimes(breaker, 3)
      const before = yield* breaker.snapshot
      expect(before.state).toBe("Open")
      yield* Deferred.succeed(gate, undefined)
      const exits = yield* Fiber.join(inFlight)
      expect(exits.filter(Exit.isSuccess).length).toBe(FIBERS / 2) // they all ran to completion
      const after = yield* breaker.snapshot
      expect(after).toEqual(before)
      yield* TestClock.adjust("1 minute")
      expect(yield* breaker.execute(ok)).toBe("ok")
      expect(yield* breaker.state).toBe("Closed")
    }))

  it.effect("interrupting thousands of in-flight probes gives every permit back", () =>
    Effect.gen(function*() {
      const breaker = yield* halfOpen(50)
      const fibers = yield* Effect.forEach(
        Array.from({ length: 5000 }),
        () => Effect.forkChild(breaker.execute(Effect.never), { startImmediately: true })
      )
      expect((yield* breaker.snapshot).probesInFlight).toBe(50)
      yield* Fiber.interruptAll(fibers)
      const snapshot = yield* breaker.snapshot
      expect(snapshot.state).toBe("HalfOpen")
      expect(snapshot.probesInFlight).toBe(0)
      // All 50 permits are available again: 50 concurrent probes succeed and close the circuit.
      const exits = yield* Effect.forEach(Array.from({ length: 50 }), () => Effect.exit(breaker.execute(ok)), {
        concurrency: "unbounded"
      })
      expect(exits.every(Exit.isSuccess)).toBe(true)
      expect(yield* breaker.state).toBe("Closed")
    }))

  it.effect("random interruptions among 10,000 concurrent calls leave a consistent closed circuit", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        failureRate: 0.9,
        minimumCalls: 100_000,
        window: CircuitBreaker.countWindow(100_000)
      })
      const gate = yield* Deferred.make<void>()
      const fibers = yield* Effect.forEach(
        Array.from({ length: FIBERS }, (_, i) => i),
        (i) =>
          Effect.forkChild(
            breaker.execute(Effect.andThen(Deferred.await(gate), i % 5 === 0 ? boom : ok)),
            { startImmediately: true }
          )
      )
      // Interrupt every third call while it waits.
      yield* Fiber.interruptAll(fibers.filter((_, i) => i % 3 === 0))
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.forEach(fibers, Fiber.await)
      const finished = Array.from({ length: FIBERS }, (_, i) => i).filter((i) => i % 3 !== 0)
      const snapshot = yield* breaker.snapshot
      expect(snapshot.calls).toBe(finished.length)
      expect(snapshot.failures).toBe(finished.filter((i) => i % 5 === 0).length)
      expect(snapshot.state).toBe("Closed")
    }))
})
