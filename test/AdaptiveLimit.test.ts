import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Metric, Random } from "effect"
import { TestClock } from "effect/testing"
import {
  AdaptiveLimit,
  CircuitBreaker,
  CircuitOpenError,
  ConcurrencyLimitExceededError,
  Fallback,
  Metrics,
  Policy,
  Retry,
  TimeoutError
} from "../src/index.js"
import { collectEvents, expectConfigIssue, failure } from "./policyHelpers.js"

class Boom {
  readonly _tag = "Boom"
}

/** `n` calls at once, each taking `millis` of the test clock; their exits. */
const batch = (limit: AdaptiveLimit.AdaptiveLimit, n: number, millis: number) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(
      Effect.forEach(
        Array.from({ length: n }),
        () => Effect.exit(Effect.sleep(millis).pipe(AdaptiveLimit.withLimit(limit))),
        { concurrency: "unbounded" }
      ),
      { startImmediately: true }
    )
    yield* TestClock.adjust(millis)
    return yield* Fiber.join(fiber)
  })

const limitOf = (limit: AdaptiveLimit.AdaptiveLimit) => Effect.map(limit.snapshot, (s) => s.limit)

describe("AdaptiveLimit", () => {
  it.effect("turns a call away at once when as many calls run as the limit, with the limit, the count and a hint", () =>
    Effect.gen(function*() {
      const limit = yield* AdaptiveLimit.make({ name: "search", initialLimit: 2, maxLimit: 2, window: 1 })
      const gate = yield* Deferred.make<void>()
      const holders = yield* Effect.forEach(
        [1, 2],
        () => Effect.forkChild(Deferred.await(gate).pipe(AdaptiveLimit.withLimit(limit)), { startImmediately: true })
      )
      let ran = false
      const exit = yield* Effect.exit(Effect.sync(() => (ran = true)).pipe(AdaptiveLimit.withLimit(limit)))
      expect(ran).toBe(false)
      const error = failure(exit) as ConcurrencyLimitExceededError
      expect(error).toBeInstanceOf(ConcurrencyLimitExceededError)
      expect(AdaptiveLimit.isConcurrencyLimitExceededError(error)).toBe(true)
      expect(error).toMatchObject({ policy: "search", limit: 2, inFlight: 2 })
      // Nothing measured yet: the hint is one second.
      expect(Duration.toMillis(error.retryAfter)).toBe(1000)
      expect(error.message).toMatch(/"search" reached \(2 calls in flight, limit 2\)/)
      expect(yield* limit.snapshot).toMatchObject({ inFlight: 2, rejections: 1 })
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.forEach(holders, Fiber.join)
      expect(yield* limit.snapshot).toMatchObject({ inFlight: 0, successes: 2, rejections: 1 })
    }))

  it.effect("the retry hint is the recent round trip of good calls", () =>
    Effect.gen(function*() {
      const limit = yield* AdaptiveLimit.make({ initialLimit: 1, maxLimit: 1, algorithm: AdaptiveLimit.aimd() })
      yield* batch(limit, 1, 250)
      expect(Duration.toMillis((yield* limit.snapshot).recentRtt!)).toBe(250)
      const holder = yield* Effect.forkChild(Effect.never.pipe(AdaptiveLimit.withLimit(limit)), {
        startImmediately: true
      })
      const error = failure(yield* Effect.exit(AdaptiveLimit.withLimit(Effect.void, limit)))
      expect(Duration.toMillis((error as ConcurrencyLimitExceededError).retryAfter)).toBe(250)
      yield* Fiber.interrupt(holder)
    }))

  it.effect("AIMD: one more slot per good call made at half the limit or more; the limit times backoffRatio on a drop", () =>
    Effect.gen(function*() {
      const limit = yield* AdaptiveLimit.make({
        initialLimit: 2,
        algorithm: AdaptiveLimit.aimd({ backoffRatio: 0.5 }),
        window: 1
      })
      yield* AdaptiveLimit.withLimit(Effect.void, limit)
      expect(yield* limitOf(limit)).toBe(3)
      // One call at a time is less than half of 3: the limit has no reason to grow.
      yield* AdaptiveLimit.withLimit(Effect.void, limit)
      expect(yield* limitOf(limit)).toBe(3)
      yield* Effect.exit(AdaptiveLimit.withLimit(Effect.fail(new Boom()), limit))
      expect(yield* limitOf(limit)).toBe(1)
      yield* AdaptiveLimit.withLimit(Effect.void, limit)
      expect(yield* limitOf(limit)).toBe(2)
      expect(yield* limit.snapshot).toMatchObject({ algorithm: "Aimd", successes: 3, drops: 1, baselineRtt: null })
    }))

  it.effect("timeouts and rejections are drops whatever classify says; a call slower than slowCallDuration too", () =>
    Effect.gen(function*() {
      const limit = yield* AdaptiveLimit.make({
        initialLimit: 16,
        maxLimit: 16,
        algorithm: AdaptiveLimit.aimd({ backoffRatio: 0.5, slowCallDuration: "1 second" }),
        classify: () => "success",
        window: 1
      })
      const dropsTo = (effect: Effect.Effect<unknown, unknown>, expected: number) =>
        Effect.gen(function*() {
          yield* Effect.exit(AdaptiveLimit.withLimit(effect, limit))
          expect(yield* limitOf(limit)).toBe(expected)
        })
      yield* dropsTo(Effect.fail(new TimeoutError({ policy: "t", duration: Duration.seconds(1) })), 8)
      yield* dropsTo(
        Effect.fail(new CircuitOpenError({ breaker: "b", state: "Open", retryAfter: Duration.seconds(1) })),
        4
      )
      yield* dropsTo(
        Effect.fail(
          new ConcurrencyLimitExceededError({ policy: "inner", limit: 1, inFlight: 1, retryAfter: Duration.seconds(1) })
        ),
        2
      )
      const slow = yield* Effect.forkChild(Effect.sleep("2 seconds").pipe(AdaptiveLimit.withLimit(limit)), {
        startImmediately: true
      })
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(slow)
      expect(yield* limitOf(limit)).toBe(1)
      // A typed failure classify calls a success is a good call.
      yield* Effect.exit(AdaptiveLimit.withLimit(Effect.fail(new Boom()), limit))
      expect(yield* limitOf(limit)).toBe(2)
    }))

  it.effect("a call classify ignores, and an interrupted call, give their slot back and move nothing", () =>
    Effect.gen(function*() {
      const limit = yield* AdaptiveLimit.make({
        initialLimit: 4,
        algorithm: AdaptiveLimit.aimd(),
        classify: (exit) => Exit.isFailure(exit) ? "ignored" : "success",
        window: 1
      })
      const boom = new Boom()
      const exit = yield* Effect.exit(AdaptiveLimit.withLimit(Effect.fail(boom), limit))
      // The caller's Exit keeps the typed failure.
      expect(failure(exit)).toBe(boom)
      const running = yield* Effect.forkChild(
        Effect.never.pipe(AdaptiveLimit.withLimit(limit)),
        { startImmediately: true }
      )
      expect((yield* limit.snapshot).inFlight).toBe(1)
      yield* Fiber.interrupt(running)
      expect(yield* limit.snapshot).toMatchObject({ limit: 4, inFlight: 0, ignored: 2, successes: 0, drops: 0 })
    }))

  it.effect("an interrupted call is ignored even when classify calls every exit a failure", () =>
    Effect.gen(function*() {
      const limit = yield* AdaptiveLimit.make({ initialLimit: 4, classify: () => "failure", window: 1 })
      const running = yield* Effect.forkChild(Effect.never.pipe(AdaptiveLimit.withLimit(limit)), {
        startImmediately: true
      })
      yield* Fiber.interrupt(running)
      expect(yield* limit.snapshot).toMatchObject({ limit: 4, inFlight: 0, ignored: 1, drops: 0 })
    }))

  it.effect("Vegas: grows while round trips stay at the no-load level, shrinks when they show a queue", () =>
    Effect.gen(function*() {
      const limit = yield* AdaptiveLimit.make({ initialLimit: 10, algorithm: AdaptiveLimit.vegas(), window: 1 })
      yield* batch(limit, 10, 100)
      // The first round trip is the no-load one; the others, as fast, mean no queue: grow by beta (6) each.
      const grown = yield* limitOf(limit)
      expect(grown).toBeGreaterThan(10)
      expect(Duration.toMillis((yield* limit.snapshot).baselineRtt!)).toBe(100)
      // Three times slower: limit × (1 - 100/300) calls are queued, more than beta: shrink.
      yield* batch(limit, grown, 300)
      expect(yield* limitOf(limit)).toBeLessThan(grown)
      expect(Duration.toMillis((yield* limit.snapshot).baselineRtt!)).toBe(100)
    }))

  it.effect("Vegas: a rejection's near-zero round trip is a drop, never the no-load round trip", () =>
    Effect.gen(function*() {
      const limit = yield* AdaptiveLimit.make({ initialLimit: 10, algorithm: AdaptiveLimit.vegas(), window: 1 })
      yield* batch(limit, 1, 100)
      const before = yield* limitOf(limit)
      yield* Effect.exit(AdaptiveLimit.withLimit(
        Effect.fail(new CircuitOpenError({ breaker: "b", state: "Open", retryAfter: Duration.seconds(1) })),
        limit
      ))
      const after = yield* limit.snapshot
      expect(after.limit).toBe(before - 1)
      expect(Duration.toMillis(after.baselineRtt!)).toBe(100)
    }))

  it.effect("Gradient2: shrinks when round trips rise past rttTolerance times the long-term average, grows back", () =>
    Effect.gen(function*() {
      const limit = yield* AdaptiveLimit.make({
        initialLimit: 20,
        algorithm: AdaptiveLimit.gradient2(),
        window: 1
      })
      yield* batch(limit, 20, 100)
      const steady = yield* limitOf(limit)
      expect(steady).toBeGreaterThanOrEqual(20)
      expect(Duration.toMillis((yield* limit.snapshot).baselineRtt!)).toBeCloseTo(100, 5)
      yield* batch(limit, Math.min(steady, 20), 400)
      const shrunk = yield* limitOf(limit)
      expect(shrunk).toBeLessThan(steady)
      yield* batch(limit, shrunk, 100)
      yield* batch(limit, shrunk, 100)
      expect(yield* limitOf(limit)).toBeGreaterThan(shrunk)
    }))

  // Four calls at once in a window of four: every sample holds a call that took the last free slot.
  const fullLimit = AdaptiveLimit.make({
    initialLimit: 4,
    maxLimit: 4,
    algorithm: AdaptiveLimit.gradient2({ longWindow: 100 }), // a probe after 10 refused samples
    window: 4
  })
  const baselineOf = (limit: AdaptiveLimit.AdaptiveLimit) =>
    Effect.map(limit.snapshot, (s) => Duration.toMillis(s.baselineRtt!))

  it.effect("Gradient2: round trips of calls that found the limit full do not raise the long-term average", () =>
    Effect.gen(function*() {
      const limit = yield* fullLimit
      yield* batch(limit, 4, 100)
      expect(yield* baselineOf(limit)).toBe(100)
      // Three times slower with every slot in use: what the limit let queue, not the dependency's latency.
      for (let i = 0; i < 9; i++) yield* batch(limit, 4, 300)
      expect(yield* baselineOf(limit)).toBe(100)
      expect(yield* limitOf(limit)).toBe(4)
    }))

  it.effect("Gradient2: a probe at half the limit learns a dependency that got slower for good, then the limit returns", () =>
    Effect.gen(function*() {
      const limit = yield* fullLimit
      yield* batch(limit, 4, 100)
      for (let i = 0; i < 10; i++) yield* batch(limit, 4, 300)
      // The tenth refused sample starts a probe: half the limit, until a window of calls started with at most that many.
      expect(yield* limitOf(limit)).toBe(2)
      expect(yield* baselineOf(limit)).toBe(100)
      yield* batch(limit, 2, 300)
      yield* batch(limit, 2, 300)
      // Still 300 ms with half as many in flight: no queue. The baseline is the new latency, the limit back.
      expect(yield* baselineOf(limit)).toBe(300)
      expect(yield* limitOf(limit)).toBe(4)
    }))

  it.effect("Gradient2: a probe whose round trip is below the long-term average lowers it (the average held a queue)", () =>
    Effect.gen(function*() {
      const limit = yield* fullLimit
      yield* batch(limit, 4, 200)
      for (let i = 0; i < 10; i++) yield* batch(limit, 4, 300)
      expect(yield* limitOf(limit)).toBe(2)
      yield* batch(limit, 2, 120)
      yield* batch(limit, 2, 120)
      expect(yield* baselineOf(limit)).toBe(120)
      expect(yield* limitOf(limit)).toBe(4)
    }))

  it.effect("Gradient2: a drop during a probe never raises the limit; the limit returns to where the drop left it", () =>
    Effect.gen(function*() {
      const limit = yield* fullLimit
      yield* batch(limit, 4, 100)
      for (let i = 0; i < 10; i++) yield* batch(limit, 4, 300)
      expect(yield* limitOf(limit)).toBe(2)
      // A window of failures while probing: the limit stays at the probe's.
      for (let i = 0; i < 4; i++) yield* Effect.exit(AdaptiveLimit.withLimit(Effect.fail(new Boom()), limit))
      expect(yield* limitOf(limit)).toBe(2)
      // The probe ends with a window of calls started at its level, and the limit returns, backed off by the drop.
      yield* batch(limit, 2, 300)
      yield* batch(limit, 2, 300)
      expect(yield* baselineOf(limit)).toBe(300)
      expect(yield* limitOf(limit)).toBe(3)
    }))

  it.effect("Gradient2: drops shrink a small limit too (queueSize does not outweigh them)", () =>
    Effect.gen(function*() {
      const limit = yield* AdaptiveLimit.make({ initialLimit: 4, algorithm: AdaptiveLimit.gradient2(), window: 1 })
      const limits: Array<number> = []
      for (let i = 0; i < 10; i++) {
        yield* Effect.exit(AdaptiveLimit.withLimit(Effect.fail(new Boom()), limit))
        limits.push(yield* limitOf(limit))
      }
      limits.forEach((after, i) => expect(after).toBeLessThanOrEqual(i === 0 ? 4 : limits[i - 1]!))
      expect(limits[9]).toBeLessThan(4)
    }))

  // A probe that cannot admit a call would never end: its limit is half the limit, and when calls
  // that started before it (long polls, streams, calls without a timeout) hold that many slots, every
  // new call is refused and no call of the probe's finishes. Here the long calls last a minute, with
  // the dependency barely slower (110 ms for 100): the probe gives up after its refusals.
  it.effect("Gradient2: a probe does not lock new calls out while older, longer calls hold its slots", () =>
    Effect.gen(function*() {
      const limit = yield* AdaptiveLimit.make({
        initialLimit: 8,
        maxLimit: 8,
        algorithm: AdaptiveLimit.gradient2({ longWindow: 100 }), // a probe after 10 refused samples
        window: 3
      })
      // Five long polls hold five of the eight slots for a minute; short calls share the other three.
      const polls = yield* Effect.forkChild(
        Effect.forEach(
          Array.from({ length: 5 }),
          () => Effect.sleep("60 seconds").pipe(AdaptiveLimit.withLimit(limit)),
          { concurrency: "unbounded" }
        ),
        { startImmediately: true }
      )
      yield* batch(limit, 3, 100)
      let admitted = 0
      for (let i = 0; i < 40; i++) {
        const exits = yield* batch(limit, 3, 110)
        if (i >= 20) admitted += exits.filter(Exit.isSuccess).length
      }
      // The last 20 rounds of three short calls (2.2 s of the minute): most should run.
      expect(admitted).toBeGreaterThan(30)
      yield* TestClock.adjust("60 seconds")
      yield* Fiber.join(polls)
    }))

  it.effect("a window averages its calls into one sample: a burst of drops backs off once", () =>
    Effect.gen(function*() {
      const limit = yield* AdaptiveLimit.make({
        initialLimit: 20,
        algorithm: AdaptiveLimit.aimd({ backoffRatio: 0.5 }),
        window: 5
      })
      for (let i = 0; i < 4; i++) yield* Effect.exit(AdaptiveLimit.withLimit(Effect.fail(new Boom()), limit))
      expect(yield* limitOf(limit)).toBe(20)
      yield* Effect.exit(AdaptiveLimit.withLimit(Effect.fail(new Boom()), limit))
      expect(yield* limitOf(limit)).toBe(10)
    }))

  it.effect("LimitChanged events are coalesced: at most one per eventInterval, summing up the moves", () =>
    Effect.gen(function*() {
      const limit = yield* AdaptiveLimit.make({
        name: "inventory",
        initialLimit: 4,
        algorithm: AdaptiveLimit.aimd({ backoffRatio: 0.5 }),
        eventInterval: "1 second",
        window: 1
      })
      const fail = Effect.exit(AdaptiveLimit.withLimit(Effect.fail(new Boom()), limit))
      const succeed = AdaptiveLimit.withLimit(Effect.void, limit)
      const { events } = yield* collectEvents(
        limit.subscribe,
        Effect.gen(function*() {
          yield* fail // 4 -> 2: reported at once
          yield* fail // 2 -> 1: within the interval, pending
          yield* TestClock.adjust("999 millis")
          yield* succeed // 1 -> 2: still within the interval
          yield* TestClock.adjust("1 millis")
          yield* succeed // 2 -> 3: the pending moves are reported with it
        })
      )
      expect(events.map(({ _tag, at, changes, from, policy, to }) => ({ _tag, policy, from, to, changes, at })))
        .toEqual([
          { _tag: "LimitChanged", policy: "inventory", from: 4, to: 2, changes: 1, at: 0 },
          { _tag: "LimitChanged", policy: "inventory", from: 2, to: 3, changes: 3, at: 1000 }
        ])
    }))

  it.effect("reports its limit, in-flight calls and outcomes as metrics", () =>
    Effect.gen(function*() {
      const limit = yield* AdaptiveLimit.make({
        name: "metered",
        initialLimit: 2,
        minLimit: 2,
        maxLimit: 2,
        algorithm: AdaptiveLimit.aimd(),
        window: 1
      }).pipe(Metrics.enable)
      const holder = yield* Effect.forkChild(Effect.never.pipe(AdaptiveLimit.withLimit(limit)), {
        startImmediately: true
      })
      yield* AdaptiveLimit.withLimit(Effect.void, limit)
      yield* Effect.exit(AdaptiveLimit.withLimit(Effect.fail(new Boom()), limit))
      const blocker = yield* Effect.forkChild(Effect.never.pipe(AdaptiveLimit.withLimit(limit)), {
        startImmediately: true
      })
      yield* Effect.exit(AdaptiveLimit.withLimit(Effect.void, limit))
      const value = (metric: Metric.Metric<number, unknown>, attributes: Record<string, string>) =>
        Metric.value(Metric.withAttributes(metric, { policy: "metered", ...attributes }))
      const calls = (outcome: string) =>
        Effect.map(value(Metrics.policies.concurrencyLimitCalls, { outcome }), (s) => (s as { count: number }).count)
      expect((yield* value(Metrics.policies.concurrencyLimit, {}) as Effect.Effect<{ value: number }>).value).toBe(2)
      expect((yield* value(Metrics.policies.concurrencyLimitInFlight, {}) as Effect.Effect<{ value: number }>).value)
        .toBe(2)
      expect(yield* calls("success")).toBe(1)
      expect(yield* calls("dropped")).toBe(1)
      expect(yield* calls("rejected")).toBe(1)
      yield* Fiber.interrupt(holder)
      yield* Fiber.interrupt(blocker)
      expect(yield* calls("ignored")).toBe(2)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

  it.effect("every admitted call ends as exactly one outcome and gives its slot back, interrupted or not", () =>
    Effect.gen(function*() {
      const limit = yield* AdaptiveLimit.make({ initialLimit: 50, maxLimit: 100, window: 1 })
      const fibers = yield* Effect.forEach(Array.from({ length: 2000 }, (_, i) => i), (i) =>
        Effect.forkChild(
          Effect.gen(function*() {
            const millis = yield* Random.nextIntBetween(1, 50)
            yield* Effect.sleep(millis)
            if (i % 7 === 0) return yield* Effect.fail(new Boom())
            if (i % 11 === 0) return yield* Effect.die("bug")
          }).pipe(AdaptiveLimit.withLimit(limit), Effect.exit),
          { startImmediately: true }
        ))
      // Interrupt a third of them mid-call.
      yield* TestClock.adjust(10)
      yield* Effect.forEach(fibers.filter((_, i) => i % 3 === 0), Fiber.interrupt)
      yield* TestClock.adjust(100)
      yield* Effect.forEach(fibers, Fiber.await)
      const s = yield* limit.snapshot
      expect(s.inFlight).toBe(0)
      expect(s.successes + s.drops + s.ignored + s.rejections).toBe(2000)
      expect(s.rejections).toBeGreaterThan(0)
      expect(s.ignored).toBeGreaterThan(0)
    }).pipe(Random.withSeed(7)))

  it.effect("in Policy.make: beside the bulkhead, never retried, ignored by the breaker, answered by a fallback", () =>
    Effect.scoped(Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "inventory", consecutiveFailures: 1 })
      const limit = yield* AdaptiveLimit.make({ initialLimit: 1, maxLimit: 1, window: 1 })
      let runs = 0
      const policy = yield* Policy.make({
        fallback: yield* Fallback.make({ on: ["ConcurrencyLimitExceededError"], value: "busy" }),
        breaker,
        retry: yield* Retry.make({ retries: 3 }),
        limit
      })
      const holder = yield* Effect.forkChild(Effect.never.pipe(AdaptiveLimit.withLimit(limit)), {
        startImmediately: true
      })
      const call: Effect.Effect<string, Boom> = Effect.sync(() => {
        runs++
        return "ok"
      })
      const answers = yield* Effect.forEach([1, 2, 3], () => Policy.apply(call, policy))
      expect(answers).toEqual(["busy", "busy", "busy"])
      expect(runs).toBe(0)
      expect((yield* limit.snapshot).rejections).toBe(3)
      // Three rejections, and a breaker that opens on one failure: still closed.
      expect(yield* breaker.state).toBe("Closed")
      yield* Fiber.interrupt(holder)
      expect(yield* Policy.apply(call, policy)).toBe("ok")
    })))

  describe("options", () => {
    it.effect("a bad bound names the field and the rule", () =>
      Effect.gen(function*() {
        yield* expectConfigIssue(AdaptiveLimit.make({ minLimit: 0 }), "minLimit", /integer between 1 and 100000/)
        yield* expectConfigIssue(AdaptiveLimit.make({ maxLimit: 1.5 }), "maxLimit", /integer between 1 and 100000/)
        yield* expectConfigIssue(AdaptiveLimit.make({ window: 0 }), "window", /integer between 1 and 1000/)
        yield* expectConfigIssue(AdaptiveLimit.make({ eventInterval: -1 }), "eventInterval", /must not be negative/)
        yield* expectConfigIssue(AdaptiveLimit.make({ minLimit: 10, maxLimit: 5 }), "maxLimit", /at least minLimit/)
        yield* expectConfigIssue(AdaptiveLimit.make({ initialLimit: 300 }), "initialLimit", /at most maxLimit \(200\)/)
        yield* expectConfigIssue(AdaptiveLimit.make({ minLimit: 5, initialLimit: 2 }), "initialLimit", /at least/)
        yield* expectConfigIssue(
          AdaptiveLimit.make({ classify: "yes" as never }),
          "classify",
          /a function \(exit\) => outcome/
        )
        yield* expectConfigIssue(
          AdaptiveLimit.make({ maxConcurrent: 5 } as never),
          "maxConcurrent",
          /is not a concurrency limit option/
        )
      }))

    it.effect("a bad algorithm option names the field inside the algorithm", () =>
      Effect.gen(function*() {
        yield* expectConfigIssue(
          AdaptiveLimit.make({ algorithm: AdaptiveLimit.aimd({ backoffRatio: 1 }) }),
          "algorithm.backoffRatio",
          /between 0.5 and 0.99/
        )
        yield* expectConfigIssue(
          AdaptiveLimit.make({ algorithm: AdaptiveLimit.aimd({ slowCallDuration: Number.NaN }) }),
          "algorithm.slowCallDuration",
          /NaN/
        )
        yield* expectConfigIssue(
          AdaptiveLimit.make({ algorithm: AdaptiveLimit.gradient2({ rttTolerance: 0.5 }) }),
          "algorithm.rttTolerance",
          /between 1 and 10/
        )
        yield* expectConfigIssue(
          AdaptiveLimit.make({ algorithm: AdaptiveLimit.gradient2({ smoothing: 0 }) }),
          "algorithm.smoothing",
          /greater than 0/
        )
        yield* expectConfigIssue(
          AdaptiveLimit.make({ algorithm: AdaptiveLimit.vegas({ alpha: 4, beta: 3 }) }),
          "algorithm.beta",
          /greater than alpha \(4\)/
        )
        yield* expectConfigIssue(
          AdaptiveLimit.make({ algorithm: AdaptiveLimit.vegas({ probeMultiplier: 0 }) }),
          "algorithm.probeMultiplier",
          /integer between 1 and 100000/
        )
        yield* expectConfigIssue(
          AdaptiveLimit.make({ algorithm: { _tag: "Cubic" } as never }),
          "algorithm",
          /aimd\(options\), gradient2\(options\) or vegas\(options\)/
        )
      }))

    it.effect("defaults: Vegas, from 20 between 1 and 200", () =>
      Effect.gen(function*() {
        const limit = yield* AdaptiveLimit.make()
        expect(limit.kind).toBe("AdaptiveLimit")
        expect(yield* limit.snapshot).toMatchObject({
          policy: "default",
          algorithm: "Vegas",
          limit: 20,
          minLimit: 1,
          maxLimit: 200,
          inFlight: 0,
          recentRtt: null,
          baselineRtt: null
        })
      }))
  })
})
