/**
 * The sliding windows a circuit breaker measures failure and slow-call rates
 * over.
 *
 * - A **count window** holds the last `size` recorded outcomes ("the last 100
 *   calls").
 * - A **time window** holds the outcomes of the last `duration`, kept in
 *   `buckets` buckets of equal width ("the last 60 seconds, in 10 buckets").
 *
 * Both record an outcome and read their totals in O(1) time, and their memory
 * depends only on `size` / `buckets`, never on call volume. Only outcomes that
 * count (successes and failures) are recorded; ignored calls are not.
 *
 * The constructors here only describe a window: they never throw and never
 * allocate. An invalid size, duration or bucket count — `NaN`, a fraction,
 * zero, or past its bound (`Limits.maxCountWindowSize` outcomes,
 * `Limits.maxTimeWindowBuckets` buckets, `Limits.maxDuration`) — is reported
 * as a `CircuitBreakerConfigError` naming the field when the breaker is
 * made, before anything is allocated.
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import { Schema } from "effect"
import { durationInput, IntBetween } from "./internal/schemas.js"
import { maxCountWindowSize, maxTimeWindowBuckets } from "./Limits.js"

/**
 * A window over the last `size` recorded outcomes.
 *
 * @category models
 * @since 0.1.0
 */
export interface CountWindow {
  readonly _tag: "CountWindow"
  readonly size: number
}

/**
 * A window over the outcomes of the last `duration`, split in `buckets`
 * buckets of equal width. An outcome leaves the window when its bucket does,
 * so the window covers between `duration - duration / buckets` and `duration`
 * of history.
 *
 * @category models
 * @since 0.1.0
 */
export interface TimeWindow {
  readonly _tag: "TimeWindow"
  readonly duration: Duration.Input
  readonly buckets: number
}

/**
 * Any window description accepted by the circuit breaker configuration.
 *
 * @category models
 * @since 0.1.0
 */
export type WindowSpec = CountWindow | TimeWindow

/**
 * The default number of buckets of a time window.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultBuckets = 10

/**
 * Describes a window over the last `size` recorded outcomes: an integer
 * from 1 to `Limits.maxCountWindowSize` (1,000,000; one byte per outcome).
 *
 * @example
 * ```ts
 * import { CircuitBreaker, SlidingWindow } from "effect-resilience"
 *
 * // Trip when half of the last 20 calls failed.
 * const layer = CircuitBreaker.layer({
 *   name: "inventory",
 *   failureRate: 0.5,
 *   window: SlidingWindow.countWindow(20)
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const countWindow = (size: number): CountWindow => ({ _tag: "CountWindow", size })

/**
 * Describes a window over the outcomes of the last `duration` (from 1
 * millisecond to `Limits.maxDuration`), kept in `buckets` buckets (default
 * {@link defaultBuckets}; an integer from 1 to `Limits.maxTimeWindowBuckets`,
 * each bucket at least 1 millisecond wide).
 *
 * @example
 * ```ts
 * import { CircuitBreaker, SlidingWindow } from "effect-resilience"
 *
 * // Trip after 5 failures within the last minute.
 * const layer = CircuitBreaker.layer({
 *   name: "payments",
 *   failureCount: 5,
 *   window: SlidingWindow.timeWindow("1 minute", 12)
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const timeWindow = (duration: Duration.Input, buckets: number = defaultBuckets): TimeWindow => ({
  _tag: "TimeWindow",
  duration,
  buckets
})

/**
 * Schema of a count window: `size` is an integer from 1 to
 * `Limits.maxCountWindowSize`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const CountWindowSchema = Schema.Struct({
  _tag: Schema.tag("CountWindow"),
  size: IntBetween(1, maxCountWindowSize)
})

/**
 * Schema of a time window: a `duration` (any `Duration.Input`, or text such
 * as `"1m"`) from 1 millisecond to `Limits.maxDuration`, and an integer
 * number of `buckets` from 1 to `Limits.maxTimeWindowBuckets`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const TimeWindowSchema = Schema.Struct({
  _tag: Schema.tag("TimeWindow"),
  duration: durationInput({ allowZero: false }),
  buckets: IntBetween(1, maxTimeWindowBuckets)
})

/**
 * Schema of any window description; decodes durations to `Duration`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const WindowSpecSchema = Schema.Union([CountWindowSchema, TimeWindowSchema]).annotate({
  expected: "countWindow(size) or timeWindow(duration, buckets)"
})

/**
 * A decoded window description.
 *
 * @category models
 * @since 0.1.0
 */
export type ResolvedWindow = typeof WindowSpecSchema.Type
