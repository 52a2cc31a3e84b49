import { expect } from "@effect/vitest"
import type { Duration, Exit, Scope } from "effect"
import { Cause, Clock, Effect, Option, Stream } from "effect"
import { PolicyConfigError } from "../src/index.js"

/** Runs `make` and returns the `PolicyConfigError` it fails with (a typed failure, never a defect). */
export const policyConfigError = <A>(make: Effect.Effect<A, PolicyConfigError>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(make)
    if (exit._tag === "Success") throw new Error("expected a PolicyConfigError")
    expect(exit.cause.reasons).toHaveLength(1)
    const reason = exit.cause.reasons[0]!
    expect(reason._tag).toBe("Fail")
    if (reason._tag !== "Fail") throw new Error("expected a typed failure")
    expect(reason.error).toBeInstanceOf(PolicyConfigError)
    return reason.error
  })

/** Asserts that `make` fails naming `field` with a rule matching `rule`. */
export const expectConfigIssue = <A>(make: Effect.Effect<A, PolicyConfigError>, field: string, rule: RegExp) =>
  Effect.gen(function*() {
    const error = yield* policyConfigError(make)
    const issue = error.issues.find((i) => i.field === field)
    expect(issue, `issues: ${JSON.stringify(error.issues)}`).toBeDefined()
    expect(issue!.rule).toMatch(rule)
    expect(error.message).toContain(field)
  })

/** The typed error an exit failed with. */
export const failure = (exit: Exit.Exit<unknown, unknown>): unknown => {
  if (exit._tag === "Success") throw new Error(`expected a failure, got ${String(exit.value)}`)
  return Option.getOrUndefined(Cause.findErrorOption(exit.cause))
}

/** Collects the events a source publishes while `body` runs (subscribed before it starts). */
export const collectEvents = <Ev, A, E, R>(
  subscribe: Effect.Effect<Stream.Stream<Ev>, never, Scope.Scope>,
  body: Effect.Effect<A, E, R>
) =>
  Effect.scoped(Effect.gen(function*() {
    const stream = yield* subscribe
    const events: Array<Ev> = []
    yield* stream.pipe(
      Stream.runForEach((e) => Effect.sync(() => void events.push(e))),
      Effect.forkScoped({ startImmediately: true })
    )
    const result = yield* body
    yield* Effect.yieldNow
    return { result, events }
  }))

/**
 * Runs `body` with a `Clock` that counts the sleeps in progress (on top of
 * the current one, `TestClock` in tests), so a test can check that a policy
 * leaves no timer behind.
 */
export const withSleepCounter = <A, E, R>(body: (pendingSleeps: () => number) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    let pending = 0
    const counting: Clock.Clock = Object.assign(Object.create(clock) as Clock.Clock, {
      sleep: (duration: Duration.Duration) =>
        Effect.suspend(() => {
          pending++
          return clock.sleep(duration).pipe(Effect.ensuring(Effect.sync(() => void pending--)))
        })
    })
    return yield* body(() => pending).pipe(Effect.provideService(Clock.Clock, counting))
  })
