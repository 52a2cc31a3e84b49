import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { CircuitBreaker, Timeout, TimeoutError } from "../src/index.js"
import { collectEvents, expectConfigIssue, failure, withSleepCounter } from "./policyHelpers.js"

describe("Timeout", () => {
  it.effect("a call that finishes in time is untouched", () =>
    Effect.gen(function*() {
      const timeout = yield* Timeout.make({ name: "quotes", duration: "1 second" })
      const fiber = yield* Effect.forkChild(Effect.sleep("999 millis").pipe(Effect.as(42), Timeout.timeout(timeout)))
      yield* TestClock.adjust("999 millis")
      expect(yield* Fiber.join(fiber)).toBe(42)
    }))

  it.effect("a call that runs too long is interrupted, and only then fails with TimeoutError", () =>
    Effect.gen(function*() {
      const timeout = yield* Timeout.make({ name: "quotes", duration: "1 second" })
      const log: Array<string> = []
      const work = Effect.sleep("1 hour").pipe(
        Effect.andThen(Effect.sync(() => log.push("finished"))),
        Effect.onInterrupt(() => Effect.sync(() => log.push("interrupted")))
      )
      const fiber = yield* Effect.forkChild(Effect.exit(Timeout.timeout(work, timeout)))
      yield* TestClock.adjust("999 millis")
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      const error = failure(yield* Fiber.join(fiber))
      expect(error).toBeInstanceOf(TimeoutError)
      expect((error as TimeoutError).policy).toBe("quotes")
      expect(Duration.toMillis((error as TimeoutError).duration)).toBe(1000)
      expect((error as TimeoutError).message).toMatch(/"quotes" did not finish within 1s and was interrupted/)
      // The work stopped before the caller saw the error, and never finishes later.
      expect(log).toEqual(["interrupted"])
      yield* TestClock.adjust("2 hours")
      expect(log).toEqual(["interrupted"])
    }))

  it.effect("the call's own failure within the time limit is kept", () =>
    Effect.gen(function*() {
      const timeout = yield* Timeout.make({ duration: "1 second" })
      const exit = yield* Effect.exit(Effect.fail("own").pipe(Timeout.timeout(timeout)))
      expect(failure(exit)).toBe("own")
    }))

  it.effect("interrupting the caller stops the call and its timer", () =>
    withSleepCounter((pendingSleeps) =>
      Effect.gen(function*() {
        const timeout = yield* Timeout.make({ duration: "1 minute" })
        const log: Array<string> = []
        const work = Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => log.push("interrupted"))))
        const fiber = yield* Effect.forkChild(Timeout.timeout(work, timeout))
        yield* TestClock.adjust("1 second")
        expect(pendingSleeps()).toBe(1) // the timer
        yield* Fiber.interrupt(fiber)
        expect(log).toEqual(["interrupted"])
        expect(pendingSleeps()).toBe(0)
      })
    ))

  it.effect("a call that answers in time leaves no timer behind", () =>
    withSleepCounter((pendingSleeps) =>
      Effect.gen(function*() {
        const timeout = yield* Timeout.make({ duration: "1 minute" })
        const fiber = yield* Effect.forkChild(Effect.sleep("1 second").pipe(Effect.as("ok"), Timeout.timeout(timeout)))
        yield* TestClock.adjust("1 second")
        expect(yield* Fiber.join(fiber)).toBe("ok")
        expect(pendingSleeps()).toBe(0)
        expect(yield* Effect.succeed("sync").pipe(Timeout.timeout(timeout))).toBe("sync")
        expect(pendingSleeps()).toBe(0)
      })
    ))

  it.effect("one timed effect run many times gets a time limit per run", () =>
    Effect.gen(function*() {
      const timeout = yield* Timeout.make({ duration: "100 millis" })
      let runs = 0
      const timed = Effect.suspend(() => {
        runs++
        return Effect.sleep(runs % 2 === 0 ? "150 millis" : "50 millis").pipe(Effect.as(runs))
      }).pipe(Timeout.timeout(timeout))
      const results: Array<string> = []
      for (let i = 0; i < 4; i++) {
        const fiber = yield* Effect.forkChild(Effect.exit(timed))
        yield* TestClock.adjust("150 millis")
        const exit = yield* Fiber.join(fiber)
        results.push(exit._tag === "Success" ? `ok ${exit.value}` : "timed out")
      }
      expect(results).toEqual(["ok 1", "timed out", "ok 3", "timed out"])
    }))

  it.effect("inside a breaker a timed-out call counts as a failure and as a slow call, whatever slowCallDuration says", () =>
    Effect.gen(function*() {
      // slowCallDuration defaults to 60 s, far above the 1 s timeout.
      const breaker = yield* CircuitBreaker.make({ failureRate: 0.5, slowCallRate: 0.5, minimumCalls: 10 })
      const timeout = yield* Timeout.make({ duration: "1 second" })
      const fiber = yield* Effect.forkChild(Effect.exit(Effect.never.pipe(Timeout.timeout(timeout), breaker.execute())))
      yield* TestClock.adjust("1 second")
      expect(failure(yield* Fiber.join(fiber))).toBeInstanceOf(TimeoutError)
      const snapshot = yield* breaker.snapshot
      expect(snapshot.calls).toBe(1)
      expect(snapshot.failures).toBe(1)
      expect(snapshot.slowCalls).toBe(1)
      // Effect's own Cause.TimeoutError counts the same way.
      const own = yield* Effect.forkChild(Effect.exit(Effect.never.pipe(Effect.timeout("1 second"), breaker.execute())))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(own)
      expect((yield* breaker.snapshot).slowCalls).toBe(2)
      // A call that fails quickly for another reason is not slow.
      yield* Effect.exit(breaker.execute(Effect.fail("quick")))
      expect(yield* breaker.snapshot).toMatchObject({ calls: 3, failures: 3, slowCalls: 2 })
    }))

  it.effect("reports every timeout as a TimedOut event", () =>
    Effect.gen(function*() {
      const timeout = yield* Timeout.make({ name: "search", duration: "10 millis" })
      const { events } = yield* collectEvents(
        timeout.subscribe,
        Effect.gen(function*() {
          const fiber = yield* Effect.forkChild(Effect.exit(Effect.never.pipe(Timeout.timeout(timeout))))
          yield* TestClock.adjust("10 millis")
          yield* Fiber.join(fiber)
        })
      )
      expect(events).toHaveLength(1)
      expect(events[0]).toMatchObject({ _tag: "TimedOut", policy: "search", at: 10 })
    }))

  it("TimeoutError encodes to JSON and back", () => {
    const codec = Schema.toCodecJson(TimeoutError)
    const error = new TimeoutError({ policy: "p", duration: Duration.seconds(2) })
    const decoded = Schema.decodeUnknownSync(codec)(JSON.parse(JSON.stringify(Schema.encodeSync(codec)(error))))
    expect(decoded).toBeInstanceOf(TimeoutError)
    expect(Duration.toMillis(decoded.duration)).toBe(2000)
  })

  describe("bad options fail with PolicyConfigError naming the field", () => {
    const cases: ReadonlyArray<readonly [string, unknown, string, RegExp]> = [
      ["missing duration", {}, "duration", /required/],
      ["NaN duration", { duration: NaN }, "duration", /NaN/],
      ["negative duration", { duration: "-1 second" }, "duration", /negative/],
      ["zero duration", { duration: 0 }, "duration", /at least 1 millisecond/],
      ["infinite duration", { duration: Infinity }, "duration", /finite/],
      ["unknown option", { duration: 5, retries: 3 }, "retries", /not a timeout option/],
      ["blank name", { duration: 5, name: "" }, "name", /non-empty/],
      ["not an object", 5, "(options)", /object of timeout options/]
    ]
    it.effect.each(cases)(
      "%s",
      ([, options, field, rule]) => expectConfigIssue(Timeout.make(options as Timeout.TimeoutOptions), field, rule)
    )
  })
})
