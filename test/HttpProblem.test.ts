import { describe, expect, it } from "@effect/vitest"
import { Cause, Data, Duration, Effect, Exit, Layer, Option, Schema } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import type { BulkheadFullError, ConcurrencyLimitExceededError, PolicyConfigError, TimeoutError } from "../src/index.js"
import {
  AdaptiveLimit,
  Bulkhead,
  CircuitBreaker,
  CircuitOpenError,
  HttpProblem,
  Timeout,
  withCircuitBreaker
} from "../src/index.js"
import { Boom } from "./helpers.js"
import { get, serve } from "./httpServer.js"

class Payments extends CircuitBreaker.Service<Payments>()("payments") {}

const charge = (fail: boolean) =>
  (fail ? Effect.fail(new Boom({})) : Effect.succeed("charged")).pipe(
    withCircuitBreaker(Payments),
    Effect.map((text) => HttpServerResponse.text(text))
  )

const bulkheadFull = new Bulkhead.BulkheadFullError({
  bulkhead: "reports",
  reason: "QueueFull",
  maxConcurrent: 4,
  maxQueued: 0
})
const timedOut = new Timeout.TimeoutError({ policy: "search", duration: Duration.millis(2_500) })
const shed = new AdaptiveLimit.ConcurrencyLimitExceededError({
  policy: "orders",
  limit: 12,
  inFlight: 12,
  retryAfter: Duration.millis(1_500)
})

const Routes = Layer.mergeAll(
  HttpRouter.add("POST", "/charge", charge(false)),
  HttpRouter.add("GET", "/charge-failing", charge(true)),
  HttpRouter.add("GET", "/reports", Effect.fail(bulkheadFull)),
  HttpRouter.add("GET", "/search", Effect.fail(timedOut)),
  HttpRouter.add("GET", "/orders", Effect.fail(shed)),
  HttpRouter.add("GET", "/boom", Effect.fail(new Boom({})))
)

// The mapper takes the mapped errors out of the routes' error type; Boom stays.
const App: Layer.Layer<
  never,
  PolicyConfigError,
  HttpRouter.HttpRouter | HttpRouter.Request<"Error", Boom> | HttpRouter.Request<"Requires", Payments>
> = Routes.pipe(Layer.provide(HttpProblem.layer()))

const Server = serve(App).pipe(
  Layer.provideMerge(Payments.layer({ consecutiveFailures: 1, openDuration: "5 seconds" }))
)

const problemOf = (body: unknown) => Schema.decodeUnknownSync(HttpProblem.Problem)(body)

describe("HttpProblem", () => {
  it.effect("an open circuit answers 503 with Retry-After in whole seconds rounded up, and a problem document", () =>
    Effect.gen(function*() {
      expect((yield* get("/charge-failing")).status).toBe(500) // the failure itself passes through: it opens the circuit
      yield* TestClock.adjust("2100 millis") // 2.9 s of the 5 s opening left
      const answer = yield* get("/charge-failing")
      expect(answer.status).toBe(503)
      expect(answer.headers["retry-after"]).toBe("3")
      expect(answer.headers["content-type"]).toBe("application/problem+json")
      expect(answer.headers["cache-control"]).toBe("no-store")
      expect(problemOf(answer.body)).toEqual({
        type: "about:blank",
        title: "Service Unavailable",
        status: 503,
        detail: expect.stringContaining(`"payments" is open`),
        breaker: "payments",
        state: "Open",
        retryAfter: 3
      })
    }).pipe(Effect.provide(Server)))

  it.effect("a circuit forced open answers 503 without Retry-After (only an operator closes it), retryAfter null", () =>
    Effect.gen(function*() {
      yield* (yield* Payments).forceOpen
      const answer = yield* get("/charge-failing")
      expect(answer.status).toBe(503)
      expect(answer.headers["retry-after"]).toBeUndefined()
      expect(problemOf(answer.body)).toMatchObject({ breaker: "payments", state: "ForcedOpen", retryAfter: null })
    }).pipe(Effect.provide(Server)))

  it.effect("a full bulkhead answers 503 with Retry-After 1 by default; a timeout answers 504 with the limit in seconds", () =>
    Effect.gen(function*() {
      const full = yield* get("/reports")
      expect(full.status).toBe(503)
      expect(full.headers["retry-after"]).toBe("1")
      expect(problemOf(full.body)).toMatchObject({ bulkhead: "reports", reason: "QueueFull", retryAfter: 1 })
      const slow = yield* get("/search")
      expect(slow.status).toBe(504)
      expect(slow.headers["retry-after"]).toBeUndefined()
      expect(slow.headers["content-type"]).toBe("application/problem+json")
      expect(problemOf(slow.body)).toMatchObject({ title: "Gateway Timeout", policy: "search", timeout: 2.5 })
    }).pipe(Effect.provide(Server)))

  it.effect("an adaptive limit shedding load answers 503 with its retry hint as Retry-After, rounded up", () =>
    Effect.gen(function*() {
      const response = yield* get("/orders")
      expect(response.status).toBe(503)
      expect(response.headers["retry-after"]).toBe("2")
      expect(response.headers["content-type"]).toBe("application/problem+json")
      expect(problemOf(response.body)).toMatchObject({
        title: "Service Unavailable",
        status: 503,
        policy: "orders",
        limit: 12,
        inFlight: 12,
        retryAfter: 2
      })
      expect(HttpProblem.isMapped(shed)).toBe(true)
    }).pipe(Effect.provide(Server)))

  it.effect("other errors pass through untouched: no problem document, the server's own answer", () =>
    Effect.gen(function*() {
      const answer = yield* get("/boom")
      expect(answer.status).toBe(500)
      expect(answer.headers["content-type"]).not.toBe("application/problem+json")
      expect(yield* Effect.exit(HttpProblem.respond(Effect.fail(new Boom({ n: 1 }))))).toEqual(
        Exit.fail(new Boom({ n: 1 }))
      )
    }).pipe(Effect.provide(Server)))

  it.effect("bulkheadStatus 429 and bulkheadRetryAfter; extend adds members (retry_after) but never changes the status", () =>
    Effect.gen(function*() {
      const problems = HttpProblem.layer({
        bulkheadStatus: 429,
        bulkheadRetryAfter: "2.5 seconds",
        extend: (problem: HttpProblem.Problem) => ({
          retry_after: "retryAfter" in problem ? problem.retryAfter : null,
          status: 200
        })
      })
      const answer = yield* get("/reports").pipe(
        Effect.provide(
          serve(HttpRouter.add("GET", "/reports", Effect.fail(bulkheadFull)).pipe(Layer.provide(problems)))
        )
      )
      expect(answer.status).toBe(429)
      expect(answer.headers["retry-after"]).toBe("3")
      expect(answer.body).toMatchObject({ title: "Too Many Requests", status: 429, retryAfter: 3, retry_after: 3 })
    }))

  it.effect("respond answers the mapped errors of one handler", () =>
    Effect.gen(function*() {
      const handler: Effect.Effect<HttpServerResponse.HttpServerResponse, CircuitOpenError | Boom> = Effect.fail(
        new CircuitOpenError({ breaker: "db", state: "HalfOpen", retryAfter: Duration.zero })
      )
      // Boom stays in the type; the mapped errors are gone.
      const answered: Effect.Effect<HttpServerResponse.HttpServerResponse, Boom> = HttpProblem.respond(handler)
      const response = yield* answered
      expect(response.status).toBe(503)
      // Half-open: a decision is near, but 0 would invite an immediate retry.
      expect(response.headers["retry-after"]).toBe("1")
    }))

  it("retryAfterSeconds rounds up, is at least 1, and is undefined for a forced-open circuit", () => {
    const rejection = (state: "Open" | "ForcedOpen", retryAfter: Duration.Duration) =>
      new CircuitOpenError({ breaker: "db", state, retryAfter })
    expect(HttpProblem.retryAfterSeconds(rejection("Open", Duration.millis(1)))).toBe(1)
    expect(HttpProblem.retryAfterSeconds(rejection("Open", Duration.millis(30_000)))).toBe(30)
    expect(HttpProblem.retryAfterSeconds(rejection("Open", Duration.millis(30_001)))).toBe(31)
    expect(HttpProblem.retryAfterSeconds(rejection("ForcedOpen", Duration.infinity))).toBeUndefined()
  })

  it.effect("bad options fail with PolicyConfigError naming every field", () =>
    Effect.gen(function*() {
      const error = yield* HttpProblem.make({
        bulkheadStatus: 500 as never,
        bulkheadRetryAfter: -1,
        extend: 5 as never
      }).pipe(Effect.flip)
      expect(error.kind).toBe("HttpProblem")
      expect(error.issues.map((issue: { readonly field: string }) => issue.field)).toEqual([
        "bulkheadStatus",
        "bulkheadRetryAfter",
        "extend"
      ])
      const built = yield* Effect.exit(Layer.build(serve(
        HttpRouter.add("GET", "/", HttpServerResponse.empty()).pipe(
          Layer.provide(HttpProblem.layer({ wrong: 1 } as never))
        )
      )))
      expect(Exit.isFailure(built)).toBe(true)
    }))
})

class Leaky extends Data.TaggedError("Leaky")<{ readonly token: string }> {}

const rejectionOf = (exit: Exit.Exit<unknown, unknown>): CircuitOpenError =>
  (Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined) as CircuitOpenError

const documentOf = (error: CircuitOpenError, options?: HttpProblem.ProblemOptions) =>
  Effect.map(HttpProblem.make(options), (responder) => {
    const body = responder.toResponse(error).body as unknown as { readonly body: Uint8Array }
    return new TextDecoder().decode(body.body)
  })

describe("what a problem document tells the caller", () => {
  it.effect("the breaker's name and the error's message; no field or stack of the failure that opened it", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "payments", consecutiveFailures: 1 })
      yield* Effect.exit(breaker.execute(Effect.fail(new Leaky({ token: "hunter2-secret" }))))
      const rejected = rejectionOf(yield* Effect.exit(breaker.execute(Effect.void)))
      expect(rejected.lastFailure).toBeDefined()
      const text = yield* documentOf(rejected)
      expect(text).not.toContain("hunter2")
      expect(text).not.toMatch(/\bat .*\.ts:\d+/)
      expect(JSON.parse(text)).toMatchObject({ breaker: "payments", state: "Open", detail: rejected.message })
    }).pipe(Effect.scoped))

  it.effect("extend replaces the breaker's name and the message, as docs/http-server.md shows", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "https://payments.internal:8443", consecutiveFailures: 1 })
      yield* Effect.exit(breaker.execute(Effect.fail(new Leaky({ token: "x" }))))
      const rejected = rejectionOf(yield* Effect.exit(breaker.execute(Effect.void)))
      const text = yield* documentOf(rejected, {
        extend: (problem) => ({
          detail: "A dependency is unavailable; retry later.",
          ...("breaker" in problem ? { breaker: "upstream" } : {})
        })
      })
      expect(text).not.toContain("payments.internal")
      expect(JSON.parse(text)).toMatchObject({ breaker: "upstream", state: "Open", status: 503 })
    }).pipe(Effect.scoped))
})

// The error union the mapper answers, as the type says.
export type _Mapped = [HttpProblem.Mapped] extends
  [CircuitOpenError | BulkheadFullError | ConcurrencyLimitExceededError | TimeoutError] ? true : never
