/**
 * Events the policies beside the circuit breaker report: retries scheduled
 * and given up, timeouts, bulkhead rejections, fallbacks used, stale values
 * served, hedged attempts started and won, calls a rate limit turned away,
 * faults injected, adaptive limits moved.
 *
 * Like `CircuitBreakerEvent`s they are `effect/Schema` classes, so they can be
 * counted, logged, or encoded to JSON. Every event names its `policy` and
 * carries `at`, the epoch milliseconds of the policy's `Clock` (so `TestClock`
 * time in tests). A policy builds events only while someone subscribes to its
 * `events` stream.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A failed attempt will be retried after `delay`. `attempt` counts the
 * attempts made so far (1 after the first failure); `error` is the failed
 * attempt's error tag.
 *
 * @category events
 * @since 0.1.0
 */
export class RetryScheduled extends Schema.TaggedClass<RetryScheduled>()("RetryScheduled", {
  policy: Schema.String,
  attempt: Schema.Number,
  delay: Schema.Duration,
  error: Schema.String,
  at: Schema.Number
}) {}

/**
 * Why a retry policy stopped retrying and let the error through.
 *
 * - `ScheduleExhausted`: the schedule allows no more retries.
 * - `BudgetExhausted`: the retry budget is spent.
 * - `NotRetryable`: the error is not one the policy retries (by default
 *   `CircuitOpenError`, `BulkheadFullError` and `ConcurrencyLimitExceededError`,
 *   and whatever `retryOn` rejects).
 * - `CircuitOpenTooLong`: waiting out the open circuit would take longer than
 *   the policy allows, or it was forced open.
 *
 * @category events
 * @since 0.1.0
 */
export const RetryStopReason = Schema.Literals([
  "ScheduleExhausted",
  "BudgetExhausted",
  "NotRetryable",
  "CircuitOpenTooLong"
])

/**
 * @category events
 * @since 0.1.0
 */
export type RetryStopReason = typeof RetryStopReason.Type

/**
 * A retry policy let a failure through after `attempts` attempts.
 *
 * @category events
 * @since 0.1.0
 */
export class RetryGaveUp extends Schema.TaggedClass<RetryGaveUp>()("RetryGaveUp", {
  policy: Schema.String,
  attempts: Schema.Number,
  reason: RetryStopReason,
  error: Schema.String,
  at: Schema.Number
}) {}

/**
 * A call did not finish within `duration` and was interrupted.
 *
 * @category events
 * @since 0.1.0
 */
export class TimedOut extends Schema.TaggedClass<TimedOut>()("TimedOut", {
  policy: Schema.String,
  duration: Schema.Duration,
  at: Schema.Number
}) {}

/**
 * Why a bulkhead turned a call away: its queue was full, or the call waited
 * in the queue longer than `maxQueueWait`.
 *
 * @category events
 * @since 0.1.0
 */
export const BulkheadRejectionReason = Schema.Literals(["QueueFull", "QueueTimeout"])

/**
 * @category events
 * @since 0.1.0
 */
export type BulkheadRejectionReason = typeof BulkheadRejectionReason.Type

/**
 * A bulkhead turned a call away.
 *
 * @category events
 * @since 0.1.0
 */
export class BulkheadRejected extends Schema.TaggedClass<BulkheadRejected>()("BulkheadRejected", {
  policy: Schema.String,
  reason: BulkheadRejectionReason,
  at: Schema.Number
}) {}

/**
 * A fallback answered in place of a call that failed with `error` (its tag).
 *
 * @category events
 * @since 0.1.0
 */
export class FallbackUsed extends Schema.TaggedClass<FallbackUsed>()("FallbackUsed", {
  policy: Schema.String,
  error: Schema.String,
  at: Schema.Number
}) {}

/**
 * A last-known-good cache served a value `age` old in place of a call that
 * failed with `error` (its tag).
 *
 * @category events
 * @since 0.1.0
 */
export class StaleValueServed extends Schema.TaggedClass<StaleValueServed>()("StaleValueServed", {
  policy: Schema.String,
  error: Schema.String,
  age: Schema.Duration,
  at: Schema.Number
}) {}

/**
 * A hedging policy started attempt number `attempt` (2 or more) because the
 * earlier ones had not answered in time, or had failed.
 *
 * @category events
 * @since 0.1.0
 */
export class HedgeStarted extends Schema.TaggedClass<HedgeStarted>()("HedgeStarted", {
  policy: Schema.String,
  attempt: Schema.Number,
  at: Schema.Number
}) {}

/**
 * Attempt number `attempt` of a hedged call succeeded first; the others were
 * interrupted.
 *
 * @category events
 * @since 0.1.0
 */
export class HedgeSucceeded extends Schema.TaggedClass<HedgeSucceeded>()("HedgeSucceeded", {
  policy: Schema.String,
  attempt: Schema.Number,
  at: Schema.Number
}) {}

/**
 * Why a rate limit turned a call away: `Exceeded`, its tokens ran out;
 * `Cooldown`, an adaptive limit is cooling down after the dependency's
 * `429` + `Retry-After`.
 *
 * @category events
 * @since 0.1.0
 */
export const RateLimitReason = Schema.Literals(["Exceeded", "Cooldown"])

/**
 * @category events
 * @since 0.1.0
 */
export type RateLimitReason = typeof RateLimitReason.Type

/**
 * A rate limit turned a call under `key` away; a call would be let through
 * in `retryAfter`.
 *
 * @category events
 * @since 0.1.0
 */
export class RateLimited extends Schema.TaggedClass<RateLimited>()("RateLimited", {
  policy: Schema.String,
  key: Schema.String,
  reason: RateLimitReason,
  retryAfter: Schema.Duration,
  at: Schema.Number
}) {}

/**
 * A fault a `Chaos` policy injects: `fail`, `die`, `latency`, `hang`,
 * `interrupt`.
 *
 * @category events
 * @since 0.1.0
 */
export const FaultKind = Schema.Literals(["fail", "die", "latency", "hang", "interrupt"])

/**
 * @category events
 * @since 0.1.0
 */
export type FaultKind = typeof FaultKind.Type

/**
 * A `Chaos` policy injected `fault` into a call.
 *
 * @category events
 * @since 0.1.0
 */
export class FaultInjected extends Schema.TaggedClass<FaultInjected>()("FaultInjected", {
  policy: Schema.String,
  fault: FaultKind,
  at: Schema.Number
}) {}

/**
 * An adaptive concurrency limit moved from `from` to `to`. Coalesced: at most
 * one event per `eventInterval` of the limiter, `changes` counting the moves
 * it sums up; `inFlight` is the calls running when it was reported.
 *
 * @category events
 * @since 0.1.0
 */
export class LimitChanged extends Schema.TaggedClass<LimitChanged>()("LimitChanged", {
  policy: Schema.String,
  from: Schema.Number,
  to: Schema.Number,
  changes: Schema.Number,
  inFlight: Schema.Number,
  at: Schema.Number
}) {}

/**
 * Any policy event, as a schema (to decode events read back) and a type.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { PolicyEvent } from "effect-resilience"
 *
 * const toJson = Schema.encodeSync(Schema.toCodecJson(PolicyEvent.PolicyEvent))
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export const PolicyEvent = Schema.Union([
  RetryScheduled,
  RetryGaveUp,
  TimedOut,
  BulkheadRejected,
  FallbackUsed,
  StaleValueServed,
  HedgeStarted,
  HedgeSucceeded,
  RateLimited,
  FaultInjected,
  LimitChanged
])

/**
 * @category events
 * @since 0.1.0
 */
export type PolicyEvent =
  | RetryScheduled
  | RetryGaveUp
  | TimedOut
  | BulkheadRejected
  | FallbackUsed
  | StaleValueServed
  | HedgeStarted
  | HedgeSucceeded
  | RateLimited
  | FaultInjected
  | LimitChanged
