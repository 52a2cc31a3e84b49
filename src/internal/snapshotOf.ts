/**
 * A circuit's `Snapshot`, from what the state machine reports of it and the
 * store's view of the fleet.
 *
 * @internal
 */
import { Duration } from "effect"
import { FleetSnapshot, Snapshot } from "../CircuitBreakerSnapshot.js"
import type { FleetView } from "../CircuitStore.js"
import type { SnapshotData } from "./circuit.js"
import { summarizeFailure } from "./failures.js"

/** @internal */
export const fleetSnapshot = (view: FleetView | undefined): FleetSnapshot | null =>
  view === undefined ? null : new FleetSnapshot({
    state: view.state,
    calls: view.calls,
    failures: view.failures,
    slowCalls: view.slowCalls,
    failureRate: view.calls === 0 ? 0 : view.failures / view.calls,
    slowCallRate: view.calls === 0 ? 0 : view.slowCalls / view.calls,
    consecutiveFailures: view.consecutiveFailures,
    consecutiveOpenings: view.consecutiveOpenings,
    readAt: view.readAt
  })

/**
 * The snapshot of the breaker `breaker` read at `now`.
 *
 * @internal
 */
export const snapshotOf = (
  breaker: string,
  data: SnapshotData,
  now: number,
  fleet: FleetView | undefined
): Snapshot =>
  new Snapshot({
    breaker,
    state: data.state,
    calls: data.calls,
    failures: data.failures,
    slowCalls: data.slowCalls,
    failureRate: data.calls === 0 ? 0 : data.failures / data.calls,
    slowCallRate: data.calls === 0 ? 0 : data.slowCalls / data.calls,
    consecutiveFailures: data.consecutiveFailures,
    consecutiveOpenings: data.consecutiveOpenings,
    retryAfter: data.retryAfterMillis === Infinity ? Duration.infinity : Duration.millis(data.retryAfterMillis),
    probesInFlight: data.probesInFlight,
    probeSuccesses: data.probeSuccesses,
    at: now,
    openedAt: data.opening === undefined ? null : data.opening.at,
    openReason: data.opening === undefined ? null : data.opening.reason,
    openedBy: data.opening?.failure === undefined ? null : summarizeFailure(data.opening.failure),
    lastFailure: data.lastFailure === undefined ? null : summarizeFailure(data.lastFailure),
    fleet: fleetSnapshot(fleet)
  })
