import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schema, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { CircuitBreakerEvent } from "../src/index.js"
import { CircuitBreaker, CircuitBreakerEvent as Events } from "../src/index.js"
import { attempt, failTimes, ok, succeedTimes } from "./helpers.js"

const transitions = (events: ReadonlyArray<CircuitBreakerEvent.CircuitBreakerEvent>) =>
  events.flatMap((event) =>
    event._tag === "StateChanged" ? [`${event.from}->${event.to}:${event.reason}@${event.at}`] : []
  )

describe("events", () => {
  it.effect("the stream delivers transitions in order, stamped with when they happened", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const breaker = yield* CircuitBreaker.make({ name: "inv", consecutiveFailures: 2, openDuration: "10 seconds" })
        .pipe(
          Scope.provide(scope)
        )
      const stream = yield* breaker.subscribe
      const collector = yield* Effect.forkChild(Stream.runCollect(stream))
      yield* failTimes(breaker, 2)
      const rejected = yield* attempt(breaker, ok)
      expect(Exit.isFailure(rejected)).toBe(true)
      yield* TestClock.adjust("15 seconds")
      yield* succeedTimes(breaker, 1)
      yield* breaker.forceOpen
      yield* breaker.disable
      yield* breaker.reset
      yield* Scope.close(scope, Exit.void) // ends the stream
      const events = yield* Fiber.join(collector)
      expect(transitions(events)).toEqual([
        "Closed->Open:ConsecutiveFailures@0",
        "Open->HalfOpen:OpenDurationElapsed@10000",
        "HalfOpen->Closed:ProbesSucceeded@15000",
        "Closed->ForcedOpen:ForceOpen@15000",
        "ForcedOpen->Disabled:Disable@15000",
        "Disabled->Closed:Reset@15000"
      ])
      const calls = events.filter((event) => event._tag === "CallRecorded")
      expect(calls.map((event) => [event.state, event.outcome, event.counted])).toEqual([
        ["Closed", "failure", true],
        ["Closed", "failure", true],
        ["HalfOpen", "success", true]
      ])
      const rejections = events.filter((event) => event._tag === "CallRejected")
      expect(rejections).toHaveLength(1)
      expect(rejections[0]!.state).toBe("Open")
    }))

  it.effect("Open -> HalfOpen is reported on time by a timer, even when no call arrives", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "30 seconds" })
      const stream = yield* breaker.subscribe
      const firstTwo = yield* Effect.forkChild(Stream.runCollect(Stream.take(
        Stream.filter(stream, (event) => event._tag === "StateChanged"),
        2
      )))
      yield* failTimes(breaker, 1)
      yield* TestClock.adjust("30 seconds")
      const events = yield* Fiber.join(firstTwo)
      expect(transitions(events)).toEqual([
        "Closed->Open:ConsecutiveFailures@0",
        "Open->HalfOpen:OpenDurationElapsed@30000"
      ])
    }))

  it.effect("events are Schema classes that encode to JSON and decode back", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "json", consecutiveFailures: 1 })
      const stream = yield* breaker.subscribe
      const collector = yield* Effect.forkChild(Stream.runCollect(Stream.take(stream, 3)))
      yield* failTimes(breaker, 1)
      yield* attempt(breaker, ok)
      const events = yield* Fiber.join(collector)
      const codec = Schema.toCodecJson(Events.CircuitBreakerEvent)
      const json = JSON.parse(JSON.stringify(Schema.encodeSync(codec)(events[2]!)))
      expect(json).toMatchObject({ _tag: "CallRejected", breaker: "json", state: "Open" })
      const decoded = Schema.decodeUnknownSync(codec)(json)
      expect(decoded).toBeInstanceOf(Events.CallRejected)
    }))

  it.effect("a breaker nobody subscribes to builds no events; subscribers come and go", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 3 })
      yield* failTimes(breaker, 1) // nobody listening
      const first = yield* Effect.scoped(Effect.gen(function*() {
        const stream = yield* breaker.subscribe
        const collector = yield* Effect.forkChild(Stream.runCollect(Stream.take(stream, 1)))
        yield* failTimes(breaker, 1)
        return yield* Fiber.join(collector)
      }))
      expect(first).toHaveLength(1)
      yield* failTimes(breaker, 1) // trips; the earlier subscriber is gone
      expect(yield* breaker.state).toBe("Open")
    }))

  it.effect("the events stream ends when the breaker's scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 }).pipe(Scope.provide(scope))
      const collector = yield* Effect.forkChild(Stream.runCollect(breaker.events), { startImmediately: true })
      yield* Effect.yieldNow
      yield* failTimes(breaker, 1)
      yield* Scope.close(scope, Exit.void)
      const events = yield* Fiber.join(collector)
      expect(transitions(events)).toEqual(["Closed->Open:ConsecutiveFailures@0"])
    }))

  it.effect("a slow subscriber loses its own oldest events, never blocks calls", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1000, eventBufferSize: 4 })
      const stream = yield* breaker.subscribe
      yield* succeedTimes(breaker, 10) // nobody reads meanwhile
      const fiber = yield* Effect.forkChild(Stream.runCollect(Stream.take(stream, 4)))
      const events = yield* Fiber.join(fiber)
      expect(events).toHaveLength(4)
      expect((yield* breaker.snapshot).calls).toBe(10)
    }))
})
