/**
 * Export and restore with the memory store, where the local circuit is the
 * record: the window's outcomes, the streak, the last failure and the
 * backoff's position come back too.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Schedule, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { CircuitBreaker, CircuitDocument } from "../src/index.js"
import { attempt, Boom, expectRejected, failTimes, ok, rejection, succeedTimes } from "./helpers.js"

const travelled = (document: CircuitDocument.CircuitDocument): unknown =>
  JSON.parse(JSON.stringify(CircuitDocument.toJson(document)))

describe("CircuitDocument", () => {
  it.effect("a closed circuit's count window and streak come back: one more failure trips it", () =>
    Effect.gen(function*() {
      const config = { name: "window", consecutiveFailures: 3, failureRate: 0.5, minimumCalls: 6 } as const
      const before = yield* CircuitBreaker.make(config)
      yield* succeedTimes(before, 3)
      yield* failTimes(before, 2)
      const document = yield* before.export
      expect(document.window).toEqual({ _tag: "CountWindow", outcomes: "sssff" })
      expect([document.consecutiveFailures, document.lastFailure?.tag]).toEqual([2, "Boom"])
      const after = yield* CircuitBreaker.make(config)
      yield* after.restore(travelled(document))
      expect(yield* after.snapshot).toMatchObject({ calls: 5, failures: 2, consecutiveFailures: 2 })
      expect((yield* after.snapshot).lastFailure?.tag).toBe("Boom")
      yield* failTimes(after, 1)
      expect((yield* after.snapshot).openReason).toBe("ConsecutiveFailures")
    }).pipe(Effect.scoped))

  it.effect("a time window's buckets come back, less those that aged out between export and restore", () =>
    Effect.gen(function*() {
      const config = { name: "buckets", window: CircuitBreaker.timeWindow("10 seconds", 10), failureCount: 10 } as const
      const before = yield* CircuitBreaker.make(config)
      yield* failTimes(before, 2)
      yield* TestClock.adjust("5 seconds")
      yield* succeedTimes(before, 3)
      const document = travelled(yield* before.export)
      expect(document).toMatchObject({
        window: { _tag: "TimeWindow", buckets: [{ at: 0, calls: 2, failures: 2 }, { at: 5000, calls: 3, failures: 0 }] }
      })
      yield* TestClock.adjust("6 seconds")
      const after = yield* CircuitBreaker.make(config)
      yield* after.restore(document)
      // The bucket of 0 s left the window at 10 s: only the three successes are left.
      expect(yield* after.snapshot).toMatchObject({ calls: 3, failures: 0 })
    }).pipe(Effect.scoped))

  it.effect("the backoff resumes at the next step; the rejection's lastFailure is the failure's summary", () =>
    Effect.gen(function*() {
      const config = { name: "backoff", consecutiveFailures: 1, openDuration: Schedule.exponential("1 second") }
      const before = yield* CircuitBreaker.make(config)
      yield* Effect.exit(before.execute(Effect.fail(new Boom({ n: 1 }))))
      yield* TestClock.adjust("1 second")
      yield* failTimes(before, 1)
      const document = travelled(yield* before.export)
      expect(document).toMatchObject({ consecutiveOpenings: 2, openUntil: 3000, openedBy: { tag: "Boom" } })
      const after = yield* CircuitBreaker.make(config)
      yield* after.restore(document)
      const error = expectRejected(yield* attempt(after, ok), "Open", 2000)
      expect(error.lastFailure).toMatchObject({ _tag: "Boom" })
      yield* TestClock.adjust("2 seconds")
      yield* failTimes(after, 1)
      // The third opening: 4 seconds, as on the breaker that exported.
      expect(Duration.toMillis((yield* after.snapshot).retryAfter)).toBe(4000)
    }).pipe(Effect.scoped))

  it.effect("a restore is a transition (reason Restore), and calls admitted before it are stale", () =>
    Effect.gen(function*() {
      const source = yield* CircuitBreaker.make({ name: "events" })
      yield* source.forceOpen
      const document = travelled(yield* source.export)
      const scope = yield* Scope.make()
      const breaker = yield* CircuitBreaker.make({ name: "events", consecutiveFailures: 1 }).pipe(Scope.provide(scope))
      const events = yield* breaker.subscribe
      const running = yield* Effect.forkChild(
        breaker.execute(Effect.andThen(Effect.sleep("1 second"), Effect.fail("late"))),
        {
          startImmediately: true
        }
      )
      yield* breaker.restore(document)
      yield* breaker.reset
      yield* TestClock.adjust("1 second")
      expect(Exit.isFailure(yield* Fiber.await(running))).toBe(true)
      // The late failure belonged to the circuit before the restore: it trips nothing.
      expect(yield* breaker.state).toBe("Closed")
      yield* Scope.close(scope, Exit.void)
      const seen = yield* Stream.runCollect(events)
      expect(seen.flatMap((event) => event._tag === "StateChanged" ? [`${event.to}:${event.reason}`] : [])).toEqual([
        "ForcedOpen:Restore",
        "Closed:Reset"
      ])
      expect(rejection(yield* attempt(source, ok)).state).toBe("ForcedOpen")
    }).pipe(Effect.scoped))
})
