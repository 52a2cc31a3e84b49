import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Option } from "effect"
import { HttpClient } from "effect/http"
import { TestClock } from "effect/testing"
import type { CircuitBreakerSnapshot, ResilientHttpClient as R } from "../src/index.js"
import { Bulkhead, CircuitBreaker, CircuitBreakerRegistry, ResilientHttpClient } from "../src/index.js"
import type { Scripted } from "./http/scripted.js"
import { scripted } from "./http/scripted.js"

// A client with no retry, hedge, fallback, adaptive limit or classifyBody passes responses through
// and its breaker judges them; every other client judges them on the way. What a user observes must
// be the same either way: each scenario runs through both, and what each shows is compared.

const A = "http://a.test"

/** What the caller got: a status, an error's tag (and message), or a defect. */
const seen = (exit: Exit.Exit<{ readonly status: number }, unknown>): unknown => {
  if (Exit.isSuccess(exit)) return { status: exit.value.status }
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isSome(error)) {
    const value = error.value as { readonly _tag?: string; readonly message?: string }
    return { error: value._tag, message: value.message }
  }
  return Cause.hasDies(exit.cause) ? "defect" : Cause.hasInterrupts(exit.cause) ? "interrupted" : "?"
}

const summary = (snapshot: CircuitBreakerSnapshot.Snapshot | undefined) =>
  snapshot === undefined ? undefined : {
    breaker: snapshot.breaker,
    state: snapshot.state,
    calls: snapshot.calls,
    failures: snapshot.failures,
    lastFailure: snapshot.lastFailure?.message,
    lastFailureTag: snapshot.lastFailure?.tag,
    openedBy: snapshot.openedBy?.message,
    retryAfter: Duration.toMillis(snapshot.retryAfter)
  }

/** The extra option that makes a client judge responses on the way without changing what it answers. */
const judging = { classifyBody: () => Effect.succeed(false) } as const

/** Runs `scenario` with a passing client and a judging one, and expects them to show the same. */
const samePaths = <T>(
  options: R.Options<unknown>,
  scenario: (client: HttpClient.HttpClient.With<unknown>, upstream: Scripted) => Effect.Effect<T>,
  upstreamOf: () => Scripted
) =>
  Effect.gen(function*() {
    const run = (extra: object) =>
      Effect.scoped(Effect.gen(function*() {
        const upstream = upstreamOf()
        const client = yield* Effect.orDie(
          ResilientHttpClient.make(upstream.client, { ...options, ...extra } as R.Options<unknown>)
        )
        return yield* scenario(client as unknown as HttpClient.HttpClient.With<unknown>, upstream)
      }))
    const passed = yield* run({})
    const judged = yield* run(judging)
    expect(passed).toEqual(judged)
    return passed
  })

describe("a passing client and a judging client show the same", () => {
  it.effect("a 503 with Retry-After through a circuit per origin: answer, record, open hint", () =>
    Effect.gen(function*() {
      const shown = yield* samePaths(
        { breaker: { consecutiveFailures: 1, openDuration: "10 seconds" }, maxRetryAfter: "20 seconds" },
        (client) =>
          Effect.gen(function*() {
            const first = seen(yield* Effect.exit(client.get(`${A}/x?secret=1`)))
            const second = seen(yield* Effect.exit(client.get(`${A}/x`)))
            return { first, second }
          }),
        () => scripted({ status: 503, headers: { "retry-after": "60" } })
      )
      expect(shown.first).toEqual({ status: 503 })
      expect(shown.second).toMatchObject({ error: "CircuitOpenError" })
    }))

  it.effect("a registry full of open circuits: the overflow circuit records and opens the same", () =>
    Effect.gen(function*() {
      const observe = (extra: object) =>
        Effect.scoped(Effect.gen(function*() {
          const upstream = scripted({ status: 503, headers: { "retry-after": "30" } })
          const registry = yield* Effect.orDie(CircuitBreakerRegistry.make({
            name: "origins",
            maxBreakers: 1,
            config: { consecutiveFailures: 1, openDuration: "10 seconds" }
          }))
          const client = yield* Effect.orDie(ResilientHttpClient.make(upstream.client, { breaker: registry, ...extra }))
          const answers = [
            seen(yield* Effect.exit(client.get(`${A}/x`))),
            seen(yield* Effect.exit(client.get("http://b.test/x"))),
            seen(yield* Effect.exit(client.get("http://c.test/x")))
          ]
          return { answers, snapshots: (yield* registry.snapshots).map(summary), sent: upstream.calls.length }
        }))
      const passed = yield* observe({})
      expect(passed).toEqual(yield* observe(judging))
      expect(passed.snapshots.find((s) => s?.breaker === "origins/(overflow)")?.retryAfter).toBe(30_000)
    }))

  it.effect("a breaker of your own: the record and the open hint", () =>
    Effect.gen(function*() {
      const observe = (extra: object) =>
        Effect.scoped(Effect.gen(function*() {
          const upstream = scripted({ status: 429, headers: { "retry-after": "40" } })
          const breaker = yield* Effect.orDie(
            CircuitBreaker.make({ name: "mine", consecutiveFailures: 1, openDuration: "10 seconds" })
          )
          const client = yield* Effect.orDie(ResilientHttpClient.make(upstream.client, { breaker, ...extra }))
          const answers = [
            seen(yield* Effect.exit(client.get(`${A}/x`))),
            seen(yield* Effect.exit(client.get(`${A}/x`)))
          ]
          return { answers, snapshot: summary(yield* breaker.snapshot) }
        }))
      const passed = yield* observe({})
      expect(passed).toEqual(yield* observe(judging))
      expect(passed.snapshot?.retryAfter).toBe(40_000)
    }))

  it.effect("a wrapped client that fails non-2xx itself (filterStatusOk): the caller's error and the record", () =>
    samePaths(
      { breaker: { consecutiveFailures: 2, openDuration: "10 seconds" } },
      (client) =>
        Effect.gen(function*() {
          const answers = [
            seen(yield* Effect.exit(client.get(`${A}/x`))),
            seen(yield* Effect.exit(client.get(`${A}/x`))),
            seen(yield* Effect.exit(client.get(`${A}/x`)))
          ]
          return answers
        }),
      () => {
        const upstream = scripted({ status: 503, headers: { "retry-after": "30" } })
        return { ...upstream, client: HttpClient.filterStatusOk(upstream.client) }
      }
    ))

  it.effect("a timeout, and a full bulkhead (counted as nothing)", () =>
    Effect.gen(function*() {
      const observe = (extra: object) =>
        Effect.scoped(Effect.gen(function*() {
          const upstream = scripted({ after: "5 seconds", status: 200 })
          const breaker = yield* Effect.orDie(CircuitBreaker.make({ name: "mine", consecutiveFailures: 5 }))
          const bulkhead = yield* Effect.orDie(Bulkhead.make({ name: "b", maxConcurrent: 1, maxQueued: 0 }))
          const client = yield* Effect.orDie(
            ResilientHttpClient.make(upstream.client, { breaker, bulkhead, timeout: "1 second", ...extra })
          )
          const slow = yield* Effect.forkChild(Effect.exit(client.get(`${A}/x`)))
          yield* Effect.yieldNow
          const full = seen(yield* Effect.exit(client.get(`${A}/y`)))
          yield* TestClock.adjust("1 second")
          const timedOut = seen(yield* Fiber.join(slow))
          return { full, timedOut, snapshot: summary(yield* breaker.snapshot) }
        }))
      const passed = yield* observe({})
      expect(passed).toEqual(yield* observe(judging))
      expect(passed.snapshot?.calls).toBe(1)
    }))

  it.effect("an isFailure that throws: the caller's defect and what the breaker counts", () =>
    Effect.gen(function*() {
      const observe = (extra: object) =>
        Effect.scoped(Effect.gen(function*() {
          const upstream = scripted({ status: 503 })
          const breaker = yield* Effect.orDie(CircuitBreaker.make({ name: "mine", consecutiveFailures: 5 }))
          const client = yield* Effect.orDie(ResilientHttpClient.make(upstream.client, {
            breaker,
            isFailure: (response) => {
              if (response.status === 503) throw new Error("isFailure bug")
              return false
            },
            ...extra
          }))
          const answer = seen(yield* Effect.exit(client.get(`${A}/x`)))
          return { answer, snapshot: summary(yield* breaker.snapshot) }
        }))
      const passed = yield* observe({})
      const judged = yield* observe(judging)
      expect(judged.answer).toBe("defect")
      expect(passed).toEqual(judged)
    }))
})
