import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Layer, Option, Schema, Stream } from "effect"
import { FetchHttpClient, HttpBody, HttpClient, HttpClientRequest, HttpRouter, HttpServerResponse } from "effect/http"
import {
  CircuitBreakerRegistry,
  CircuitOpenError,
  HttpAdmin,
  HttpAdminEvent,
  HttpProblem,
  ResilientHttpClient,
  TimeoutError
} from "../src/index.js"
import type { Answer } from "./http/upstream.js"
import { upstream } from "./http/upstream.js"
import { get, send, serve } from "./httpServer.js"

// Against a real, flaky upstream on a free localhost port, through Effect's fetch client. These run on
// the real clock: the upstream answers in real time, on real sockets, which no TestClock can move. The
// client's logic is tested under TestClock in the other ResilientHttpClient test files; here each
// wait is a few milliseconds but for the two timeouts (100 ms each, commented where they are set).

const failure = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

/** An upstream answering `answers`, and Effect's fetch client. */
const setup = (...answers: ReadonlyArray<Answer>) =>
  Effect.gen(function*() {
    const server = yield* upstream(...answers)
    const client = yield* HttpClient.HttpClient
    return { server, client }
  }).pipe(Effect.provide(FetchHttpClient.layer))

const quickRetry = { retries: 3, baseDelay: "1 millis", jitter: false } as const // real clock: backoff between real requests, 1 ms

describe("a resilient client against a flaky localhost upstream", () => {
  it.live("a burst of 5xx is retried through; the upstream saw every attempt", () =>
    Effect.gen(function*() {
      const { client, server } = yield* setup({ status: 503 }, { status: 502 }, { status: 500 }, {
        status: 200,
        body: "in stock"
      })
      const guarded = yield* ResilientHttpClient.make(client, { retry: quickRetry })
      const response = yield* guarded.get(`${server.url}/stock/42`)
      expect(yield* response.text).toBe("in stock")
      expect(server.requests.map((request) => request.path)).toEqual(Array(4).fill("/stock/42"))
    }).pipe(Effect.scoped))

  it.live("a connection reset is a transport error: retried, and a failure for the circuit", () =>
    Effect.gen(function*() {
      const { client, server } = yield* setup({ reset: true }, { status: 200 })
      const retried = yield* ResilientHttpClient.make(client, { retry: quickRetry })
      expect((yield* retried.get(`${server.url}/x`)).status).toBe(200)
      server.script({ reset: true })
      const once = yield* ResilientHttpClient.make(client, { breaker: { consecutiveFailures: 1 } })
      const reset = failure(yield* Effect.exit(once.get(`${server.url}/x`))) as {
        _tag: string
        reason: { _tag: string }
      }
      expect(reset.reason._tag).toBe("TransportError")
      expect(failure(yield* Effect.exit(once.get(`${server.url}/x`)))).toBeInstanceOf(CircuitOpenError)
    }).pipe(Effect.scoped))

  it.live("a hanging upstream times out per attempt, and the retry gets the answer", () =>
    Effect.gen(function*() {
      const { client, server } = yield* setup({ hang: true }, { status: 200 })
      const guarded = yield* ResilientHttpClient.make(client, {
        retry: quickRetry,
        timeout: "100 millis" // real clock: the upstream hangs on a real socket
      })
      expect((yield* guarded.get(`${server.url}/x`)).status).toBe(200)
      expect(server.requests).toHaveLength(2)
    }).pipe(Effect.scoped))

  it.live("a slow body read by classifyBody is bounded by the attempt's timeout", () =>
    Effect.gen(function*() {
      const { client, server } = yield* setup({ status: 200, body: "late", bodyDelayMillis: 5_000 })
      const guarded = yield* ResilientHttpClient.make(client, {
        breaker: { consecutiveFailures: 1 },
        timeout: "100 millis", // real clock: the body trickles over a real socket
        classifyBody: (response) => Effect.map(response.text, (text) => text === "degraded")
      })
      expect(failure(yield* Effect.exit(guarded.get(`${server.url}/x`)))).toBeInstanceOf(TimeoutError)
      expect(failure(yield* Effect.exit(guarded.get(`${server.url}/x`)))).toBeInstanceOf(CircuitOpenError)
    }).pipe(Effect.scoped))

  it.live("Retry-After in seconds on a 503 that trips the circuit keeps it open that long", () =>
    Effect.gen(function*() {
      const { client, server } = yield* setup({ status: 503, headers: { "retry-after": "30" } })
      const guarded = yield* ResilientHttpClient.make(client, {
        breaker: { consecutiveFailures: 1, openDuration: "1 second" }
      })
      expect((yield* guarded.get(`${server.url}/x`)).status).toBe(503)
      const rejected = failure(yield* Effect.exit(guarded.get(`${server.url}/x`))) as CircuitOpenError
      // Measured on the real clock: a few milliseconds have passed since the trip.
      expect(Duration.toMillis(rejected.retryAfter)).toBeGreaterThan(29_000)
      expect(Duration.toMillis(rejected.retryAfter)).toBeLessThanOrEqual(30_000)
    }).pipe(Effect.scoped))

  it.live("Retry-After as an HTTP date on a 429: the open period runs to it, capped by maxOpenDuration", () =>
    Effect.gen(function*() {
      const date = new Date(Date.now() + 10 * 60_000).toUTCString()
      const { client, server } = yield* setup({ status: 429, headers: { "retry-after": date } })
      const guarded = yield* ResilientHttpClient.make(client, {
        breaker: { consecutiveFailures: 1, openDuration: "1 second", maxOpenDuration: "1 minute" }
      })
      yield* guarded.get(`${server.url}/x`)
      const rejected = failure(yield* Effect.exit(guarded.get(`${server.url}/x`))) as CircuitOpenError
      expect(Duration.toMillis(rejected.retryAfter)).toBeGreaterThan(59_000)
      expect(Duration.toMillis(rejected.retryAfter)).toBeLessThanOrEqual(60_000)
    }).pipe(Effect.scoped))

  it.live("a streamed request body reaches the upstream once: a 503 after it is not retried", () =>
    Effect.gen(function*() {
      const { client, server } = yield* setup({ status: 503 }, { status: 200 })
      const guarded = yield* ResilientHttpClient.make(client, { retry: quickRetry })
      const chunks = Stream.make("item-", "42").pipe(Stream.map((text) => new TextEncoder().encode(text)))
      const request = HttpClientRequest.put(`${server.url}/orders/7`).pipe(
        HttpClientRequest.setBody(HttpBody.stream(chunks, "text/plain"))
      )
      expect((yield* guarded.execute(request)).status).toBe(503)
      expect(server.requests).toEqual([{ method: "PUT", path: "/orders/7", bodyBytes: 7 }])
    }).pipe(Effect.scoped))

  it.live("a new user's program: a guarded fetch client, its circuits answered by HttpProblem and HttpAdmin", () =>
    Effect.gen(function*() {
      const { client: bare, server } = yield* setup({ status: 503 }, { status: 502 }, { status: 200, body: "in stock" })
      const circuits = yield* CircuitBreakerRegistry.make({
        name: "upstreams",
        config: { consecutiveFailures: 3, openDuration: "30 seconds", maxOpenDuration: "5 minutes" }
      })
      const client = yield* ResilientHttpClient.make(bare, {
        breaker: circuits,
        retry: { retries: 2, baseDelay: "1 millis", jitter: false }, // real clock: 1 ms
        timeout: "2 seconds",
        deadline: "5 seconds"
      })
      expect(yield* (yield* client.get(`${server.url}/stock/42`)).text).toBe("in stock")
      expect(server.requests).toHaveLength(3)

      // Three calls that fail trip the origin's circuit, kept open as long as Retry-After asks.
      server.script({ status: 503, headers: { "retry-after": "120" } })
      const noRetry = yield* ResilientHttpClient.make(bare, { breaker: circuits })
      expect((yield* noRetry.get(`${server.url}/stock/42`)).status).toBe(503)
      expect((yield* noRetry.get(`${server.url}/stock/42`)).status).toBe(503)
      expect((yield* noRetry.get(`${server.url}/stock/42`)).status).toBe(503)
      const rejected = failure(yield* Effect.exit(noRetry.get(`${server.url}/stock/42`))) as CircuitOpenError
      expect(rejected).toBeInstanceOf(CircuitOpenError)
      expect(rejected.breaker).toBe(server.url)
      expect(Duration.toSeconds(rejected.retryAfter)).toBeGreaterThan(119)

      const Stock = HttpRouter.add(
        "GET",
        "/stock",
        Effect.map(
          noRetry.get(`${server.url}/stock/42`),
          (response) => HttpServerResponse.text(String(response.status))
        )
      )
      const App = Layer.mergeAll(
        Stock.pipe(Layer.provide(HttpProblem.layer())),
        HttpAdmin.layer({ sources: [circuits], auth: "none" })
      )
      yield* Effect.gen(function*() {
        const answer = yield* get("/stock")
        expect(answer.status).toBe(503)
        expect(answer.headers["retry-after"]).toBe("120")
        // The document names the circuit, here the upstream's origin (docs/http-server.md: hide it with extend).
        expect(answer.body).toMatchObject({ breaker: server.url, state: "Open", retryAfter: 120 })
        const list = Schema.decodeUnknownSync(HttpAdminEvent.CircuitList)(
          (yield* get("/admin/resilience/circuits")).body
        )
        // The registry's overflow circuit is there from the client's making, closed: no origin needed it.
        expect(list.circuits.map((c) => [c.breaker, c.state])).toEqual([
          [server.url, "Open"],
          ["upstreams/(overflow)", "Closed"]
        ])
        const reset = yield* send("POST", `/admin/resilience/circuits/${encodeURIComponent(server.url)}/reset`, {
          "x-resilience-admin": "1"
        })
        expect(reset.status).toBe(200)
        expect((reset.body as { state: string }).state).toBe("Closed")
      }).pipe(Effect.provide(serve(App)))
    }).pipe(Effect.scoped))
})
