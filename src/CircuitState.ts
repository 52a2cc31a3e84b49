/**
 * The states a circuit can be in.
 *
 * - `Closed`: calls run and their outcomes are recorded.
 * - `Open`: calls are rejected at once with `CircuitOpenError`; nothing runs.
 * - `HalfOpen`: a limited number of probe calls run; the rest are rejected.
 * - `ForcedOpen`: rejected by an operator (`forceOpen`) until `reset`.
 * - `Disabled`: every call runs and is recorded, but the circuit never trips.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Schema of a circuit state.
 *
 * @category schemas
 * @since 0.1.0
 */
export const State = Schema.Literals(["Closed", "Open", "HalfOpen", "ForcedOpen", "Disabled"])

/**
 * A circuit state.
 *
 * @example
 * ```ts
 * import type { CircuitState } from "effect-resilience"
 *
 * const canRun = (state: CircuitState.State) => state === "Closed" || state === "Disabled"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type State = typeof State.Type

/**
 * Schema of the states in which a call can be rejected.
 *
 * @category schemas
 * @since 0.1.0
 */
export const RejectingState = Schema.Literals(["Open", "HalfOpen", "ForcedOpen"])

/**
 * A state in which a call can be rejected.
 *
 * @category models
 * @since 0.1.0
 */
export type RejectingState = typeof RejectingState.Type
