/**
 * Load shedding for incoming requests: a bulkhead in front of a route or a
 * group of routes. While it is full a request is answered at once — 503 (or
 * 429) with `Retry-After` and a problem document (see `HttpProblem`) —
 * before its handler starts: its body is not read, nothing it would call is
 * called. A server that refuses work it cannot do in time stays fast for
 * the requests it accepts, instead of slowing every request down until all
 * of them time out.
 *
 * The bulkhead is the library's own (`Bulkhead`): give its options, an
 * instance, or its service key. Or give an `AdaptiveLimit` (or its service
 * key): the number of requests let in then moves with the handlers' round
 * trips and drops, and a rejected request is answered 503 with the
 * `Retry-After` of the limit's own hint. The routes the layer is provided to
 * share one bulkhead or limit; provide another layer to another group for a
 * limit of its own. A request holds its slot until its handler returns the
 * response: a streamed body is sent after the slot is given back.
 *
 * ```ts
 * import { Layer } from "effect"
 * import { HttpRouter, HttpServerResponse } from "effect/http"
 * import { HttpLoadShedding } from "effect-resilience"
 *
 * const Reports = HttpRouter.add("GET", "/reports", HttpServerResponse.text("report"))
 * // At most 8 report requests at once; the 9th is answered 503 + Retry-After: 1 at once.
 * const Shed = Reports.pipe(Layer.provide(HttpLoadShedding.layer({ name: "reports", maxConcurrent: 8 })))
 * ```
 *
 * @since 0.1.0
 */
import type { Context, Duration, Layer, Types } from "effect"
import { Data, Effect, Result, Schema } from "effect"
import type { HttpServerResponse } from "effect/http"
import { HttpRouter } from "effect/http"
import type { AdaptiveLimit } from "./AdaptiveLimit.js"
import type { Bulkhead, BulkheadOptions } from "./Bulkhead.js"
import { isBulkhead, make as makeBulkhead } from "./Bulkhead.js"
import { isBulkheadFullError } from "./BulkheadFullError.js"
import { isConcurrencyLimitExceededError } from "./ConcurrencyLimitExceededError.js"
import { ConfigIssue } from "./ConfigIssue.js"
import type { Responder } from "./HttpProblem.js"
import { make as makeProblems } from "./HttpProblem.js"
import { decodeOptions, describeValue, fieldValue, unreadable } from "./internal/options.js"
import { isPolicy } from "./internal/policy.js"
import { durationInput } from "./internal/schemas.js"
import { isServiceKey } from "./internal/service.js"
import { PolicyConfigError } from "./PolicyConfigError.js"

/**
 * How a request shed by a bulkhead is answered. A request shed by an
 * adaptive limit is always answered 503 with the limit's own hint as
 * `Retry-After`: with a limit, `status: 429` and `retryAfter` fail the layer
 * with `PolicyConfigError`.
 *
 * @category models
 * @since 0.1.0
 */
export interface SheddingOptions {
  /** 503 Service Unavailable (default) or 429 Too Many Requests. */
  readonly status?: 503 | 429 | undefined
  /**
   * The `Retry-After` sent: from 1 millisecond to `Limits.maxDuration`, in
   * whole seconds rounded up. Default 1 second.
   */
  readonly retryAfter?: Duration.Input | undefined
}

/**
 * What an adaptive limit shedding load sees when a handler answered with a
 * 5xx response: the handler's call ends, for the limit's `classify`, as a
 * failure with this error, so that the default classifier counts it as a
 * drop. The client still gets the handler's response, unchanged; this error
 * never leaves the middleware.
 *
 * @example
 * ```ts
 * import { Exit } from "effect"
 * import { AdaptiveLimit, Classifier, HttpLoadShedding } from "effect-resilience"
 *
 * // A 501 Not Implemented says nothing about load: not a drop.
 * const limit = AdaptiveLimit.make({
 *   name: "api",
 *   classify: (exit) =>
 *     Exit.isFailure(exit) && exit.cause.reasons.some((reason) =>
 *         reason._tag === "Fail" && reason.error instanceof HttpLoadShedding.ServerErrorResponse &&
 *         reason.error.status === 501
 *       )
 *       ? "ignored"
 *       : Classifier.defaultClassifier(exit)
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class ServerErrorResponse extends Data.TaggedError("ServerErrorResponse")<{
  /** The response's status, from 500 to 599. */
  readonly status: number
  /** The response the handler answered with, sent to the client as it is. */
  readonly response: HttpServerResponse.HttpServerResponse
}> {}

const SheddingOptionsSchema = Schema.Struct({
  status: Schema.optional(Schema.Literals([503, 429])),
  retryAfter: Schema.optional(durationInput({ allowZero: false }))
})

/**
 * The load-shedding middleware of a bulkhead, as a router middleware layer
 * for the routes it is provided to.
 *
 * - `layer(bulkheadOptions, options?)` makes a bulkhead for these routes
 *   (named `"http"` unless the options name it; by default no queue, so a
 *   full bulkhead answers at once — with `maxQueued` and `maxQueueWait`
 *   requests may wait that long first);
 * - `layer(bulkhead, options?)` uses a bulkhead you made;
 * - `layer(BulkheadService, options?)` uses a bulkhead service;
 * - `layer(adaptiveLimit)` or `layer(LimitService)` sheds with an
 *   `AdaptiveLimit`: a request beyond its current limit is answered 503
 *   with `Retry-After` from the rejection's hint (the limit's recent round
 *   trip in whole seconds, at least 1) and the `ConcurrencyLimitProblem`
 *   document of `HttpProblem`.
 *
 * With an adaptive limit, each admitted request is one call of the limit,
 * ending as exactly one outcome. A **drop** is a handler that answers a 5xx
 * response (seen by the limit's `classify` as a `ServerErrorResponse`
 * failure), fails or dies (the server answers 500) — as the limit's
 * `classify` says; by default all of these are drops. Every other response,
 * 4xx included, is a success: its round trip (until the handler returned
 * the response) feeds the algorithm. A client that disconnects interrupts
 * the handler: its slot is given back and the limit does not move.
 *
 * Only the shedding bulkhead's or limit's own rejections are answered here:
 * a `BulkheadFullError` or `ConcurrencyLimitExceededError` the handler itself
 * fails with (a policy it calls through) passes through, to
 * `HttpProblem.layer` or your own handling. Bad options fail the layer with
 * `PolicyConfigError`.
 *
 * @example
 * ```ts
 * import { Context, Layer } from "effect"
 * import { HttpRouter, HttpServerResponse } from "effect/http"
 * import { AdaptiveLimit, Bulkhead, HttpLoadShedding } from "effect-resilience"
 *
 * class Checkout extends Bulkhead.Service<Checkout>()("checkout") {}
 *
 * const Pay = HttpRouter.add("POST", "/pay", HttpServerResponse.text("paid"))
 * const Refund = HttpRouter.add("POST", "/refund", HttpServerResponse.text("refunded"))
 * // Both routes share the 32 slots of the Checkout bulkhead; a full one answers 429 + Retry-After: 2.
 * const CheckoutRoutes = Layer.mergeAll(Pay, Refund).pipe(
 *   Layer.provide(HttpLoadShedding.layer(Checkout, { status: 429, retryAfter: "2 seconds" })),
 *   Layer.provide(Checkout.layer({ maxConcurrent: 32 }))
 * )
 *
 * // An adaptive limit in front of the search route: as many requests as it serves without slowing down.
 * class SearchLimit extends Context.Service<SearchLimit, AdaptiveLimit.AdaptiveLimit>()("app/SearchLimit") {}
 * const Search = HttpRouter.add("GET", "/search", HttpServerResponse.text("results")).pipe(
 *   Layer.provide(HttpLoadShedding.layer(SearchLimit)),
 *   Layer.provide(AdaptiveLimit.layerAs(SearchLimit, { name: "search", algorithm: AdaptiveLimit.gradient2() }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: {
  <I>(
    guard: Context.Key<I, Bulkhead> | Context.Key<I, AdaptiveLimit>,
    options?: SheddingOptions
  ): Layer.Layer<never, PolicyConfigError, I>
  (guard: Bulkhead | BulkheadOptions | AdaptiveLimit, options?: SheddingOptions): Layer.Layer<never, PolicyConfigError>
} = (
  given: Bulkhead | BulkheadOptions | AdaptiveLimit | Context.Key<unknown, Bulkhead | AdaptiveLimit> | undefined,
  options?: SheddingOptions
): Layer.Layer<never, PolicyConfigError, never> =>
  HttpRouter.middleware()(
    Effect.gen(function*() {
      // The service key's requirement is in the signature.
      const guard = yield* (guardOf(given) as Effect.Effect<Bulkhead | AdaptiveLimit, PolicyConfigError>)
      const problems = yield* responderFor(options, isAdaptiveLimit(guard))
      return (httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled>) =>
        isAdaptiveLimit(guard) ? shedByLimit(guard, problems, httpEffect) : shed(guard, problems, httpEffect)
    }) as Effect.Effect<
      (
        httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled>
      ) => Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled>,
      PolicyConfigError
    >
  ).layer

const configError = (field: string, rule: string) =>
  new PolicyConfigError({
    kind: "HttpLoadShedding",
    policy: "shedding",
    issues: [new ConfigIssue({ field, rule })]
  })

const bulkheadRule = "must be a bulkhead, an adaptive limit, the service key of one, or bulkhead options"

const isAdaptiveLimit = (u: unknown): u is AdaptiveLimit => isPolicy(u) && u.kind === "AdaptiveLimit"

/**
 * The bulkhead or adaptive limit `given` is or names, or the bulkhead it
 * describes: made here from options (named "http" unless they name it).
 */
const guardOf = (given: unknown): Effect.Effect<Bulkhead | AdaptiveLimit, PolicyConfigError, unknown> =>
  Effect.suspend((): Effect.Effect<Bulkhead | AdaptiveLimit, PolicyConfigError, unknown> => {
    if (isBulkhead(given) || isAdaptiveLimit(given)) return Effect.succeed(given)
    if (isServiceKey(given)) {
      return Effect.flatMap(given, (found) =>
        isBulkhead(found) || isAdaptiveLimit(found)
          ? Effect.succeed(found)
          : Effect.fail(
            configError("bulkhead", `names the service "${given.key}", which is not a bulkhead or an adaptive limit`)
          ))
    }
    if (isPolicy(given)) {
      return Effect.fail(configError("bulkhead", `${bulkheadRule} (got a ${given.kind} policy)`))
    }
    if (given === undefined) return makeBulkhead({ name: "http" })
    if (typeof given !== "object" || given === null || Array.isArray(given)) {
      return Effect.fail(configError("bulkhead", `${bulkheadRule} (got ${describeValue(given)})`))
    }
    let options: BulkheadOptions
    try {
      options = fieldValue(given, ["name"]) === undefined ? { ...given, name: "http" } : given
    } catch (thrown) {
      return Effect.fail(configError("bulkhead", unreadable(thrown)))
    }
    return makeBulkhead(options)
  })

const responderFor = (
  options: SheddingOptions | undefined,
  byLimit: boolean
): Effect.Effect<Responder, PolicyConfigError> => {
  const decoded = decodeOptions(SheddingOptionsSchema, options, "load shedding option")
  if (Result.isFailure(decoded)) {
    return Effect.fail(
      new PolicyConfigError({
        kind: "HttpLoadShedding",
        policy: "shedding",
        issues: decoded.failure as [ConfigIssue, ...Array<ConfigIssue>]
      })
    )
  }
  if (byLimit && decoded.success.status === 429) {
    return Effect.fail(configError("status", "must be 503 with an adaptive limit, which answers 503, got 429"))
  }
  if (byLimit && decoded.success.retryAfter !== undefined) {
    return Effect.fail(
      configError("retryAfter", "must be absent with an adaptive limit: Retry-After is the limit's own hint")
    )
  }
  return makeProblems({
    bulkheadStatus: decoded.success.status ?? 503,
    bulkheadRetryAfter: decoded.success.retryAfter ?? "1 second"
  })
}

/**
 * Runs the handler through the bulkhead; a rejection of this bulkhead —
 * before the handler started, told apart from a `BulkheadFullError` of the
 * handler's own by whether it started — is answered with a problem.
 */
const shed = (
  bulkhead: Bulkhead,
  problems: Responder,
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled>
): Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled> =>
  Effect.suspend(() => {
    let started = false
    const admitted = Effect.suspend(() => {
      started = true
      return handler
    })
    return Effect.catchIf(
      bulkhead.apply(admitted),
      (error) => !started && isBulkheadFullError(error),
      (error) => Effect.sync(() => problems.toResponse(error as never))
    ) as Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled>
  })

/**
 * Runs the handler as one call of the adaptive limit. A rejection of this
 * limit (before the handler started) is answered with a problem; a 5xx
 * response reaches the limit as a `ServerErrorResponse` failure, so that its
 * classifier sees a drop, and is then sent as it is.
 */
const shedByLimit = (
  limit: AdaptiveLimit,
  problems: Responder,
  handler: Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled>
): Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled> =>
  Effect.suspend(() => {
    let started = false
    // This request's own 5xx, told apart by identity from an error the handler itself fails with.
    let serverError: ServerErrorResponse | undefined
    const admitted = Effect.suspend(() => {
      started = true
      return Effect.flatMap(handler, (response) => {
        if (response.status < 500) return Effect.succeed(response)
        serverError = new ServerErrorResponse({ status: response.status, response })
        return Effect.fail(serverError)
      })
    })
    return Effect.catchIf(
      limit.apply(admitted),
      (error) => serverError !== undefined ? error === serverError : !started && isConcurrencyLimitExceededError(error),
      (error) => Effect.sync(() => error === serverError ? serverError.response : problems.toResponse(error as never))
    ) as Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled>
  })
