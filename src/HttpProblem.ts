/**
 * Answers for the dependencies that are down: the library's errors turned
 * into HTTP responses carrying an RFC 9457 problem document
 * (`application/problem+json`).
 *
 * - `CircuitOpenError` → 503 with `Retry-After` in whole seconds, rounded up
 *   and at least 1 (none when the circuit was forced open: only an operator
 *   closes it);
 * - `BulkheadFullError` → 503, or 429 with `bulkheadStatus: 429`, with
 *   `Retry-After` (`bulkheadRetryAfter`, default 1 second);
 * - `ConcurrencyLimitExceededError` (an `AdaptiveLimit` shedding load) → 503
 *   with `Retry-After` from the error's hint, in whole seconds, rounded up
 *   and at least 1;
 * - `TimeoutError` (the `Timeout` policy's) → 504;
 * - `RateLimitExceededError` → 429 with `Retry-After` in whole seconds,
 *   rounded up and at least 1.
 *
 * Every other error passes through untouched, in the type and at run time.
 * The body names the breaker, its state and `retryAfter` (seconds, as the
 * header), or the bulkhead, the adaptive limit, the timeout policy or the rate limit. Provide `layer()` to your
 * routes:
 *
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { HttpRouter, HttpServerResponse } from "effect/http"
 * import { CircuitBreaker, HttpProblem, withCircuitBreaker } from "effect-resilience"
 *
 * class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
 * declare const charge: Effect.Effect<string>
 *
 * const Routes = HttpRouter.add("POST", "/charge", charge.pipe(withCircuitBreaker(Payments), Effect.map(HttpServerResponse.text)))
 * // An open circuit answers 503 + Retry-After with a problem document:
 * const Api = Routes.pipe(Layer.provide(HttpProblem.layer()))
 * ```
 *
 * @since 0.1.0
 */
import type { Layer } from "effect"
import { Duration, Effect, Result, Schema } from "effect"
import type { HttpServerResponse as Response } from "effect/http"
import { HttpRouter, HttpServerResponse, ProblemDetails } from "effect/http"
import type { BulkheadFullError } from "./BulkheadFullError.js"
import { isBulkheadFullError } from "./BulkheadFullError.js"
import type { CircuitOpenError } from "./CircuitOpenError.js"
import { isCircuitOpenError } from "./CircuitOpenError.js"
import { RejectingState } from "./CircuitState.js"
import type { ConcurrencyLimitExceededError } from "./ConcurrencyLimitExceededError.js"
import { isConcurrencyLimitExceededError } from "./ConcurrencyLimitExceededError.js"
import type { ConfigIssue } from "./ConfigIssue.js"
import { decodeOptions } from "./internal/options.js"
import { durationInput, FunctionValue } from "./internal/schemas.js"
import { PolicyConfigError } from "./PolicyConfigError.js"
import { BulkheadRejectionReason } from "./PolicyEvent.js"
import type { RateLimitExceededError } from "./RateLimitExceededError.js"
import { isRateLimitExceededError } from "./RateLimitExceededError.js"
import type { TimeoutError } from "./TimeoutError.js"
import { isTimeoutError } from "./TimeoutError.js"

/**
 * The errors answered with a problem document; every other error passes
 * through.
 *
 * @category models
 * @since 0.1.0
 */
export type Mapped =
  | CircuitOpenError
  | BulkheadFullError
  | ConcurrencyLimitExceededError
  | TimeoutError
  | RateLimitExceededError

/**
 * Whether an error is one this module answers (checked by type id, so errors
 * of any copy of the library are recognised).
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { CircuitOpenError, HttpProblem } from "effect-resilience"
 *
 * HttpProblem.isMapped(new CircuitOpenError({ breaker: "db", state: "Open", retryAfter: Duration.seconds(2) })) // => true
 * HttpProblem.isMapped(new Error("boom")) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isMapped = (u: unknown): u is Mapped =>
  isCircuitOpenError(u) || isBulkheadFullError(u) || isConcurrencyLimitExceededError(u) || isTimeoutError(u) ||
  isRateLimitExceededError(u)

/**
 * The problem document of a call an open circuit rejected (503).
 * `retryAfter` is the `Retry-After` header in seconds, `null` when the
 * circuit was forced open.
 *
 * @category schemas
 * @since 0.1.0
 */
export const CircuitOpenProblem = Schema.Struct({
  type: Schema.String,
  title: Schema.String,
  status: Schema.Literal(503),
  detail: Schema.String,
  breaker: Schema.String,
  state: RejectingState,
  retryAfter: Schema.NullOr(Schema.Int)
})

/**
 * The problem document of a call a bulkhead turned away (503 or 429):
 * `retryAfter` in seconds, as the header.
 *
 * @category schemas
 * @since 0.1.0
 */
export const BulkheadFullProblem = Schema.Struct({
  type: Schema.String,
  title: Schema.String,
  status: Schema.Literals([503, 429]),
  detail: Schema.String,
  bulkhead: Schema.String,
  reason: BulkheadRejectionReason,
  retryAfter: Schema.Int
})

/**
 * The problem document of a call an adaptive concurrency limit turned away
 * (503): the limiter's `policy` name, its `limit` and the calls `inFlight`
 * then, and `retryAfter` in seconds, as the header.
 *
 * @category schemas
 * @since 0.1.0
 */
export const ConcurrencyLimitProblem = Schema.Struct({
  type: Schema.String,
  title: Schema.String,
  status: Schema.Literal(503),
  detail: Schema.String,
  policy: Schema.String,
  limit: Schema.Number,
  inFlight: Schema.Number,
  retryAfter: Schema.Int
})

/**
 * The problem document of a call that ran past its timeout (504):
 * `timeout` is the limit, in seconds.
 *
 * @category schemas
 * @since 0.1.0
 */
export const TimeoutProblem = Schema.Struct({
  type: Schema.String,
  title: Schema.String,
  status: Schema.Literal(504),
  detail: Schema.String,
  policy: Schema.String,
  timeout: Schema.Number
})

/**
 * The problem document of a call a rate limit turned away (429):
 * `retryAfter` in seconds, as the header; `policy` and `key` name the limit.
 *
 * @category schemas
 * @since 0.1.0
 */
export const RateLimitProblem = Schema.Struct({
  type: Schema.String,
  title: Schema.String,
  status: Schema.Literal(429),
  detail: Schema.String,
  policy: Schema.String,
  key: Schema.String,
  retryAfter: Schema.Int
})

/**
 * Any problem document this module writes. A client decodes a response body
 * with it (members added by `extend` are dropped by the decoding).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { HttpProblem } from "effect-resilience"
 *
 * const problem = Schema.decodeUnknownSync(HttpProblem.Problem)({
 *   type: "about:blank", title: "Service Unavailable", status: 503,
 *   detail: "circuit open", breaker: "payments", state: "Open", retryAfter: 30
 * })
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Problem = Schema.Union([
  CircuitOpenProblem,
  BulkheadFullProblem,
  ConcurrencyLimitProblem,
  TimeoutProblem,
  RateLimitProblem
])

/**
 * @category models
 * @since 0.1.0
 */
export type Problem = typeof Problem.Type

/**
 * The options of the problem responses. Bad options fail `make` and `layer`
 * with `PolicyConfigError` (kind `"HttpProblem"`).
 *
 * @category models
 * @since 0.1.0
 */
export interface ProblemOptions {
  /** The status of a `BulkheadFullError`: 503 (default) or 429. */
  readonly bulkheadStatus?: 503 | 429 | undefined
  /**
   * The `Retry-After` of a `BulkheadFullError` (a bulkhead cannot know when a
   * slot frees): from 1 millisecond to `Limits.maxDuration`, sent in whole
   * seconds rounded up. Default 1 second.
   */
  readonly bulkheadRetryAfter?: Duration.Input | undefined
  /**
   * Members to add to (or replace in) each document: your own `type` URI, a
   * `retry_after` for clients written against another server. `status` is
   * always the response's. Called per response; what it throws is a defect.
   */
  readonly extend?: ((problem: Problem, error: Mapped) => Readonly<Record<string, unknown>>) | undefined
}

/**
 * Problem responses made with validated options.
 *
 * @category models
 * @since 0.1.0
 */
export interface Responder {
  /** The response answering `error`. */
  readonly toResponse: (error: Mapped) => Response.HttpServerResponse
  /** Answers the mapped errors of a handler; other errors pass through. */
  readonly respond: <E, R>(
    self: Effect.Effect<Response.HttpServerResponse, E, R>
  ) => Effect.Effect<Response.HttpServerResponse, Exclude<E, Mapped>, R>
}

/**
 * The `Retry-After` of a rejection, in whole seconds: the time left until a
 * probe is admitted, rounded up and at least 1 (a half-open circuit decides
 * soon, and 0 would invite an immediate retry); `undefined` when the circuit
 * was forced open.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { CircuitOpenError, HttpProblem } from "effect-resilience"
 *
 * HttpProblem.retryAfterSeconds(new CircuitOpenError({ breaker: "db", state: "Open", retryAfter: Duration.millis(2_100) })) // => 3
 * ```
 *
 * @category headers
 * @since 0.1.0
 */
export const retryAfterSeconds = (error: CircuitOpenError): number | undefined =>
  Duration.isFinite(error.retryAfter) ? wholeSeconds(error.retryAfter) : undefined

const wholeSeconds = (duration: Duration.Duration): number => Math.max(1, Math.ceil(Duration.toMillis(duration) / 1000))

const OptionsSchema = Schema.Struct({
  bulkheadStatus: Schema.optional(Schema.Literals([503, 429])),
  bulkheadRetryAfter: Schema.optional(durationInput({ allowZero: false })),
  extend: Schema.optional(
    FunctionValue<NonNullable<ProblemOptions["extend"]>>("a function (problem, error) => members")
  )
})

const titles = { 429: "Too Many Requests", 503: "Service Unavailable", 504: "Gateway Timeout" } as const

const problemOf = (error: Mapped, bulkheadStatus: 503 | 429, bulkheadRetryAfter: number): Problem => {
  if (isCircuitOpenError(error)) {
    return {
      type: ProblemDetails.blankType,
      title: titles[503],
      status: 503,
      detail: error.message,
      breaker: error.breaker,
      state: error.state,
      retryAfter: retryAfterSeconds(error) ?? null
    }
  }
  if (isBulkheadFullError(error)) {
    return {
      type: ProblemDetails.blankType,
      title: titles[bulkheadStatus],
      status: bulkheadStatus,
      detail: error.message,
      bulkhead: error.bulkhead,
      reason: error.reason,
      retryAfter: bulkheadRetryAfter
    }
  }
  if (isRateLimitExceededError(error)) {
    return {
      type: ProblemDetails.blankType,
      title: titles[429],
      status: 429,
      detail: error.message,
      policy: error.policy,
      key: error.key,
      retryAfter: wholeSeconds(error.retryAfter)
    }
  }
  if (isConcurrencyLimitExceededError(error)) {
    return {
      type: ProblemDetails.blankType,
      title: titles[503],
      status: 503,
      detail: error.message,
      policy: error.policy,
      limit: error.limit,
      inFlight: error.inFlight,
      retryAfter: Duration.isFinite(error.retryAfter) ? wholeSeconds(error.retryAfter) : 1
    }
  }
  return {
    type: ProblemDetails.blankType,
    title: titles[504],
    status: 504,
    detail: error.message,
    policy: error.policy,
    timeout: Duration.toMillis(error.duration) / 1000
  }
}

const makeResponder = (options: typeof OptionsSchema.Type): Responder => {
  const bulkheadStatus = options.bulkheadStatus ?? 503
  const bulkheadRetryAfter = options.bulkheadRetryAfter === undefined
    ? 1
    : wholeSeconds(options.bulkheadRetryAfter)
  const extend = options.extend
  const toResponse = (error: Mapped): Response.HttpServerResponse => {
    const problem = problemOf(error, bulkheadStatus, bulkheadRetryAfter)
    const body = extend === undefined ? problem : { ...problem, ...extend(problem, error), status: problem.status }
    const headers: Record<string, string> = { "cache-control": "no-store" }
    const retryAfter = "retryAfter" in problem ? problem.retryAfter : null
    if (retryAfter !== null) headers["retry-after"] = String(retryAfter)
    return HttpServerResponse.jsonUnsafe(body, {
      status: problem.status,
      contentType: ProblemDetails.contentType,
      headers
    })
  }
  const respond = <E, R>(
    self: Effect.Effect<Response.HttpServerResponse, E, R>
  ): Effect.Effect<Response.HttpServerResponse, Exclude<E, Mapped>, R> =>
    Effect.catchIf(
      self,
      (error): error is Extract<E, Mapped> => isMapped(error),
      (error) => Effect.sync(() => toResponse(error))
    ) as Effect.Effect<Response.HttpServerResponse, Exclude<E, Mapped>, R>
  return { toResponse, respond }
}

const defaultResponder = makeResponder({})

/**
 * Makes problem responses with `options`, validated: bad options fail with
 * `PolicyConfigError` naming each field.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { HttpServerResponse } from "effect/http"
 * import { HttpProblem } from "effect-resilience"
 * import type { Bulkhead } from "effect-resilience"
 *
 * declare const handler: Effect.Effect<HttpServerResponse.HttpServerResponse, Bulkhead.BulkheadFullError>
 *
 * const answered = Effect.gen(function*() {
 *   const problems = yield* HttpProblem.make({ bulkheadStatus: 429, bulkheadRetryAfter: "5 seconds" })
 *   return yield* problems.respond(handler) // a full bulkhead answers 429 + Retry-After: 5
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options?: ProblemOptions): Effect.Effect<Responder, PolicyConfigError> =>
  Effect.suspend(() => {
    const decoded = decodeOptions(OptionsSchema, options, "problem response option")
    return Result.isFailure(decoded)
      ? Effect.fail(
        new PolicyConfigError({
          kind: "HttpProblem",
          policy: "problems",
          issues: decoded.failure as [ConfigIssue, ...Array<ConfigIssue>]
        })
      )
      : Effect.succeed(options === undefined ? defaultResponder : makeResponder(decoded.success))
  })

/**
 * The response answering `error` with the default options.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { CircuitOpenError, HttpProblem } from "effect-resilience"
 *
 * const response = HttpProblem.toResponse(new CircuitOpenError({ breaker: "db", state: "Open", retryAfter: Duration.seconds(30) }))
 * response.status // => 503
 * ```
 *
 * @category responses
 * @since 0.1.0
 */
export const toResponse: (error: Mapped) => Response.HttpServerResponse = defaultResponder.toResponse

/**
 * Answers the mapped errors of one handler with the default options
 * (`handler.pipe(HttpProblem.respond)`); its other errors pass through. For
 * a group of routes, provide `layer()` instead.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpRouter, HttpServerResponse } from "effect/http"
 * import { HttpProblem, withCircuitBreaker } from "effect-resilience"
 *
 * declare const quote: Effect.Effect<string>
 *
 * const Route = HttpRouter.add("GET", "/quote", quote.pipe(withCircuitBreaker(), Effect.map(HttpServerResponse.text), HttpProblem.respond))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const respond: <E, R>(
  self: Effect.Effect<Response.HttpServerResponse, E, R>
) => Effect.Effect<Response.HttpServerResponse, Exclude<E, Mapped>, R> = defaultResponder.respond

/**
 * Router middleware answering the mapped errors of the routes it is provided
 * to (`Routes.pipe(Layer.provide(HttpProblem.layer()))`); their other errors
 * pass through, and the routes' error types lose the mapped ones. Bad
 * options fail the layer with `PolicyConfigError`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpProblem } from "effect-resilience"
 *
 * // A full bulkhead answers 429 Too Many Requests with Retry-After: 2.
 * const Problems = HttpProblem.layer({ bulkheadStatus: 429, bulkheadRetryAfter: "2 seconds" })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options?: ProblemOptions
): Layer.Layer<
  | HttpRouter.Request<"Error", CircuitOpenError>
  | HttpRouter.Request<"Error", BulkheadFullError>
  | HttpRouter.Request<"Error", ConcurrencyLimitExceededError>
  | HttpRouter.Request<"Error", TimeoutError>
  | HttpRouter.Request<"Error", RateLimitExceededError>,
  PolicyConfigError
> =>
  HttpRouter.middleware<{ handles: Mapped }>()(
    Effect.map(make(options), (responder) => (httpEffect) => responder.respond(httpEffect))
  ).layer
