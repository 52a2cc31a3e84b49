/**
 * The transitions nobody's calls cause: an operator's control calls
 * (force-open, disable, reset, a timed opening, half-open now) and a state
 * a store decided (`adopt`). Each is one synchronous step on the circuit,
 * atomic as the call path's are, and returns what the breaker hands its
 * store (`CircuitLink.control`).
 *
 * A timed opening is an ordinary `Open` period that ends when the operator
 * said, then half-opens as usual. It is not a consecutive opening: it steps
 * no backoff, since nothing failed.
 *
 * @internal
 */
import type { TransitionReason } from "../CircuitBreakerEvent.js"
import type { State } from "../CircuitState.js"
import type { ControlTarget } from "../CircuitStore.js"
import { maxConsecutiveCount } from "../Limits.js"
import type { Circuit } from "./circuit.js"
import type { OpenPhase } from "./phase.js"

/** @internal */
export const forceOpen = (circuit: Circuit, now: number): ControlTarget => {
  const phase = circuit.advance(now)
  if (phase._tag === "ForcedOpen") return "ForcedOpen"
  circuit.clearCounts()
  circuit.opening = { at: now, reason: "ForceOpen", failure: undefined }
  circuit.set(phase, { _tag: "ForcedOpen", gen: circuit.nextGen() }, "ForceOpen", now)
  return "ForcedOpen"
}

/** @internal */
export const disable = (circuit: Circuit, now: number): ControlTarget => {
  const phase = circuit.advance(now)
  if (phase._tag === "Disabled") return "Disabled"
  circuit.clearCounts()
  circuit.set(phase, circuit.disabledPhase(), "Disable", now)
  return "Disabled"
}

/** @internal */
export const reset = (circuit: Circuit, now: number): ControlTarget => {
  const phase = circuit.advance(now)
  circuit.clearCounts()
  circuit.consecutiveOpenings = 0
  circuit.lastFailure = undefined
  circuit.durations.reset()
  circuit.set(phase, circuit.closedPhase(), "Reset", now)
  return "Reset"
}

/**
 * Opens the circuit until `until` (epoch millis, after `now`), whatever its
 * state: calls are rejected with the time left, and the circuit half-opens
 * then. An open circuit's opening is replaced by this one, shorter or longer.
 *
 * @internal
 */
export const openUntil = (circuit: Circuit, until: number, now: number): ControlTarget => {
  const phase = circuit.advance(now)
  circuit.clearCounts()
  circuit.opening = { at: now, reason: "ManualOpen", failure: undefined }
  const next: OpenPhase = { _tag: "Open", gen: circuit.nextGen(), openedAt: now, until }
  circuit.pendingDeadline = until
  circuit.set(phase, next, "ManualOpen", now)
  return { _tag: "OpenUntil", until }
}

/**
 * Starts a half-open period now, whatever the state: `halfOpenPermits`
 * probes are let through and decide as usual. A circuit already half-open
 * keeps its period and its probes.
 *
 * @internal
 */
export const halfOpen = (circuit: Circuit, now: number): ControlTarget => {
  const phase = circuit.advance(now)
  if (phase._tag === "HalfOpen") return "HalfOpen"
  circuit.clearCounts()
  // An opening that led here (open, forced open) stays the reason shown; a closed circuit's is the operator.
  circuit.opening ??= { at: now, reason: "ManualHalfOpen", failure: undefined }
  circuit.set(phase, circuit.halfOpenPhase(), "ManualHalfOpen", now)
  return "HalfOpen"
}

/**
 * Moves the circuit to a state its store decided: `until` is when an Open
 * circuit's opening ends, and `openings` the store's count of consecutive
 * openings. Nothing happens when the circuit is already there, so applying
 * the same news twice reports one transition.
 *
 * @internal
 */
export const adopt = (
  circuit: Circuit,
  state: State,
  until: number,
  openings: number,
  reason: TransitionReason,
  now: number
): void => {
  const phase = circuit.advance(now)
  // News of an opening that has ended by now (an answer to an operation sent before its end) finds
  // this circuit half-open already, as the store's will be at its next operation: nothing to undo.
  if (state === "Open" && until <= now && phase._tag === "HalfOpen") return
  // The store may count further (Redis saturates at 2^53 - 1); the circuit stops where its own count does.
  circuit.consecutiveOpenings = Math.min(openings, maxConsecutiveCount)
  if (phase._tag === state && (state !== "Open" || Math.abs((phase as OpenPhase).until - until) <= 1)) return
  circuit.clearCounts()
  switch (state) {
    case "Closed":
      circuit.durations.reset()
      return circuit.set(phase, circuit.closedPhase(), reason, now)
    case "Disabled":
      return circuit.set(phase, circuit.disabledPhase(), reason, now)
    case "ForcedOpen":
      circuit.opening = { at: now, reason, failure: undefined }
      return circuit.set(phase, { _tag: "ForcedOpen", gen: circuit.nextGen() }, reason, now)
    case "HalfOpen":
      return circuit.set(phase, circuit.halfOpenPhase(), reason, now)
    case "Open": {
      // The store's opening: this circuit does not know the failure that caused it.
      circuit.opening = { at: now, reason, failure: undefined }
      const next: OpenPhase = { _tag: "Open", gen: circuit.nextGen(), openedAt: now, until }
      circuit.pendingDeadline = next.until
      return circuit.set(phase, next, reason, now)
    }
  }
}
