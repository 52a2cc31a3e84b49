import { describe, expect, it } from "@effect/vitest"
import { Cause, Data, Deferred, Duration, Effect, Exit, Fiber, Logger, Option, Schedule, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import type { CircuitBreakerConfig } from "../src/index.js"
import { CircuitBreaker, CircuitOpenError } from "../src/index.js"
import type { Kind, ModelConfig, Result, Ticket } from "./model.js"
import { Model } from "./model.js"

class Failed extends Data.TaggedError("Failed") {}
class Ignorable extends Data.TaggedError("Ignorable") {}

type Command =
  | { readonly _tag: "Call"; readonly kind: Kind; readonly duration: number }
  | { readonly _tag: "Hold"; readonly kind: Kind }
  | { readonly _tag: "Release"; readonly index: number }
  | { readonly _tag: "Interrupt"; readonly index: number }
  | { readonly _tag: "Advance"; readonly millis: number }
  | { readonly _tag: "ForceOpen" }
  | { readonly _tag: "Disable" }
  | { readonly _tag: "Reset" }

const kind = fc.constantFrom<Kind>("success", "success", "failure", "failure", "defect", "ignored")

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({ _tag: fc.constant("Call" as const), kind, duration: fc.constantFrom(0, 0, 5, 40, 120) })
  },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Hold" as const), kind }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Release" as const), index: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("Interrupt" as const), index: fc.nat(5) }) },
  {
    weight: 4,
    arbitrary: fc.record({ _tag: fc.constant("Advance" as const), millis: fc.constantFrom(1, 10, 50, 100, 250, 1000) })
  },
  { weight: 1, arbitrary: fc.constantFrom<Command>({ _tag: "ForceOpen" }, { _tag: "Disable" }, { _tag: "Reset" }) }
)

const modelConfig: fc.Arbitrary<ModelConfig> = fc
  .record({
    consecutiveFailures: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    failureCount: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    failureRate: fc.option(fc.constantFrom(0, 0.25, 0.5, 0.6, 1), { nil: undefined }),
    slowCallRate: fc.option(fc.constantFrom(0.2, 0.5, 1), { nil: undefined }),
    slowCallDuration: fc.option(fc.constantFrom(30, 100), { nil: undefined }),
    window: fc.oneof(
      fc.record({ kind: fc.constant("count" as const), size: fc.integer({ min: 4, max: 8 }) }),
      fc.record({
        kind: fc.constant("time" as const),
        duration: fc.constantFrom(100, 300, 1000),
        buckets: fc.constantFrom(1, 3, 4)
      })
    ),
    minimumCalls: fc.integer({ min: 1, max: 4 }),
    openDuration: fc.oneof(
      fc.record({ kind: fc.constant("fixed" as const), millis: fc.constantFrom(0, 50, 200) }),
      fc.record({ kind: fc.constant("exponential" as const), base: fc.constantFrom(20, 100) })
    ),
    maxOpenDuration: fc.option(fc.constantFrom(150, 400), { nil: undefined }),
    halfOpenPermits: fc.integer({ min: 1, max: 3 }),
    successThreshold: fc.integer({ min: 1, max: 3 }),
    halfOpenMaxWait: fc.option(fc.constantFrom(60, 300), { nil: undefined })
  })
  .map((c) => ({ ...c, successThreshold: Math.min(c.successThreshold, c.halfOpenPermits) }))
  .map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as unknown as ModelConfig)

const toConfig = (c: ModelConfig): CircuitBreakerConfig.CircuitBreakerConfig => ({
  name: "model",
  consecutiveFailures: c.consecutiveFailures,
  failureCount: c.failureCount,
  failureRate: c.failureRate,
  slowCallRate: c.slowCallRate,
  slowCallDuration: c.slowCallDuration,
  window: c.window.kind === "count"
    ? CircuitBreaker.countWindow(c.window.size)
    : CircuitBreaker.timeWindow(c.window.duration, c.window.buckets),
  minimumCalls: c.window.kind === "count" ? Math.min(c.minimumCalls, c.window.size) : c.minimumCalls,
  openDuration: c.openDuration.kind === "fixed" ? c.openDuration.millis : Schedule.exponential(c.openDuration.base),
  maxOpenDuration: c.maxOpenDuration,
  halfOpenPermits: c.halfOpenPermits,
  successThreshold: c.successThreshold,
  halfOpenMaxWait: c.halfOpenMaxWait
})

const effectOf = (k: Kind): Effect.Effect<string, Failed | Ignorable> => {
  switch (k) {
    case "success":
      return Effect.succeed("ok")
    case "failure":
      return Effect.fail(new Failed())
    case "defect":
      return Effect.die("defect")
    case "ignored":
      return Effect.fail(new Ignorable())
  }
}

/** What the real breaker did with a call, in the model's terms. */
const observe = (exit: Exit.Exit<string, Failed | Ignorable | CircuitOpenError>): Result => {
  if (Exit.isSuccess(exit)) return { _tag: "Ran", kind: "success" }
  if (Cause.hasDies(exit.cause)) return { _tag: "Ran", kind: "defect" }
  const error = Option.getOrThrow(Cause.findErrorOption(exit.cause))
  if (error instanceof CircuitOpenError) {
    return { _tag: "Rejected", state: error.state, retryAfter: Duration.toMillis(error.retryAfter) }
  }
  return { _tag: "Ran", kind: error._tag === "Failed" ? "failure" : "ignored" }
}

const isTicket = (admission: Ticket | Result): admission is Ticket => !("_tag" in admission)

interface Held {
  readonly kind: Kind
  readonly admission: Ticket | Result
  readonly gate: Deferred.Deferred<void>
  readonly fiber: Fiber.Fiber<string, Failed | Ignorable | CircuitOpenError>
}

const runScenario = (config: ModelConfig, commands: ReadonlyArray<Command>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const breaker = yield* CircuitBreaker.make(toConfig(config)).pipe(Scope.provide(scope))
    const events = yield* breaker.subscribe.pipe(Scope.provide(scope))
    const collected = yield* Effect.forkChild(Stream.runCollect(events))
    const model = new Model(config)
    const held: Array<Held> = []
    const guard = (effect: Effect.Effect<string, Failed | Ignorable>) =>
      breaker.execute(effect, { ignore: ["Ignorable"] })
    const expectedOf = (admission: Ticket | Result, k: Kind): Result =>
      isTicket(admission) ? { _tag: "Ran", kind: k } : admission

    const compare = Effect.fnUntraced(function*(step: number) {
      const real = yield* breaker.snapshot
      const expected = model.snapshot()
      expect({ step, ...pick(real) }).toEqual({ step, ...expected })
    })

    for (let step = 0; step < commands.length; step++) {
      const cmd = commands[step]!
      switch (cmd._tag) {
        case "Call": {
          const admission = model.admit()
          const fiber = yield* Effect.forkChild(guard(Effect.andThen(Effect.sleep(cmd.duration), effectOf(cmd.kind))), {
            startImmediately: true
          })
          yield* TestClock.adjust(cmd.duration)
          model.advanceTo(model.now + cmd.duration)
          const exit = yield* Fiber.await(fiber)
          if (isTicket(admission)) model.complete(admission, cmd.kind)
          expect({ step, result: observe(exit) }).toEqual({ step, result: expectedOf(admission, cmd.kind) })
          break
        }
        case "Hold": {
          if (held.length >= 4) break
          const admission = model.admit()
          const gate = yield* Deferred.make<void>()
          const fiber = yield* Effect.forkChild(guard(Effect.andThen(Deferred.await(gate), effectOf(cmd.kind))), {
            startImmediately: true
          })
          held.push({ kind: cmd.kind, admission, gate, fiber })
          break
        }
        case "Release": {
          if (held.length === 0) break
          const [call] = held.splice(cmd.index % held.length, 1)
          yield* Deferred.succeed(call!.gate, undefined)
          const exit = yield* Fiber.await(call!.fiber)
          if (isTicket(call!.admission)) model.complete(call!.admission, call!.kind)
          expect({ step, result: observe(exit) }).toEqual({ step, result: expectedOf(call!.admission, call!.kind) })
          break
        }
        case "Interrupt": {
          if (held.length === 0) break
          const [call] = held.splice(cmd.index % held.length, 1)
          yield* Fiber.interrupt(call!.fiber)
          // An interrupted call is ignored: a probe gives its permit back.
          if (isTicket(call!.admission)) model.complete(call!.admission, "ignored")
          break
        }
        case "Advance":
          yield* TestClock.adjust(cmd.millis)
          model.advanceTo(model.now + cmd.millis)
          break
        case "ForceOpen":
          yield* breaker.forceOpen
          model.forceOpen()
          break
        case "Disable":
          yield* breaker.disable
          model.disable()
          break
        case "Reset":
          yield* breaker.reset
          model.reset()
          break
      }
      yield* compare(step)
    }
    for (const call of held) {
      yield* Deferred.succeed(call.gate, undefined)
      yield* Fiber.await(call.fiber)
      if (isTicket(call.admission)) model.complete(call.admission, call.kind)
    }
    yield* compare(commands.length)
    yield* Scope.close(scope, Exit.void)
    const transitions = (yield* Fiber.join(collected)).flatMap((event) =>
      event._tag === "StateChanged" ? [`${event.from}->${event.to}:${event.reason}@${event.at}`] : []
    )
    expect(transitions).toEqual(model.transitions)
  })

const pick = (s: {
  state: string
  calls: number
  failures: number
  slowCalls: number
  consecutiveFailures: number
  consecutiveOpenings: number
  retryAfter: Duration.Duration
}) => ({
  state: s.state,
  calls: s.calls,
  failures: s.failures,
  slowCalls: s.slowCalls,
  consecutiveFailures: s.consecutiveFailures,
  consecutiveOpenings: s.consecutiveOpenings,
  retryAfter: Duration.toMillis(s.retryAfter)
})

describe("the breaker against a reference model of the contract", () => {
  it("agrees step by step on random configs and random sequences of calls, time, interruptions and controls", async () => {
    await fc.assert(
      fc.asyncProperty(modelConfig, fc.array(command, { minLength: 1, maxLength: 80 }), async (config, commands) => {
        // The transition logs run (their path is part of every transition) but print nowhere.
        await Effect.runPromise(
          runScenario(config, commands).pipe(Effect.provide(TestClock.layer()), Effect.provide(Logger.layer([])))
        )
      }),
      { numRuns: 300 }
    )
  })
})
