import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Schedule } from "effect"
import { TestClock } from "effect/testing"
import type { PolicyEvent } from "../src/index.js"
import {
  Bulkhead,
  BulkheadFullError,
  CircuitBreaker,
  CircuitOpenError,
  Retry,
  withCircuitBreaker
} from "../src/index.js"
import { Boom, boom, NotFound } from "./helpers.js"
import { collectEvents, expectConfigIssue, failure, policyConfigError } from "./policyHelpers.js"

/** An effect that counts its runs and fails with `Boom` until run `succeedOn` (never, by default). */
const flaky = (succeedOn = Infinity) => {
  const state = { runs: 0 }
  const effect = Effect.suspend(() => {
    state.runs++
    return state.runs >= succeedOn ? Effect.succeed(state.runs) : Effect.fail(new Boom({ n: state.runs }))
  })
  return { state, effect }
}

/** Runs `effect` in a fiber, moves the clock by `millis` steps, and returns its exit. */
const runFor = <A, E>(effect: Effect.Effect<A, E>, ...steps: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Effect.exit(effect))
    for (const step of steps) yield* TestClock.adjust(step)
    return yield* Fiber.join(fiber)
  })

const delaysOf = (events: ReadonlyArray<PolicyEvent.PolicyEvent>) =>
  events.flatMap((e) => (e._tag === "RetryScheduled" ? [Duration.toMillis(e.delay)] : []))

describe("Retry", () => {
  it.effect("retries a typed failure with exponential backoff, then fails with the last error", () =>
    Effect.gen(function*() {
      const retry = yield* Retry.make({ name: "api", retries: 3, baseDelay: 100, factor: 2, jitter: false })
      const { state, effect } = flaky()
      const fiber = yield* Effect.forkChild(Effect.exit(Retry.retry(effect, retry)))
      yield* Effect.yieldNow
      expect(state.runs).toBe(1)
      yield* TestClock.adjust(99)
      expect(state.runs).toBe(1)
      yield* TestClock.adjust(1)
      expect(state.runs).toBe(2)
      yield* TestClock.adjust(200)
      expect(state.runs).toBe(3)
      yield* TestClock.adjust(400)
      expect(state.runs).toBe(4)
      const error = failure(yield* Fiber.join(fiber))
      expect(error).toEqual(new Boom({ n: 4 }))
    }))

  it.effect("answers with the first success", () =>
    Effect.gen(function*() {
      const retry = yield* Retry.make({ retries: 5, jitter: false })
      const { state, effect } = flaky(3)
      const exit = yield* runFor(Retry.retry(effect, retry), 100, 200)
      expect(exit).toMatchObject({ _tag: "Success", value: 3 })
      expect(state.runs).toBe(3)
    }))

  it.effect("defects and interruptions are never retried", () =>
    Effect.gen(function*() {
      const retry = yield* Retry.make({ retries: 5, jitter: false })
      let runs = 0
      const exit = yield* Effect.exit(
        Effect.suspend(() => {
          runs++
          return Effect.die("bug")
        }).pipe(Retry.retry(retry))
      )
      expect(exit._tag).toBe("Failure")
      expect(runs).toBe(1)
      runs = 0
      const interrupted = yield* Effect.exit(
        Effect.suspend(() => {
          runs++
          return Effect.interrupt
        }).pipe(Retry.retry(retry))
      )
      expect(interrupted._tag).toBe("Failure")
      expect(runs).toBe(1)
    }))

  it.effect("retryOn chooses the errors that are retried", () =>
    Effect.gen(function*() {
      const retry = yield* Retry.make({ retries: 5, jitter: false, retryOn: (error) => !(error instanceof NotFound) })
      let runs = 0
      const exit = yield* Effect.exit(
        Effect.suspend(() => {
          runs++
          return Effect.fail(new NotFound())
        }).pipe(Retry.retry(retry))
      )
      expect(failure(exit)).toBeInstanceOf(NotFound)
      expect(runs).toBe(1)
    }))

  it.effect("onRetry runs once per decided retry, before its wait, with the replaced attempt's error; never for the last", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const { effect, state } = flaky()
      const retry = yield* Retry.make({
        retries: 2,
        baseDelay: "1 second",
        jitter: false,
        onRetry: (error) => Effect.sync(() => seen.push(`${(error as Boom).n}@${state.runs}`))
      })
      const fiber = yield* Effect.forkChild(retry.apply(effect))
      yield* Effect.yieldNow
      expect(seen).toEqual(["1@1"]) // before the 1 s wait
      yield* TestClock.adjust("3 seconds")
      expect((failure(yield* Fiber.await(fiber)) as Boom).n).toBe(3)
      expect(seen).toEqual(["1@1", "2@2"]) // not for the third, whose error the call ends with
      // Not when the budget refuses the retry.
      const budget = yield* Retry.makeBudget({ name: "none", ratio: 0.01, minRetriesPerSecond: 0 })
      const refused: Array<unknown> = []
      const budgeted = yield* Retry.make({
        baseDelay: 0,
        budget,
        onRetry: (error) => Effect.sync(() => refused.push(error))
      })
      yield* Effect.exit(budgeted.apply(boom))
      expect(refused).toEqual([])
      yield* expectConfigIssue(Retry.make({ onRetry: "log" as never }), "onRetry", /a function/)
    }))

  it.effect("a schedule replaces the backoff: its delays are the waits, its end is the last retry", () =>
    Effect.gen(function*() {
      const retry = yield* Retry.make({ schedule: Schedule.spaced("1 second").pipe(Schedule.upTo({ times: 2 })) })
      const { state, effect } = flaky()
      const exit = yield* runFor(Retry.retry(effect, retry), 1000, 1000, 1000)
      expect(state.runs).toBe(3)
      expect(failure(exit)).toEqual(new Boom({ n: 3 }))
    }))

  it.effect("jittered delays stay within 0.8x to 1.2x, never above maxDelay, and stay spread at the cap", () =>
    Effect.gen(function*() {
      const retry = yield* Retry.make({ retries: 12, baseDelay: 100, factor: 2, maxDelay: 1000 })
      const { events } = yield* collectEvents(retry.subscribe, runFor(Retry.retry(boom, retry), 20_000))
      const delays = delaysOf(events)
      expect(delays).toHaveLength(12)
      const nominal = [100, 200, 400]
      nominal.forEach((n, i) => {
        expect(delays[i]).toBeGreaterThanOrEqual(n * 0.8)
        expect(delays[i]).toBeLessThanOrEqual(n * 1.2)
      })
      // From 800 ms x 1.2 on, delays reach the cap: they stay between 0.8x and 1x of it, and differ.
      const atCap = delays.slice(4)
      expect(atCap.every((d) => d >= 800 && d <= 1000)).toBe(true)
      expect(new Set(atCap).size).toBeGreaterThan(1)
    }))

  it.effect("the default backoff: 3 retries, 100 ms doubling, jittered, capped at 10 s", () =>
    Effect.gen(function*() {
      const retry = yield* Retry.make()
      const { events } = yield* collectEvents(retry.subscribe, runFor(Retry.retry(boom, retry), 2000))
      const delays = delaysOf(events)
      expect(delays).toHaveLength(3)
      expect(delays[0]).toBeGreaterThanOrEqual(80)
      expect(delays[2]).toBeLessThanOrEqual(480)
      expect(Retry.retryDefaults.maxDelay).toEqual(Duration.seconds(10))
    }))

  describe("open circuits and full bulkheads", () => {
    it.effect("retry outside the breaker: a CircuitOpenError is never retried, so the loop stops when the circuit opens", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2, openDuration: "1 minute" })
        const retry = yield* Retry.make({ retries: 10, baseDelay: 10, jitter: false })
        const { state, effect } = flaky()
        const { result: exit, events } = yield* collectEvents(
          retry.subscribe,
          runFor(effect.pipe(withCircuitBreaker(breaker), Retry.retry(retry)), 10, 20)
        )
        // Two failures trip the circuit; the third attempt is rejected and ends the loop.
        expect(state.runs).toBe(2)
        expect(failure(exit)).toBeInstanceOf(CircuitOpenError)
        expect(events.at(-1)).toMatchObject({
          _tag: "RetryGaveUp",
          reason: "NotRetryable",
          attempts: 3,
          error: "CircuitOpenError"
        })
      }))

    it.effect("retry inside the breaker: the breaker sees one outcome per logical call", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 3 })
        const retry = yield* Retry.make({ retries: 4, baseDelay: 10, jitter: false })
        const { state, effect } = flaky(4)
        const exit = yield* runFor(effect.pipe(Retry.retry(retry), withCircuitBreaker(breaker)), 10, 20, 40)
        expect(exit).toMatchObject({ _tag: "Success", value: 4 })
        expect(state.runs).toBe(4)
        const snapshot = yield* breaker.snapshot
        expect(snapshot.calls).toBe(1)
        expect(snapshot.failures).toBe(0)
        expect(snapshot.state).toBe("Closed")
      }))

    it.effect("waitForOpenCircuit honours retryAfter and gets through once the circuit lets a probe in", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "5 seconds" })
        yield* Effect.exit(breaker.execute(boom))
        const retry = yield* Retry.make({ retries: 3, baseDelay: 100, jitter: false, waitForOpenCircuit: true })
        let runs = 0
        const call = Effect.sync(() => ++runs).pipe(withCircuitBreaker(breaker), Retry.retry(retry))
        const fiber = yield* Effect.forkChild(call)
        yield* TestClock.adjust("4999 millis")
        expect(runs).toBe(0)
        yield* TestClock.adjust("1 millis")
        expect(yield* Fiber.join(fiber)).toBe(1)
        expect(yield* breaker.state).toBe("Closed")
      }))

    it.effect("waitForOpenCircuit gives up when the circuit stays open longer than maxCircuitWait, or is forced open", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "1 minute" })
        yield* Effect.exit(breaker.execute(boom))
        const retry = yield* Retry.make({ waitForOpenCircuit: true, maxCircuitWait: "10 seconds", jitter: false })
        const { result: exit, events } = yield* collectEvents(
          retry.subscribe,
          Effect.exit(Effect.void.pipe(withCircuitBreaker(breaker), Retry.retry(retry)))
        )
        expect(failure(exit)).toBeInstanceOf(CircuitOpenError)
        expect(events).toMatchObject([{ _tag: "RetryGaveUp", reason: "CircuitOpenTooLong", attempts: 1 }])
        yield* breaker.forceOpen
        const unbounded = yield* Retry.make({ waitForOpenCircuit: true })
        const forced = yield* Effect.exit(Effect.void.pipe(withCircuitBreaker(breaker), Retry.retry(unbounded)))
        expect((failure(forced) as CircuitOpenError).state).toBe("ForcedOpen")
      }))

    it.effect("a BulkheadFullError is retried only when retryOn asks for it", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1 })
        const retry = yield* Retry.make({ retries: 3, baseDelay: 100, jitter: false, retryOn: () => true })
        const holder = yield* Effect.forkChild(Effect.sleep(150).pipe(Bulkhead.withBulkhead(bulkhead)), {
          startImmediately: true
        })
        let runs = 0
        const exit = yield* runFor(
          Effect.sync(() => ++runs).pipe(Bulkhead.withBulkhead(bulkhead), Retry.retry(retry)),
          100,
          200
        )
        // Rejected at 0 and 100 ms; the slot is free from 150 ms, so the retry at 300 ms runs.
        expect(exit).toMatchObject({ _tag: "Success", value: 1 })
        yield* Fiber.join(holder)
      }))

    it.effect("a BulkheadFullError is not retried by default", () =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1 })
        const retry = yield* Retry.make({ retries: 5, baseDelay: 1, jitter: false })
        const holder = yield* Effect.forkChild(Effect.never.pipe(Bulkhead.withBulkhead(bulkhead)), {
          startImmediately: true
        })
        let runs = 0
        const exit = yield* Effect.exit(
          Effect.sync(() => ++runs).pipe(Bulkhead.withBulkhead(bulkhead), Retry.retry(retry))
        )
        expect(failure(exit)).toBeInstanceOf(BulkheadFullError)
        expect(runs).toBe(0)
        yield* Fiber.interrupt(holder)
      }))
  })

  describe("retry budget", () => {
    it.effect("retries are limited to a fraction of recent calls plus a floor; an exhausted budget returns the original error", () =>
      Effect.gen(function*() {
        // 20% of the calls of the last 10 seconds, plus 0.1 retry per second (1 retry per window).
        const budget = yield* Retry.makeBudget({
          name: "inventory",
          ratio: 0.2,
          minRetriesPerSecond: 0.1,
          window: "10 seconds"
        })
        const retry = yield* Retry.make({ retries: 1, baseDelay: 1, jitter: false, budget })
        const results = yield* collectEvents(
          retry.subscribe,
          Effect.forEach(Array.from({ length: 10 }), () => runFor(Retry.retry(boom, retry), 1))
        )
        // 10 calls: 1 (floor) + 0.2 * 10 = 3 retries allowed in all; 7 calls fail at once with their own error.
        expect(results.result.every((exit) => failure(exit) instanceof Boom)).toBe(true)
        const scheduled = results.events.filter((e) => e._tag === "RetryScheduled").length
        const exhausted = results.events.filter((e) =>
          e._tag === "RetryGaveUp" && e.reason === "BudgetExhausted"
        ).length
        expect(scheduled).toBe(3)
        expect(exhausted).toBe(7)
        expect(yield* budget.snapshot).toMatchObject({ budget: "inventory", calls: 10, retries: 3, available: 0 })
      }))

    it.effect("the budget refills as the window moves on", () =>
      Effect.gen(function*() {
        const budget = yield* Retry.makeBudget({ ratio: 0.5, minRetriesPerSecond: 0, window: "1 second" })
        const retry = yield* Retry.make({ retries: 1, baseDelay: 1, jitter: false, budget })
        for (let i = 0; i < 4; i++) yield* runFor(Retry.retry(boom, retry), 1)
        expect((yield* budget.snapshot).available).toBe(0)
        yield* TestClock.adjust("2 seconds")
        expect(yield* budget.snapshot).toMatchObject({ calls: 0, retries: 0, available: 0 })
        const { state, effect } = flaky(2)
        for (let i = 0; i < 2; i++) yield* runFor(Retry.retry(Effect.succeed(1), retry))
        const exit = yield* runFor(Retry.retry(effect, retry), 1)
        expect(exit._tag).toBe("Success")
        expect(state.runs).toBe(2)
      }))
  })

  it.effect("a retry that waits is interrupted with its caller", () =>
    Effect.gen(function*() {
      const retry = yield* Retry.make({ retries: 3, baseDelay: "1 minute", jitter: false })
      const { state, effect } = flaky()
      const fiber = yield* Effect.forkChild(Retry.retry(effect, retry))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust("1 hour")
      expect(state.runs).toBe(1)
    }))

  it.effect("backoff builds a validated schedule for Effect.retry", () =>
    Effect.gen(function*() {
      const schedule = yield* Retry.backoff({ retries: 2, baseDelay: 50, jitter: false })
      const { state, effect } = flaky()
      const exit = yield* runFor(Effect.retry(effect, schedule), 50, 100)
      expect(state.runs).toBe(3)
      expect(exit._tag).toBe("Failure")
      yield* expectConfigIssue(Retry.backoff({ factor: 0 }), "factor", /between 1 and 10.*got 0/)
    }))

  describe("bad options fail with PolicyConfigError naming the field", () => {
    const retryCases: ReadonlyArray<readonly [string, unknown, string, RegExp]> = [
      ["negative retries", { retries: -1 }, "retries", /integer between 0 and.*-1/],
      ["fractional retries", { retries: 1.5 }, "retries", /integer between 0 and/],
      ["NaN retries", { retries: NaN }, "retries", /integer between 0 and.*NaN/],
      ["NaN delay", { baseDelay: NaN }, "baseDelay", /NaN/],
      ["negative delay", { baseDelay: -5 }, "baseDelay", /negative/],
      ["factor below 1", { factor: 0.5 }, "factor", /between 1 and 10/],
      ["infinite factor", { factor: Infinity }, "factor", /between 1 and 10/],
      ["zero max delay", { maxDelay: 0 }, "maxDelay", /at least 1 millisecond/],
      [
        "max delay below base",
        { baseDelay: "2 seconds", maxDelay: "1 second" },
        "maxDelay",
        /at least baseDelay \(2s\)/
      ],
      [
        "schedule and backoff",
        { schedule: Schedule.spaced(10), retries: 2 },
        "retries",
        /cannot be combined with schedule/
      ],
      ["not a schedule", { schedule: 5 }, "schedule", /Schedule/],
      ["retryOn not a function", { retryOn: true }, "retryOn", /function/],
      ["maxCircuitWait alone", { maxCircuitWait: "1 second" }, "maxCircuitWait", /waitForOpenCircuit/],
      ["not a budget", { budget: { ratio: 0.2 } }, "budget", /RetryBudget/],
      ["unknown option", { retires: 3 }, "retires", /not a retry option/]
    ]
    it.effect.each(retryCases)(
      "%s",
      ([, options, field, rule]) => expectConfigIssue(Retry.make(options as Retry.RetryOptions), field, rule)
    )

    const budgetCases: ReadonlyArray<readonly [string, unknown, string, RegExp]> = [
      ["zero ratio", { ratio: 0 }, "ratio", /greater than 0 and at most 1.*got 0/],
      ["ratio above 1", { ratio: 1.5 }, "ratio", /at most 1/],
      ["NaN ratio", { ratio: NaN }, "ratio", /NaN/],
      ["negative floor", { minRetriesPerSecond: -1 }, "minRetriesPerSecond", /between 0 and/],
      ["window too small", { window: 5 }, "window", /at least 10 milliseconds/],
      ["NaN window", { window: NaN }, "window", /NaN/]
    ]
    it.effect.each(budgetCases)(
      "budget: %s",
      ([, options, field, rule]) =>
        expectConfigIssue(Retry.makeBudget(options as Retry.RetryBudgetOptions), field, rule)
    )

    it.effect("every broken rule is listed at once", () =>
      Effect.gen(function*() {
        const error = yield* policyConfigError(Retry.make({ name: "x", retries: -1, factor: 0 }))
        expect(error.kind).toBe("Retry")
        expect(error.policy).toBe("x")
        expect(error.issues.map((i) => i.field).sort()).toEqual(["factor", "retries"])
      }))
  })
})
