/**
 * Guards any Effect `HttpClient` (from `effect/http`) with the toolkit's
 * policies, per request:
 *
 * ```
 * fallback( deadline( retry( rateLimit[origin]( limit( breaker[origin]( hedge( bulkhead( timeout( request )))))))))
 * ```
 *
 * - **Circuits per origin** by default, kept in a `CircuitBreakerRegistry`
 *   (bounded by `maxBreakers`, idle circuits evicted after
 *   `idleTimeToLive`); or per a `key` function; or one given breaker, or a
 *   registry of your own. Each circuit is named after its key, so its
 *   metrics and span attributes say which origin it guards. A key the
 *   registry has no room for shares the registry's overflow circuit
 *   (`CircuitBreakerRegistry.overflow`), listed with the others.
 * - **Classification** (see `HttpClassifier`): 5xx but 501, 408, 429,
 *   transport errors and timeouts are failures; other answers are
 *   successes. `isFailure` replaces the status rule, `classifyBody` reads
 *   the body (a 200 that says "degraded").
 * - **Retry** (opt-in): idempotent methods only (`GET`, `HEAD`, `OPTIONS`,
 *   `PUT`, `DELETE`; `POST` and `PATCH` with an `Idempotency-Key` header, or
 *   `nonIdempotent: true`), exponential backoff with jitter, a retry budget,
 *   a `Retry-After` on 429/503 honoured as the least wait (longer than
 *   `maxRetryAfterWait`, it ends the retries). Every attempt is a call of
 *   the breaker: an open circuit refuses a retry as it refuses a call, and an
 *   attempt that fails while its circuit is open ends the retries at once.
 *   Never a full bulkhead or a 4xx other than 408/429, nor a request whose
 *   stream body was already sent.
 * - **Timeouts**: `timeout` per attempt, `deadline` for the whole call,
 *   retries included.
 * - **Rate limit** (a `RateLimit` of yours): a permit per attempt, per
 *   circuit key, taken outside the breaker; an adaptive limit learns from
 *   `429` + `Retry-After`.
 * - **Adaptive concurrency limit** (an `AdaptiveLimit` of yours): every
 *   attempt runs under it, outside the breaker.
 * - **Bulkhead** and **hedging** (idempotent reads only), as their modules;
 *   a failed response ends a hedge as every other answer does.
 * - **Fallback**: answers for every error that gets out, and for a response
 *   still classified as a failure when the retries are done.
 * - A `Retry-After` on a response that trips a circuit keeps it open that
 *   long (capped by `maxRetryAfter` and the breaker's `maxOpenDuration`), and a rejection says
 *   how long is left (`CircuitOpenError.retryAfter`).
 *
 * The client's error type is the wrapped client's (`HttpClientError`) plus
 * exactly the errors its policies can add: `CircuitOpenError` always,
 * `TimeoutError` with a `timeout` or a `deadline`, `BulkheadFullError` with a
 * `bulkhead`, `ConcurrencyLimitExceededError` with a `limit`, `RateLimitExceededError` with a `rateLimit` (and Effect's
 * `RateLimiterError` when it fails on store errors); with a `fallback`, what the fallback fails with. A response
 * classified as a failure is still a response: without a fallback, the last
 * one is returned as the bare client would return it.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { HttpClient } from "effect/http"
 * import { ResilientHttpClient } from "effect-resilience"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* ResilientHttpClient.make(yield* HttpClient.HttpClient, {
 *     breaker: { consecutiveFailures: 5, openDuration: "30 seconds" },
 *     retry: { retries: 2 },
 *     timeout: "2 seconds"
 *   })
 *   // Effect<HttpClientResponse, HttpClientError | CircuitOpenError | TimeoutError, never>
 *   return yield* client.get("https://inventory.internal/stock/42")
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import type { Duration, Scope } from "effect"
import { Context, Effect, Layer } from "effect"
import type { HttpClientError, HttpClientRequest, HttpClientResponse } from "effect/http"
import { HttpClient } from "effect/http"
import type { RateLimiter } from "effect/persistence"
import type { AdaptiveLimit } from "./AdaptiveLimit.js"
import type { Bulkhead, BulkheadOptions } from "./Bulkhead.js"
import type { BulkheadFullError } from "./BulkheadFullError.js"
import type { CircuitBreaker } from "./CircuitBreaker.js"
import type { CircuitBreakerConfig, CircuitBreakerConfigError } from "./CircuitBreakerConfig.js"
import type { CircuitBreakerRegistry } from "./CircuitBreakerRegistry.js"
import type { CircuitOpenError } from "./CircuitOpenError.js"
import type { ConcurrencyLimitExceededError } from "./ConcurrencyLimitExceededError.js"
import type { HedgeOptions } from "./Hedge.js"
import { makeClient } from "./internal/httpClient.js"
import type { PolicyConfigError } from "./PolicyConfigError.js"
import type { RateLimit, RateLimitExceededError } from "./RateLimit.js"
import type { BackoffOptions, RetryBudget } from "./Retry.js"
import type { TimeoutError } from "./TimeoutError.js"

/**
 * The retries of a resilient client: an exponential backoff (as
 * `Retry.make`), a budget, and how `Retry-After` and non-idempotent
 * methods are treated.
 *
 * @category models
 * @since 0.1.0
 */
export interface RetryOptions extends BackoffOptions {
  /** A budget shared by the calls to one dependency; see `Retry.makeBudget`. */
  readonly budget?: RetryBudget | undefined
  /**
   * A `Retry-After` asking for a longer wait than this ends the retries (the
   * response is returned, or handed to the fallback): 0 or from 1
   * millisecond to `Limits.maxDuration`. Default 30 seconds.
   */
  readonly maxRetryAfterWait?: Duration.Input | undefined
  /** Retry every method, `POST` and `PATCH` included, without an idempotency key. Default `false`. */
  readonly nonIdempotent?: boolean | undefined
  /** Report the retry's metrics (see the `Metrics` module). Default: as the context says. */
  readonly metrics?: boolean | undefined
}

/**
 * The errors the policies of a client can add: every error a fallback may
 * be handed, beside the wrapped client's own.
 *
 * @category models
 * @since 0.1.0
 */
export type PolicyError =
  | CircuitOpenError
  | TimeoutError
  | BulkheadFullError
  | ConcurrencyLimitExceededError
  | RateLimitExceededError
  | RateLimiter.RateLimiterError

/**
 * The options of `ResilientHttpClient.make`, for a client failing with `E`.
 * Every option is optional; bad values fail with `PolicyConfigError` (kind
 * `"HttpClient"`, or the kind of the policy they configure) or, for the
 * breaker configuration, `CircuitBreakerConfigError`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options<E = HttpClientError.HttpClientError> {
  /**
   * Names the client's policies in events, errors and metric series
   * (`name/timeout`, `name/deadline`, ...) and its registry of circuits: a
   * non-blank string of at most `Limits.maxNameLength` characters. Default
   * `"http"`. While its metrics are on (`metrics`, or `Metrics.layer` in
   * the context), a client holds its name in the context's metric registry
   * until its scope closes: a second live client of the same name is
   * refused (a `PolicyConfigError` naming `name`), since both would report
   * into the same series. Give each client its own name.
   */
  readonly name?: string | undefined
  /**
   * The circuits: a breaker configuration for one circuit per key (default:
   * the breaker defaults), one breaker for every request, or a registry of
   * your own (to read its snapshots for a health route, say).
   */
  readonly breaker?:
    | CircuitBreakerConfig
    | CircuitBreaker
    | CircuitBreakerRegistry<CircuitBreakerConfigError>
    | CircuitBreakerRegistry
    | undefined
  /**
   * The circuit a request belongs to. Default: its origin
   * (`https://api.example.com:8443`). Keys follow the registry's rules (at
   * most `Limits.maxKeyLength` characters). Refused (a `PolicyConfigError`
   * naming the field) with a breaker of your own.
   */
  readonly key?: ((request: HttpClientRequest.HttpClientRequest) => string) | undefined
  /**
   * Circuits kept at most (see `CircuitBreakerRegistry`): 1 to
   * `Limits.maxBreakers`. Default 10,000. Refused (a `PolicyConfigError`
   * naming the field) with a breaker or a registry of your own.
   */
  readonly maxBreakers?: number | undefined
  /**
   * A circuit with no request for this long is evicted, unless pinned (see
   * `CircuitBreakerRegistry`): from 1 millisecond to `Limits.maxDuration`.
   * Default 1 hour. Refused (a `PolicyConfigError` naming the field) with a
   * breaker or a registry of your own.
   */
  readonly idleTimeToLive?: Duration.Input | undefined
  /**
   * Retries; none without this option. `retry: {}` is the `Retry` default:
   * 3 retries with exponential backoff.
   */
  readonly retry?: RetryOptions | undefined
  /**
   * The time limit of each attempt, until the response (and `classifyBody`)
   * is in: from 1 millisecond to `Limits.maxDuration`. Default none.
   */
  readonly timeout?: Duration.Input | undefined
  /**
   * The time limit of the whole call, retries and their waits included:
   * from 1 millisecond to `Limits.maxDuration`. Default none.
   */
  readonly deadline?: Duration.Input | undefined
  /** A bulkhead shared by the client's requests: options, or a bulkhead of your own. */
  readonly bulkhead?: BulkheadOptions | Bulkhead | undefined
  /** Hedged attempts, for `GET`, `HEAD` and `OPTIONS` requests without a stream body. */
  readonly hedge?: HedgeOptions | undefined
  /**
   * A rate limit (from `RateLimit.make`) every attempt takes a permit of,
   * counted per circuit key (the origin by default), outside the breaker: a
   * call it turns away fails with `RateLimitExceededError`, unretried and
   * unseen by the breaker. An adaptive limit learns from the `429` +
   * `Retry-After` answers.
   */
  readonly rateLimit?: RateLimit<unknown> | undefined
  /**
   * An adaptive concurrency limit (from `AdaptiveLimit.make`) every attempt
   * runs under, outside the breaker: its round trip is one attempt's, an
   * open circuit's rejections count as drops (the limit shrinks while the
   * dependency is unhealthy), and its own rejections
   * (`ConcurrencyLimitExceededError`) are neither retried nor seen by the
   * breaker.
   */
  readonly limit?: AdaptiveLimit | undefined
  /**
   * Which responses are failures for the breaker. Default:
   * `HttpClassifier.isFailureStatus(response.status)`. A failure is retried
   * unless it is a 4xx other than 408 and 429: a 404 made a failure here
   * counts for the breaker but is not sent again.
   */
  readonly isFailure?: ((response: HttpClientResponse.HttpClientResponse) => boolean) | undefined
  /**
   * Reads a response `isFailure` let through, and answers `true` for a
   * failure (a 200 whose body says "degraded"). Its error fails the
   * attempt. The body is read into memory first (at most
   * `classifyBodyLimit` bytes), so the hook and the caller each get a
   * whole response: `stream`, `text`, `json`, `arrayBuffer`, the
   * upstream's status and headers.
   */
  readonly classifyBody?:
    | ((response: HttpClientResponse.HttpClientResponse) => Effect.Effect<boolean, HttpClientError.HttpClientError>)
    | undefined
  /**
   * The most bytes of a body `classifyBody` reads into memory: an integer
   * from 1 to 67,108,864 (64 MiB). Default 1,048,576 (1 MiB). A larger
   * body (by its `Content-Length`, or found while reading) fails the
   * attempt with an `HttpClientError` (a `DecodeError` naming the limit),
   * unclassified: the breaker counts it as nothing and it is not retried.
   * Refused (a `PolicyConfigError` naming the field) without `classifyBody`.
   */
  readonly classifyBodyLimit?: number | undefined
  /**
   * Caps the open-duration hint a `Retry-After` header gives the breaker (it
   * is untrusted input): 0 or from 1 millisecond to `Limits.maxDuration`.
   * Default 5 minutes. Retries compare the server's own value with
   * `retry.maxRetryAfterWait`.
   */
  readonly maxRetryAfter?: Duration.Input | undefined
  /**
   * Answers for every error that gets out of the other policies, and for a
   * response still classified as a failure (handed over as Effect's
   * `HttpClientError` with a `StatusCodeError` reason).
   */
  readonly fallback?:
    | ((
      error: E | PolicyError | HttpClientError.HttpClientError,
      request: HttpClientRequest.HttpClientRequest
    ) => Effect.Effect<HttpClientResponse.HttpClientResponse, unknown, unknown>)
    | undefined
  /** Report the metrics of the client's policies. Default: as the context says (`Metrics.layer`). */
  readonly metrics?: boolean | undefined
}

type Given<O, K extends string> = K extends keyof O ? [Exclude<O[K], undefined>] extends [never] ? false : true
  : false

/**
 * The errors the policies `O` configure add.
 *
 * @category type-level
 * @since 0.1.0
 */
export type Added<O> =
  | CircuitOpenError
  | (Given<O, "timeout"> | Given<O, "deadline"> extends false ? never : TimeoutError)
  | (Given<O, "bulkhead"> extends true ? BulkheadFullError : never)
  | RateLimitAdded<Present<O, "rateLimit">>
  | (Given<O, "limit"> extends true ? ConcurrencyLimitExceededError : never)

/** What a rate limit adds (distributed over `L`: nothing when no rate limit is given). */
type RateLimitAdded<L> = L extends RateLimit<infer StoreError> ? RateLimitExceededError | StoreError : never

/** The value of option `K` when it is given: never when `O` has no such option (or only `undefined`). */
type Present<O, K extends string> = K extends keyof O ? Exclude<O[K], undefined> : never

/** The fallback `O` may give (its type without `undefined`), or never. */
type FallbackOf<O> = Present<O, "fallback">

/** Whether `O` may leave the fallback out: an optional option, or one that may be `undefined`. */
type MayLackFallback<O> = "fallback" extends keyof O ? undefined extends O["fallback" & keyof O] ? true : false
  : true

/**
 * The error type of a client failing with `E`, guarded with options `O`:
 * what its fallback fails with when it has one; `E` and the policies'
 * errors (`Added`) when it has none; both when it may or may not (an
 * option that may be `undefined`, or options typed as `Options`).
 *
 * @category type-level
 * @since 0.1.0
 */
export type ErrorOf<E, O> = [FallbackOf<O>] extends [never] ? E | Added<O>
  : FallbackOf<O> extends (
    error: never,
    request: never
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, infer FE, infer _> ? // A fallback that may be absent (`cond ? f : undefined`, or options typed as `Options`) leaves
    // the policies' errors possible beside its own.
    MayLackFallback<O> extends true ? FE | E | Added<O> : FE
  : E | Added<O>

/**
 * What a client guarded with options `O` requires beside the wrapped
 * client's requirements: those of its fallback.
 *
 * @category type-level
 * @since 0.1.0
 */
export type RequiresOf<O> = [FallbackOf<O>] extends [never] ? never
  : FallbackOf<O> extends (
    error: never,
    request: never
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, infer _, infer FR> ? FR
  : never

/**
 * Guards `client` with the policies `options` describe. The circuits and
 * timers end with the current `Scope`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpClient, HttpClientResponse } from "effect/http"
 * import { ResilientHttpClient } from "effect-resilience"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* ResilientHttpClient.make(yield* HttpClient.HttpClient, {
 *     retry: { retries: 3, baseDelay: "200 millis" },
 *     timeout: "1 second",
 *     deadline: "5 seconds",
 *     bulkhead: { maxConcurrent: 32 },
 *     fallback: (_error, request) => Effect.succeed(HttpClientResponse.fromWeb(request, Response.json({ stock: 0 })))
 *   })
 *   // Effect<HttpClientResponse, never, never>: the fallback answers for every error
 *   return yield* client.get("https://inventory.internal/stock/42")
 * }).pipe(Effect.scoped)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: {
  <E, R>(
    client: HttpClient.HttpClient.With<E, R>
  ): Effect.Effect<
    HttpClient.HttpClient.With<E | CircuitOpenError, R>,
    PolicyConfigError | CircuitBreakerConfigError,
    Scope.Scope
  >
  <E, R, const O extends Options<E>>(
    client: HttpClient.HttpClient.With<E, R>,
    options: O
  ): Effect.Effect<
    HttpClient.HttpClient.With<ErrorOf<E, O>, R | RequiresOf<O>>,
    PolicyConfigError | CircuitBreakerConfigError,
    Scope.Scope
  >
} = makeClient as never

/**
 * The service of a resilient client made by `ResilientHttpClient.layer`: an
 * `HttpClient` whose error type holds every error the policies may add.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ResilientHttpClient } from "effect-resilience"
 *
 * const stock = Effect.gen(function*() {
 *   const client = yield* ResilientHttpClient.ResilientHttpClient
 *   return yield* client.get("https://inventory.internal/stock/42")
 * })
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class ResilientHttpClient extends Context.Service<
  ResilientHttpClient,
  HttpClient.HttpClient.With<HttpClientError.HttpClientError | PolicyError>
>()("effect-resilience/ResilientHttpClient") {}

/**
 * Provides `ResilientHttpClient`: the `HttpClient` of the context, guarded
 * with `options`. A fallback here needs no services.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import { ResilientHttpClient } from "effect-resilience"
 *
 * const Inventory = ResilientHttpClient.layer({ retry: { retries: 2 }, timeout: "2 seconds" }).pipe(
 *   Layer.provide(FetchHttpClient.layer)
 * )
 * const program = Effect.flatMap(ResilientHttpClient.ResilientHttpClient, (client) =>
 *   client.get("https://inventory.internal/stock/42")
 * ).pipe(Effect.provide(Inventory))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options?: Options & {
    readonly fallback?:
      | ((
        error: HttpClientError.HttpClientError | PolicyError,
        request: HttpClientRequest.HttpClientRequest
      ) => Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError | PolicyError>)
      | undefined
  }
): Layer.Layer<ResilientHttpClient, PolicyConfigError | CircuitBreakerConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    ResilientHttpClient,
    Effect.flatMap(HttpClient.HttpClient, (client) =>
      Effect.map(
        makeClient(client, options as Options<unknown>),
        (guarded) => guarded as unknown as ResilientHttpClient["Service"]
      ))
  )
