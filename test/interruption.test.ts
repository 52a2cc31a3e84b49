/**
 * Every admitted call ends as exactly one recorded outcome, whatever state it
 * was admitted in and however it ends — interrupted included — and the
 * caller's `Exit` keeps every typed failure the bare effect would have had.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Tracer } from "effect"
import { Cause, Deferred, Effect, Exit, Fiber, Metric, Scope, Stream } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { TestClock } from "effect/testing"
import type { CircuitBreakerConfig } from "../src/index.js"
import { CircuitBreaker, Metrics } from "../src/index.js"
import { Boom, failTimes, ok, series } from "./helpers.js"

/** How the call is admitted: the state, and which of the breaker's paths records it. */
const admissions = [
  { name: "Closed (untimed fast path)", state: "Closed", config: {} },
  { name: "Closed (timed: a time window)", state: "Closed", config: { window: CircuitBreaker.timeWindow("1 minute") } },
  { name: "Disabled", state: "Disabled", config: {} },
  { name: "HalfOpen (a probe)", state: "HalfOpen", config: {} }
] as const satisfies ReadonlyArray<{ name: string; state: string; config: CircuitBreakerConfig.CircuitBreakerConfig }>

type Admission = (typeof admissions)[number]

/** A breaker that trips on one failure, put in the state the call is to be admitted in. */
const breakerIn = (admission: Admission) =>
  Effect.gen(function*() {
    const breaker = yield* CircuitBreaker.make({
      name: "inventory",
      consecutiveFailures: 1,
      openDuration: "10 seconds",
      ...admission.config
    })
    if (admission.state === "Disabled") yield* breaker.disable
    if (admission.state === "HalfOpen") {
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("10 seconds")
    }
    expect(yield* breaker.state).toBe(admission.state)
    return breaker
  })

/** Runs `call` through `breaker` in a fiber of its own, interrupts it while it runs, and returns its exit. */
const interruptedWhileRunning = <A, E>(
  breaker: CircuitBreaker.CircuitBreaker,
  call: Effect.Effect<A, E>,
  runFor: "1 second" | "never"
) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(breaker.execute(call), { startImmediately: true })
    yield* Effect.yieldNow
    // Fiber.interrupt waits for the fiber to end: let the clock move meanwhile.
    const interrupter = yield* Effect.forkChild(Fiber.interrupt(fiber), { startImmediately: true })
    if (runFor === "1 second") yield* TestClock.adjust("1 second")
    yield* Fiber.join(interrupter)
    return yield* Fiber.await(fiber)
  })

/** The outcome metrics of the breaker "inventory", read from a Prometheus scrape. */
const recordedOutcomes = Effect.map(PrometheusMetrics.format(), (text) => {
  const count = (outcome: string) =>
    series(text, "resilience_circuit_breaker_calls_total", { breaker: "inventory", outcome }) ?? 0
  return { success: count("success"), failure: count("failure"), ignored: count("ignored") }
})

const withIsolatedMetrics = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Metrics.enable(Effect.provideService(effect, Metric.MetricRegistry, new Map()))

describe("an interrupted call is recorded once, as ignored, in every state", () => {
  for (const admission of admissions) {
    it.effect(`${admission.name}: metrics count it as ignored`, () =>
      withIsolatedMetrics(Effect.gen(function*() {
        const breaker = yield* breakerIn(admission)
        const before = yield* recordedOutcomes
        const exit = yield* interruptedWhileRunning(breaker, Effect.never, "never")
        expect(Exit.hasInterrupts(exit)).toBe(true)
        const after = yield* recordedOutcomes
        expect({
          success: after.success - before.success,
          failure: after.failure - before.failure,
          ignored: after.ignored - before.ignored
        }).toEqual({ success: 0, failure: 0, ignored: 1 })
      })))

    it.effect(`${admission.name}: one CallRecorded event, ignored and not counted, then the next call's`, () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const breaker = yield* breakerIn(admission).pipe(Scope.provide(scope))
        const stream = yield* breaker.subscribe
        // Closing the breaker's scope ends the stream: every event of the two calls is collected.
        const collected = yield* Effect.forkChild(Stream.runCollect(stream), { startImmediately: true })
        yield* interruptedWhileRunning(breaker, Effect.never, "never")
        yield* breaker.execute(ok)
        yield* Scope.close(scope, Exit.void)
        const events = (yield* Fiber.join(collected)).filter((event) => event._tag === "CallRecorded")
        expect(events.map((event) => [event.state, event.outcome, event.counted])).toEqual([
          [admission.state, "ignored", false],
          [admission.state, "success", true]
        ])
      }))

    it.effect(`${admission.name}: the span's outcome is ignored`, () =>
      Effect.gen(function*() {
        const breaker = yield* breakerIn(admission)
        const spanOf = yield* Deferred.make<Tracer.Span>()
        const fiber = yield* Effect.forkChild(
          Effect.gen(function*() {
            yield* Deferred.succeed(spanOf, yield* Effect.currentSpan)
            return yield* breaker.execute(Effect.never)
          }).pipe(Effect.withSpan("request")),
          { startImmediately: true }
        )
        yield* Effect.yieldNow
        yield* Fiber.interrupt(fiber)
        const span = yield* Deferred.await(spanOf)
        expect(span.attributes.get("resilience.circuit_breaker.state")).toBe(admission.state)
        expect(span.attributes.get("resilience.circuit_breaker.outcome")).toBe("ignored")
      }))
  }
})

describe("a call that fails while its caller is being interrupted", () => {
  // It runs to its end in an uninterruptible region, and that end is a typed failure.
  const failsUninterruptibly = Effect.uninterruptible(
    Effect.andThen(Effect.sleep("1 second"), Effect.fail(new Boom({})))
  )

  it.effect("bare, the effect's exit keeps the typed failure beside the interruption", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(failsUninterruptibly, { startImmediately: true })
      const interrupter = yield* Effect.forkChild(Fiber.interrupt(fiber), { startImmediately: true })
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(interrupter)
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit) && Cause.hasFails(exit.cause) && Cause.hasInterrupts(exit.cause)).toBe(true)
    }))

  for (const admission of admissions) {
    it.effect(`${admission.name}: the caller's exit keeps the failure, and the breaker counts it`, () =>
      Effect.gen(function*() {
        const breaker = yield* breakerIn(admission)
        const exit = yield* interruptedWhileRunning(breaker, failsUninterruptibly, "1 second")
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) {
          expect(Cause.hasInterrupts(exit.cause)).toBe(true)
          const error = Cause.findErrorOption(exit.cause)
          expect(error._tag === "Some" && error.value).toBeInstanceOf(Boom)
        }
        // One failure trips a closed circuit and reopens a half-open one; a disabled circuit counts it.
        if (admission.state === "Disabled") {
          expect(yield* breaker.state).toBe("Disabled")
          expect((yield* breaker.snapshot).failures).toBe(1)
        } else {
          expect(yield* breaker.state).toBe("Open")
        }
      }))
  }
})
