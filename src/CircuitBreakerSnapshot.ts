/**
 * A point-in-time view of a circuit: its state and the measurements its trip
 * rules are evaluated on.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { State } from "./CircuitState.js"

/**
 * A snapshot of a circuit.
 *
 * - `calls`, `failures`, `slowCalls`: recorded outcomes in the sliding window
 *   (only the Closed and Disabled states record into the window);
 * - `failureRate`, `slowCallRate`: `failures / calls` and `slowCalls / calls`,
 *   `0` while the window is empty;
 * - `consecutiveFailures`: the current failure streak;
 * - `consecutiveOpenings`: openings since the circuit last closed (the step of
 *   an `openDuration` schedule);
 * - `retryAfter`: time until a probe is admitted: the rest of the open period
 *   when `Open`, infinite when `ForcedOpen`, zero otherwise;
 * - `probesInFlight`, `probeSuccesses`: the current half-open period's probes.
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
  probeSuccesses: Schema.Number
}) {}
