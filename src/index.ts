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
 * The states a circuit can be in.
 *
 * @since 0.1.0
 */
export * as CircuitState from "./CircuitState.js"

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
 * The error of a call rejected by an open circuit.
 *
 * @since 0.1.0
 */
export { CircuitOpenError, isCircuitOpenError } from "./CircuitOpenError.js"

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
