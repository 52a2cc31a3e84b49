/**
 * What a breaker's local circuit does while its Redis store cannot be
 * reached: it decides alone (`onUnavailable: "allow"`), or rejects every
 * call (`"reject"`, a forced opening with reason `StoreUnavailable`) and
 * keeps the state it had before, to offer the fleet at the catch-up and to
 * go back to when the store closes.
 *
 * @internal
 */
import { Effect } from "effect"
import type { LocalCircuit, LocalState } from "../CircuitStore.js"

/** @internal */
export class LocalDuringOutage {
  /** The state before the store forced the circuit open for an outage. */
  private before: LocalState | undefined = undefined

  constructor(private readonly local: LocalCircuit, private readonly onUnavailable: "allow" | "reject") {}

  /** What the fleet learns of this circuit when it catches up: its state before the outage, else now. */
  known(now: number): LocalState {
    return this.before ?? this.local.read(now)
  }

  /** The fleet has this instance's state now: what the outage made of the breaker is history. */
  caughtUp(): void {
    this.before = undefined
  }

  /** Redis is reachable and this circuit caught up: the fleet's merged window decides trips. */
  storeUp(): void {
    this.local.tripsOnOwnWindow(false)
  }

  /** Redis is unreachable: the local circuit decides alone, or rejects every call. */
  goLocal(): Effect.Effect<void> {
    this.local.tripsOnOwnWindow(true)
    if (this.onUnavailable === "allow") return Effect.void
    return Effect.suspend(() => {
      const known = this.local.read(this.local.clock.currentTimeMillisUnsafe())
      this.before ??= known
      return this.local.adopt("ForcedOpen", 0, known.consecutiveOpenings, "StoreUnavailable")
    })
  }

  /** The store closes: the local circuit goes on as it was before any outage. */
  leave(openings: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.local.tripsOnOwnWindow(true)
      const before = this.before
      this.before = undefined
      if (before === undefined) return Effect.void
      // An opening that ended meanwhile ends here too: the circuit half-opens on its next read.
      return this.local.adopt(before.state, before.until, openings, "StoreSync")
    })
  }

  /**
   * A state restored during an outage that rejects calls: it is what the
   * catch-up offers and what the store's closing goes back to, and the
   * circuit keeps rejecting until then. `undefined` when no such outage runs.
   */
  restored(state: LocalState): Effect.Effect<void> | undefined {
    if (this.before === undefined) return undefined
    this.before = state
    return this.local.adopt("ForcedOpen", 0, state.consecutiveOpenings, "StoreUnavailable")
  }
}
