/**
 * What a circuit breaker reports as it works: state transitions, the outcome
 * of every call it admitted, and every call it rejected.
 *
 * Events are `effect/Schema` classes, so they can be logged, encoded and sent
 * elsewhere as they are. Read them from a breaker's `events` stream (or
 * `subscribe`). Timestamps (`at`) are epoch milliseconds from the `Clock`
 * the breaker ran with, so `TestClock` time shows up in tests.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { RejectingState, State } from "./CircuitState.js"

/**
 * Why a circuit changed state.
 *
 * - `ConsecutiveFailures`, `FailureCount`, `FailureRate`, `SlowCallRate`: the
 *   trip rule that opened a closed circuit;
 * - `OpenDurationElapsed`: the open period ended (Open -> HalfOpen);
 * - `ProbeFailed`, `ProbesSucceeded`: a half-open decision;
 * - `ProbeFailureRate`: a half-open period decided by the failure rate over
 *   its probes (`halfOpenFailureRate`) reopened the circuit;
 * - `HalfOpenMaxWait`: a half-open period did not decide in time and reopened;
 * - `ForceOpen`, `Disable`, `Reset`: an operator's control call;
 * - `ManualOpen`, `ManualHalfOpen`: an operator's timed opening (`openFor`,
 *   `openUntil`) or half-opening (`halfOpen`);
 * - `Restore`: the state of an exported document was restored (`restore`);
 * - `StoreSync`: a shared store (`RedisCircuitStore`) showed that the fleet's
 *   circuit is in another state, and this instance caught up with it;
 * - `StoreUnavailable`: the shared store became unreachable and the store
 *   was configured to reject calls then (`onUnavailable: "reject"`).
 *
 * A transition another instance caused through a shared store carries that
 * instance's reason.
 *
 * @category schemas
 * @since 0.1.0
 */
export const TransitionReason = Schema.Literals([
  "ConsecutiveFailures",
  "FailureCount",
  "FailureRate",
  "SlowCallRate",
  "OpenDurationElapsed",
  "ProbeFailed",
  "ProbesSucceeded",
  "ProbeFailureRate",
  "HalfOpenMaxWait",
  "ForceOpen",
  "Disable",
  "Reset",
  "ManualOpen",
  "ManualHalfOpen",
  "Restore",
  "StoreSync",
  "StoreUnavailable"
])

/**
 * Why a circuit changed state.
 *
 * @category models
 * @since 0.1.0
 */
export type TransitionReason = typeof TransitionReason.Type

/**
 * The circuit moved from one state to another.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { CircuitBreaker } from "effect-resilience"
 *
 * const logTransitions = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.CircuitBreaker
 *   yield* breaker.events.pipe(
 *     Stream.filter((event) => event._tag === "StateChanged"),
 *     Stream.runForEach((event) => Effect.log(`${event.from} -> ${event.to} (${event.reason})`))
 *   )
 * })
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export class StateChanged extends Schema.TaggedClass<StateChanged>()("StateChanged", {
  breaker: Schema.String,
  from: State,
  to: State,
  reason: TransitionReason,
  at: Schema.Number
}) {}

/**
 * An admitted call finished.
 *
 * - `outcome`: how the call was classified;
 * - `slow`: whether it took `slowCallDuration` or longer;
 * - `counted`: whether the outcome changed the circuit. It is `false` for an
 *   ignored call and for a stale one: a call admitted before a transition that
 *   finished after it.
 * - `state`: the state the call was admitted in.
 *
 * @example
 * ```ts
 * import { CircuitBreakerEvent } from "effect-resilience"
 *
 * const isCountedFailure = (event: CircuitBreakerEvent.CircuitBreakerEvent) =>
 *   event._tag === "CallRecorded" && event.outcome === "failure" && event.counted
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export class CallRecorded extends Schema.TaggedClass<CallRecorded>()("CallRecorded", {
  breaker: Schema.String,
  state: State,
  outcome: Schema.Literals(["success", "failure", "ignored"]),
  slow: Schema.Boolean,
  durationMillis: Schema.Number,
  counted: Schema.Boolean,
  at: Schema.Number
}) {}

/**
 * A call was rejected without running.
 *
 * @example
 * ```ts
 * import { CircuitBreakerEvent } from "effect-resilience"
 *
 * const rejectedWhileOpen = (event: CircuitBreakerEvent.CircuitBreakerEvent) =>
 *   event._tag === "CallRejected" && event.state === "Open"
 * ```
 *
 * @category events
 * @since 0.1.0
 */
export class CallRejected extends Schema.TaggedClass<CallRejected>()("CallRejected", {
  breaker: Schema.String,
  state: RejectingState,
  retryAfter: Schema.Duration,
  at: Schema.Number
}) {}

/**
 * Schema of any circuit breaker event.
 *
 * @category schemas
 * @since 0.1.0
 */
export const CircuitBreakerEvent = Schema.Union([StateChanged, CallRecorded, CallRejected])

/**
 * Any circuit breaker event.
 *
 * @category models
 * @since 0.1.0
 */
export type CircuitBreakerEvent = StateChanged | CallRecorded | CallRejected
