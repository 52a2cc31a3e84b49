/**
 * The metrics effect-resilience reports, as Effect `Metric`s.
 *
 * Metrics are switched on for every breaker and policy made in a context
 * with `Metrics.layer` (or `Metrics.enable`), or one at a time with the
 * `metrics` option, which also switches them off where the context has them
 * on. They are off by default: a breaker's dozen series weigh about 10 KB,
 * three times the breaker itself. Breakers made by a `CircuitBreakerRegistry`
 * report metrics only when the registry's configuration says `metrics: true`
 * (the context's switch does not reach them: thousands of keys would make
 * tens of thousands of series). Only one live breaker reports under a name:
 * a second one of the same name reports nothing, with a warning.
 *
 * A breaker or policy with metrics registers its series in the
 * `Metric.MetricRegistry` of the context it is made in (the process-wide
 * registry unless you provide one), so `effect/observability`'s
 * `PrometheusMetrics` and OTLP exporters export them with no extra code.
 * The calls themselves only bump plain counters; the series read them when
 * they are scraped. Labels are bounded: the breaker's or policy's name, and
 * an outcome, state or reason from a fixed list — never a per-call value.
 * (A registry's breakers are named after their keys: `maxBreakers` bounds how
 * many such names are live at once.) Policies of one name share their
 * counters; a bulkhead's (or an adaptive limit's) gauges are those of the
 * last one made under its name, so give bulkheads and limits names of their
 * own.
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `resilience_circuit_breaker_state` | gauge | `breaker` (0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled) |
 * | `resilience_circuit_breaker_calls_total` | counter | `breaker`, `outcome` (success, failure, ignored, rejected) |
 * | `resilience_circuit_breaker_slow_calls_total` | counter | `breaker`, `outcome` (success, failure) |
 * | `resilience_circuit_breaker_call_duration_seconds` | histogram | `breaker` (breakers that time their calls) |
 * | `resilience_circuit_breaker_transitions_total` | counter | `breaker`, `from`, `to` |
 * | `resilience_circuit_breaker_open_seconds_total` | counter | `breaker` |
 * | `resilience_circuit_breaker_failure_rate` | gauge | `breaker` |
 * | `resilience_circuit_breaker_slow_call_rate` | gauge | `breaker` |
 * | `resilience_retries_total` | counter | `policy` |
 * | `resilience_retry_gave_up_total` | counter | `policy`, `reason` |
 * | `resilience_timeouts_total` | counter | `policy` |
 * | `resilience_bulkhead_rejections_total` | counter | `policy`, `reason` |
 * | `resilience_bulkhead_running` | gauge | `policy` |
 * | `resilience_bulkhead_queued` | gauge | `policy` |
 * | `resilience_fallbacks_total` | counter | `policy` |
 * | `resilience_stale_values_served_total` | counter | `policy` |
 * | `resilience_hedges_total` | counter | `policy` |
 * | `resilience_hedge_wins_total` | counter | `policy`, `attempt` (first, hedge) |
 * | `resilience_concurrency_limit` | gauge | `policy` (an adaptive limit's current limit) |
 * | `resilience_concurrency_limit_in_flight` | gauge | `policy` |
 * | `resilience_concurrency_limit_calls_total` | counter | `policy`, `outcome` (success, dropped, ignored, rejected) |
 * | `resilience_rate_limited_total` | counter | `policy`, `reason` (Exceeded, Cooldown) |
 * | `resilience_rate_limit_store_errors_total` | counter | `policy` |
 * | `resilience_faults_injected_total` | counter | `policy`, `fault` (fail, die, latency, hang, interrupt) |
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Metric } from "effect"
import type { State } from "./CircuitState.js"

/**
 * Whether breakers and policies made in a context report metrics when their
 * own `metrics` option does not say. Default `false`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker, Metrics } from "effect-resilience"
 *
 * const program = CircuitBreaker.make({ name: "payments" }).pipe(
 *   Effect.provideService(Metrics.Enabled, true),
 *   Effect.scoped
 * )
 * ```
 *
 * @category switches
 * @since 0.1.0
 */
export const Enabled: Context.Reference<boolean> = Context.Reference<boolean>("effect-resilience/Metrics/Enabled", {
  defaultValue: () => false
})

/**
 * Switches metrics on for every breaker and policy the layers it is provided
 * to make (unless their own `metrics` option says otherwise).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { CircuitBreaker, Metrics } from "effect-resilience"
 *
 * const Breakers = CircuitBreaker.layer({ name: "payments" }).pipe(Layer.provide(Metrics.layer))
 * ```
 *
 * @category switches
 * @since 0.1.0
 */
export const layer: Layer.Layer<never> = Layer.succeedContext(Context.make(Enabled, true))

/**
 * Switches metrics on for every breaker and policy `self` makes (unless
 * their own `metrics` option says otherwise).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Metrics, Retry } from "effect-resilience"
 *
 * const retry = Retry.make({ name: "orders" }).pipe(Metrics.enable)
 * ```
 *
 * @category switches
 * @since 0.1.0
 */
export const enable = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provideService(self, Enabled, true)

/**
 * The value of the state gauge for each circuit state.
 *
 * @example
 * ```ts
 * import { Metrics } from "effect-resilience"
 *
 * Metrics.stateValue.Open // => 1
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const stateValue: { readonly [S in State]: number } = {
  Closed: 0,
  Open: 1,
  HalfOpen: 2,
  ForcedOpen: 3,
  Disabled: 4
}

/**
 * The boundaries (in seconds) of the call duration histogram: Prometheus's
 * default buckets, from 5 ms to 10 s.
 *
 * @category constants
 * @since 0.1.0
 */
export const durationBoundaries: ReadonlyArray<number> = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** A counter of events (it only goes up). */
const counter = (name: string, description: string) => Metric.counter(name, { description, incremental: true })

/**
 * The metrics of circuit breakers, without labels: read one breaker's series
 * with `Metric.withAttributes(metric, { breaker, ... })` and `Metric.value`.
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { Metrics } from "effect-resilience"
 *
 * const failures = Metric.value(
 *   Metric.withAttributes(Metrics.circuitBreaker.calls, { breaker: "payments", outcome: "failure" })
 * )
 * const program = Effect.map(failures, (state) => state.count)
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const circuitBreaker = {
  state: Metric.gauge("resilience_circuit_breaker_state", {
    description: "Circuit state: 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled"
  }),
  calls: counter(
    "resilience_circuit_breaker_calls_total",
    "Calls through the breaker by outcome: success, failure, ignored, rejected"
  ),
  slowCalls: counter(
    "resilience_circuit_breaker_slow_calls_total",
    "Calls that took slowCallDuration or longer, or timed out, by outcome"
  ),
  callDuration: Metric.histogram("resilience_circuit_breaker_call_duration_seconds", {
    description: "Duration of the calls the breaker admitted, in seconds",
    boundaries: durationBoundaries
  }),
  transitions: counter("resilience_circuit_breaker_transitions_total", "State transitions, by from and to"),
  openSeconds: counter("resilience_circuit_breaker_open_seconds_total", "Time spent open (forced or not), in seconds"),
  failureRate: Metric.gauge("resilience_circuit_breaker_failure_rate", {
    description: "Failures / calls in the breaker's window (0 to 1)"
  }),
  slowCallRate: Metric.gauge("resilience_circuit_breaker_slow_call_rate", {
    description: "Slow calls / calls in the breaker's window (0 to 1)"
  })
} as const

/**
 * The metrics of the policies, without labels (label each with
 * `{ policy: name, ... }`).
 *
 * @example
 * ```ts
 * import { Metric } from "effect"
 * import { Metrics } from "effect-resilience"
 *
 * const timeouts = Metric.value(Metric.withAttributes(Metrics.policies.timeouts, { policy: "search" }))
 * ```
 *
 * @category metrics
 * @since 0.1.0
 */
export const policies = {
  retries: counter("resilience_retries_total", "Retries started"),
  retryGaveUp: counter("resilience_retry_gave_up_total", "Failures a retry policy let through, by reason"),
  timeouts: counter("resilience_timeouts_total", "Calls interrupted by a timeout"),
  bulkheadRejections: counter(
    "resilience_bulkhead_rejections_total",
    "Calls a bulkhead turned away, by reason: QueueFull, QueueTimeout"
  ),
  bulkheadRunning: Metric.gauge("resilience_bulkhead_running", {
    description: "Calls running in the bulkhead"
  }),
  bulkheadQueued: Metric.gauge("resilience_bulkhead_queued", {
    description: "Calls waiting in the bulkhead's queue"
  }),
  fallbacks: counter("resilience_fallbacks_total", "Calls answered by a fallback"),
  staleValuesServed: counter(
    "resilience_stale_values_served_total",
    "Calls answered with a value from a last-known-good cache"
  ),
  hedges: counter("resilience_hedges_total", "Hedged attempts started (beyond the first)"),
  hedgeWins: counter("resilience_hedge_wins_total", "Hedged calls by the attempt that answered: first or hedge"),
  rateLimited: counter(
    "resilience_rate_limited_total",
    "Calls a rate limit turned away, by reason: Exceeded, Cooldown"
  ),
  faultsInjected: counter("resilience_faults_injected_total", "Faults a Chaos policy injected, by fault"),
  rateLimitStoreErrors: counter(
    "resilience_rate_limit_store_errors_total",
    "Calls whose rate-limit store failed (let through, or failed with onStoreError: fail)"
  ),
  concurrencyLimit: Metric.gauge("resilience_concurrency_limit", {
    description: "An adaptive concurrency limit's current limit"
  }),
  concurrencyLimitInFlight: Metric.gauge("resilience_concurrency_limit_in_flight", {
    description: "Calls running under an adaptive concurrency limit"
  }),
  concurrencyLimitCalls: counter(
    "resilience_concurrency_limit_calls_total",
    "Calls through an adaptive concurrency limit, by outcome: success, dropped, ignored, rejected"
  )
} as const
