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
 * instance, or its service key. The routes the layer is provided to share
 * one bulkhead; provide another layer to another group for a limit of its
 * own. A request holds its slot until its handler returns the response: a
 * streamed body is sent after the slot is given back.
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
import { Effect, Result, Schema } from "effect"
import type { HttpServerResponse } from "effect/http"
import { HttpRouter } from "effect/http"
import type { Bulkhead, BulkheadOptions } from "./Bulkhead.js"
import { isBulkhead, make as makeBulkhead } from "./Bulkhead.js"
import { isBulkheadFullError } from "./BulkheadFullError.js"
import { ConfigIssue } from "./ConfigIssue.js"
import type { Responder } from "./HttpProblem.js"
import { make as makeProblems } from "./HttpProblem.js"
import { decodeOptions, describeValue, fieldValue, unreadable } from "./internal/options.js"
import { durationInput } from "./internal/schemas.js"
import { isServiceKey } from "./internal/service.js"
import { PolicyConfigError } from "./PolicyConfigError.js"

/**
 * How a shed request is answered.
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
 * - `layer(BulkheadService, options?)` uses a bulkhead service.
 *
 * Only the shedding bulkhead's own rejections are answered here: a
 * `BulkheadFullError` the handler itself fails with (a bulkhead it calls
 * through) passes through, to `HttpProblem.layer` or your own handling.
 * Bad options fail the layer with `PolicyConfigError`.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { HttpRouter, HttpServerResponse } from "effect/http"
 * import { Bulkhead, HttpLoadShedding } from "effect-resilience"
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
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: {
  <I>(bulkhead: Context.Key<I, Bulkhead>, options?: SheddingOptions): Layer.Layer<never, PolicyConfigError, I>
  (bulkhead: Bulkhead | BulkheadOptions, options?: SheddingOptions): Layer.Layer<never, PolicyConfigError>
} = (
  bulkhead: Bulkhead | BulkheadOptions | Context.Key<unknown, Bulkhead> | undefined,
  options?: SheddingOptions
): Layer.Layer<never, PolicyConfigError, never> =>
  HttpRouter.middleware()(
    Effect.gen(function*() {
      const problems = yield* responderFor(options)
      // The service key's requirement is in the signature.
      const guard = yield* (bulkheadOf(bulkhead) as Effect.Effect<Bulkhead, PolicyConfigError>)
      return (httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled>) =>
        shed(guard, problems, httpEffect)
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

const bulkheadRule = "must be a bulkhead, the service key of one, or bulkhead options"

/** The bulkhead `given` is, names or describes: made here from options (named "http" unless they name it). */
const bulkheadOf = (given: unknown): Effect.Effect<Bulkhead, PolicyConfigError, unknown> =>
  Effect.suspend((): Effect.Effect<Bulkhead, PolicyConfigError, unknown> => {
    if (isBulkhead(given)) return Effect.succeed(given)
    if (isServiceKey(given)) {
      return Effect.flatMap(given, (found) =>
        isBulkhead(found)
          ? Effect.succeed(found)
          : Effect.fail(configError("bulkhead", `names the service "${given.key}", which is not a bulkhead`)))
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

const responderFor = (options: SheddingOptions | undefined): Effect.Effect<Responder, PolicyConfigError> => {
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
