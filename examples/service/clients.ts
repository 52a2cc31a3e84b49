/**
 * The service's calls to its upstreams, each through the toolkit: one
 * circuit breaker per upstream, and the policies that fit each call.
 *
 * - inventory (checkout): retries within a budget, a timeout per attempt and
 *   a deadline for the whole call; `Retry-After` honoured;
 * - catalog (product): a short timeout, one retry, and a last-known-good
 *   cache of products outside the breaker;
 * - search: hedged requests behind a bulkhead.
 *
 * `pace` scales the times of the story (windows, open durations) with the
 * fault script's, so a test can run the whole cycle in a few seconds; the
 * timeouts stay, since the upstreams answer in real milliseconds.
 */
import type { Scope } from "effect"
import { Effect, Schedule, Schema } from "effect"
import type {
  BulkheadFullError,
  CircuitBreakerConfigError,
  CircuitOpenError,
  PolicyConfigError,
  RetryBudget,
  TimeoutError
} from "effect-resilience"
import { Bulkhead, CircuitBreaker, LastKnownGood, ResilientHttpClient, Retry, SlidingWindow } from "effect-resilience"
import type { HttpClientError } from "effect/http"
import { HttpClient, HttpClientRequest, HttpClientResponse } from "effect/http"
import type { Upstreams } from "./upstreams.js"

/** A product, as the catalog answers it. */
export const Product = Schema.Struct({ id: Schema.String, name: Schema.String, priceCents: Schema.Number })

/** A product, as the catalog answers it. */
export type Product = typeof Product.Type

/** A reservation, as the inventory answers it. */
export const Reservation = Schema.Struct({ reservation: Schema.String })

/** Search hits, as the search upstream answers them. */
export const Hits = Schema.Struct({ q: Schema.String, hits: Schema.Array(Schema.String) })

/** What went wrong with an upstream's answer: its status, or a body that is not what it should be. */
export class UpstreamFailed extends Schema.TaggedError<UpstreamFailed>()("UpstreamFailed", {
  upstream: Schema.String,
  detail: Schema.String
}) {}

/** The errors of a guarded call, beside the library's own. */
type CallError = UpstreamFailed | CircuitOpenError | TimeoutError

/** The service's calls, and the breakers and policies behind them (what the health, admin and dashboard routes show). */
export interface Clients {
  readonly reserve: (sku: string, orderId: string) => Effect.Effect<typeof Reservation.Type, CallError>
  readonly product: (
    id: string
  ) => Effect.Effect<LastKnownGood.Served<Product, CallError>, CallError>
  readonly search: (
    q: string
  ) => Effect.Effect<typeof Hits.Type, CallError | BulkheadFullError>
  /** One breaker per upstream, named after it. */
  readonly breakers: ReadonlyArray<CircuitBreaker.CircuitBreaker>
  /** The policies with state of their own: the inventory's retry budget, the search bulkhead, the product cache. */
  readonly policies: {
    readonly inventoryBudget: RetryBudget.RetryBudget
    readonly searchBulkhead: Bulkhead.Bulkhead
    readonly productCache: LastKnownGood.LastKnownGood<Product, unknown>
  }
}

/** Milliseconds of the story, scaled by `pace`. */
const storyTime = (millis: number, pace: number) => Math.max(1, Math.round(millis * pace))

/** A response's JSON body decoded with `schema`; any other answer is an `UpstreamFailed`. */
const decodeOk = <S extends Schema.Codec<unknown, unknown>>(upstream: string, schema: S) =>
(
  response: HttpClientResponse.HttpClientResponse
): Effect.Effect<S["Type"], UpstreamFailed> =>
  HttpClientResponse.filterStatusOk(response).pipe(
    Effect.flatMap(HttpClientResponse.schemaBodyJson(schema)),
    Effect.mapError((error) => new UpstreamFailed({ upstream, detail: error.message }))
  )

/** A transport error (refused, reset) as an `UpstreamFailed`. */
const transportFailed = (upstream: string) => (error: HttpClientError.HttpClientError) =>
  Effect.fail(new UpstreamFailed({ upstream, detail: error.message }))

/**
 * Makes the clients of one service instance, calling `upstreams` through
 * the context's `HttpClient`. The breakers use the context's circuit store:
 * memory by default, Redis under `RedisCircuitStore.layer`.
 */
export const makeClients = (
  upstreams: Upstreams,
  pace: number
): Effect.Effect<Clients, PolicyConfigError | CircuitBreakerConfigError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const common = { logTransitions: false, metrics: { callDurations: true } } as const

    const inventoryBreaker = yield* CircuitBreaker.make({
      ...common,
      name: "inventory",
      failureRate: 0.5,
      minimumCalls: 6,
      window: SlidingWindow.timeWindow(storyTime(2_000, pace), 4),
      openDuration: Schedule.exponential(storyTime(1_000, pace)),
      maxOpenDuration: storyTime(4_000, pace),
      halfOpenPermits: 2
    })
    const catalogBreaker = yield* CircuitBreaker.make({
      ...common,
      name: "catalog",
      consecutiveFailures: 5,
      openDuration: Schedule.exponential(storyTime(1_000, pace)),
      maxOpenDuration: storyTime(2_000, pace)
    })
    const searchBreaker = yield* CircuitBreaker.make({
      ...common,
      name: "search",
      failureRate: 0.5,
      minimumCalls: 10,
      window: SlidingWindow.countWindow(20),
      openDuration: storyTime(2_000, pace)
    })

    const inventoryBudget = yield* Retry.makeBudget({ name: "inventory", ratio: 0.2, minRetriesPerSecond: 3 })
    const inventory = yield* ResilientHttpClient.make(http, {
      name: "inventory",
      breaker: inventoryBreaker,
      retry: { retries: 2, baseDelay: "40 millis", budget: inventoryBudget, maxRetryAfterWait: "1 second" },
      timeout: "500 millis",
      deadline: "2 seconds"
    })

    const catalog = yield* ResilientHttpClient.make(http, {
      name: "catalog",
      breaker: catalogBreaker,
      retry: { retries: 1, baseDelay: "20 millis" },
      timeout: "300 millis"
    })
    const productCache = yield* LastKnownGood.make<Product>()({
      name: "products",
      ttl: "10 minutes",
      on: ["CircuitOpenError", "TimeoutError", "UpstreamFailed"]
    })

    const searchBulkhead = yield* Bulkhead.make({
      name: "search",
      maxConcurrent: 12,
      maxQueued: 12,
      maxQueueWait: "100 millis"
    })
    const search = yield* ResilientHttpClient.make(http, {
      name: "search",
      breaker: searchBreaker,
      hedge: { name: "search", attempts: 2, delay: "80 millis" },
      bulkhead: searchBulkhead,
      timeout: "600 millis"
    })

    return {
      reserve: (sku, orderId) =>
        HttpClientRequest.post(`${upstreams.inventory.url}/reservations`).pipe(
          // The key lets the client retry a POST: the inventory deduplicates reservations by it.
          HttpClientRequest.setHeader("idempotency-key", `reserve-${orderId}`),
          HttpClientRequest.bodyJsonUnsafe({ sku, orderId }),
          inventory.execute,
          Effect.flatMap(decodeOk("inventory", Reservation)),
          Effect.catchTag("HttpClientError", transportFailed("inventory"))
        ),
      product: (id) =>
        catalog.get(`${upstreams.catalog.url}/products/${encodeURIComponent(id)}`).pipe(
          Effect.flatMap(decodeOk("catalog", Product)),
          Effect.catchTag("HttpClientError", transportFailed("catalog")),
          productCache.serve(id)
        ),
      search: (q) =>
        search.get(`${upstreams.search.url}/search`, { urlParams: { q } }).pipe(
          Effect.flatMap(decodeOk("search", Hits)),
          Effect.catchTag("HttpClientError", transportFailed("search"))
        ),
      breakers: [inventoryBreaker, catalogBreaker, searchBreaker],
      policies: { inventoryBudget, searchBulkhead, productCache }
    } satisfies Clients
  })
