import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit } from "effect"
import { TestClock } from "effect/testing"
import type { Classifier as C } from "../src/index.js"
import { Classifier } from "../src/index.js"
import { expectRejected } from "./helpers.js"
import type { Instance } from "./redis/fleet.js"
import { awaitState, failing, fleet, joinAll } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

// A failure's open-duration hint (an HTTP Retry-After, say) lengthens the opening it causes. With
// circuits shared through Redis the script opens them, so the hint travels with the outcome: every
// instance then stays out as long as the dependency asked.
const hinted = (openFor: Duration.Input): C.Classifier => (exit) =>
  Exit.isSuccess(exit) ? "success" : Classifier.failureWithOpenHint(openFor)

/**
 * Two instances sharing a circuit (two failures trip it, openDuration 10 s); `fail` runs on the
 * first one twice, and both are expected to be kept out for a 30-second hint. The two instances.
 */
const tripForThirtySeconds = (
  mode: "shared" | "strict",
  name: string,
  fail: (member: Instance) => Effect.Effect<unknown, unknown>
) =>
  Effect.gen(function*() {
    const server = yield* redisServer
    const config = { name, consecutiveFailures: 2, openDuration: "10 seconds" } as const
    const [a, b] = yield* fleet(2, server.url, config, { mode })
    const opened = yield* Effect.forEach([a!, b!], (i) => awaitState(i, "Open"))
    yield* fail(a!)
    yield* fail(a!)
    // Shared mode sends its outcomes at the next flush.
    yield* TestClock.adjust("100 millis")
    if (mode === "strict") yield* Effect.exit(b!.breaker.execute(Effect.void))
    yield* joinAll(opened)
    for (const i of [a!, b!]) {
      const error = expectRejected(yield* Effect.exit(i.breaker.execute(Effect.void)), "Open")
      expect(Duration.toMillis(error.retryAfter)).toBeGreaterThan(29_000)
    }
    return [a!, b!] as const
  })

describe.skipIf(!redisAvailable)("RedisCircuitStore and open-duration hints", () => {
  for (const mode of ["shared", "strict"] as const) {
    it.effect(
      `${mode} mode: a trip on a hinted failure keeps the whole fleet out for the hint`,
      () =>
        Effect.gen(function*() {
          const classify = hinted("30 seconds")
          const [a, b] = yield* tripForThirtySeconds(
            mode,
            `hinted-${mode}`,
            (member) => Effect.exit(member.breaker.execute(failing, { classify }))
          )
          // Past openDuration, the fleet is still out: the hint holds.
          yield* TestClock.adjust("15 seconds")
          for (const i of [a, b]) expectRejected(yield* Effect.exit(i.breaker.execute(Effect.void)), "Open")
        }).pipe(Effect.scoped),
      30_000
    )

    it.effect(
      `${mode} mode: the hint is capped by maxOpenDuration, and a failed probe reopens for it`,
      () =>
        Effect.gen(function*() {
          const server = yield* redisServer
          const config = {
            name: `capped-${mode}`,
            consecutiveFailures: 1,
            openDuration: "2 seconds",
            maxOpenDuration: "20 seconds"
          } as const
          const [a, b] = yield* fleet(2, server.url, config, { mode })
          const opened = yield* awaitState(b!, "Open")
          yield* Effect.exit(a!.breaker.execute(failing, { classify: hinted("1 hour") }))
          yield* TestClock.adjust("100 millis")
          if (mode === "strict") yield* Effect.exit(b!.breaker.execute(Effect.void))
          yield* joinAll([opened])
          const error = expectRejected(yield* Effect.exit(b!.breaker.execute(Effect.void)), "Open")
          expect(Duration.toMillis(error.retryAfter)).toBeGreaterThan(19_000)
          expect(Duration.toMillis(error.retryAfter)).toBeLessThanOrEqual(20_000)
          // The probe after the opening fails with a hint: the fleet reopens for it, not for openDuration.
          yield* TestClock.adjust("20 seconds")
          const reopened = yield* awaitState(b!, "Open")
          yield* Effect.exit(a!.breaker.execute(failing, { classify: hinted("15 seconds") }))
          yield* TestClock.adjust("100 millis")
          if (mode === "strict") yield* Effect.exit(b!.breaker.execute(Effect.void))
          yield* joinAll([reopened])
          const again = expectRejected(yield* Effect.exit(b!.breaker.execute(Effect.void)), "Open")
          expect(Duration.toMillis(again.retryAfter)).toBeGreaterThan(14_000)
        }).pipe(Effect.scoped),
      30_000
    )

    it.effect(
      `${mode} mode: a success recorded as a failure (Classifier.failureAs) opens the fleet for its hint, and says why`,
      () =>
        Effect.gen(function*() {
          // The call succeeds with an answer that says it failed (an HTTP 503 asking for 30 seconds).
          const answer = Effect.succeed({ status: 503 })
          const classify: C.Classifier<{ readonly status: number }, unknown> = (exit) =>
            Exit.isSuccess(exit) && exit.value.status === 503
              ? Classifier.failureAs(new Error("HTTP 503"), { openFor: "30 seconds" })
              : "success"
          const answers: Array<unknown> = []
          const [a] = yield* tripForThirtySeconds(
            mode,
            `as-${mode}`,
            (member) => Effect.map(member.breaker.execute(answer, { classify }), (value) => answers.push(value))
          )
          expect(answers).toEqual([{ status: 503 }, { status: 503 }]) // the caller gets the value
          expect((yield* a.breaker.snapshot).lastFailure?.message).toBe("HTTP 503")
        }).pipe(Effect.scoped),
      30_000
    )
  }
})
