import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Metric, Option, Scope, Stream } from "effect"
import type { HttpClientError } from "effect/http"
import { HttpClient, HttpClientRequest } from "effect/http"
import { TestClock } from "effect/testing"
import { CircuitBreaker, CircuitBreakerRegistry, CircuitOpenError, Metrics, ResilientHttpClient } from "../src/index.js"
import type { Step } from "./http/scripted.js"
import { scripted } from "./http/scripted.js"
import { capturingLogs } from "./redis/logs.js"

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

  it.effect("after classifyBody the body reads again as text, json and arrayBuffer (read once, kept)", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 200, body: `{"status":"fine"}` })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        classifyBody: (response) => Effect.map(response.text, (text) => text.includes("degraded"))
      })
      const response = yield* client.get(`${A}/x`)
      expect(yield* response.text).toBe(`{"status":"fine"}`)
      expect(yield* response.json).toEqual({ status: "fine" })
      expect((yield* response.arrayBuffer).byteLength).toBe(17)
    }).pipe(Effect.scoped))

  it.effect("after classifyBody the response is whole: its stream, status and headers are the upstream's", () =>
    Effect.gen(function*() {
      const body = `{"items":[${Array.from({ length: 500 }, (_, i) => i).join(",")}]}`
      const upstream = scripted({ status: 200, body, headers: { "x-request-id": "r-1" } })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        classifyBody: (response) => Effect.map(response.text, (text) => text.includes("degraded"))
      })
      const response = yield* client.get(`${A}/x`)
      const bytes = yield* Stream.runFold(response.stream, () => 0, (n, chunk) => n + chunk.length)
      expect(bytes).toBe(new TextEncoder().encode(body).length)
      expect([response.status, response.headers["x-request-id"]]).toEqual([200, "r-1"])
      // A failed response handed back after classifyBody streams too.
      upstream.script({ status: 200, body: "degraded" })
      const failed = yield* client.get(`${A}/y`)
      expect(yield* Stream.mkString(Stream.decodeText(failed.stream))).toBe("degraded")
    }).pipe(Effect.scoped))

  it.effect("classifyBody reads at most classifyBodyLimit bytes: a larger body fails the attempt, unclassified", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 200, body: "x".repeat(2048) })
      let classified = 0
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker: open1,
        classifyBodyLimit: 1024,
        classifyBody: () => Effect.sync(() => ++classified > 0)
      })
      const tooLarge = failure(yield* Effect.exit(client.get(`${A}/x`))) as HttpClientError.HttpClientError
      expect(tooLarge.reason._tag).toBe("DecodeError")
      expect(tooLarge.message).toContain("classifyBodyLimit")
      expect(classified).toBe(0)
      // Not the dependency's fault: the circuit counts nothing and stays closed.
      upstream.script({ status: 200, body: "x".repeat(1024) })
      expect(statusOf(yield* Effect.exit(client.get(`${A}/x`)))).toBe(200)
      expect(classified).toBe(1)
    }).pipe(Effect.scoped))

  it.effect("a HEAD whose Content-Length announces more than classifyBodyLimit has no body: it is classified", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 200, headers: { "content-length": String(10 * 1024 * 1024) } })
      const seen: Array<string> = []
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker: open1,
        classifyBodyLimit: 1024,
        classifyBody: (response) => Effect.map(response.text, (text) => (seen.push(text), false))
      })
      expect(statusOf(yield* Effect.exit(client.head(`${A}/big-file`)))).toBe(200)
      expect(seen).toEqual([""])
    }).pipe(Effect.scoped))

  it.effect("classifyBodyLimit is checked: 1 byte to 64 MiB, and only with classifyBody", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 200 })
      const refused = (options: unknown) =>
        Effect.flip(ResilientHttpClient.make(upstream.client, options as ResilientHttpClient.Options))
      const classifyBody = () => Effect.succeed(false)
      for (const limit of [0, 1.5, 64 * 1024 * 1024 + 1, "1 MiB"]) {
        const error = yield* refused({ classifyBody, classifyBodyLimit: limit })
        expect(error.issues.map((issue) => issue.field)).toEqual(["classifyBodyLimit"])
      }
      const alone = yield* refused({ classifyBodyLimit: 1024 })
      expect(alone.issues.map((issue) => [issue.field, issue.rule])).toEqual([[
        "classifyBodyLimit",
        "applies only with classifyBody: leave it out, or give classifyBody"
      ]])
      yield* ResilientHttpClient.make(upstream.client, { classifyBody, classifyBodyLimit: 64 * 1024 * 1024 })
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

  it.effect("requests are keyed by their URL's origin as the URL standard reads it, however often each is seen", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 200 })
      const registry = yield* CircuitBreakerRegistry.make({ name: "origins", config: open1 })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker: registry })
      const urls = [
        "http://a.test/one",
        "http://a.test.b.test/nine",
        "HTTP://A.TEST:80/two?x=/y",
        "http://a.test?q=//b.test/",
        "http://a.test:8080/three",
        "https://a.test:443/four#/frag",
        "https://a.test/five",
        "http://b.test\\six",
        "http://user:secret@c.test/seven",
        "http://127.1:9/eight"
      ]
      // Twice, in both orders: the second time each key comes from what the client remembered.
      for (const url of [...urls, ...[...urls].reverse()]) {
        yield* client.get(url)
        const keys = yield* registry.keys
        expect(keys).toContain(new URL(url).origin)
      }
      expect([...(yield* registry.keys)].sort()).toEqual(
        [
          "http://127.0.0.1:9",
          "http://a.test",
          "http://a.test.b.test",
          "http://a.test:8080",
          "http://b.test",
          "http://c.test",
          "https://a.test"
        ]
      )
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

  it.effect("a key with no circuit of its own logs a warning, at most once a minute", () =>
    Effect.gen(function*() {
      const logs = capturingLogs()
      const isOverflowWarning = (line: { readonly message: string }) =>
        line.message.includes("no breaker of its own for key")
      const overflowWarnings = () => logs.matching(isOverflowWarning).length
      yield* Effect.gen(function*() {
        const upstream = scripted({ status: 503 })
        const client = yield* ResilientHttpClient.make(upstream.client, {
          breaker: { consecutiveFailures: 1, openDuration: "1 hour" },
          maxBreakers: 1
        })
        yield* Effect.exit(client.get(`${A}/x`)) // A's circuit opens: it may not be evicted
        yield* Effect.exit(client.get(`${B}/x`))
        yield* Effect.exit(client.get("http://c.test/x"))
        expect(overflowWarnings()).toBe(1)
        yield* TestClock.adjust("59 seconds")
        yield* Effect.exit(client.get("http://d.test/x"))
        expect(overflowWarnings()).toBe(1)
        yield* TestClock.adjust("1 second")
        yield* Effect.exit(client.get("http://e.test/x"))
        expect(overflowWarnings()).toBe(2)
        expect(logs.matching(isOverflowWarning)[0]?.level).toBe("Warn")
      }).pipe(Effect.provide(logs.layer))
    }).pipe(Effect.scoped))

  it.effect("idleTimeToLive reaches the registry: an idle half-open circuit makes room for a new origin", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker: open1,
        maxBreakers: 1,
        idleTimeToLive: "1 minute"
      })
      yield* Effect.exit(client.get(`${A}/x`)) // A's circuit opens for 10 seconds
      yield* TestClock.adjust("11 seconds")
      upstream.script({ hang: true })
      yield* Effect.forkChild(client.get(`${A}/x`)) // A's probe never ends: half-open, it cannot be evicted
      yield* TestClock.adjust("2 minutes")
      upstream.script({ status: 503 })
      yield* Effect.exit(client.get(`${B}/x`)) // no room yet; the sweep notes A's last call
      yield* TestClock.adjust("2 minutes")
      yield* Effect.exit(client.get("http://c.test/x")) // A idle past 1 minute: evicted, C gets its own circuit
      const rejected = failure(yield* Effect.exit(client.get("http://c.test/x"))) as CircuitOpenError
      expect(rejected.breaker).toBe("http://c.test") // with the default (1 hour), the overflow circuit
    }).pipe(Effect.scoped))

  it.effect("a circuit opened by a 503 says so: HTTP 503 (GET origin/path), without the query string", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const registry = yield* CircuitBreakerRegistry.make({ config: { consecutiveFailures: 1 } })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker: registry })
      yield* client.get(`${A}/orders?token=s3cret#frag`)
      const rejected = failure(yield* Effect.exit(client.get(`${A}/x`))) as CircuitOpenError
      const [snapshot] = yield* registry.snapshots
      const said = "HTTP 503 (GET http://a.test/orders)"
      expect(snapshot?.openedBy?.message).toBe(said)
      expect(snapshot?.lastFailure?.message).toBe(said)
      expect((rejected.lastFailure as Error).message).toBe(said)
      expect((rejected.lastFailure as { _tag: string })._tag).toBe("HttpClientError")
      expect(JSON.stringify(snapshot)).not.toContain("s3cret")
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

  it.effect("a key whose configuration a registry of your own cannot make shares the overflow circuit", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 200 })
      // A per-key function that gives B an invalid configuration: B gets no circuit of its own.
      const registry = yield* CircuitBreakerRegistry.make({
        name: "origins",
        config: (origin) => origin === B ? { consecutiveFailures: 0 } : open1
      })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker: registry })
      expect(statusOf(yield* Effect.exit(client.get(`${B}/x`)))).toBe(200)
      const overflow = (yield* registry.snapshots).find((snapshot) => snapshot.breaker === "origins/(overflow)")
      expect(overflow?.calls).toBe(1)
      expect(upstream.calls).toHaveLength(1)
    }).pipe(Effect.scoped))

  it.effect("a call's own registry error (its upstream's registry, of the same name) is the call's: sent once, recorded once", () =>
    Effect.gen(function*() {
      const logs = capturingLogs()
      yield* Effect.gen(function*() {
        const base = scripted({ status: 200 })
        // The upstream guards each request by a tenant header with a registry of its own, named as
        // the client's: a request without the header has an empty key, which that registry refuses.
        const tenants = yield* CircuitBreakerRegistry.make({ name: "http" })
        let sent = 0
        const upstream = HttpClient.transform(base.client, (response, request) =>
          Effect.suspend(() => {
            sent++
            return tenants.execute(response, request.headers["x-tenant"] ?? "")
          }))
        const client = yield* ResilientHttpClient.make(upstream, { breaker: open1 })
        const exit = yield* Effect.exit(client.get(`${A}/x`))
        expect(CircuitBreakerRegistry.isRegistryKeyError(failure(exit))).toBe(true)
        expect(sent).toBe(1)
        // One admitted call, one outcome: a failure in A's circuit, nothing in the overflow circuit.
        const rejected = failure(yield* Effect.exit(client.get(`${A}/y`))) as CircuitOpenError
        expect(rejected.breaker).toBe(A)
        expect(logs.matching((line) => line.message.includes("no breaker of its own for key"))).toHaveLength(0)
      }).pipe(Effect.provide(logs.layer))
    }).pipe(Effect.scoped))
})

describe("Retry-After", () => {
  const retryingWith = (options: Omit<ResilientHttpClient.Options, "fallback">, ...steps: ReadonlyArray<Step>) =>
    Effect.gen(function*() {
      const upstream = scripted(...steps)
      const client = yield* ResilientHttpClient.make(upstream.client, {
        ...options,
        retry: { retries: 2, baseDelay: "10 millis", jitter: false }
      })
      const fiber = yield* Effect.forkChild(client.get(`${A}/x`))
      return { upstream, fiber }
    })
  const retrying = (...steps: ReadonlyArray<Step>) => retryingWith({}, ...steps)

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

  it.effect("a Retry-After beyond maxRetryAfterWait ends the retries even when maxRetryAfter caps it lower", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503, headers: { "retry-after": "3600" } }, { status: 200 })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker: { consecutiveFailures: 1000 },
        maxRetryAfter: "10 seconds",
        retry: { retries: 2, baseDelay: "10 millis", jitter: false } // maxRetryAfterWait: 30 seconds
      })
      const fiber = yield* Effect.forkChild(client.get(`${A}/x`))
      yield* TestClock.adjust("10 seconds")
      // The server said "come back in an hour": never retried sooner.
      expect(upstream.calls).toHaveLength(1)
      expect((yield* Fiber.join(fiber)).status).toBe(503)
    }).pipe(Effect.scoped))

  it.effect("maxRetryAfter caps only the open-duration hint: the retry waits the Retry-After in full", () =>
    Effect.gen(function*() {
      const { fiber, upstream } = yield* retryingWith(
        { maxRetryAfter: "10 seconds" },
        { status: 503, headers: { "retry-after": "20" } },
        { status: 200 }
      )
      yield* TestClock.adjust("19999 millis")
      expect(upstream.calls).toHaveLength(1)
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(fiber)).status).toBe(200)
    }).pipe(Effect.scoped))

  it.effect("maxRetryAfterWait defaults to 30 seconds: 30 s is waited for, 31 s ends the retries", () =>
    Effect.gen(function*() {
      const waited = yield* retryingWith({}, { status: 503, headers: { "retry-after": "30" } }, { status: 200 })
      yield* TestClock.adjust("30 seconds")
      expect((yield* Fiber.join(waited.fiber)).status).toBe(200)
      const ended = yield* retryingWith({}, { status: 503, headers: { "retry-after": "31" } }, { status: 200 })
      expect((yield* Fiber.join(ended.fiber)).status).toBe(503)
      expect(ended.upstream.calls).toHaveLength(1)
    }).pipe(Effect.scoped))

  it.effect("maxRetryAfter defaults to 5 minutes: a trip on Retry-After 3600 opens the circuit for 5 minutes", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503, headers: { "retry-after": "3600" } })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker: { ...open1, maxOpenDuration: "2 hours" }
      })
      yield* Effect.exit(client.get(`${A}/x`))
      const rejected = failure(yield* Effect.exit(client.get(`${A}/x`))) as CircuitOpenError
      expect(Duration.toMillis(rejected.retryAfter)).toBe(300_000)
    }).pipe(Effect.scoped))

  it.effect.each(
    [
      ["a date in the past: no wait beyond the backoff", "Sun, 06 Nov 1994 08:49:37 GMT", 10],
      ["64 characters, the longest read", "0".repeat(63) + "5", 5000],
      ["0: no wait beyond the backoff", "0", 10],
      ["a huge delta: past maxRetryAfterWait, the retries end", "9".repeat(40), -1]
    ] as const
  )("Retry-After of %s", ([_label, value, waitMillis]) =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 0, 1))
      const { fiber, upstream } = yield* retrying({ status: 503, headers: { "retry-after": value } }, { status: 200 })
      if (waitMillis < 0) {
        expect((yield* Fiber.join(fiber)).status).toBe(503)
        return
      }
      yield* TestClock.adjust(waitMillis - 1)
      expect(upstream.calls).toHaveLength(1)
      yield* TestClock.adjust(1)
      expect((yield* Fiber.join(fiber)).status).toBe(200)
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

  it.effect.each(
    [
      ["a classify that is no function", { classify: 42 }, "config.classify"],
      ["null", null, "config"],
      ["an array", [{ consecutiveFailures: 1 }], "config"],
      ["a setting it inherits", Object.create({ consecutiveFailures: 0 }), "config.consecutiveFailures"]
    ] as const
  )(
    "a breaker configuration is checked as given: %s is refused, naming the field",
    ([, breaker, field]) =>
      Effect.gen(function*() {
        const upstream = scripted({ status: 200 })
        const error = yield* Effect.flip(ResilientHttpClient.make(upstream.client, { breaker: breaker as never }))
        expect(error._tag).toBe("CircuitBreakerConfigError")
        expect(error.message).toContain(`${field}: `)
      }).pipe(Effect.scoped)
  )

  it.effect("a bad backoff option names the client and the field under retry, as retry.maxRetryAfterWait does", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 200 })
      const error = yield* Effect.flip(
        ResilientHttpClient.make(upstream.client, {
          name: "inventory",
          retry: { retries: -1, baseDelay: "soon" as never }
        })
      )
      expect(error._tag).toBe("PolicyConfigError")
      if (error._tag !== "PolicyConfigError") return
      expect([error.kind, error.policy]).toEqual(["HttpClient", "inventory"])
      expect(error.issues.map((issue) => issue.field)).toEqual(["retry.retries", "retry.baseDelay"])
    }).pipe(Effect.scoped))

  it.effect("options that cannot apply to a breaker or registry of your own are refused, naming the field", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 200 })
      const breaker = yield* CircuitBreaker.make({ name: "one" })
      const registry = yield* CircuitBreakerRegistry.make({ name: "mine" })
      const refused = (options: ResilientHttpClient.Options) =>
        Effect.flip(ResilientHttpClient.make(upstream.client, options))
      for (const [field, value] of [["maxBreakers", 5], ["idleTimeToLive", "1 minute"], ["key", () => "k"]] as const) {
        const error = yield* refused({ breaker, [field]: value })
        expect([error._tag, error.issues.map((issue) => issue.field)]).toEqual(["PolicyConfigError", [field]])
        expect(error.message).toContain("CircuitBreaker of your own")
      }
      for (const [field, value] of [["maxBreakers", 5], ["idleTimeToLive", "1 minute"]] as const) {
        const error = yield* refused({ breaker: registry, [field]: value })
        expect([error._tag, error.issues.map((issue) => issue.field)]).toEqual(["PolicyConfigError", [field]])
      }
      // A key with a registry of your own applies: it picks the registry's circuit.
      yield* ResilientHttpClient.make(upstream.client, { breaker: registry, key: () => "k" })
    }).pipe(Effect.scoped))

  it.effect("a second live client reporting metrics under the same name is refused, naming the field name", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 200 })
      const policies = { retry: {}, timeout: "1 second" } as const
      const first = yield* Scope.make()
      yield* ResilientHttpClient.make(upstream.client, policies).pipe(Scope.provide(first))
      const second = yield* Effect.flip(ResilientHttpClient.make(upstream.client, policies))
      expect(second._tag).toBe("PolicyConfigError")
      expect(second.issues.map((issue) => issue.field)).toEqual(["name"])
      expect(second.message).toContain(`"http"`)
      // Another name is another set of series; metrics off claim nothing.
      yield* ResilientHttpClient.make(upstream.client, { ...policies, name: "inventory" })
      yield* ResilientHttpClient.make(upstream.client, { ...policies, metrics: false })
      // The name is free again once the first client's scope closed.
      yield* Scope.close(first, Exit.void)
      yield* ResilientHttpClient.make(upstream.client, policies)
      // Another metric registry has its own names.
      yield* ResilientHttpClient.make(upstream.client, policies).pipe(
        Effect.provideService(Metric.MetricRegistry, new Map())
      )
    }).pipe(Effect.scoped, Effect.provide(Metrics.layer), Effect.provideService(Metric.MetricRegistry, new Map())))

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
