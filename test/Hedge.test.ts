import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import {
  BulkheadFullError,
  CircuitBreaker,
  CircuitOpenError,
  ConcurrencyLimitExceededError,
  Hedge,
  RateLimitExceededError,
  withCircuitBreaker
} from "../src/index.js"
import { Boom } from "./helpers.js"
import { collectEvents, expectConfigIssue, failure, withSleepCounter } from "./policyHelpers.js"

/**
 * A call whose n-th attempt takes `latencies[n - 1]` milliseconds and then
 * succeeds with n (or fails, when `fails` has n). Records starts and
 * interruptions.
 */
const attempts = (latencies: ReadonlyArray<number>, fails: ReadonlyArray<number> = []) => {
  const log = { started: [] as Array<number>, interrupted: [] as Array<number> }
  const effect = Effect.suspend(() => {
    const n = log.started.length + 1
    log.started.push(n)
    return Effect.sleep(latencies[n - 1] ?? 0).pipe(
      Effect.andThen(fails.includes(n) ? Effect.fail(new Boom({ n })) : Effect.succeed(n)),
      Effect.onInterrupt(() => Effect.sync(() => void log.interrupted.push(n)))
    )
  })
  return { log, effect }
}

describe("Hedge", () => {
  it.effect("a call that answers before the delay is never hedged, and reports nothing", () =>
    Effect.gen(function*() {
      const hedge = yield* Hedge.make({ delay: "100 millis", attempts: 3 })
      const { log, effect } = attempts([99])
      const { result, events } = yield* collectEvents(
        hedge.subscribe,
        Effect.gen(function*() {
          const fiber = yield* Effect.forkChild(Hedge.hedge(effect, hedge))
          yield* TestClock.adjust("99 millis")
          return yield* Fiber.join(fiber)
        })
      )
      expect(result).toBe(1)
      expect(events).toEqual([])
      yield* TestClock.adjust("1 second")
      expect(log.started).toEqual([1])
    }))

  it.effect("a slow call gets a second attempt after the delay; the first answer wins and the loser is stopped", () =>
    Effect.gen(function*() {
      const hedge = yield* Hedge.make({ name: "search", delay: "100 millis", attempts: 2 })
      const { log, effect } = attempts([1000, 50])
      const { result, events } = yield* collectEvents(
        hedge.subscribe,
        Effect.gen(function*() {
          const fiber = yield* Effect.forkChild(Hedge.hedge(effect, hedge))
          yield* TestClock.adjust("100 millis")
          expect(log.started).toEqual([1, 2])
          yield* TestClock.adjust("50 millis")
          const value = yield* Fiber.join(fiber)
          // The first attempt was interrupted before the caller got the answer.
          expect(log.interrupted).toEqual([1])
          return value
        })
      )
      expect(result).toBe(2)
      expect(events).toMatchObject([
        { _tag: "HedgeStarted", policy: "search", attempt: 2, at: 100 },
        { _tag: "HedgeSucceeded", policy: "search", attempt: 2, at: 150 }
      ])
    }))

  it.effect("starts at most `attempts` attempts, one per delay", () =>
    Effect.gen(function*() {
      const hedge = yield* Hedge.make({ delay: "100 millis", attempts: 3 })
      const { log, effect } = attempts([10_000, 10_000, 10_000])
      const fiber = yield* Effect.forkChild(Hedge.hedge(effect, hedge))
      yield* TestClock.adjust("100 millis")
      expect(log.started).toEqual([1, 2])
      yield* TestClock.adjust("100 millis")
      expect(log.started).toEqual([1, 2, 3])
      yield* TestClock.adjust("5 seconds")
      expect(log.started).toEqual([1, 2, 3])
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(fiber)).toBe(1)
      expect(log.interrupted.sort()).toEqual([2, 3])
    }))

  it.effect("a failed attempt starts the next one at once", () =>
    Effect.gen(function*() {
      const hedge = yield* Hedge.make({ delay: "1 minute", attempts: 2 })
      const { log, effect } = attempts([10, 10], [1])
      const fiber = yield* Effect.forkChild(Hedge.hedge(effect, hedge))
      yield* TestClock.adjust("10 millis")
      expect(log.started).toEqual([1, 2])
      yield* TestClock.adjust("10 millis")
      expect(yield* Fiber.join(fiber)).toBe(2)
    }))

  it.effect("an attempt that fails at once starts the next, whose own delay then starts the one after", () =>
    Effect.gen(function*() {
      const hedge = yield* Hedge.make({ delay: "100 millis", attempts: 3 })
      // Attempt 1 fails synchronously; attempt 2 hangs; attempt 3 must start 100 ms later.
      const { log, effect } = attempts([0, 10_000, 50], [1])
      const fiber = yield* Effect.forkChild(Hedge.hedge(effect, hedge))
      yield* Effect.yieldNow
      expect(log.started).toEqual([1, 2])
      yield* TestClock.adjust("100 millis")
      expect(log.started).toEqual([1, 2, 3])
      yield* TestClock.adjust("50 millis")
      expect(yield* Fiber.join(fiber)).toBe(3)
    }))

  it.effect("a defect ends the call at once, as it is", () =>
    Effect.gen(function*() {
      const hedge = yield* Hedge.make({ delay: "100 millis", attempts: 3 })
      let started = 0
      const exit = yield* Effect.exit(
        Effect.suspend(() => {
          started++
          return Effect.die("bug")
        }).pipe(Hedge.hedge(hedge))
      )
      expect(exit._tag === "Failure" && exit.cause.reasons.map((r) => r._tag)).toEqual(["Die"])
      expect(started).toBe(1)
    }))

  it.effect("a rejection by an open circuit does not start another attempt", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
      yield* Effect.exit(breaker.execute(Effect.fail("down")))
      const hedge = yield* Hedge.make({ delay: "100 millis", attempts: 3 })
      let started = 0
      const exit = yield* Effect.exit(
        Effect.sync(() => ++started).pipe(withCircuitBreaker(breaker), Hedge.hedge(hedge))
      )
      expect(failure(exit)).toBeInstanceOf(CircuitOpenError)
      expect(started).toBe(0)
    }))

  it.effect("a rejection by a full bulkhead, an adaptive limit or a rate limit does not start another attempt", () =>
    Effect.gen(function*() {
      const hedge = yield* Hedge.make({ delay: "100 millis", attempts: 3 })
      const rejections = [
        new BulkheadFullError({ bulkhead: "inventory", reason: "QueueFull", maxConcurrent: 1, maxQueued: 0 }),
        new ConcurrencyLimitExceededError({
          policy: "inventory",
          limit: 4,
          inFlight: 4,
          retryAfter: Duration.millis(50)
        }),
        new RateLimitExceededError({
          policy: "inventory",
          key: "inventory",
          limit: 10,
          retryAfter: Duration.seconds(1)
        })
      ]
      for (const rejection of rejections) {
        let started = 0
        const exit = yield* Effect.exit(
          Effect.suspend(() => (++started, Effect.fail(rejection))).pipe(Hedge.hedge(hedge))
        )
        expect(failure(exit)).toBe(rejection)
        expect(started).toBe(1)
      }
    }))

  it.effect("leaves no attempt and no timer behind", () =>
    withSleepCounter((pendingSleeps) =>
      Effect.gen(function*() {
        const hedge = yield* Hedge.make({ delay: "100 millis", attempts: 3 })
        const { log, effect } = attempts([10_000, 50, 10_000])
        const fiber = yield* Effect.forkChild(Hedge.hedge(effect, hedge))
        yield* TestClock.adjust("100 millis")
        expect(pendingSleeps()).toBe(3) // attempts 1 and 2, and the timer for attempt 3
        yield* TestClock.adjust("50 millis")
        expect(yield* Fiber.join(fiber)).toBe(2)
        expect(log.interrupted).toEqual([1])
        expect(pendingSleeps()).toBe(0)
      })
    ))

  it.effect("when every attempt fails, the call fails with the last failure", () =>
    Effect.gen(function*() {
      const hedge = yield* Hedge.make({ delay: "100 millis", attempts: 3 })
      // Attempt 1 fails last (at 500 ms), after attempts 2 and 3.
      const { log, effect } = attempts([500, 50, 20], [1, 2, 3])
      const fiber = yield* Effect.forkChild(Effect.exit(Hedge.hedge(effect, hedge)))
      yield* TestClock.adjust("1 second")
      expect(failure(yield* Fiber.join(fiber))).toEqual(new Boom({ n: 1 }))
      expect(log.started).toEqual([1, 2, 3])
    }))

  it.effect("interrupting the caller stops every attempt", () =>
    Effect.gen(function*() {
      const hedge = yield* Hedge.make({ delay: "10 millis", attempts: 3 })
      const { log, effect } = attempts([10_000, 10_000, 10_000])
      const fiber = yield* Effect.forkChild(Hedge.hedge(effect, hedge))
      yield* TestClock.adjust("20 millis")
      yield* Fiber.interrupt(fiber)
      expect(log.interrupted.sort()).toEqual([1, 2, 3])
    }))

  it.effect("attempts: 1 runs the call alone", () =>
    Effect.gen(function*() {
      const hedge = yield* Hedge.make({ delay: 0, attempts: 1 })
      const { log, effect } = attempts([10])
      const fiber = yield* Effect.forkChild(Hedge.hedge(effect, hedge))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe(1)
      expect(log.started).toEqual([1])
    }))

  describe("bad options fail with PolicyConfigError naming the field", () => {
    const cases: ReadonlyArray<readonly [string, unknown, string, RegExp]> = [
      ["zero attempts", { attempts: 0 }, "attempts", /integer between 1 and/],
      ["fractional attempts", { attempts: 2.5 }, "attempts", /integer between 1 and/],
      ["NaN delay", { delay: NaN }, "delay", /NaN/],
      ["negative delay", { delay: "-1 second" }, "delay", /negative/],
      ["unknown option", { maxAttempts: 2 }, "maxAttempts", /not a hedge option/]
    ]
    it.effect.each(cases)(
      "%s",
      ([, options, field, rule]) => expectConfigIssue(Hedge.make(options as Hedge.HedgeOptions), field, rule)
    )
  })
})
