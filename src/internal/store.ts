/**
 * The contract between a circuit breaker and the store that keeps its
 * circuit: the in-memory store (the default) keeps nothing outside the
 * breaker; a shared store (Redis) attaches to each breaker as it is made and
 * may take over admissions that need the fleet's agreement.
 *
 * @internal
 */
import type { Effect, Scope } from "effect"
import type { CircuitStore } from "../CircuitStore.js"
import type { Outcome } from "../Classifier.js"
import type { CircuitBreakerImpl } from "./breaker.js"
import type { Admission, Rejection } from "./phase.js"

/**
 * A call the shared store admitted: `token` is a half-open probe's fencing
 * token, 0 for a call outside half-open.
 *
 * @internal
 */
export interface RemoteGrant {
  readonly token: number
  readonly gen: string
  readonly state: Admission["state"]
}

/**
 * A breaker's link to its shared circuit.
 *
 * @internal
 */
export interface RemoteCircuit {
  /** Every call is admitted by the store (strict mode, store reachable). */
  readonly routesCalls: boolean
  /** Half-open probes are granted by the store (store reachable). */
  readonly grantsProbes: boolean
  /**
   * Asks the store to admit a call; `"local"` when the store could not be
   * reached, so the breaker's own circuit decides.
   */
  admit(now: number): Effect.Effect<RemoteGrant | Rejection | "local">
  /** Reports the outcome of a call the store admitted. */
  done(grant: RemoteGrant, outcome: Outcome, slow: boolean, now: number): Effect.Effect<void>
  /** Sends an operator's control call to the fleet. */
  control(target: "ForcedOpen" | "Disabled" | "Reset", now: number): Effect.Effect<void>
}

/**
 * What a store implements besides its public face.
 *
 * @internal
 */
export interface StoreImpl extends CircuitStore {
  /** Links a new breaker to the store for as long as `scope` is open. */
  attach(breaker: CircuitBreakerImpl, scope: Scope.Scope): Effect.Effect<void>
}
