/**
 * What the conformance scenarios do to a breaker and check of it, written so
 * that they hold on every store: a call is only known to run once it says so
 * (a store may admit it after a round trip), and every look at the state
 * checks the snapshot against it.
 */
import { expect } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { CircuitBreaker, CircuitBreakerEvent, CircuitState } from "../../src/index.js"

/**
 * Checks that the circuit is in `state`, and that the snapshot agrees: its
 * state, its retry delay (the rest of an opening, infinite when forced open,
 * zero otherwise), when and why it opened (only while not running calls
 * freely), its rates, and no probe outside half-open.
 */
export const expectState = (breaker: CircuitBreaker.CircuitBreaker, state: CircuitState.State) =>
  Effect.gen(function*() {
    expect(yield* breaker.state).toBe(state)
    const snapshot = yield* breaker.snapshot
    expect(snapshot.state).toBe(state)
    const retryAfter = Duration.toMillis(snapshot.retryAfter)
    if (state === "Open") {
      expect(retryAfter).toBeGreaterThan(0)
      expect(Number.isFinite(retryAfter)).toBe(true)
    } else if (state === "ForcedOpen") {
      expect(retryAfter).toBe(Infinity)
    } else {
      expect(retryAfter).toBe(0)
    }
    const opened = state === "Open" || state === "HalfOpen" || state === "ForcedOpen"
    expect(snapshot.openedAt !== null).toBe(opened)
    expect(snapshot.openReason !== null).toBe(opened)
    if (state !== "HalfOpen") expect([snapshot.probesInFlight, snapshot.probeSuccesses]).toEqual([0, 0])
    expect(snapshot.failureRate).toBe(snapshot.calls === 0 ? 0 : snapshot.failures / snapshot.calls)
    expect(snapshot.slowCallRate).toBe(snapshot.calls === 0 ? 0 : snapshot.slowCalls / snapshot.calls)
    return snapshot
  })

/**
 * Starts `body` through `breaker` in a fiber of the current scope, and
 * returns the fiber once the call runs (or was rejected): a store may admit
 * a call only after a round trip.
 */
export const started = <A, E>(
  breaker: CircuitBreaker.CircuitBreaker,
  body: Effect.Effect<A, E> | ((signalRunning: Effect.Effect<void>) => Effect.Effect<A, E>)
) =>
  Effect.gen(function*() {
    const running = yield* Deferred.make<void>()
    const signal = Deferred.succeed(running, undefined)
    // A body that says itself when it runs (from inside an uninterruptible region, say) gets the signal.
    const call = typeof body === "function" ? body(Effect.asVoid(signal)) : Effect.andThen(signal, body)
    const fiber = yield* breaker.execute(call).pipe(
      Effect.onExit(() => Deferred.succeed(running, undefined)),
      Effect.forkScoped({ startImmediately: true })
    )
    yield* Deferred.await(running)
    return fiber
  })

/** Runs `body` through `breaker` for `duration` of the clock, and returns the call's exit. */
export const lasting = <A, E>(
  breaker: CircuitBreaker.CircuitBreaker,
  duration: Duration.Input,
  body: Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const fiber = yield* started(breaker, Effect.andThen(Effect.sleep(duration), body))
    yield* TestClock.adjust(duration)
    return yield* Fiber.await(fiber)
  })

/** Starts `call` through `breaker`, interrupts its caller while it runs, and returns the caller's exit. */
export const interruptedWhileRunning = <A, E>(
  breaker: CircuitBreaker.CircuitBreaker,
  call: Effect.Effect<A, E> | ((signalRunning: Effect.Effect<void>) => Effect.Effect<A, E>),
  runFor: Duration.Input
) =>
  Effect.gen(function*() {
    const fiber = yield* started(breaker, call)
    // Fiber.interrupt waits for the fiber to end: let the clock move meanwhile.
    const interrupter = yield* Effect.forkChild(Fiber.interrupt(fiber), { startImmediately: true })
    yield* TestClock.adjust(runFor)
    yield* Fiber.join(interrupter)
    return yield* Fiber.await(fiber)
  })

/**
 * Collects every event `breaker` publishes from now on; `done` ends the
 * collection (by closing the breaker's scope) and returns the events.
 */
export const collectEvents = (breaker: CircuitBreaker.CircuitBreaker, breakerScope: Scope.Closeable) =>
  Effect.gen(function*() {
    const stream = yield* breaker.subscribe
    const collected = yield* Effect.forkChild(Stream.runCollect(stream), { startImmediately: true })
    return {
      done: Effect.andThen(Scope.close(breakerScope, Exit.void), Fiber.join(collected))
    }
  })

/** The transitions among `events`, as `from->to:reason@at`. */
export const transitions = (events: ReadonlyArray<CircuitBreakerEvent.CircuitBreakerEvent>) =>
  events.flatMap((event) =>
    event._tag === "StateChanged" ? [`${event.from}->${event.to}:${event.reason}@${event.at}`] : []
  )

/** The recorded calls among `events`, as `[state admitted in, outcome, counted]`. */
export const recordedCalls = (events: ReadonlyArray<CircuitBreakerEvent.CircuitBreakerEvent>) =>
  events.flatMap((event) => event._tag === "CallRecorded" ? [[event.state, event.outcome, event.counted]] : [])
