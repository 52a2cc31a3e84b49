/**
 * What the circuit script (`internal/redisLua.ts`) is sent for an
 * operator's control call, and for a local state offered to the fleet as a
 * seed (after an outage, over a circuit made afresh, or by `restore`).
 *
 * A timed opening is sent as the time it has left when it is sent (the
 * script keeps the callers' clock): one that has ended by then is a
 * half-open circuit, as the local circuit is by then.
 *
 * @internal
 */
import { Effect } from "effect"
import type * as Redis from "effect/persistence/Redis"
import type { ControlTarget, LocalState } from "../CircuitStore.js"

/**
 * The control operation's arguments for `target` sent at `now`; `undefined`
 * for a target that is no control operation (a restored state is a seed).
 *
 * @internal
 */
export const controlArgs = (target: ControlTarget, now: number): ReadonlyArray<string | number> | undefined => {
  if (typeof target === "string") return [target]
  if (target._tag === "Restored") return undefined
  const remaining = Math.ceil(target.until - now)
  return remaining > 0 ? ["Open", remaining] : ["HalfOpen"]
}

/**
 * The sync operation's arguments that offer `state`, read at `now`, to the
 * fleet: an opening that has ended is no news, and is offered as closed —
 * unless `endedIsNews` (a restored opening, which the fleet takes and
 * half-opens at once where it has not moved since).
 *
 * @internal
 */
export const seedArgs = (
  state: LocalState,
  now: number,
  fingerprint: string,
  endedIsNews = false
): ReadonlyArray<string | number> => {
  const ended = !endedIsNews && state.state === "Open" && state.until <= now
  return ended
    ? ["Closed", 0, state.consecutiveOpenings, 0, fingerprint]
    : [state.state, Math.max(0, state.until - now), state.consecutiveOpenings, state.openedAt, fingerprint]
}

/**
 * What the operator's control calls need of a circuit's link: its
 * operations, whether Redis is up, and the outage's say over a restored
 * state.
 *
 * @internal
 */
export interface ControlRunner {
  readonly fingerprint: string
  readonly up: () => boolean
  readonly run: (
    op: "control" | "sync",
    now: number,
    extra: ReadonlyArray<string | number>,
    onError: ((error: Redis.RedisError) => Effect.Effect<void>) | undefined
  ) => Effect.Effect<void>
  readonly lost: (error: Redis.RedisError) => Effect.Effect<void>
  /** A state restored during an outage that rejects calls (see `LocalDuringOutage.restored`). */
  readonly restoredDuringOutage: (state: LocalState) => Effect.Effect<void> | undefined
}

/**
 * One circuit's operator control calls to the fleet: sent at once while
 * Redis is up, else the latest one waits for the catch-up after the outage
 * (`take`), as does one whose sending failed.
 *
 * @internal
 */
export class OperatorControls {
  private pending: ControlTarget | undefined = undefined

  constructor(private readonly runner: ControlRunner) {}

  control(target: ControlTarget, now: number): Effect.Effect<void> {
    if (typeof target === "object" && target._tag === "Restored") return this.offer(target.state, now)
    if (!this.runner.up()) {
      this.pending = target
      return Effect.void
    }
    return this.send(target, now, (error) =>
      Effect.suspend(() => {
        this.pending = target
        return this.runner.lost(error)
      }))
  }

  /** The control call waiting for the fleet, taken: the caller sends it. */
  take(): ControlTarget | undefined {
    const target = this.pending
    this.pending = undefined
    return target
  }

  /** Sends `target`; when sending fails, it waits again unless a newer one does. */
  sendTaken(target: ControlTarget, now: number): Effect.Effect<void> {
    return this.send(target, now, (error) =>
      Effect.suspend(() => {
        this.pending ??= target
        return this.runner.lost(error)
      }))
  }

  /** Sends an operator's control call (a target `controlArgs` knows). */
  send(
    target: ControlTarget,
    now: number,
    onError?: (error: Redis.RedisError) => Effect.Effect<void>
  ): Effect.Effect<void> {
    const args = controlArgs(target, now)
    return args === undefined ? Effect.void : this.runner.run("control", now, args, onError)
  }

  /**
   * A restored state, offered to the fleet as a rejoining instance offers
   * its own: the fleet takes it where it is news (see the script's sync),
   * and the local circuit follows the fleet's answer. While Redis is away
   * the restored state waits for the catch-up, which offers the local
   * circuit's state anyway; with `onUnavailable: "reject"` it waits behind
   * the outage's forced opening.
   */
  private offer(state: LocalState, now: number): Effect.Effect<void> {
    // The restore is the operator's latest word: an earlier control call still waiting is superseded.
    this.pending = undefined
    if (!this.runner.up()) return this.runner.restoredDuringOutage(state) ?? Effect.void
    return this.runner.run("sync", now, seedArgs(state, now, this.runner.fingerprint, true), undefined)
  }
}
