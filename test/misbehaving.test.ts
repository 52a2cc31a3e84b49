/**
 * User code the breaker calls into — a classifier, a logger — may be buggy.
 * Whatever it does, the caller's `Exit` keeps the call's own typed failure,
 * a probe permit always comes back, and the circuit never wedges.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Logger, Option } from "effect"
import { TestClock } from "effect/testing"
import type { Classifier } from "../src/index.js"
import { CircuitBreaker } from "../src/index.js"
import { Boom, failTimes } from "./helpers.js"

/** A classifier that answers something other than an outcome (as a `"Success"` typo from JavaScript would). */
const answersNonsense = (() => "Success") as unknown as Classifier.Classifier
const throws: Classifier.Classifier = () => {
  throw new Error("classifier bug")
}

/** Log lines, captured. */
const capture = () => {
  const lines: Array<{ readonly level: string; readonly message: string }> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push({ level: logLevel, message: String(Array.isArray(message) ? message[0] : message) })
  })
  return { lines, layer: Logger.layer([logger]) }
}

describe("a classifier that throws or answers nonsense", () => {
  for (const [name, classify] of [["throws", throws], ["answers a non-outcome", answersNonsense]] as const) {
    it.effect(`${name}: a failed call keeps its own typed failure, counts as nothing, and the bug is logged`, () => {
      const logs = capture()
      return Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
        const exit = yield* Effect.exit(breaker.execute(Effect.fail(new Boom({ n: 1 })), { classify }))
        expect(Exit.isFailure(exit) && Cause.hasFails(exit.cause) && !Cause.hasDies(exit.cause)).toBe(true)
        expect(Option.getOrUndefined(Exit.findErrorOption(exit))).toEqual(new Boom({ n: 1 }))
        expect(yield* breaker.state).toBe("Closed")
        expect((yield* breaker.snapshot).calls).toBe(0)
        expect(logs.lines.filter((line) => line.level === "Error" && line.message.includes("classifier"))).toHaveLength(
          1
        )
      }).pipe(Effect.provide(logs.layer))
    })

    it.effect(`${name}: a successful call dies with the bug, and counts as nothing`, () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
        const exit = yield* Effect.exit(breaker.execute(Effect.succeed(1), { classify }))
        expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
        expect((yield* breaker.snapshot).calls).toBe(0)
      }))

    it.effect(`${name}: a probe gives its permit back, with events subscribed, and the circuit does not wedge`, () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "1 second" })
        yield* breaker.subscribe
        yield* failTimes(breaker, 1)
        yield* TestClock.adjust("1 second")
        yield* Effect.exit(breaker.execute(Effect.succeed(1), { classify }))
        const snapshot = yield* breaker.snapshot
        expect([snapshot.state, snapshot.probesInFlight]).toEqual(["HalfOpen", 0])
        expect(yield* breaker.execute(Effect.succeed(2))).toBe(2)
        expect(yield* breaker.state).toBe("Closed")
      }).pipe(Effect.scoped))
  }

  it.effect("a classifier bug on every call is logged at most once a minute", () => {
    const logs = capture()
    return Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
      const call = Effect.exit(breaker.execute(Effect.fail(new Boom({})), { classify: throws }))
      for (let i = 0; i < 100; i++) yield* call
      yield* TestClock.adjust("59 seconds")
      yield* call
      yield* TestClock.adjust("1 second")
      for (let i = 0; i < 100; i++) yield* call
      const reported = logs.lines.filter((line) => line.level === "Error")
      expect(reported).toHaveLength(2)
      expect(reported[1]!.message).toMatch(/100 more/)
    }).pipe(Effect.provide(logs.layer))
  })
})

describe("a logger that throws", () => {
  const failingOn = (text: string) =>
    Logger.layer([
      Logger.make(({ message }) => {
        if (String(Array.isArray(message) ? message[0] : message).includes(text)) throw new Error("logger down")
      })
    ])

  it.effect("on the half-open log line: the probe still runs, gives its answer, and no permit leaks", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: 0 })
      yield* failTimes(breaker, 1)
      expect(yield* breaker.execute(Effect.succeed(1))).toBe(1)
      expect(yield* breaker.state).toBe("Closed")
    }).pipe(Effect.provide(failingOn("half-open"))))

  it.effect("on the opening log line: the tripping call keeps its own typed failure", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
      const exit = yield* Effect.exit(breaker.execute(Effect.fail(new Boom({ n: 2 }))))
      expect(Option.getOrUndefined(Exit.findErrorOption(exit))).toEqual(new Boom({ n: 2 }))
      expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(false)
      expect(yield* breaker.state).toBe("Open")
    }).pipe(Effect.provide(failingOn("opened"))))
})
