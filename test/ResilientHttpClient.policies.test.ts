import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Layer, Metric, Option, Stream } from "effect"
import { HttpBody, HttpClient, HttpClientRequest, HttpClientResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { RateLimiter } from "effect/persistence"
import { TestClock } from "effect/testing"
import type { PolicyConfigError } from "../src/index.js"
import {
  AdaptiveLimit,
  BulkheadFullError,
  CircuitBreaker,
  CircuitBreakerRegistry,
  CircuitOpenError,
  ConcurrencyLimitExceededError,
  RateLimit,
  RateLimitExceededError,
  ResilientHttpClient,
  Retry,
  TimeoutError
} from "../src/index.js"
import { series } from "./helpers.js"
import { scripted } from "./http/scripted.js"

// The policies of the client, against an in-memory client under TestClock.

const A = "http://a.test"

const failure = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

const retry = { retries: 3, baseDelay: 0 } as const
/** A breaker that never trips here: the tests count calls, not rejections. */
const patient = { consecutiveFailures: 1000 } as const

describe("retries", () => {
  it.effect("a GET is retried on 5xx until it succeeds", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 }, { status: 502 }, { status: 200 })
      const client = yield* ResilientHttpClient.make(upstream.client, { retry, breaker: { consecutiveFailures: 3 } })
      expect((yield* client.get(`${A}/x`)).status).toBe(200)
      expect(upstream.calls).toHaveLength(3)
    }).pipe(Effect.scoped))

  it.effect("PUT, DELETE, HEAD and OPTIONS are retried; POST and PATCH are not", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker: patient,
        retry: { retries: 1, baseDelay: 0 }
      })
      const sent = (request: HttpClientRequest.HttpClientRequest) =>
        Effect.gen(function*() {
          upstream.calls.length = 0
          yield* Effect.exit(client.execute(request))
          return upstream.calls.length
        })
      expect(yield* sent(HttpClientRequest.put(`${A}/x`))).toBe(2)
      expect(yield* sent(HttpClientRequest.delete(`${A}/x`))).toBe(2)
      expect(yield* sent(HttpClientRequest.head(`${A}/x`))).toBe(2)
      expect(yield* sent(HttpClientRequest.options(`${A}/x`))).toBe(2)
      expect(yield* sent(HttpClientRequest.post(`${A}/x`))).toBe(1)
      expect(yield* sent(HttpClientRequest.patch(`${A}/x`))).toBe(1)
      const keyed = HttpClientRequest.post(`${A}/x`).pipe(HttpClientRequest.setHeader("Idempotency-Key", "order-1"))
      expect(yield* sent(keyed)).toBe(2)
    }).pipe(Effect.scoped))

  it.effect("a 4xx other than 408/429 is never retried, even when isFailure makes it a failure for the breaker", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 404 }, { status: 200 })
      const breaker = yield* CircuitBreaker.make({ name: "search", consecutiveFailures: 5 })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker,
        retry,
        isFailure: (response) => response.status >= 500 || response.status === 404
      })
      expect((yield* client.get(`${A}/x`)).status).toBe(404)
      expect(upstream.calls).toHaveLength(1)
      expect((yield* breaker.snapshot).failures).toBe(1)
    }).pipe(Effect.scoped))

  it.effect("nonIdempotent: true retries a POST without a key", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 }, { status: 201 })
      const client = yield* ResilientHttpClient.make(upstream.client, { retry: { ...retry, nonIdempotent: true } })
      expect((yield* client.post(`${A}/x`)).status).toBe(201)
    }).pipe(Effect.scoped))

  it.effect.each([400, 404, 409, 501])("a %s is not retried", (status) =>
    Effect.gen(function*() {
      const upstream = scripted({ status }, { status: 200 })
      const client = yield* ResilientHttpClient.make(upstream.client, { retry })
      expect((yield* client.get(`${A}/x`)).status).toBe(status)
      expect(upstream.calls).toHaveLength(1)
    }).pipe(Effect.scoped))

  it.effect.each([408, 429])("a %s is retried", (status) =>
    Effect.gen(function*() {
      const upstream = scripted({ status }, { status: 200 })
      const client = yield* ResilientHttpClient.make(upstream.client, { retry })
      expect((yield* client.get(`${A}/x`)).status).toBe(200)
    }).pipe(Effect.scoped))

  it.effect("a transport error is retried; when the retries are used up the last response is returned", () =>
    Effect.gen(function*() {
      const upstream = scripted({ transport: true }, { status: 503 })
      const client = yield* ResilientHttpClient.make(upstream.client, { retry: { retries: 2, baseDelay: 0 } })
      expect((yield* client.get(`${A}/x`)).status).toBe(503)
      expect(upstream.calls).toHaveLength(3)
    }).pipe(Effect.scoped))

  it.effect("an open circuit is never retried: the request fails at once, without a wait or a call", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker: { consecutiveFailures: 1 },
        retry: { retries: 5, baseDelay: "1 second" }
      })
      expect((yield* client.get(`${A}/x`)).status).toBe(503) // its failure opens the circuit
      upstream.calls.length = 0
      // No clock moves: a retry (or a wait) would leave this fiber suspended.
      expect(failure(yield* Effect.exit(client.get(`${A}/x`)))).toBeInstanceOf(CircuitOpenError)
      expect(upstream.calls).toHaveLength(0)
    }).pipe(Effect.scoped))

  it.effect("a call stops retrying once its own failure opens the circuit: its last answer, no more requests", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker: { consecutiveFailures: 2, openDuration: "1 minute" },
        retry: { retries: 3, baseDelay: "1 second", jitter: false }
      })
      const call = yield* Effect.forkChild(client.get(`${A}/x`))
      yield* TestClock.adjust("1 second") // the retry: the second 503 in a row opens the circuit
      // No wait for a retry the open circuit would refuse: the call ends at once with the answer it got.
      expect((yield* Fiber.join(call)).status).toBe(503)
      expect(upstream.calls).toHaveLength(2)
      // A new call is rejected at once, without a request.
      expect(failure(yield* Effect.exit(client.get(`${A}/x`)))).toBeInstanceOf(CircuitOpenError)
      expect(upstream.calls).toHaveLength(2)
    }).pipe(Effect.scoped))

  it.effect("a call whose circuit opened while it waited to retry fails with that circuit's CircuitOpenError", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const breaker = yield* CircuitBreaker.make({ name: "inventory", openDuration: "1 minute" })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker,
        retry: { retries: 3, baseDelay: "1 second", jitter: false }
      })
      const call = yield* Effect.forkChild(Effect.exit(client.get(`${A}/x`)))
      yield* TestClock.adjust("500 millis")
      yield* breaker.forceOpen // an operator, or other calls, open it during the backoff
      yield* TestClock.adjust("500 millis") // the retry is due: the circuit refuses it
      const error = failure(yield* Fiber.join(call))
      expect(error).toBeInstanceOf(CircuitOpenError)
      expect((error as CircuitOpenError).breaker).toBe("inventory")
      expect(upstream.calls).toHaveLength(1)
    }).pipe(Effect.scoped))

  it.effect("every attempt is a call of the breaker: its window counts the retries", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 }, { status: 502 }, { status: 200 })
      const breaker = yield* CircuitBreaker.make({ name: "inventory", consecutiveFailures: 5 })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker, retry })
      expect((yield* client.get(`${A}/x`)).status).toBe(200)
      const snapshot = yield* breaker.snapshot
      expect({ calls: snapshot.calls, failures: snapshot.failures }).toEqual({ calls: 3, failures: 2 })
    }).pipe(Effect.scoped))

  it.effect("a full bulkhead is never retried", () =>
    Effect.gen(function*() {
      const upstream = scripted({ hang: true })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        retry,
        bulkhead: { maxConcurrent: 1, maxQueued: 0 }
      })
      yield* Effect.forkChild(client.get(`${A}/hangs`), { startImmediately: true })
      expect(failure(yield* Effect.exit(client.get(`${A}/x`)))).toBeInstanceOf(BulkheadFullError)
      expect(upstream.calls).toHaveLength(1)
    }).pipe(Effect.scoped))

  it.effect("the retry budget caps the retries", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const budget = yield* Retry.makeBudget({ ratio: 0.1, minRetriesPerSecond: 0 })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker: patient, retry: { ...retry, budget } })
      for (let i = 0; i < 10; i++) yield* client.get(`${A}/x`)
      // 10 calls, 10% of them may be retries: 1 retry in all.
      expect(upstream.calls).toHaveLength(11)
    }).pipe(Effect.scoped))

  it.effect("a stream body is sent once: once pulled, a failed attempt is not retried", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 }, { status: 200 })
      const client = yield* ResilientHttpClient.make(upstream.client, { retry })
      const body = HttpBody.stream(Stream.make(new TextEncoder().encode("order")))
      const request = HttpClientRequest.put(`${A}/x`).pipe(HttpClientRequest.setBody(body))
      expect((yield* client.execute(request)).status).toBe(503)
      expect(upstream.calls).toHaveLength(1)
    }).pipe(Effect.scoped))

  it.effect("a stream body not yet pulled (the connection failed first) is retried", () =>
    Effect.gen(function*() {
      const upstream = scripted({ transport: true }, { status: 200 })
      const client = yield* ResilientHttpClient.make(upstream.client, { retry })
      const body = HttpBody.stream(Stream.make(new TextEncoder().encode("order")))
      const request = HttpClientRequest.put(`${A}/x`).pipe(HttpClientRequest.setBody(body))
      expect((yield* client.execute(request)).status).toBe(200)
      expect(upstream.calls).toHaveLength(2)
    }).pipe(Effect.scoped))
})

describe("timeouts", () => {
  it.effect("each attempt has its own timeout, and a timed-out attempt is retried", () =>
    Effect.gen(function*() {
      const upstream = scripted({ hang: true }, { status: 200 })
      const client = yield* ResilientHttpClient.make(upstream.client, { retry, timeout: "1 second" })
      const fiber = yield* Effect.forkChild(client.get(`${A}/x`))
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(fiber)).status).toBe(200)
    }).pipe(Effect.scoped))

  it.effect("a timed-out request counts as a failure for the breaker", () =>
    Effect.gen(function*() {
      const upstream = scripted({ hang: true })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker: { consecutiveFailures: 1 },
        timeout: "1 second"
      })
      const fiber = yield* Effect.forkChild(Effect.exit(client.get(`${A}/x`)))
      yield* TestClock.adjust("1 second")
      expect(failure(yield* Fiber.join(fiber))).toBeInstanceOf(TimeoutError)
      expect(failure(yield* Effect.exit(client.get(`${A}/x`)))).toBeInstanceOf(CircuitOpenError)
    }).pipe(Effect.scoped))

  it.effect("the deadline bounds the whole call, retries and their waits included", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        retry: { retries: 100, baseDelay: "1 second", jitter: false, factor: 1 },
        deadline: "3500 millis"
      })
      const fiber = yield* Effect.forkChild(Effect.exit(client.get(`${A}/x`)))
      yield* TestClock.adjust("3500 millis")
      const error = failure(yield* Fiber.join(fiber)) as TimeoutError
      expect(error).toBeInstanceOf(TimeoutError)
      expect(error.policy).toBe("http/deadline")
      expect(upstream.calls).toHaveLength(4)
    }).pipe(Effect.scoped))
})

describe("hedging", () => {
  it.effect("a slow GET is hedged: the second attempt answers", () =>
    Effect.gen(function*() {
      const upstream = scripted({ hang: true }, { status: 200 })
      const client = yield* ResilientHttpClient.make(upstream.client, { hedge: { delay: "100 millis", attempts: 2 } })
      const fiber = yield* Effect.forkChild(client.get(`${A}/x`))
      yield* TestClock.adjust("100 millis")
      expect((yield* Fiber.join(fiber)).status).toBe(200)
      expect(upstream.calls).toHaveLength(2)
    }).pipe(Effect.scoped))

  it.effect("a hedged GET answered 503 + Retry-After sends no second request at once: the answer ends the hedge", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503, headers: { "retry-after": "60" } })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker: patient,
        hedge: { delay: "1 second", attempts: 3 }
      })
      // No clock moves: the hedge delay is 1 second, and the dependency asked for 60 seconds of quiet.
      expect((yield* client.get(`${A}/x`)).status).toBe(503)
      expect(upstream.calls).toHaveLength(1)
    }).pipe(Effect.scoped))

  it.effect("a hedged GET with retries sends one request per attempt the retries allow, no more", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker: patient,
        retry: { retries: 2, baseDelay: 0 },
        hedge: { delay: "1 second", attempts: 3 }
      })
      expect((yield* client.get(`${A}/x`)).status).toBe(503)
      expect(upstream.calls).toHaveLength(3)
    }).pipe(Effect.scoped))

  it.effect("a PUT is never hedged", () =>
    Effect.gen(function*() {
      const upstream = scripted({ after: "1 second", status: 200 })
      const client = yield* ResilientHttpClient.make(upstream.client, { hedge: { delay: "100 millis", attempts: 2 } })
      const fiber = yield* Effect.forkChild(client.put(`${A}/x`))
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(fiber)).status).toBe(200)
      expect(upstream.calls).toHaveLength(1)
    }).pipe(Effect.scoped))
})

describe("rate limit", () => {
  const MemoryLimiter = RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory))

  it.effect("every attempt takes a permit of its origin's: one turned away is not sent, not retried, not counted", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const rateLimit = yield* RateLimit.make({ name: "partner", limit: 2, window: "1 minute" })
      const breaker = yield* CircuitBreaker.make({ name: "partner", consecutiveFailures: 3 })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker, rateLimit, retry })
      // Two attempts get a permit; the third is turned away: the retries end with its error.
      const error = failure(yield* Effect.exit(client.get(`${A}/x`)))
      expect(error).toBeInstanceOf(RateLimitExceededError)
      expect((error as RateLimitExceededError).key).toBe(A)
      expect(upstream.calls).toHaveLength(2)
      // The breaker counted the two failed attempts, not the rejection.
      expect((yield* breaker.snapshot).calls).toBe(2)
      // Another origin has permits of its own.
      upstream.script({ status: 200 })
      expect((yield* client.get(`http://b.test/x`)).status).toBe(200)
    }).pipe(Effect.scoped, Effect.provide(MemoryLimiter)))

  it.effect("an adaptive limit cools an origin down for the Retry-After of its 429", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 429, headers: { "retry-after": "30" } }, { status: 200 })
      const rateLimit = yield* RateLimit.make({ name: "partner", limit: 100, window: "1 second", adaptive: true })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker: patient, rateLimit })
      expect((yield* client.get(`${A}/x`)).status).toBe(429)
      const error = failure(yield* Effect.exit(client.get(`${A}/x`))) as RateLimitExceededError
      expect(error).toBeInstanceOf(RateLimitExceededError)
      expect(Duration.toSeconds(error.retryAfter)).toBe(30)
      expect(upstream.calls).toHaveLength(1)
      yield* TestClock.adjust("30 seconds")
      expect((yield* client.get(`${A}/x`)).status).toBe(200)
    }).pipe(Effect.scoped, Effect.provide(MemoryLimiter)))

  it.effect("a 429 that opens its circuit mid-retries still cools the adaptive limit down", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 429, headers: { "retry-after": "30" } }, { status: 200 })
      const rateLimit = yield* RateLimit.make({ name: "partner", limit: 100, window: "1 second", adaptive: true })
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker: { consecutiveFailures: 1, openDuration: "1 second" },
        maxRetryAfter: 0, // the circuit opens for its own second, the limit learns the 30 seconds
        rateLimit,
        retry
      })
      // The 429 opens the circuit: the retries end at once with it.
      expect((yield* client.get(`${A}/x`)).status).toBe(429)
      yield* TestClock.adjust("2 seconds")
      // The circuit would let a probe in; the limit, told to wait 30 seconds, does not.
      const error = failure(yield* Effect.exit(client.get(`${A}/x`)))
      expect(error).toBeInstanceOf(RateLimitExceededError)
      expect(upstream.calls).toHaveLength(1)
    }).pipe(Effect.scoped, Effect.provide(MemoryLimiter)))

  it.effect("a 429 to a streamed upload (never sent again) still cools the adaptive limit down", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 429, headers: { "retry-after": "30" } }, { status: 200 })
      const rateLimit = yield* RateLimit.make({ name: "partner", limit: 100, window: "1 second", adaptive: true })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker: patient, rateLimit, retry })
      const upload = HttpClientRequest.put(`${A}/files/1`).pipe(
        HttpClientRequest.bodyStream(Stream.make(new TextEncoder().encode("payload")))
      )
      expect((yield* client.execute(upload)).status).toBe(429)
      expect(failure(yield* Effect.exit(client.get(`${A}/x`)))).toBeInstanceOf(RateLimitExceededError)
      expect(upstream.calls).toHaveLength(1)
    }).pipe(Effect.scoped, Effect.provide(MemoryLimiter)))

  it.effect("a value that is not a RateLimit is refused, naming the field", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 200 })
      const error = failure(
        yield* Effect.exit(ResilientHttpClient.make(upstream.client, { rateLimit: { limit: 1 } as never }))
      ) as PolicyConfigError
      expect(error.issues.map((issue) => issue.field)).toEqual(["rateLimit"])
    }).pipe(Effect.scoped))
})

describe("adaptive concurrency limit", () => {
  it.effect("every attempt runs under it; its rejection is not sent, not retried, not counted by the breaker", () =>
    Effect.gen(function*() {
      const upstream = scripted({ hang: true })
      const limit = yield* AdaptiveLimit.make({ algorithm: AdaptiveLimit.aimd(), initialLimit: 1, minLimit: 1 })
      const breaker = yield* CircuitBreaker.make({ name: "inventory", consecutiveFailures: 1 })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker, limit, retry })
      yield* Effect.forkChild(client.get(`${A}/slow`), { startImmediately: true })
      const error = failure(yield* Effect.exit(client.get(`${A}/x`)))
      expect(error).toBeInstanceOf(ConcurrencyLimitExceededError)
      expect(upstream.calls).toHaveLength(1)
      expect(yield* breaker.state).toBe("Closed")
    }).pipe(Effect.scoped))
})

describe("fallback", () => {
  const cached = (request: HttpClientRequest.HttpClientRequest) =>
    Effect.succeed(HttpClientResponse.fromWeb(request, Response.json({ stock: 7 }, { headers: { "x-cache": "1" } })))

  it.effect("answers at once: the failed response it replaces is released in the background", () =>
    Effect.gen(function*() {
      // A 503 whose body never ends (an overloaded proxy): draining it takes the drain's whole 100 ms.
      const trickling = HttpClient.make((request) =>
        Effect.succeed(HttpClientResponse.fromWeb(
          request,
          new Response(new ReadableStream({ start: (body) => body.enqueue(new TextEncoder().encode("busy")) }), {
            status: 503
          })
        ))
      )
      const client = yield* ResilientHttpClient.make(trickling, { fallback: (_error, request) => cached(request) })
      const fiber = yield* Effect.forkChild(client.get(`${A}/x`))
      // No time passes: the caller gets the fallback's answer without waiting for the drain.
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      const answer = fiber.pollUnsafe()
      expect(answer !== undefined && Exit.isSuccess(answer) && answer.value.headers["x-cache"]).toBe("1")
    }).pipe(Effect.scoped))

  it.effect("answers for an open circuit, with the request at hand", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const seen: Array<string> = []
      const client = yield* ResilientHttpClient.make(upstream.client, {
        breaker: { consecutiveFailures: 1 },
        fallback: (error, request) => {
          seen.push(`${error._tag} ${request.url}`)
          return cached(request)
        }
      })
      // The failed response reaches the fallback as Effect's own StatusCodeError.
      expect((yield* client.get(`${A}/one`)).headers["x-cache"]).toBe("1")
      expect(yield* Effect.flatMap(client.get(`${A}/two`), (response) => response.json)).toEqual({ stock: 7 })
      expect(seen).toEqual([`HttpClientError ${A}/one`, `CircuitOpenError ${A}/two`])
    }).pipe(Effect.scoped))

  it.effect("what the fallback fails with is what the call fails with", () =>
    Effect.gen(function*() {
      const upstream = scripted({ transport: true })
      const client = yield* ResilientHttpClient.make(upstream.client, { fallback: (error) => Effect.fail(error) })
      const error = failure(yield* Effect.exit(client.get(`${A}/x`))) as { _tag: string }
      expect(error._tag).toBe("HttpClientError")
    }).pipe(Effect.scoped))
})

describe("given breakers, spans and metrics", () => {
  it.effect("one given breaker guards every origin", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const breaker = yield* CircuitBreaker.make({ name: "backend", consecutiveFailures: 1 })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker })
      yield* client.get(`${A}/x`)
      expect(yield* breaker.state).toBe("Open")
      expect((failure(yield* Effect.exit(client.get("http://b.test/x"))) as CircuitOpenError).breaker).toBe("backend")
    }).pipe(Effect.scoped))

  it.effect("a registry of your own holds the circuits, one per origin", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 200 })
      const registry = yield* CircuitBreakerRegistry.make({ config: { consecutiveFailures: 3 } })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker: registry })
      yield* client.get(`${A}/x`)
      yield* client.get("https://b.test:8443/y")
      expect([...(yield* registry.keys)].sort()).toEqual([A, "https://b.test:8443"])
    }).pipe(Effect.scoped))

  it.effect("the request's span is annotated with its circuit, named after the origin", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 200 })
      const client = yield* ResilientHttpClient.make(upstream.client)
      const span = yield* Effect.andThen(client.get(`${A}/x`), Effect.currentSpan).pipe(Effect.withSpan("checkout"))
      expect(Object.fromEntries(span.attributes)).toMatchObject({
        "resilience.circuit_breaker.name": A,
        "resilience.circuit_breaker.outcome": "success"
      })
    }).pipe(Effect.scoped))

  it.effect("the circuits' metrics are labelled with the origin", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 }, { status: 200 })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker: { metrics: true } })
      yield* client.get(`${A}/x`)
      yield* client.get(`${A}/x`)
      const text = yield* PrometheusMetrics.format()
      const calls = "resilience_circuit_breaker_calls_total"
      expect(series(text, calls, { breaker: A, outcome: "failure" })).toBe(1)
      expect(series(text, calls, { breaker: A, outcome: "success" })).toBe(1)
    }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, new Map())))
})
