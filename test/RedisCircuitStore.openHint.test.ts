import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit } from "effect"
import { TestClock } from "effect/testing"
import type { Classifier as C } from "../src/index.js"
import { Classifier } from "../src/index.js"
import { expectRejected } from "./helpers.js"
import { awaitState, failing, fleet, joinAll } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

// A failure's open-duration hint (an HTTP Retry-After, say) lengthens the opening it causes. With
// circuits shared through Redis the script opens them, so the hint travels with the outcome: every
// instance then stays out as long as the dependency asked.
const hinted = (openFor: Duration.Input): C.Classifier => (exit) =>
  Exit.isSuccess(exit) ? "success" : Classifier.failureWithOpenHint(openFor)

describe.skipIf(!redisAvailable)("RedisCircuitStore and open-duration hints", () => {
  for (const mode of ["shared", "strict"] as const) {
    it.effect(
      `${mode} mode: a trip on a hinted failure keeps the whole fleet out for the hint`,
      () =>
        Effect.gen(function*() {
          const server = yield* redisServer
          const config = { name: `hinted-${mode}`, consecutiveFailures: 2, openDuration: "10 seconds" } as const
          const [a, b] = yield* fleet(2, server.url, config, { mode })
          const opened = yield* Effect.forEach([a!, b!], (i) => awaitState(i, "Open"))
          const classify = hinted("30 seconds")
          yield* Effect.exit(a!.breaker.execute(failing, { classify }))
          yield* Effect.exit(a!.breaker.execute(failing, { classify }))
          // Shared mode sends its outcomes at the next flush.
          yield* TestClock.adjust("100 millis")
          if (mode === "strict") yield* Effect.exit(b!.breaker.execute(Effect.void))
          yield* joinAll(opened)
          for (const i of [a!, b!]) {
            const error = expectRejected(yield* Effect.exit(i.breaker.execute(Effect.void)), "Open")
            expect(Duration.toMillis(error.retryAfter)).toBeGreaterThan(29_000)
          }
          // Past openDuration, the fleet is still out: the hint holds.
          yield* TestClock.adjust("15 seconds")
          for (const i of [a!, b!]) expectRejected(yield* Effect.exit(i.breaker.execute(Effect.void)), "Open")
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
          const server = yield* redisServer
          const config = { name: `as-${mode}`, consecutiveFailures: 2, openDuration: "10 seconds" } as const
          const [a, b] = yield* fleet(2, server.url, config, { mode })
          const opened = yield* Effect.forEach([a!, b!], (i) => awaitState(i, "Open"))
          // The call succeeds with an answer that says it failed (an HTTP 503 asking for 30 seconds).
          const answer = Effect.succeed({ status: 503 })
          const classify: C.Classifier<{ readonly status: number }, unknown> = (exit) =>
            Exit.isSuccess(exit) && exit.value.status === 503
              ? Classifier.failureAs(new Error("HTTP 503"), { openFor: "30 seconds" })
              : "success"
          expect(yield* a!.breaker.execute(answer, { classify })).toEqual({ status: 503 })
          yield* a!.breaker.execute(answer, { classify })
          yield* TestClock.adjust("100 millis")
          if (mode === "strict") yield* Effect.exit(b!.breaker.execute(Effect.void))
          yield* joinAll(opened)
          for (const i of [a!, b!]) {
            const error = expectRejected(yield* Effect.exit(i.breaker.execute(Effect.void)), "Open")
            expect(Duration.toMillis(error.retryAfter)).toBeGreaterThan(29_000)
          }
          expect((yield* a!.breaker.snapshot).lastFailure?.message).toBe("HTTP 503")
        }).pipe(Effect.scoped),
      30_000
    )
  }
})
