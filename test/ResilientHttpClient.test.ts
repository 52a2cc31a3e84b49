import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Option } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { TestClock } from "effect/testing"
import { CircuitOpenError, ResilientHttpClient } from "../src/index.js"
import type { Step } from "./http/scripted.js"
import { scripted } from "./http/scripted.js"

// The client's logic against an in-memory client answering from a script, under TestClock: every
// wait (backoff, Retry-After, timeouts, open periods) is the test clock's.

const A = "http://a.test"
const B = "http://b.test"

/** The typed error an exit failed with. */
const failure = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

const statusOf = (exit: Exit.Exit<{ readonly status: number }, unknown>): number | undefined =>
  Exit.isSuccess(exit) ? exit.value.status : undefined

const open1 = { consecutiveFailures: 1, openDuration: "10 seconds" } as const

describe("classification", () => {
  it.effect.each([500, 502, 503, 504, 505, 408, 429])(
    "%s counts as a failure: the circuit opens",
    (status) =>
      Effect.gen(function*() {
        const upstream = scripted({ status })
        const client = yield* ResilientHttpClient.make(upstream.client, { breaker: open1 })
        expect(statusOf(yield* Effect.exit(client.get(`${A}/x`)))).toBe(status)
        const rejected = failure(yield* Effect.exit(client.get(`${A}/x`)))
        expect(rejected).toBeInstanceOf(CircuitOpenError)
        expect(upstream.calls).toHaveLength(1)
      }).pipe(Effect.scoped)
  )

  it.effect.each([501, 404, 400, 401, 409, 200, 302])(
    "%s is an answer: the circuit stays closed",
    (status) =>
      Effect.gen(function*() {
        const upstream = scripted({ status })
        const client = yield* ResilientHttpClient.make(upstream.client, { breaker: open1 })
        for (let i = 0; i < 3; i++) expect(statusOf(yield* Effect.exit(client.get(`${A}/x`)))).toBe(status)
        expect(upstream.calls).toHaveLength(3)
      }).pipe(Effect.scoped)
  )

  it.effect("a transport error counts as a failure", () =>
    Effect.gen(function*() {
      const upstream = scripted({ transport: true })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker: open1 })
      const first = failure(yield* Effect.exit(client.get(`${A}/x`)))
      expect((first as { _tag: string })._tag).toBe("HttpClientError")
      expect(failure(yield* Effect.exit(client.get(`${A}/x`)))).toBeInstanceOf(CircuitOpenError)
    }).pipe(Effect.scoped))

  it.effect("isFailure replaces the status rule for one client", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 404 })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker: open1,
        isFailure: (response) => response.status === 404
      })
      yield* Effect.exit(client.get(`${A}/x`))
      expect(failure(yield* Effect.exit(client.get(`${A}/x`)))).toBeInstanceOf(CircuitOpenError)
    }).pipe(Effect.scoped))

  it.effect("classifyBody turns a 200 that says degraded into a failure; the caller can still read the body", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 200, body: `{"status":"degraded"}` })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker: open1,
        classifyBody: (response) => Effect.map(response.text, (text) => text.includes("degraded"))
      })
      const response = yield* client.get(`${A}/x`)
      expect(yield* response.text).toBe(`{"status":"degraded"}`)
      expect(failure(yield* Effect.exit(client.get(`${A}/x`)))).toBeInstanceOf(CircuitOpenError)
    }).pipe(Effect.scoped))
})

describe("circuits", () => {
  it.effect("one circuit per origin, named after it; another origin is not rejected", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker: open1 })
      yield* Effect.exit(client.get(`${A}/one`))
      const rejected = failure(yield* Effect.exit(client.get(`${A}/two`))) as CircuitOpenError
      expect(rejected.breaker).toBe(A)
      upstream.script({ status: 200 })
      expect(statusOf(yield* Effect.exit(client.get(`${B}/one`)))).toBe(200)
    }).pipe(Effect.scoped))

  it.effect("a key function groups requests into circuits", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker: open1, key: () => "backend" })
      yield* Effect.exit(client.get(`${A}/x`))
      const rejected = failure(yield* Effect.exit(client.get(`${B}/x`))) as CircuitOpenError
      expect(rejected.breaker).toBe("backend")
    }).pipe(Effect.scoped))

  it.effect("when the registry is full of open circuits, further origins share one overflow circuit", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker: open1, maxBreakers: 1 })
      yield* Effect.exit(client.get(`${A}/x`)) // A's circuit opens: it may not be evicted
      yield* Effect.exit(client.get(`${B}/x`)) // no room for B: the overflow circuit opens
      const rejected = failure(yield* Effect.exit(client.get("http://c.test/x"))) as CircuitOpenError
      expect(rejected.breaker).toBe("http/(overflow)")
      expect(upstream.calls).toHaveLength(2)
    }).pipe(Effect.scoped))

  it.effect("a rejection while open reports the time left", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker: open1 })
      yield* Effect.exit(client.get(`${A}/x`))
      yield* TestClock.adjust("4 seconds")
      const rejected = failure(yield* Effect.exit(client.get(`${A}/x`))) as CircuitOpenError
      expect(Duration.toMillis(rejected.retryAfter)).toBe(6_000)
    }).pipe(Effect.scoped))
})

describe("Retry-After", () => {
  const retrying = (...steps: ReadonlyArray<Step>) =>
    Effect.gen(function*() {
      const upstream = scripted(...steps)
      const client = yield* ResilientHttpClient.make(upstream.client, {
        retry: { retries: 2, baseDelay: "10 millis", jitter: false }
      })
      const fiber = yield* Effect.forkChild(client.get(`${A}/x`))
      return { upstream, fiber }
    })

  it.effect("delta-seconds on a 503 delay the next retry", () =>
    Effect.gen(function*() {
      const { fiber, upstream } = yield* retrying({ status: 503, headers: { "retry-after": "7" } }, { status: 200 })
      yield* TestClock.adjust("6999 millis")
      expect(upstream.calls).toHaveLength(1)
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(fiber)).status).toBe(200)
      expect(upstream.calls).toHaveLength(2)
    }).pipe(Effect.scoped))

  it.effect("an HTTP date on a 429 delays the next retry until then", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 0, 1, 12, 0, 0))
      const date = new Date(Date.UTC(2026, 0, 1, 12, 0, 30)).toUTCString()
      const { fiber, upstream } = yield* retrying({ status: 429, headers: { "retry-after": date } }, { status: 200 })
      yield* TestClock.adjust("29 seconds")
      expect(upstream.calls).toHaveLength(1)
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(fiber)).status).toBe(200)
    }).pipe(Effect.scoped))

  it.effect.each(["7.5", "-1", "1e3", "soon", "Sun, 06 Nov 1994 08:49:37 CET", "9".repeat(70)])(
    "a Retry-After that does not parse (%s) is ignored: the backoff decides",
    (value) =>
      Effect.gen(function*() {
        const { fiber, upstream } = yield* retrying({ status: 503, headers: { "retry-after": value } }, {
          status: 200
        })
        yield* TestClock.adjust("10 millis")
        expect((yield* Fiber.join(fiber)).status).toBe(200)
        expect(upstream.calls).toHaveLength(2)
      }).pipe(Effect.scoped)
  )

  it.effect("a Retry-After on another status (500) is not read", () =>
    Effect.gen(function*() {
      const { fiber } = yield* retrying({ status: 500, headers: { "retry-after": "60" } }, { status: 200 })
      yield* TestClock.adjust("10 millis")
      expect((yield* Fiber.join(fiber)).status).toBe(200)
    }).pipe(Effect.scoped))

  it.effect("a Retry-After longer than maxRetryAfterWait ends the retries: the response is returned", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503, headers: { "retry-after": "120" } }, { status: 200 })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        retry: { retries: 2, maxRetryAfterWait: "1 minute" }
      })
      expect((yield* client.get(`${A}/x`)).status).toBe(503)
      expect(upstream.calls).toHaveLength(1)
    }).pipe(Effect.scoped))

  it.effect("a trip on a response with Retry-After keeps the circuit open that long", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503, headers: { "retry-after": "120" } })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker: open1 })
      yield* Effect.exit(client.get(`${A}/x`))
      const rejected = failure(yield* Effect.exit(client.get(`${A}/x`))) as CircuitOpenError
      expect(Duration.toMillis(rejected.retryAfter)).toBe(120_000)
    }).pipe(Effect.scoped))

  it.effect("the open period a Retry-After asks for is capped by maxOpenDuration, and by maxRetryAfter", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 429, headers: { "retry-after": "86400" } })
      const capped = yield* ResilientHttpClient.make(upstream.client, {
        breaker: { ...open1, maxOpenDuration: "1 minute" }
      })
      yield* Effect.exit(capped.get(`${A}/x`))
      expect(Duration.toMillis((failure(yield* Effect.exit(capped.get(`${A}/x`))) as CircuitOpenError).retryAfter))
        .toBe(60_000)
      const believed = yield* ResilientHttpClient.make(upstream.client, { breaker: open1, maxRetryAfter: "90 seconds" })
      yield* Effect.exit(believed.get(`${B}/x`))
      expect(Duration.toMillis((failure(yield* Effect.exit(believed.get(`${B}/x`))) as CircuitOpenError).retryAfter))
        .toBe(90_000)
    }).pipe(Effect.scoped))
})

describe("building", () => {
  it.effect("bad options fail with PolicyConfigError naming the field and the rule", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 200 })
      const make = (options: unknown) =>
        Effect.flip(ResilientHttpClient.make(upstream.client, options as ResilientHttpClient.Options))
      const typo = yield* make({ retires: 2 })
      expect(typo._tag).toBe("PolicyConfigError")
      expect(typo.message).toContain("retires")
      const negative = yield* make({ maxRetryAfter: -1 })
      expect(negative.message).toContain("maxRetryAfter")
      const wait = yield* make({ retry: { maxRetryAfterWait: "forever" } })
      expect(wait.message).toContain("retry.maxRetryAfterWait")
      const notOptions = yield* make({ retry: 3 })
      expect(notOptions.message).toContain("retry")
      expect(notOptions.message).toContain("an object of options")
      const timeout = yield* make({ timeout: 0 })
      expect(timeout.message).toContain("duration")
      const breaker = yield* make({ breaker: { consecutiveFailures: 0 } })
      expect(breaker._tag).toBe("CircuitBreakerConfigError")
    }).pipe(Effect.scoped))

  it.effect("a layer provides the guarded client as ResilientHttpClient", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const status = yield* Effect.flatMap(ResilientHttpClient.ResilientHttpClient, (client) =>
        Effect.flatMap(
          Effect.exit(client.execute(HttpClientRequest.get(`${A}/x`))),
          () => Effect.flip(client.get(`${A}/x`))
        )).pipe(
          Effect.provide(ResilientHttpClient.layer({ breaker: open1 })),
          Effect.provideService(HttpClient.HttpClient, upstream.client)
        )
      expect(status).toBeInstanceOf(CircuitOpenError)
    }))
})
