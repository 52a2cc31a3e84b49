/**
 * Messages on the Redis store's transitions channel, taken as hints. Anyone
 * who may publish on the channel can write a message that reads as a
 * transition, so a message never moves a circuit by itself: it only says
 * that the circuit may have news, and the store re-reads the circuit's state
 * from Redis, where the script decided it.
 *
 * Hints are coalesced per circuit: the first is read at once, and those that
 * come within an interval of the last read wait until that interval has
 * passed, then cost one read together. A flood of messages costs at most one
 * read per circuit per interval (the store's flush interval).
 *
 * @internal
 */

/**
 * The circuits hinted at, and when each was last read for a hint.
 *
 * @internal
 */
export class Hints {
  /** When each circuit was last read for a hint; entries an interval old that nothing waits for are dropped. */
  private readonly readAt = new Map<string, number>()
  /** Circuits hinted at since their last read, read once their interval has passed. */
  private readonly waiting = new Set<string>()

  constructor(readonly intervalMillis: number) {}

  /** A hint for circuit `name` at `now`: true when it is to be read now, false when it waits. */
  hint(name: string, now: number): boolean {
    const at = this.readAt.get(name)
    if (at !== undefined && now - at < this.intervalMillis) {
      this.waiting.add(name)
      return false
    }
    this.readAt.set(name, now)
    return true
  }

  /** The circuits whose hints waited an interval by `now`: counted as read now. */
  due(now: number): ReadonlyArray<string> {
    const due: Array<string> = []
    for (const name of this.waiting) {
      if (now - (this.readAt.get(name) ?? -Infinity) < this.intervalMillis) continue
      this.waiting.delete(name)
      this.readAt.set(name, now)
      due.push(name)
    }
    for (const [name, at] of this.readAt) {
      if (now - at >= this.intervalMillis && !this.waiting.has(name)) this.readAt.delete(name)
    }
    return due
  }
}
