/**
 * Export and restore with the memory store, where the local circuit is the
 * record: the window's outcomes, the streak, the last failure and the
 * backoff's position come back too.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Schedule, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { CircuitBreaker, CircuitDocument, Limits } from "../src/index.js"
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

  it.effect("a time window of buckets a fraction of a millisecond wide exports buckets it restores", () =>
    Effect.gen(function*() {
      // 7 ms in 3 buckets: 7/3 is not exact in floating point, and 429000 × 7/3 lands just past 1001000.
      const config = { name: "narrow", window: CircuitBreaker.timeWindow("7 millis", 3), failureCount: 10 } as const
      yield* TestClock.setTime(1_001_000)
      const before = yield* CircuitBreaker.make(config)
      yield* succeedTimes(before, 1)
      yield* failTimes(before, 1)
      const document = travelled(yield* before.export)
      expect(document).toMatchObject({
        exportedAt: 1_001_000,
        window: { _tag: "TimeWindow", buckets: [{ at: 1_001_000, calls: 2, failures: 1 }] }
      })
      const after = yield* CircuitBreaker.make(config)
      yield* after.restore(document)
      expect(yield* after.snapshot).toMatchObject({ calls: 2, failures: 1 })
      expect(travelled(yield* after.export)).toEqual(document)
    }).pipe(Effect.scoped))

  // The breaker's clock is the wall clock, which may step back (an NTP correction; the time window
  // reads such a time as "still now"): a failure recorded just before the step, or a bucket, lies
  // after the moment of the export, which exports at the latest time its document carries.
  it.effect("a document exported just after the clock stepped back restores into the same configuration", () =>
    Effect.gen(function*() {
      const config = { name: "stepped", window: CircuitBreaker.timeWindow("10 seconds", 10) } as const
      yield* TestClock.setTime(1_000_000)
      const before = yield* CircuitBreaker.make(config)
      yield* failTimes(before, 1)
      yield* TestClock.setTime(999_999)
      const document = travelled(yield* before.export)
      const after = yield* CircuitBreaker.make(config)
      yield* after.restore(document)
      expect(yield* after.snapshot).toMatchObject({ calls: 1, failures: 1, consecutiveFailures: 1 })
    }).pipe(Effect.scoped))

  it.effect("a document from a host whose clock is ahead restores, up to Limits.maxClockSkewMillis", () =>
    Effect.gen(function*() {
      const config = { name: "skewed", consecutiveFailures: 1, openDuration: "30 seconds" } as const
      yield* TestClock.setTime(1_000_000 + Limits.maxClockSkewMillis)
      const ahead = yield* CircuitBreaker.make(config)
      yield* failTimes(ahead, 1)
      const document = travelled(yield* ahead.export)
      yield* TestClock.setTime(1_000_000)
      const behind = yield* CircuitBreaker.make(config)
      yield* behind.restore(document)
      expect((yield* behind.snapshot).state).toBe("Open")
      const tooFar = { ...(document as object), exportedAt: 1_000_000 + Limits.maxClockSkewMillis + 1 }
      const refused = yield* Effect.flip(behind.restore(tooFar))
      expect(refused.message).toContain("exportedAt")
      expect(refused.message).toContain("Limits.maxClockSkewMillis")
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

  describe("a document the breaker could never have written is refused, naming the field and the rule", () => {
    /** The issues a refused restore names, as `field: rule`. */
    const refusal = (breaker: CircuitBreaker.CircuitBreaker, document: unknown) =>
      Effect.map(Effect.flip(breaker.restore(document)), (error) => {
        expect(error).toMatchObject({ _tag: "CircuitControlError", operation: "restore" })
        return error.issues.map((issue) => `${issue.field}: ${issue.rule}`)
      })

    it.effect("consecutive openings or failures past Limits.maxConsecutiveCount", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ name: "counts" })
        const good = travelled(yield* breaker.export) as Record<string, unknown>
        for (const field of ["consecutiveOpenings", "consecutiveFailures"]) {
          const issues = yield* refusal(breaker, { ...good, [field]: Number.MAX_SAFE_INTEGER })
          expect(issues).toHaveLength(1)
          expect(issues[0]).toMatch(new RegExp(`^${field}: .*between 0 and ${Limits.maxConsecutiveCount}`))
        }
        expect(yield* breaker.snapshot).toMatchObject({ state: "Closed", consecutiveOpenings: 0 })
      }).pipe(Effect.scoped))

    it.effect("restored at the bound, the next opening saturates there: the breaker still exports and restores", () =>
      Effect.gen(function*() {
        const config = {
          name: "saturated",
          consecutiveFailures: 1,
          openDuration: Schedule.exponential("1 second"),
          maxOpenDuration: "1 minute"
        } as const
        const source = yield* CircuitBreaker.make(config)
        yield* failTimes(source, 1)
        const open = travelled(yield* source.export) as Record<string, unknown>
        const breaker = yield* CircuitBreaker.make(config)
        yield* breaker.restore({ ...open, consecutiveOpenings: Limits.maxConsecutiveCount })
        yield* TestClock.adjust("1 second")
        yield* failTimes(breaker, 1)
        const snapshot = yield* breaker.snapshot
        expect(snapshot).toMatchObject({ state: "Open", consecutiveOpenings: Limits.maxConsecutiveCount })
        // The backoff is at its cap, and the document round-trips.
        expect(Duration.toMillis(snapshot.retryAfter)).toBe(60_000)
        const document = travelled(yield* breaker.export)
        expect(document).toMatchObject({ consecutiveOpenings: Limits.maxConsecutiveCount })
        const after = yield* CircuitBreaker.make(config)
        yield* after.restore(document)
        expect(yield* after.snapshot).toMatchObject({ state: "Open", consecutiveOpenings: Limits.maxConsecutiveCount })
      }).pipe(Effect.scoped))

    it.effect("a failure streak restored at the bound saturates there", () =>
      Effect.gen(function*() {
        // Failures trip nothing here: only slow calls do.
        const config = {
          name: "streak",
          slowCallRate: 0.5,
          slowCallDuration: "1 second",
          window: CircuitBreaker.countWindow(4)
        } as const
        const breaker = yield* CircuitBreaker.make(config)
        const good = travelled(yield* breaker.export) as Record<string, unknown>
        yield* breaker.restore({
          ...good,
          consecutiveFailures: Limits.maxConsecutiveCount,
          window: { _tag: "CountWindow", outcomes: "ffff" }
        })
        yield* failTimes(breaker, 1)
        expect(yield* breaker.snapshot).toMatchObject({
          state: "Closed",
          consecutiveFailures: Limits.maxConsecutiveCount
        })
        yield* breaker.restore(travelled(yield* breaker.export))
      }).pipe(Effect.scoped))

    it.effect("a count window: more outcomes than its size, or a streak its outcomes contradict", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ name: "count", window: CircuitBreaker.countWindow(4) })
        const good = travelled(yield* breaker.export) as Record<string, unknown>
        const withWindow = (outcomes: string, consecutiveFailures: number) =>
          refusal(breaker, { ...good, consecutiveFailures, window: { _tag: "CountWindow", outcomes } })
        expect(yield* withWindow("sssss", 0)).toEqual([
          "window.outcomes: must hold at most 4 outcomes, the size of this breaker's count window (got 5)"
        ])
        // A success resets the streak: after "sff" it is 2.
        expect(yield* withWindow("sff", 3)).toEqual([
          "consecutiveFailures: must be 2, the failures after the window's last success (got 3)"
        ])
        expect(yield* withWindow("ffs", 1)).toEqual([
          "consecutiveFailures: must be 0, the failures after the window's last success (got 1)"
        ])
        expect(yield* withWindow("Ff", 1)).toEqual([
          "consecutiveFailures: must be 2, the window's outcomes, all failures, none evicted yet (got 1)"
        ])
        // A window not yet full has lost no outcome: the streak is no longer than its failures.
        expect(yield* withWindow("", 7)).toEqual([
          "consecutiveFailures: must be 0, the window's outcomes, all failures, none evicted yet (got 7)"
        ])
        expect(yield* withWindow("ff", 5)).toEqual([
          "consecutiveFailures: must be 2, the window's outcomes, all failures, none evicted yet (got 5)"
        ])
        expect(yield* withWindow("ffff", 3)).toEqual([
          "consecutiveFailures: must be at least 4, the window's outcomes, all failures (got 3)"
        ])
        // What the breaker can write is accepted: a streak longer than a window of failures.
        yield* breaker.restore({ ...good, consecutiveFailures: 9, window: { _tag: "CountWindow", outcomes: "ffFf" } })
        expect(yield* breaker.snapshot).toMatchObject({ calls: 4, failures: 4, slowCalls: 1, consecutiveFailures: 9 })
      }).pipe(Effect.scoped))

    it.effect("a time window: a bucket past what its width can hold, buckets out of order, a total past the window's", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: "time",
          window: CircuitBreaker.timeWindow("10 seconds", 10)
        })
        yield* TestClock.adjust("20 seconds")
        const good = travelled(yield* breaker.export) as Record<string, unknown>
        const withBuckets = (buckets: ReadonlyArray<{ at: number; calls: number; failures?: number }>) =>
          refusal(breaker, {
            ...good,
            window: { _tag: "TimeWindow", buckets: buckets.map((b) => ({ failures: 0, slowCalls: 0, ...b })) }
          })
        const perBucket = 1000 * Limits.maxCallsPerMillisecond // a bucket is 1 second wide
        // A forged flood of successes that would keep any failure rate from tripping.
        expect(yield* withBuckets([{ at: 15_000, calls: 1e12 }])).toEqual([
          `window.buckets.0.calls: must be at most ${perBucket} (Limits.maxCallsPerMillisecond for each of the bucket's 1000 milliseconds), got 1000000000000`
        ])
        expect(yield* withBuckets([{ at: 15_000, calls: 1 }, { at: 15_000, calls: 1 }])).toEqual([
          "window.buckets.1.at: must be after the previous bucket's (15000), got 15000"
        ])
        // Narrow buckets each within a bucket's bound, too many calls for the whole window.
        const many = Array.from({ length: 100 }, (_, i) => ({ at: 15_000 + i, calls: perBucket }))
        expect(yield* withBuckets(many)).toEqual([
          `window.buckets: must hold at most ${
            10_000 * Limits.maxCallsPerMillisecond
          } calls in all (Limits.maxCallsPerMillisecond for each of the window's 10000 milliseconds), got ${
            100 * perBucket
          }`
        ])
        yield* breaker.restore({
          ...good,
          window: { _tag: "TimeWindow", buckets: [{ at: 15_000, calls: perBucket, failures: 1, slowCalls: 0 }] }
        })
        expect(yield* breaker.snapshot).toMatchObject({ calls: perBucket, failures: 1 })
      }).pipe(Effect.scoped))

    it.effect("a document broken everywhere makes a short error: the first 20 issues, and a count of the rest", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: "flood",
          window: CircuitBreaker.timeWindow("10 seconds", 10)
        })
        yield* TestClock.adjust("20 seconds")
        const good = travelled(yield* breaker.export) as Record<string, unknown>
        const withBuckets = (buckets: ReadonlyArray<unknown>) =>
          refusal(breaker, { ...good, window: { _tag: "TimeWindow", buckets } })
        // As many buckets as a document may hold, each breaking three rules: 29,999 issues in all.
        const broken = Array.from(
          { length: Limits.maxTimeWindowBuckets },
          () => ({ at: 15_000, calls: 1, failures: 2, slowCalls: 2 })
        )
        const listed = yield* withBuckets(broken)
        expect(listed).toHaveLength(21)
        expect(listed[0]).toBe("window.buckets.0.failures: must be at most calls")
        expect(listed[20]).toBe("(document): 29979 more issues (the first 20 are listed)")
        // Past the bound, the buckets are not read one by one: one issue.
        const tooMany = Array.from({ length: 10 * Limits.maxTimeWindowBuckets }, () => ({ at: -1, calls: -1 }))
        expect(yield* withBuckets(tooMany)).toEqual([
          `window.buckets: must hold at most ${Limits.maxTimeWindowBuckets} buckets (got ${
            10 * Limits.maxTimeWindowBuckets
          })`
        ])
        expect(yield* breaker.snapshot).toMatchObject({ state: "Closed", calls: 0 })
      }).pipe(Effect.scoped))
  })
})
