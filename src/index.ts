/**
 * effect-resilience: a resilience toolkit for Effect 4.
 *
 * Its centre is a circuit breaker that is a scoped `Layer` service built on
 * `Ref` and `Clock`. Every module is exported as a namespace, Effect style,
 * and the most used names are also exported directly:
 *
 * ```ts
 * import { CircuitBreaker, CircuitOpenError, withCircuitBreaker } from "effect-resilience"
 * ```
 *
 * @since 0.1.0
 */

/**
 * The circuit breaker service, its constructors, layers and combinators.
 *
 * @since 0.1.0
 */
export * as CircuitBreaker from "./CircuitBreaker.js"

/**
 * Circuit breaker configuration: schema, defaults and validation errors.
 *
 * @since 0.1.0
 */
export * as CircuitBreakerConfig from "./CircuitBreakerConfig.js"

/**
 * Events a circuit breaker reports: transitions, call outcomes, rejections.
 *
 * @since 0.1.0
 */
export * as CircuitBreakerEvent from "./CircuitBreakerEvent.js"

/**
 * A point-in-time view of a circuit.
 *
 * @since 0.1.0
 */
export * as CircuitBreakerSnapshot from "./CircuitBreakerSnapshot.js"

/**
 * A breaker's state as a Schema-encoded document, to export and restore.
 *
 * @since 0.1.0
 */
export * as CircuitDocument from "./CircuitDocument.js"

/**
 * The states a circuit can be in.
 *
 * @since 0.1.0
 */
export * as CircuitState from "./CircuitState.js"

/**
 * Where circuit breakers keep their circuits: in memory (the default) or a
 * shared store.
 *
 * @since 0.1.0
 */
export * as CircuitStore from "./CircuitStore.js"

/**
 * How finished calls are classified as success, failure or ignored.
 *
 * @since 0.1.0
 */
export * as Classifier from "./Classifier.js"

/**
 * Count and time sliding windows.
 *
 * @since 0.1.0
 */
export * as SlidingWindow from "./SlidingWindow.js"

/**
 * One broken rule of a configuration.
 *
 * @since 0.1.0
 */
export * as ConfigIssue from "./ConfigIssue.js"

/**
 * Retries: exponential backoff with jitter, retry budgets, open-circuit rules.
 *
 * @since 0.1.0
 */
export * as Retry from "./Retry.js"

/**
 * Retry budgets: retries capped at a share of the calls to one dependency.
 *
 * @since 0.1.0
 */
export * as RetryBudget from "./RetryBudget.js"

/**
 * Timeouts that interrupt the work and fail with `TimeoutError`.
 *
 * @since 0.1.0
 */
export * as Timeout from "./Timeout.js"

/**
 * Bulkheads: concurrency limits with a fair queue, as services.
 *
 * @since 0.1.0
 */
export * as Bulkhead from "./Bulkhead.js"

/**
 * Rate limits over Effect's own `RateLimiter` (memory or Redis stores),
 * with a typed `RateLimitExceededError` and an adaptive mode.
 *
 * @since 0.1.0
 */
export * as RateLimit from "./RateLimit.js"

/**
 * Fault injection: typed failures, defects, latency, hangs and
 * interruptions at chosen rates, off unless switched on.
 *
 * @since 0.1.0
 */
export * as Chaos from "./Chaos.js"

/**
 * Adaptive concurrency limits: a limit that moves with the dependency's latency and
 * drops (AIMD, Gradient2, Vegas).
 *
 * @since 0.1.0
 */
export * as AdaptiveLimit from "./AdaptiveLimit.js"

/**
 * Fallbacks on chosen errors, and the last-known-good cache.
 *
 * @since 0.1.0
 */
export * as Fallback from "./Fallback.js"

/**
 * Last-known-good caches: the last successful value, served while the dependency fails.
 *
 * @since 0.1.0
 */
export * as LastKnownGood from "./LastKnownGood.js"

/**
 * Hedged calls: a second attempt when the first is slow.
 *
 * @since 0.1.0
 */
export * as Hedge from "./Hedge.js"

/**
 * Policies and how to nest them.
 *
 * @since 0.1.0
 */
export * as Policy from "./Policy.js"

/**
 * Circuit breakers made on demand, one per key.
 *
 * @since 0.1.0
 */
export * as CircuitBreakerRegistry from "./CircuitBreakerRegistry.js"

/**
 * Health reports of circuits, and HTTP routes for health and metrics.
 *
 * @since 0.1.0
 */
export * as Health from "./Health.js"

/**
 * HTTP answers for the library's errors: RFC 9457 problem documents, 503 +
 * Retry-After for open circuits.
 *
 * @since 0.1.0
 */
export * as HttpProblem from "./HttpProblem.js"

/**
 * Load shedding for incoming requests: a bulkhead in front of routes.
 *
 * @since 0.1.0
 */
export * as HttpLoadShedding from "./HttpLoadShedding.js"

/**
 * Admin routes: list the circuits, force-open, disable and reset them, and
 * stream their events.
 *
 * @since 0.1.0
 */
export * as HttpAdmin from "./HttpAdmin.js"

/**
 * The documents the admin routes answer and the events their stream sends.
 *
 * @since 0.1.0
 */
export * as HttpAdminEvent from "./HttpAdminEvent.js"

/**
 * A live dashboard of circuits, served on your router: the page, its assets
 * and its event stream.
 *
 * @since 0.1.0
 */
export * as Dashboard from "./Dashboard.js"

/**
 * The events the dashboard's stream sends.
 *
 * @since 0.1.0
 */
export * as DashboardEvent from "./DashboardEvent.js"

/**
 * The metrics breakers and policies report.
 *
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.js"

/**
 * The documented range of every option.
 *
 * @since 0.1.0
 */
export * as Limits from "./Limits.js"

/**
 * Events reported by the policies.
 *
 * @since 0.1.0
 */
export * as PolicyEvent from "./PolicyEvent.js"

/**
 * The error of a policy made with bad options.
 *
 * @since 0.1.0
 */
export { PolicyConfigError } from "./PolicyConfigError.js"

/**
 * The error of a call that ran longer than its timeout.
 *
 * @since 0.1.0
 */
export { isTimeoutError, TimeoutError } from "./TimeoutError.js"

/**
 * The error of a call a bulkhead turned away.
 *
 * @since 0.1.0
 */
export { BulkheadFullError, isBulkheadFullError } from "./BulkheadFullError.js"

/**
 * The error of a call a rate limit turned away.
 *
 * @since 0.1.0
 */
export { isRateLimitExceededError, RateLimitExceededError } from "./RateLimitExceededError.js"

/**
 * Guards an effect with a bulkhead.
 *
 * @since 0.1.0
 */
export { withBulkhead } from "./Bulkhead.js"

/**
 * The error of a call an adaptive concurrency limit turned away.
 *
 * @since 0.1.0
 */
export { ConcurrencyLimitExceededError, isConcurrencyLimitExceededError } from "./ConcurrencyLimitExceededError.js"

/**
 * The error of a call rejected by an open circuit.
 *
 * @since 0.1.0
 */
export { CircuitOpenError, isCircuitOpenError } from "./CircuitOpenError.js"

/**
 * An operator's call the breaker refused (`openFor`, `openUntil`, `restore`), naming each broken field.
 *
 * @since 0.1.0
 */
export { CircuitControlError, ControlOperation } from "./CircuitControlError.js"

/**
 * The configuration error of a circuit breaker.
 *
 * @since 0.1.0
 */
export { CircuitBreakerConfigError } from "./CircuitBreakerConfig.js"

/**
 * Guards an effect with a circuit breaker.
 *
 * @since 0.1.0
 */
export { withCircuitBreaker } from "./CircuitBreaker.js"

/**
 * How HTTP answers are classified: failure statuses, retryable requests, `Retry-After`.
 *
 * @since 0.1.0
 */
export * as HttpClassifier from "./HttpClassifier.js"

/**
 * Any Effect `HttpClient`, guarded per request by circuits per origin, retries, timeouts,
 * a bulkhead, hedging and a fallback.
 *
 * @since 0.1.0
 */
export * as ResilientHttpClient from "./ResilientHttpClient.js"

/**
 * Circuits shared by every instance of a service, through Redis.
 *
 * @since 0.1.0
 */
export * as RedisCircuitStore from "./RedisCircuitStore.js"
