/**
 * What a store sees of a breaker's circuit (`CircuitStore.LocalCircuit`):
 * the synchronous state machine behind a narrow face, so that a store reads
 * and moves the circuit only through the contract, and every move it makes
 * is reported (logged, timed) as the breaker's own transitions are.
 *
 * @internal
 */
import type { Clock, Effect } from "effect"
import type { ResolvedConfig } from "../CircuitBreakerConfig.js"
import type { TransitionReason } from "../CircuitBreakerEvent.js"
import type { State } from "../CircuitState.js"
import type { LocalCircuit } from "../CircuitStore.js"
import type { Circuit } from "./circuit.js"
import { adopt } from "./circuitControl.js"

/**
 * The face of `circuit`; `read` runs a synchronous step on it at the
 * clock's current time and does what the step leaves to do (the breaker's
 * own `read`).
 *
 * @internal
 */
export const localCircuitOf = (
  circuit: Circuit,
  config: ResolvedConfig,
  clock: Clock.Clock,
  read: (step: (now: number) => void) => Effect.Effect<void>
): LocalCircuit => ({
  name: config.name,
  config,
  clock,
  read: (now) => {
    const phase = circuit.advance(now)
    const consecutiveOpenings = circuit.consecutiveOpenings
    return phase._tag === "Open"
      ? { state: "Open", until: phase.until, openedAt: phase.openedAt, consecutiveOpenings }
      : { state: phase._tag, until: 0, openedAt: 0, consecutiveOpenings }
  },
  adopt: (state: State, until: number, openings: number, reason: TransitionReason) =>
    read((now) => adopt(circuit, state, until, openings, reason, now)),
  tripsOnOwnWindow: (trips) => {
    circuit.tripsOnOwnWindow = trips
  },
  reject: (now) => {
    const phase = circuit.advance(now)
    return phase._tag === "Open" || phase._tag === "HalfOpen" || phase._tag === "ForcedOpen"
      ? circuit.reject(phase, now)
      // The store rejected, but its newer state reached this circuit first: reject as at the end of an opening.
      : circuit.reject({ _tag: "Open", gen: -1, openedAt: now, until: now }, now)
  },
  probeFailed: (outcome, slow) => circuit.probeFailed(outcome, slow),
  openMillisFor: (openings, now) => circuit.openMillisFor(openings, now),
  observe: (observer) => circuit.addObserver(observer)
})
