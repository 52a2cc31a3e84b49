/**
 * A warning logged at most once per interval (input the library does not
 * control, such as a message on a channel or data found in Redis; a
 * classifier that throws on every call): the first at once, the next ones
 * counted, and the next line says how many were left out since the last. A
 * flood costs a line a minute, not a line per item.
 *
 * @internal
 */
import { Effect } from "effect"

/**
 * One kind of warning and when it was last logged.
 *
 * @internal
 */
export class LogThrottle {
  private loggedAt = -Infinity
  private unlogged = 0

  constructor(readonly intervalMillis: number) {}

  /**
   * The warning for one occurrence at `now` (the clock's millis): `line` is
   * logged, or counted when a line was logged less than an interval ago.
   */
  warn(now: number, line: () => string): Effect.Effect<void> {
    const unlogged = this.take(now)
    if (unlogged === undefined) return Effect.void
    return Effect.logWarning(
      unlogged === 0 ? line() : `${line()} (and ${unlogged} more like it since the last such warning, not logged)`
    )
  }

  /**
   * One occurrence at `now`: how many went unlogged since the last line
   * when a line is due now, or `undefined` (and it is counted) when not.
   */
  take(now: number): number | undefined {
    if (now - this.loggedAt < this.intervalMillis) {
      this.unlogged++
      return undefined
    }
    const unlogged = this.unlogged
    this.unlogged = 0
    this.loggedAt = now
    return unlogged
  }
}
