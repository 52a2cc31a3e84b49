/**
 * A point-in-time view of a circuit: its state and the measurements its trip
 * rules are evaluated on.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { TransitionReason } from "./CircuitBreakerEvent.js"
import { State } from "./CircuitState.js"

/**
 * A failed call, as a report shows it: when it ended, the error's tag (or
 * class name) when it has one, and its message, cut to
 * `maxFailureMessageLength` characters so that a report stays small whatever
 * the dependency answered.
 *
 * @example
 * ```ts
 * import { CircuitBreakerSnapshot } from "effect-resilience"
 *
 * const failure = new CircuitBreakerSnapshot.FailureSummary({
 *   at: 1_700_000_000_000,
 *   tag: "InventoryError",
 *   message: "503 Service Unavailable"
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class FailureSummary extends Schema.Class<FailureSummary>("CircuitBreakerFailureSummary")({
  /** When the call ended, epoch milliseconds of the breaker's clock. */
  at: Schema.Number,
  /** The error's `_tag`, or the name of its class; `null` for a value that has neither. */
  tag: Schema.NullOr(Schema.String),
  /** The error's message, or the value as text. */
  message: Schema.String
}) {}

/**
 * The longest failure message a snapshot keeps (characters).
 *
 * @category models
 * @since 0.1.0
 */
export const maxFailureMessageLength = 500

/**
 * The fleet's view of a circuit shared through a store (see
 * `RedisCircuitStore`), as this instance last read it: the shared state, the
 * totals of the fleet's merged window, its failure streak and count of
 * openings, and when it was read (`readAt`, epoch milliseconds of the
 * breaker's clock; reads come with every flush and resync, so a circuit in
 * use is at most `resyncInterval` old).
 *
 * @example
 * ```ts
 * import { CircuitBreakerSnapshot } from "effect-resilience"
 *
 * const fleet = new CircuitBreakerSnapshot.FleetSnapshot({
 *   state: "Closed",
 *   calls: 120,
 *   failures: 6,
 *   slowCalls: 0,
 *   failureRate: 0.05,
 *   slowCallRate: 0,
 *   consecutiveFailures: 1,
 *   consecutiveOpenings: 0,
 *   readAt: 1_700_000_000_000
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class FleetSnapshot extends Schema.Class<FleetSnapshot>("CircuitBreakerFleetSnapshot")({
  state: State,
  calls: Schema.Number,
  failures: Schema.Number,
  slowCalls: Schema.Number,
  failureRate: Schema.Number,
  slowCallRate: Schema.Number,
  consecutiveFailures: Schema.Number,
  consecutiveOpenings: Schema.Number,
  readAt: Schema.Number
}) {}

/**
 * A snapshot of a circuit.
 *
 * - `calls`, `failures`, `slowCalls`: recorded outcomes in the sliding window
 *   (only the Closed and Disabled states record into the window);
 * - `failureRate`, `slowCallRate`: `failures / calls` and `slowCalls / calls`,
 *   `0` while the window is empty;
 * - `consecutiveFailures`: the current failure streak;
 * - `consecutiveOpenings`: openings since the circuit last closed (the step of
 *   an `openDuration` schedule); both counts stop at
 *   `Limits.maxConsecutiveCount` (the fleet's, in `fleet`, may go further);
 * - `retryAfter`: time until a probe is admitted: the rest of the open period
 *   when `Open`, infinite when `ForcedOpen`, zero otherwise;
 * - `probesInFlight`, `probeSuccesses`: the current half-open period's probes;
 * - `at`: when the snapshot was taken (epoch milliseconds of the breaker's clock);
 * - `openedAt`, `openReason`: when and why the circuit last opened (or was
 *   forced open), while it is `Open`, `HalfOpen` or `ForcedOpen`; `null` otherwise;
 * - `openedBy`: the failure that opened it, when a failure did (`null` for a
 *   slow-call trip, a half-open wait that ran out, or an operator);
 * - `lastFailure`: the last failure the circuit recorded, in any state;
 * - `fleet`: for a circuit shared through a store, the fleet's view of it
 *   (see `FleetSnapshot`): the measurements above are this instance's own;
 *   `null` for a circuit kept in memory, or before the store read it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "effect-resilience"
 *
 * const report = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.CircuitBreaker
 *   const snapshot = yield* breaker.snapshot
 *   yield* Effect.log(`${snapshot.breaker}: ${snapshot.state}, failure rate ${snapshot.failureRate}`)
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class Snapshot extends Schema.Class<Snapshot>("CircuitBreakerSnapshot")({
  breaker: Schema.String,
  state: State,
  calls: Schema.Number,
  failures: Schema.Number,
  slowCalls: Schema.Number,
  failureRate: Schema.Number,
  slowCallRate: Schema.Number,
  consecutiveFailures: Schema.Number,
  consecutiveOpenings: Schema.Number,
  retryAfter: Schema.Duration,
  probesInFlight: Schema.Number,
  probeSuccesses: Schema.Number,
  at: Schema.Number,
  openedAt: Schema.NullOr(Schema.Number),
  openReason: Schema.NullOr(TransitionReason),
  openedBy: Schema.NullOr(FailureSummary),
  lastFailure: Schema.NullOr(FailureSummary),
  fleet: Schema.NullOr(FleetSnapshot)
}) {}
