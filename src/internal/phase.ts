/**
 * The phases a circuit moves through, and the admissions and rejections
 * they hand out: the data of the state machine in `internal/circuit.ts`,
 * which the Effect layer, the stores and the observers read.
 *
 * @internal
 */
import type { Exit } from "effect"
import type { CircuitOpenError } from "../CircuitOpenError.js"
import type { RecordedFailure } from "./failures.js"

/**
 * The right to run one call, and to record its outcome against the phase it
 * was admitted in. There are two per phase (probe or not), allocated with the
 * phase, so admitting a call allocates nothing.
 *
 * @internal
 */
export interface Admission {
  readonly gen: number
  readonly probe: boolean
  readonly state: "Closed" | "HalfOpen" | "Disabled"
}

/**
 * A rejected call: a failed `Exit`, which is also the effect the call returns.
 *
 * @internal
 */
export type Rejection = Exit.Exit<never, CircuitOpenError>

/** @internal */
export interface ClosedPhase {
  readonly _tag: "Closed"
  readonly gen: number
  readonly admission: Admission
}

/** @internal */
export interface DisabledPhase {
  readonly _tag: "Disabled"
  readonly gen: number
  readonly admission: Admission
}

/** @internal */
export interface OpenPhase {
  readonly _tag: "Open"
  readonly gen: number
  readonly openedAt: number
  readonly until: number
}

/** @internal */
export interface HalfOpenPhase {
  readonly _tag: "HalfOpen"
  readonly gen: number
  readonly admission: Admission
  permitsLeft: number
  inFlight: number
  successes: number
  /** Probes that failed in this period (only `halfOpenFailureRate` lets a period go on after one). */
  failures: number
  /** The failure of the period's last failed probe: the reason shown should the period reopen. */
  probeFailure: RecordedFailure | undefined
  /** The longest open-duration hint of the period's failed probes, in milliseconds. */
  openHint: number | undefined
  /**
   * When the wait for undecided probes started: the admission of a probe
   * made while no other was running; `undefined` while none is.
   * `halfOpenMaxWait` counts from here: a period that no caller has reached
   * is no evidence of failure.
   */
  waitingSince: number | undefined
}

/** @internal */
export interface ForcedOpenPhase {
  readonly _tag: "ForcedOpen"
  readonly gen: number
}

/** @internal */
export type Phase = ClosedPhase | DisabledPhase | OpenPhase | HalfOpenPhase | ForcedOpenPhase
