/**
 * Whatever a breaker goes through, its export restores into a breaker of the same configuration, and
 * that breaker exports the same document: random configurations (count windows from one outcome, time
 * windows with buckets of 1 ms and of fractions of a millisecond), random calls (fast, slow, failed,
 * ignored, held across transitions), time, and every control.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Logger, Schedule, Scope } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import type { CircuitBreakerConfig } from "../src/index.js"
import { CircuitBreaker, CircuitDocument } from "../src/index.js"

class Failed {
  readonly _tag = "Failed"
}
class Ignorable {
  readonly _tag = "Ignorable"
}

type Kind = "success" | "failure" | "ignored"
type Command =
  | { readonly _tag: "Call"; readonly kind: Kind; readonly duration: number }
  | { readonly _tag: "Hold"; readonly kind: Kind }
  | { readonly _tag: "Release"; readonly index: number }
  | { readonly _tag: "Advance"; readonly millis: number }
  | { readonly _tag: "ForceOpen" | "Disable" | "Reset" | "OpenFor" | "HalfOpen" }

const kind = fc.constantFrom<Kind>("success", "failure", "failure", "ignored")
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ _tag: fc.constant("Call" as const), kind, duration: fc.constantFrom(0, 0, 1, 5, 40, 120) })
  },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Hold" as const), kind }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Release" as const), index: fc.nat(5) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      _tag: fc.constant("Advance" as const),
      millis: fc.constantFrom(1, 3, 10, 50, 333, 1000, 5000)
    })
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Command>(
      { _tag: "ForceOpen" },
      { _tag: "Disable" },
      { _tag: "Reset" },
      { _tag: "OpenFor" },
      { _tag: "HalfOpen" }
    )
  }
)

const config: fc.Arbitrary<CircuitBreakerConfig.CircuitBreakerConfig> = fc.record({
  consecutiveFailures: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  failureRate: fc.option(fc.constantFrom(0.5, 1), { nil: undefined }),
  slowCallRate: fc.option(fc.constantFrom(0.5, 1), { nil: undefined }),
  window: fc.oneof(
    fc.integer({ min: 1, max: 6 }).map((size) => CircuitBreaker.countWindow(size)),
    fc.record({ duration: fc.constantFrom(1, 7, 10, 100, 1000, 3000), buckets: fc.constantFrom(1, 3, 7, 10) })
      .filter(({ buckets, duration }) => duration >= buckets)
      .map(({ buckets, duration }) => CircuitBreaker.timeWindow(duration, buckets))
  ),
  openDuration: fc.constantFrom<number | Schedule.Schedule<unknown>>(0, 50, 1000, Schedule.exponential(20))
}).map(({ consecutiveFailures, failureRate, openDuration, slowCallRate, window }) => ({
  name: "roundtrip",
  window,
  openDuration,
  minimumCalls: 1,
  ...(consecutiveFailures === undefined ? {} : { consecutiveFailures }),
  ...(failureRate === undefined ? {} : { failureRate }),
  ...(slowCallRate === undefined ? {} : { slowCallRate, slowCallDuration: 30 })
}))

const travelled = (document: CircuitDocument.CircuitDocument): unknown =>
  JSON.parse(JSON.stringify(CircuitDocument.toJson(document)))

const run = (options: CircuitBreakerConfig.CircuitBreakerConfig, commands: ReadonlyArray<Command>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* TestClock.setTime(1_000_000)
    const breaker = yield* CircuitBreaker.make(options).pipe(Scope.provide(scope))
    const held: Array<{ readonly gate: Deferred.Deferred<void>; readonly fiber: Fiber.Fiber<unknown, unknown> }> = []
    const call = (k: Kind, before: Effect.Effect<void>) =>
      breaker.execute(
        Effect.andThen(
          before,
          k === "success" ? Effect.void : Effect.fail(k === "failure" ? new Failed() : new Ignorable())
        ),
        { ignore: ["Ignorable"] }
      )
    for (let step = 0; step < commands.length; step++) {
      const cmd = commands[step]!
      switch (cmd._tag) {
        case "Call": {
          const fiber = yield* Effect.forkChild(call(cmd.kind, Effect.sleep(cmd.duration)), { startImmediately: true })
          yield* TestClock.adjust(cmd.duration)
          yield* Fiber.await(fiber)
          break
        }
        case "Hold": {
          if (held.length >= 4) break
          const gate = yield* Deferred.make<void>()
          const fiber = yield* Effect.forkChild(call(cmd.kind, Deferred.await(gate)), { startImmediately: true })
          held.push({ gate, fiber })
          break
        }
        case "Release": {
          if (held.length === 0) break
          const [released] = held.splice(cmd.index % held.length, 1)
          yield* Deferred.succeed(released!.gate, undefined)
          yield* Fiber.await(released!.fiber)
          break
        }
        case "Advance":
          yield* TestClock.adjust(cmd.millis)
          break
        case "ForceOpen":
          yield* breaker.forceOpen
          break
        case "Disable":
          yield* breaker.disable
          break
        case "Reset":
          yield* breaker.reset
          break
        case "OpenFor":
          yield* breaker.openFor("200 millis")
          break
        case "HalfOpen":
          yield* breaker.halfOpen
          break
      }
      const document = travelled(yield* breaker.export)
      const copy = yield* CircuitBreaker.make(options).pipe(Scope.provide(scope))
      const restored = yield* Effect.exit(copy.restore(document))
      expect({ step, restored: Exit.isSuccess(restored) ? "restored" : String(restored.cause) }).toEqual({
        step,
        restored: "restored"
      })
      expect({ step, document: travelled(yield* copy.export) }).toEqual({ step, document })
    }
    for (const { fiber, gate } of held) {
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.await(fiber)
    }
    yield* Scope.close(scope, Exit.void)
  })

describe("CircuitDocument round trip", () => {
  it("export, restore into the same configuration, export: the same document, after any history", async () => {
    await fc.assert(
      fc.asyncProperty(config, fc.array(command, { minLength: 1, maxLength: 60 }), async (options, commands) => {
        await Effect.runPromise(
          run(options, commands).pipe(Effect.provide(TestClock.layer()), Effect.provide(Logger.layer([])))
        )
      }),
      { numRuns: 500 }
    )
  })
})
