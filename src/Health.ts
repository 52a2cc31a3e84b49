/**
 * Health of the circuits: every breaker's state as a JSON document, and HTTP
 * routes that serve it (`/health/circuits`) and the metrics (`/metrics`).
 *
 * The report lists each circuit — its state, the failure and slow-call rates
 * of its window, when and why it opened, the failure that opened it, when a
 * probe is next let in — and sums them up: `"healthy"` while every circuit
 * lets calls through, `"degraded"` while any is open, half-open or forced
 * open. A dependency that is down does not make this service unhealthy: the
 * breaker is doing its job, and a readiness probe that failed on it would
 * take every instance out of rotation at once. So the route answers 200 in
 * both cases, with the states in the body. It answers `degradedStatus` (503)
 * only when you ask — for the circuits of the sources you mark with
 * `critical`, or for every circuit with `failWhenDegraded` — and the report
 * then says `"unhealthy"`.
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
import type { Context, Layer } from "effect"
import { Duration, Effect, Predicate, Result, Schema } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import type { CircuitBreaker } from "./CircuitBreaker.js"
import type { CircuitBreakerRegistry } from "./CircuitBreakerRegistry.js"
import { FailureSummary, FleetSnapshot, Snapshot } from "./CircuitBreakerSnapshot.js"
import type { State } from "./CircuitState.js"
import { ConfigIssue } from "./ConfigIssue.js"
import type { CircuitSource } from "./internal/circuitSources.js"
import { resolveSource, snapshotsOf } from "./internal/circuitSources.js"
import { decodeOptions, unreadable } from "./internal/options.js"
import { IntBetween } from "./internal/schemas.js"
import { PolicyConfigError } from "./PolicyConfigError.js"

const snapshotFields = Snapshot.fields

/**
 * One circuit in a health report.
 *
 * - `retryAfterMillis`: the time until a probe is admitted (0 unless open;
 *   `null` when forced open: only an operator's reset will);
 * - `nextProbeAt`: when a probe is next admitted, epoch milliseconds: the end
 *   of the open period when `Open`, now when `HalfOpen` (probes are let in as
 *   permits allow), `null` otherwise;
 * - `openedAt`, `openReason`, `openedBy`: when and why the circuit opened,
 *   and the failure that opened it (while it is open, half-open or forced
 *   open; `null` otherwise);
 * - `lastFailure`: the last failure the circuit recorded, in any state;
 * - `fleet`: for a circuit shared through a store, the fleet's view of it
 *   (`null` otherwise): the other measurements are this instance's;
 * - `critical`: whether this circuit fails the report when it is not
 *   letting calls through (see `critical` and `failWhenDegraded`).
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
  consecutiveOpenings: snapshotFields.consecutiveOpenings,
  probesInFlight: snapshotFields.probesInFlight,
  // Durations and instants as numbers of milliseconds, the form a monitor reads best.
  retryAfterMillis: Schema.NullOr(Schema.Number),
  nextProbeAt: Schema.NullOr(Schema.Number),
  openedAt: snapshotFields.openedAt,
  openReason: snapshotFields.openReason,
  openedBy: Schema.NullOr(FailureSummary),
  lastFailure: Schema.NullOr(FailureSummary),
  fleet: Schema.NullOr(FleetSnapshot),
  critical: Schema.Boolean
}) {}

/**
 * The sum of a report: `"healthy"` while every circuit lets calls through,
 * `"degraded"` while any does not, `"unhealthy"` while a critical one does
 * not (then the route answers `degradedStatus`).
 *
 * @category models
 * @since 0.1.0
 */
export const Status = Schema.Literals(["healthy", "degraded", "unhealthy"])

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
 * A breaker or a registry, as an instance or as a service key (resolved from
 * the context).
 *
 * @category models
 * @since 0.1.0
 */
export type Circuits =
  | CircuitBreaker
  | CircuitBreakerRegistry<unknown>
  | Context.Key<unknown, CircuitBreaker>
  | Context.Key<unknown, CircuitBreakerRegistry<unknown>>

const CriticalTypeId = "~effect-resilience/Health/Critical"

/**
 * Circuits whose being down fails the report (see `critical`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Critical<C extends Circuits = Circuits> {
  readonly [CriticalTypeId]: typeof CriticalTypeId
  readonly circuits: C
}

/**
 * Where circuits come from: a breaker or a registry (an instance or a
 * service key), or such a source marked `critical`.
 *
 * @category models
 * @since 0.1.0
 */
export type Source = Circuits | Critical

/**
 * The services a list of sources needs: those of its service keys.
 *
 * @category models
 * @since 0.1.0
 */
export type Services<S> = S extends Critical<infer C> ? Services<C>
  : S extends Context.Key<infer I, unknown> ? I
  : never

/**
 * Marks a source whose circuits fail the report while they do not let calls
 * through: the route answers `degradedStatus` (503) and the report says
 * `"unhealthy"`. Use it for a dependency without which this instance is of
 * no use, so that a readiness probe takes it out of rotation — knowing that
 * every instance sharing the dependency goes out with it.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Health } from "effect-resilience"
 *
 * class Database extends CircuitBreaker.Service<Database>()("database") {}
 * class Recommendations extends CircuitBreaker.Service<Recommendations>()("recommendations") {}
 *
 * // 503 while the database's circuit is open; recommendations being down only shows in the body.
 * const HealthRoute = Health.layerHttp({ sources: [Health.critical(Database), Recommendations] })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const critical = <C extends Circuits>(circuits: C): Critical<C> => ({
  [CriticalTypeId]: CriticalTypeId,
  circuits
})

const isCritical = (source: unknown): source is Critical => Predicate.hasProperty(source, CriticalTypeId)

/**
 * The options of `report`.
 *
 * @category models
 * @since 0.1.0
 */
export interface ReportOptions {
  /**
   * Every circuit fails the report while it does not let calls through, as
   * if every source were `critical`. Default `false`.
   */
  readonly failWhenDegraded?: boolean | undefined
}

const degradedStates: ReadonlySet<State> = new Set(["Open", "HalfOpen", "ForcedOpen"])

const circuitHealth = (snapshot: Snapshot, critical: boolean): CircuitHealth => {
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
    consecutiveOpenings: snapshot.consecutiveOpenings,
    probesInFlight: snapshot.probesInFlight,
    retryAfterMillis: Number.isFinite(retryAfter) ? retryAfter : null,
    nextProbeAt: snapshot.state === "Open"
      ? snapshot.at + retryAfter
      : snapshot.state === "HalfOpen"
      ? snapshot.at
      : null,
    openedAt: snapshot.openedAt,
    openReason: snapshot.openReason,
    openedBy: snapshot.openedBy,
    lastFailure: snapshot.lastFailure,
    fleet: snapshot.fleet,
    critical
  })
}

interface Resolved {
  readonly circuits: CircuitSource
  readonly critical: boolean
}

const sourceRule = "must be a circuit breaker, a circuit breaker registry, the service key of one, " +
  "or Health.critical(...) of one"

/**
 * The circuits of `source`, a service key resolved from `context` — or the
 * rule it breaks: a source is checked by its type id, breaker or registry,
 * and a service key by what it resolves to.
 */
const resolve = (
  source: unknown,
  context: Context.Context<never>,
  failWhenDegraded: boolean
): Resolved | { readonly rule: string } => {
  try {
    const critical = isCritical(source)
    const resolved = resolveSource(critical ? source.circuits : source, context, sourceRule)
    return "rule" in resolved ? resolved : { circuits: resolved.source, critical: failWhenDegraded || critical }
  } catch (thrown) {
    // A Proxy whose traps throw.
    return { rule: unreadable(thrown) }
  }
}

/**
 * The health of the circuits of `sources`, now. The types admit only
 * breakers, registries, their service keys and `critical` of those; any
 * other source (from an untyped caller) is a defect naming it
 * (`sources.0 must be a circuit breaker, ...`).
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
  sources: Sources,
  options?: ReportOptions
): Effect.Effect<HealthReport, never, Services<Sources[number]>> =>
  Effect.withFiber((fiber) => {
    const resolved: Array<Resolved> = []
    for (let i = 0; i < sources.length; i++) {
      const source = resolve(sources[i], fiber.context, options?.failWhenDegraded === true)
      // The types admit no other source: an untyped caller's mistake is a defect that says what it is.
      if ("rule" in source) return Effect.die(new TypeError(`Health.report: sources.${i} ${source.rule}`))
      resolved.push(source)
    }
    return reportOf(resolved)
  })

const reportOf = (sources: ReadonlyArray<Resolved>): Effect.Effect<HealthReport> =>
  Effect.map(
    Effect.forEach(sources, (source) =>
      Effect.map(snapshotsOf(source.circuits), (snapshots) =>
        snapshots.map((snapshot) =>
          circuitHealth(snapshot, source.critical)
        ))),
    (lists) => {
      const circuits = lists.flat()
      let status: Status = "healthy"
      for (const circuit of circuits) {
        if (!degradedStates.has(circuit.state)) continue
        if (circuit.critical) {
          status = "unhealthy"
          break
        }
        status = "degraded"
      }
      return new HealthReport({ status, circuits })
    }
  )

/**
 * The JSON form of a report, as the route serves it.
 *
 * @example
 * ```ts
 * import { Health } from "effect-resilience"
 *
 * Health.toJson(new Health.HealthReport({ status: "healthy", circuits: [] })) // => { status: "healthy", circuits: [] }
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
export interface HttpOptions<Sources extends ReadonlyArray<Source>> extends ReportOptions {
  /** The breakers and registries to report; mark with `critical` those whose being down fails the check. */
  readonly sources: Sources
  /** Default `"/health/circuits"`. */
  readonly path?: HttpRouter.PathInput | undefined
  /**
   * The status answered while the report is `"unhealthy"`: a critical circuit
   * (or, with `failWhenDegraded`, any circuit) is open, half-open or forced
   * open. An integer from 200 to 599; default 503.
   */
  readonly degradedStatus?: number | undefined
}

const HttpOptionsSchema = Schema.Struct({
  sources: Schema.Array(Schema.Unknown), // each checked by `resolve`
  path: Schema.optional(Schema.String.check(
    Schema.makeFilter((path: string) => path === "*" || path.startsWith("/"), {
      expected: `a path starting with "/", or "*"`
    })
  )),
  degradedStatus: Schema.optional(IntBetween(200, 599)),
  failWhenDegraded: Schema.optional(Schema.Boolean)
})

/**
 * A route serving the health report as JSON. It answers 200 whatever the
 * circuits' states (they are in the body), unless the report is
 * `"unhealthy"`: then `degradedStatus` (503). Every source is checked when
 * the layer is built — a breaker or a registry (by their type ids), a
 * service key of one (resolved from the context then, and what it resolves
 * to checked), or `critical` of one. Bad options (a `degradedStatus` that is
 * no HTTP status, a source that is none of those) fail the layer with a
 * `PolicyConfigError` (kind `"Health"`) naming each field (`sources.1`).
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Health } from "effect-resilience"
 *
 * class Search extends CircuitBreaker.Service<Search>()("search") {}
 * class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
 *
 * // 200 with the states in the body; 503 while the payments circuit is not letting calls through.
 * const HealthRoute = Health.layerHttp({ sources: [Search, Health.critical(Payments)], path: "/health/circuits" })
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
      // Every source is resolved and checked now, with the other options: a bad one fails the layer.
      const sources: Array<Resolved> = []
      const decoded = decodeOptions(
        HttpOptionsSchema,
        options,
        "health route option",
        "(options)",
        (valid, invalid) => {
          if (invalid.has("sources") || valid.sources === undefined) return []
          const failWhenDegraded = !invalid.has("failWhenDegraded") && valid.failWhenDegraded === true
          const issues: Array<ConfigIssue> = []
          valid.sources.forEach((source, i) => {
            const resolved = resolve(source, fiber.context, failWhenDegraded)
            if ("rule" in resolved) issues.push(new ConfigIssue({ field: `sources.${i}`, rule: resolved.rule }))
            else sources.push(resolved)
          })
          return issues
        }
      )
      if (Result.isFailure(decoded)) {
        return Effect.fail(
          new PolicyConfigError({
            kind: "Health",
            policy: "health",
            issues: decoded.failure as [ConfigIssue, ...Array<ConfigIssue>]
          })
        )
      }
      const degradedStatus = decoded.success.degradedStatus ?? 503
      const handler = Effect.map(reportOf(sources), (report) =>
        HttpServerResponse.jsonUnsafe(toJson(report), {
          status: report.status === "unhealthy" ? degradedStatus : 200,
          headers: { "cache-control": "no-store" }
        }))
      return router.add("GET", (decoded.success.path ?? "/health/circuits") as HttpRouter.PathInput, handler)
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
