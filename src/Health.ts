/**
 * Health of the circuits: every breaker's state as a JSON document, and HTTP
 * routes that serve it (`/health/circuits`) and the metrics (`/metrics`).
 *
 * The report lists each circuit — its state, the failure and slow-call rates
 * of its window, the time until it lets a probe in — and sums them up: the
 * service is `"degraded"` while any circuit is open, half-open or forced
 * open, `"healthy"` otherwise. The route answers 200 when healthy and a
 * status of your choice (503 by default) when degraded, so a load balancer
 * or an alert can act on it.
 *
 * ```ts
 * import { Layer } from "effect"
 * import { HttpRouter } from "effect/http"
 * import { CircuitBreaker, Health } from "effect-resilience"
 * import type { PolicyConfigError } from "effect-resilience"
 *
 * class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
 * class Inventory extends CircuitBreaker.Service<Inventory>()("inventory") {}
 *
 * const Routes = Layer.mergeAll(
 *   Health.layerHttp({ sources: [Payments, Inventory] }), // GET /health/circuits
 *   Health.layerMetricsHttp() // GET /metrics, Prometheus text
 * )
 * // Serve with HttpRouter.serve(Routes) and a server layer, Payments.layer(...) and Inventory.layer(...)
 * // Bad options (a degradedStatus that is no HTTP status) fail the layer with PolicyConfigError.
 * export const _routes: Layer.Layer<never, PolicyConfigError, HttpRouter.HttpRouter | Payments | Inventory> = Routes
 * ```
 *
 * @since 0.1.0
 */
import type { Layer } from "effect"
import { Context, Duration, Effect, Result, Schema } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import type { CircuitBreaker } from "./CircuitBreaker.js"
import type { CircuitBreakerRegistry } from "./CircuitBreakerRegistry.js"
import { Snapshot } from "./CircuitBreakerSnapshot.js"
import type { State } from "./CircuitState.js"
import type { ConfigIssue } from "./ConfigIssue.js"
import { isCircuitBreaker } from "./internal/breaker.js"
import { decodeOptions } from "./internal/options.js"
import { IntBetween } from "./internal/schemas.js"
import { isServiceKey } from "./internal/service.js"
import { PolicyConfigError } from "./PolicyConfigError.js"

const snapshotFields = Snapshot.fields

/**
 * One circuit in a health report. `retryAfterMillis` is the time until a
 * probe is admitted (0 unless open; `null` when forced open: only an
 * operator's reset will).
 *
 * @category models
 * @since 0.1.0
 */
export class CircuitHealth extends Schema.Class<CircuitHealth>("CircuitHealth")({
  breaker: snapshotFields.breaker,
  state: snapshotFields.state,
  calls: snapshotFields.calls,
  failures: snapshotFields.failures,
  slowCalls: snapshotFields.slowCalls,
  failureRate: snapshotFields.failureRate,
  slowCallRate: snapshotFields.slowCallRate,
  consecutiveFailures: snapshotFields.consecutiveFailures,
  // A duration as a number of milliseconds, the form a monitor reads best.
  retryAfterMillis: Schema.NullOr(Schema.Number)
}) {}

/**
 * Whether every circuit lets calls through.
 *
 * @category models
 * @since 0.1.0
 */
export const Status = Schema.Literals(["healthy", "degraded"])

/**
 * @category models
 * @since 0.1.0
 */
export type Status = typeof Status.Type

/**
 * The health of a set of circuits.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Health } from "effect-resilience"
 *
 * // The JSON document the route serves decodes back with the same schema.
 * const read = Schema.decodeUnknownSync(Health.HealthReport)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class HealthReport extends Schema.Class<HealthReport>("HealthReport")({
  status: Status,
  circuits: Schema.Array(CircuitHealth)
}) {}

/**
 * Where circuits come from: a breaker or a registry, as an instance or as a
 * service key (resolved from the context).
 *
 * @category models
 * @since 0.1.0
 */
export type Source =
  | CircuitBreaker
  | CircuitBreakerRegistry<unknown>
  | Context.Key<unknown, CircuitBreaker>
  | Context.Key<unknown, CircuitBreakerRegistry<unknown>>

/**
 * The services a list of sources needs: those of its service keys.
 *
 * @category models
 * @since 0.1.0
 */
export type Services<S> = S extends Context.Key<infer I, unknown> ? I : never

const degradedStates: ReadonlySet<State> = new Set(["Open", "HalfOpen", "ForcedOpen"])

const circuitHealth = (snapshot: Snapshot): CircuitHealth => {
  const retryAfter = Duration.toMillis(snapshot.retryAfter)
  return new CircuitHealth({
    breaker: snapshot.breaker,
    state: snapshot.state,
    calls: snapshot.calls,
    failures: snapshot.failures,
    slowCalls: snapshot.slowCalls,
    failureRate: snapshot.failureRate,
    slowCallRate: snapshot.slowCallRate,
    consecutiveFailures: snapshot.consecutiveFailures,
    retryAfterMillis: Number.isFinite(retryAfter) ? retryAfter : null
  })
}

const snapshotsOf = (
  source: CircuitBreaker | CircuitBreakerRegistry<unknown>
): Effect.Effect<ReadonlyArray<Snapshot>> =>
  isCircuitBreaker(source)
    ? Effect.map(source.snapshot, (snapshot) => [snapshot])
    : (source as CircuitBreakerRegistry<unknown>).snapshots

type Resolved = CircuitBreaker | CircuitBreakerRegistry<unknown>

const resolve = (source: Source, context: Context.Context<never>): Resolved =>
  isServiceKey(source) ? Context.getUnsafe(context, source as Context.Key<unknown, Resolved>) : source as Resolved

/**
 * The health of the circuits of `sources`, now.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker, Health } from "effect-resilience"
 *
 * class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
 *
 * const logHealth = Effect.gen(function*() {
 *   const report = yield* Health.report([Payments])
 *   yield* Effect.log(`circuits: ${report.status}`)
 * })
 * ```
 *
 * @category reports
 * @since 0.1.0
 */
export const report = <const Sources extends ReadonlyArray<Source>>(
  sources: Sources
): Effect.Effect<HealthReport, never, Services<Sources[number]>> =>
  Effect.withFiber((fiber) => reportOf(sources.map((source) => resolve(source, fiber.context))))

const reportOf = (sources: ReadonlyArray<Resolved>): Effect.Effect<HealthReport> =>
  Effect.map(Effect.forEach(sources, snapshotsOf), (lists) => {
    const circuits = lists.flat().map(circuitHealth)
    const degraded = circuits.some((circuit) => degradedStates.has(circuit.state))
    return new HealthReport({ status: degraded ? "degraded" : "healthy", circuits })
  })

/**
 * The JSON form of a report, as the route serves it.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 *
 * const json = Health.toJson(new Health.HealthReport({ status: "healthy", circuits: [] }))
 * // { status: "healthy", circuits: [] }
 * ```
 *
 * @category reports
 * @since 0.1.0
 */
export const toJson: (report: HealthReport) => unknown = Schema.encodeSync(Schema.toCodecJson(HealthReport))

/**
 * The options of `layerHttp`.
 *
 * @category models
 * @since 0.1.0
 */
export interface HttpOptions<Sources extends ReadonlyArray<Source>> {
  /** The breakers and registries to report. */
  readonly sources: Sources
  /** Default `"/health/circuits"`. */
  readonly path?: HttpRouter.PathInput | undefined
  /**
   * The status answered while any circuit is open, half-open or forced
   * open: an integer from 200 to 599. Default 503.
   */
  readonly degradedStatus?: number | undefined
}

const HttpOptionsSchema = Schema.Struct({
  sources: Schema.Array(Schema.Unknown),
  path: Schema.optional(Schema.String.check(
    Schema.makeFilter((path: string) => path === "*" || path.startsWith("/"), {
      expected: `a path starting with "/", or "*"`
    })
  )),
  degradedStatus: Schema.optional(IntBetween(200, 599))
})

/**
 * A route serving the health report as JSON: 200 when every circuit lets
 * calls through, `degradedStatus` (503) otherwise. Service keys among the
 * sources are resolved when the layer is built. Bad options (a
 * `degradedStatus` that is no HTTP status, say) fail the layer with a
 * `PolicyConfigError` (kind `"Health"`) naming each field.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Health } from "effect-resilience"
 *
 * class Search extends CircuitBreaker.Service<Search>()("search") {}
 *
 * const HealthRoute = Health.layerHttp({ sources: [Search], path: "/health/circuits", degradedStatus: 503 })
 * ```
 *
 * @category http
 * @since 0.1.0
 */
export const layerHttp = <const Sources extends ReadonlyArray<Source>>(
  options: HttpOptions<Sources>
): Layer.Layer<never, PolicyConfigError, HttpRouter.HttpRouter | Services<Sources[number]>> =>
  HttpRouter.use((router) =>
    Effect.withFiber((fiber) => {
      const decoded = decodeOptions(HttpOptionsSchema, options, "health route option")
      if (Result.isFailure(decoded)) {
        return Effect.fail(
          new PolicyConfigError({
            kind: "Health",
            policy: "health",
            issues: decoded.failure as [ConfigIssue, ...Array<ConfigIssue>]
          })
        )
      }
      const sources = options.sources.map((source) => resolve(source, fiber.context))
      const degradedStatus = options.degradedStatus ?? 503
      const handler = Effect.map(reportOf(sources), (report) =>
        HttpServerResponse.jsonUnsafe(toJson(report), {
          status: report.status === "healthy" ? 200 : degradedStatus,
          headers: { "cache-control": "no-store" }
        }))
      return router.add("GET", options.path ?? "/health/circuits", handler)
    })
  ) as Layer.Layer<never, PolicyConfigError, HttpRouter.HttpRouter | Services<Sources[number]>>

/**
 * A route serving every metric in Prometheus text — among them those of the
 * breakers and policies that report metrics (switched on with
 * `Metrics.layer` or `metrics: true`; see the `Metrics` module). It is
 * `effect/observability`'s `PrometheusMetrics.layerHttp`, at `/metrics` by
 * default.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 *
 * const MetricsRoute = Health.layerMetricsHttp({ path: "/metrics" })
 * ```
 *
 * @category http
 * @since 0.1.0
 */
export const layerMetricsHttp = (
  options?: PrometheusMetrics.HttpOptions
): Layer.Layer<never, never, HttpRouter.HttpRouter> => PrometheusMetrics.layerHttp(options)
