import { describe, expect, it } from "@effect/vitest"
import { Cause, Data, Deferred, Duration, Effect, Exit, Fiber, Layer, Option, Schema, Stream } from "effect"
import { FetchHttpClient, HttpClient, HttpClientResponse, HttpRouter, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import {
  CircuitBreaker,
  CircuitBreakerRegistry,
  CircuitOpenError,
  HttpAdmin,
  HttpAdminEvent,
  HttpLoadShedding,
  HttpProblem,
  LastKnownGood,
  ResilientHttpClient
} from "../src/index.js"
import { scripted } from "./http/scripted.js"
import { upstream } from "./http/upstream.js"
import { get, send, serve } from "./httpServer.js"

// A fresh-eyes review of the HTTP support: a new user's program first, then attempts to break it.

const A = "http://a.test"

const failure = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

describe("review: a new user's program, following the docs", () => {
  it.live("guards a fetch client against a flaky upstream; serves HttpProblem + HttpAdmin over its circuits", () =>
    Effect.gen(function*() {
      const server = yield* upstream({ status: 503 }, { status: 502 }, { status: 200, body: "in stock" })
      const bare = yield* HttpClient.HttpClient.pipe(Effect.provide(FetchHttpClient.layer))
      // "Pass a registry of your own to read its snapshots in a health route."
      const circuits = yield* CircuitBreakerRegistry.make({
        name: "upstreams",
        config: { consecutiveFailures: 2, openDuration: "30 seconds", maxOpenDuration: "5 minutes" }
      })
      const client = yield* ResilientHttpClient.make(bare, {
        breaker: circuits,
        retry: { retries: 2, baseDelay: "1 millis", jitter: false }, // real clock: 1 ms
        timeout: "2 seconds",
        deadline: "5 seconds"
      })
      expect(yield* (yield* client.get(`${server.url}/stock/42`)).text).toBe("in stock")
      expect(server.requests).toHaveLength(3)

      // Two calls whose retries all fail trip the origin's circuit, kept open as long as Retry-After asks.
      server.script({ status: 503, headers: { "retry-after": "120" } })
      const noRetry = yield* ResilientHttpClient.make(bare, { breaker: circuits })
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
        // The problem document tells the public caller the upstream's internal origin.
        expect(answer.body).toMatchObject({ breaker: server.url, state: "Open", retryAfter: 120 })
        const list = Schema.decodeUnknownSync(HttpAdminEvent.CircuitList)(
          (yield* get("/admin/resilience/circuits")).body
        )
        expect(list.circuits.map((c) => [c.breaker, c.state])).toEqual([[server.url, "Open"]])
        const reset = yield* send("POST", `/admin/resilience/circuits/${encodeURIComponent(server.url)}/reset`)
        expect(reset.status).toBe(200)
        expect((reset.body as { state: string }).state).toBe("Closed")
      }).pipe(Effect.provide(serve(App)))
    }).pipe(Effect.scoped))
})

describe("review: client", () => {
  it.effect("hedging does not send extra requests at once to a dependency answering 503 + Retry-After", () =>
    Effect.gen(function*() {
      const upstreamClient = scripted({ status: 503, headers: { "retry-after": "60" } })
      const client = yield* ResilientHttpClient.make(upstreamClient.client, {
        breaker: { consecutiveFailures: 1000 },
        hedge: { delay: "1 second", attempts: 3 }
      })
      const response = yield* client.get(`${A}/x`)
      expect(response.status).toBe(503)
      // No time passed: the hedge delay is 1 second, and the dependency asked for 60 seconds of quiet.
      expect(upstreamClient.calls).toHaveLength(1)
    }).pipe(Effect.scoped))

  it.effect("a Retry-After asking for more than maxRetryAfter is not retried sooner than it asked", () =>
    Effect.gen(function*() {
      const upstreamClient = scripted({ status: 503, headers: { "retry-after": "3600" } }, { status: 200 })
      const client = yield* ResilientHttpClient.make(upstreamClient.client, {
        breaker: { consecutiveFailures: 1000 },
        maxRetryAfter: "10 seconds",
        retry: { retries: 2, baseDelay: "10 millis", jitter: false } // maxRetryAfterWait: 30 seconds
      })
      const fiber = yield* Effect.forkChild(client.get(`${A}/x`))
      yield* TestClock.adjust("10 seconds")
      // The server said "come back in an hour"; docs: a wait longer than maxRetryAfterWait ends the retries.
      expect(upstreamClient.calls).toHaveLength(1)
      expect((yield* Fiber.join(fiber)).status).toBe(503)
    }).pipe(Effect.scoped))

  it.effect("after classifyBody, the body stays readable (docs), as a stream too", () =>
    Effect.gen(function*() {
      const upstreamClient = scripted({ status: 200, body: "fine" })
      const client = yield* ResilientHttpClient.make(upstreamClient.client, {
        classifyBody: (response) => Effect.map(response.text, (text) => text.includes("degraded"))
      })
      const response = yield* client.get(`${A}/x`)
      const chunks = yield* response.stream.pipe(Stream.decodeText, Stream.runCollect)
      expect(chunks.join("")).toBe("fine")
    }).pipe(Effect.scoped))

  it.effect("a circuit opened by a 503 says so in its snapshot and in lastFailure (no internal type, no [object Object])", () =>
    Effect.gen(function*() {
      const upstreamClient = scripted({ status: 503 })
      const registry = yield* CircuitBreakerRegistry.make({ config: { consecutiveFailures: 1 } })
      const client = yield* ResilientHttpClient.make(upstreamClient.client, { breaker: registry })
      yield* client.get(`${A}/x`)
      const rejected = failure(yield* Effect.exit(client.get(`${A}/x`))) as CircuitOpenError
      const [snapshot] = yield* registry.snapshots
      expect(snapshot?.openedBy?.message).toMatch(/503/)
      expect((rejected.lastFailure as { _tag?: string })._tag).not.toBe("FailedResponse")
    }).pipe(Effect.scoped))

  it.effect("docs: nothing is retried while the circuit is open (a call admitted before it opened keeps retrying)", () =>
    Effect.gen(function*() {
      const upstreamClient = scripted({ status: 503 })
      const client = yield* ResilientHttpClient.make(upstreamClient.client, {
        breaker: { consecutiveFailures: 1, openDuration: "1 minute" },
        retry: { retries: 3, baseDelay: "1 second", factor: 2, jitter: false } // attempts at +0, +1, +3, +7 s
      })
      const first = yield* Effect.forkChild(Effect.exit(client.get(`${A}/x`)))
      yield* TestClock.adjust("500 millis")
      const second = yield* Effect.forkChild(Effect.exit(client.get(`${A}/x`)))
      yield* TestClock.adjust("6500 millis") // t = 7 s: the first call's last attempt fails, the circuit opens
      yield* Fiber.join(first)
      const opened = upstreamClient.calls.length
      yield* TestClock.adjust("500 millis") // t = 7.5 s: the second call's last retry is due
      yield* Fiber.join(second)
      expect(upstreamClient.calls.length).toBe(opened) // sent while the origin's circuit is open
    }).pipe(Effect.scoped))

  it.effect("docs/http.md payment recipe: a 503 with a JSON error body serves the cached methods, not a defect", () =>
    Effect.gen(function*() {
      const PaymentMethods = Schema.Struct({ cards: Schema.Array(Schema.String) })
      type PaymentMethods = typeof PaymentMethods.Type
      const gatewayUpstream = scripted({ status: 200, body: `{"cards":["visa"]}` })
      // As the recipe, but for the URL and a breaker that stays closed.
      const gateway = yield* ResilientHttpClient.make(gatewayUpstream.client, {
        breaker: { failureRate: 0.5, minimumCalls: 20, openDuration: "30 seconds", maxOpenDuration: "5 minutes" },
        retry: { retries: 2, baseDelay: "200 millis" },
        timeout: "3 seconds",
        deadline: "8 seconds"
      })
      const saved = yield* LastKnownGood.make<PaymentMethods>()({
        name: "payment-methods",
        ttl: "1 hour",
        on: ["CircuitOpenError", "TimeoutError", "HttpClientError"]
      })
      const paymentMethods = (customer: string) =>
        gateway.get(`https://payments.example.com/customers/${customer}/methods`).pipe(
          Effect.flatMap(HttpClientResponse.schemaBodyJson(PaymentMethods)),
          Effect.catchTag("SchemaError", Effect.die),
          saved.serve(customer)
        )
      expect((yield* paymentMethods("c-42"))._tag).toBe("Fresh")
      gatewayUpstream.script({ status: 503, body: `{"error":"gateway unavailable"}` })
      const fiber = yield* Effect.forkChild(Effect.exit(paymentMethods("c-42")))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(fiber)
      expect(Exit.isSuccess(exit) ? exit.value._tag : Cause.pretty((exit as Exit.Failure<unknown, unknown>).cause))
        .toBe("Stale")
    }).pipe(Effect.scoped))

  it.effect.each(
    [
      ["a date in the past", "Sun, 06 Nov 1994 08:49:37 GMT", 10],
      ["64 characters", "0".repeat(63) + "5", 5000],
      ["0", "0", 10],
      ["a huge delta, capped at maxRetryAfter (5 min) then past maxRetryAfterWait (30 s)", "9".repeat(40), -1]
    ] as const
  )("Retry-After: %s", ([_label, value, waitMillis]) =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 0, 1))
      const upstreamClient = scripted({ status: 503, headers: { "retry-after": value } }, { status: 200 })
      const client = yield* ResilientHttpClient.make(upstreamClient.client, {
        retry: { retries: 2, baseDelay: "10 millis", jitter: false }
      })
      const fiber = yield* Effect.forkChild(client.get(`${A}/x`))
      if (waitMillis < 0) {
        expect((yield* Fiber.join(fiber)).status).toBe(503)
        return
      }
      yield* TestClock.adjust(waitMillis - 1)
      expect(upstreamClient.calls).toHaveLength(1)
      yield* TestClock.adjust(1)
      expect((yield* Fiber.join(fiber)).status).toBe(200)
    }).pipe(Effect.scoped))

  it.effect("options that cannot apply with a given breaker are refused, not silently dropped", () =>
    Effect.gen(function*() {
      const upstreamClient = scripted({ status: 200 })
      const breaker = yield* CircuitBreaker.make({ name: "one" })
      const exit = yield* Effect.exit(
        ResilientHttpClient.make(upstreamClient.client, { breaker, maxBreakers: 5, key: () => "k" })
      )
      expect(Exit.isFailure(exit)).toBe(true)
    }).pipe(Effect.scoped))
})

class Leaky extends Data.TaggedError("Leaky")<{ readonly token: string }> {}

describe("review: server", () => {
  it.effect("a problem document carries no secret of the failure that opened the circuit, and no stack", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "payments", consecutiveFailures: 1 })
      yield* Effect.exit(breaker.execute(Effect.fail(new Leaky({ token: "hunter2-secret" }))))
      const rejected = failure(yield* Effect.exit(breaker.execute(Effect.void))) as CircuitOpenError
      expect(rejected.lastFailure).toBeDefined()
      const response = HttpProblem.toResponse(rejected)
      const body = response.body as { readonly _tag: string; readonly body: Uint8Array }
      const text = new TextDecoder().decode(body.body)
      expect(text).not.toContain("hunter2")
      expect(text).not.toMatch(/\bat .*\.ts:\d+/)
      expect(JSON.parse(text)).toMatchObject({ breaker: "payments", state: "Open" })
    }).pipe(Effect.scoped))

  it.live("load shedding gives its slot back when the handler fails, dies, or its client goes", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const Group = Layer.mergeAll(
        HttpRouter.add("GET", "/die", Effect.die("boom")),
        HttpRouter.add("GET", "/fail", Effect.fail(new Leaky({ token: "x" }))),
        HttpRouter.add("GET", "/hang", Effect.andThen(Deferred.succeed(started, undefined), Effect.never)),
        HttpRouter.add("GET", "/ok", HttpServerResponse.text("ok"))
      ).pipe(Layer.provide(HttpLoadShedding.layer({ name: "group", maxConcurrent: 1 })))
      yield* Effect.gen(function*() {
        expect((yield* get("/die")).status).toBe(500)
        expect((yield* get("/fail")).status).toBe(500)
        expect((yield* get("/ok")).status).toBe(200)
        const hanging = yield* Effect.forkChild(get("/hang"))
        yield* Deferred.await(started)
        expect((yield* get("/ok")).status).toBe(503)
        yield* Fiber.interrupt(hanging)
        let status = 503
        for (let attempt = 0; attempt < 50 && status === 503; attempt++) {
          yield* Effect.sleep("10 millis") // real clock: the server hears of the hang-up through its socket
          status = (yield* get("/ok")).status
        }
        expect(status).toBe(200)
      }).pipe(Effect.provide(serve(Group)))
    }))

  it.effect("admin routes address registry circuits with odd names (/, %, ?, #, spaces, unicode)", () =>
    Effect.gen(function*() {
      const names = ["a/b", "50%off", "x?y=1", "frag#1", "with space", "ünï", "https://h.example:8443"]
      const registry = yield* CircuitBreakerRegistry.make({ name: "odd" })
      for (const name of names) yield* registry.execute(Effect.void, name)
      yield* Effect.gen(function*() {
        for (const name of names) {
          const answer = yield* send("POST", `/admin/resilience/circuits/${encodeURIComponent(name)}/force-open`)
          expect([name, answer.status]).toEqual([name, 200])
          expect((answer.body as { breaker: string }).breaker).toBe(name)
        }
      }).pipe(Effect.provide(serve(HttpAdmin.layer({ sources: [registry], auth: "none" }))))
    }).pipe(Effect.scoped))
})
