/**
 * The dashboard's view of the whole fleet (its `fleet` option): one poller
 * per mounted dashboard lists the Redis store's circuits every `period`
 * (never per tick, never per stream), and keeps the last listing for the
 * sampler to send: the circuits only other instances have, and the totals
 * over every circuit of the fleet. A listing that fails keeps the last
 * figures, with the reason.
 *
 * @internal
 */
import type { Duration, Scope } from "effect"
import { Cause, Effect, Exit } from "effect"
import type { FleetSnapshot } from "../CircuitBreakerSnapshot.js"
import type { FleetCircuit, FleetListing } from "../DashboardEvent.js"
import type { FleetCircuits } from "../RedisCircuitStore.js"

/**
 * The figures of a circuit's fleet-wide snapshot a dashboard shows: on a
 * fleet-only row, and beside a local circuit's own.
 *
 * @internal
 */
export const fleetFigures = (fleet: FleetSnapshot) => ({
  state: fleet.state,
  calls: fleet.calls,
  failures: fleet.failures,
  slowCalls: fleet.slowCalls,
  failureRate: fleet.failureRate,
  slowCallRate: fleet.slowCallRate,
  consecutiveOpenings: fleet.consecutiveOpenings
})

/** What the poller lists: the store's `fleetCircuits`, bounded. @internal */
export type ListFleet = Effect.Effect<FleetCircuits, unknown>

/** @internal */
export class FleetPoller {
  /** The last listing; `fresh` until the next tick sends it. */
  listing: FleetListing | null = null
  fresh = false

  constructor(
    private readonly list: ListFleet,
    /** The names of this instance's circuits, now: their rows exist already. */
    private readonly localNames: () => ReadonlySet<string>
  ) {}

  /** Lists at once, then every `period`, until `scope` closes; the guarded calls never wait for it. */
  start(period: Duration.Duration, scope: Scope.Scope): Effect.Effect<void> {
    return this.poll.pipe(
      Effect.andThen(Effect.sleep(period)),
      Effect.forever,
      Effect.forkIn(scope),
      Effect.asVoid
    )
  }

  /** The listing to send with this tick, once. */
  take(): FleetListing | null {
    if (!this.fresh) return null
    this.fresh = false
    return this.listing
  }

  private get poll(): Effect.Effect<void> {
    return Effect.exit(this.list).pipe(Effect.map((exit) => {
      this.listing = Exit.isSuccess(exit) ? this.summarize(exit.value) : this.failed(exit.cause)
      this.fresh = true
    }))
  }

  private summarize(found: FleetCircuits): FleetListing {
    const local = this.localNames()
    const circuits: Array<FleetCircuit> = []
    const totals = { circuits: 0, notClosed: 0, calls: 0, failures: 0, slowCalls: 0 }
    for (const { fleet, name } of found.circuits) {
      totals.circuits++
      if (fleet.state !== "Closed") totals.notClosed++
      totals.calls += fleet.calls
      totals.failures += fleet.failures
      totals.slowCalls += fleet.slowCalls
      if (local.has(name)) continue
      circuits.push({ name, ...fleetFigures(fleet) })
    }
    return {
      readAt: found.readAt,
      instances: found.instances,
      circuits,
      totals,
      skipped: found.skipped,
      complete: found.complete,
      error: null
    }
  }

  private failed(cause: Cause.Cause<unknown>): FleetListing {
    const error = Cause.squash(cause)
    const reason = error instanceof Error ? error.message : String(error)
    const last = this.listing
    return {
      readAt: last?.readAt ?? 0,
      instances: last?.instances ?? null,
      circuits: last?.circuits ?? [],
      totals: last?.totals ?? { circuits: 0, notClosed: 0, calls: 0, failures: 0, slowCalls: 0 },
      skipped: last?.skipped ?? 0,
      complete: last?.complete ?? false,
      error: `the fleet could not be listed: ${reason.slice(0, 200)}`
    }
  }
}
