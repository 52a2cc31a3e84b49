/**
 * Which breakers a registry forgets, and when: the bookkeeping behind
 * `CircuitBreakerRegistry`'s `maxBreakers` and `idleTimeToLive`, written as
 * synchronous code. `internal/registry.ts` reads the clock, asks for a sweep
 * and closes the scopes of the breakers it evicted.
 *
 * The rules:
 * - a *pinned* breaker (inside its opening, forced open, disabled: see
 *   `Circuit.isPinned`) is never evicted;
 * - any other breaker is evicted once *idle*, with no call for
 *   `idleTimeToLive` — a half-open one too, so a key that tripped once and
 *   never came back goes like any other;
 * - a new key that finds the registry full also evicts a closed breaker
 *   that had no call since the registry last looked at it (CLOCK's second
 *   chance). A half-open breaker is not taken before it is idle: its
 *   dependency may still be down.
 *
 * Idle time. A call (a lookup through `get` or `execute`) only sets a mark:
 * no clock read and no reordering on the hot path. The registry reads the
 * clock when it looks at a breaker; finding the mark, it clears it and counts
 * the breaker's idle time from then (`seenAt`). It looks at a breaker when
 * its idle time would run out, so a breaker is never evicted sooner than
 * `idleTimeToLive` after its last call, and typically goes within twice that
 * (given sweeps: a new key, or a read of the breakers; the registry has no
 * timer of its own).
 *
 * Why three lists. One list of every breaker, swept from the oldest and
 * stepping over the pinned ones, costs a pass over all of them whenever most
 * are pinned: a registry full of tripped keys swept every breaker for every
 * key it refused. Here each breaker is in one of three intrusive lists (O(1)
 * to move, unlike a `Map` used as a queue, whose deleted slots a fresh
 * iterator steps over), by what can make it evictable, and a sweep only ever
 * takes list heads:
 * - `ring`: breakers last seen closed, in CLOCK order. A new key that needs
 *   room takes the head: unmarked, it is evicted; marked, its mark is
 *   cleared and it goes to the back; tripped since, it is parked.
 * - `waiting`: parked breakers (half-open, open, forced open, disabled) in
 *   `seenAt` order, so the head is the first that can become idle, and a
 *   sweep looks at heads only while they are idle.
 * - `held`: parked breakers that are idle but pinned. Time alone frees none
 *   of them, so no sweep looks at them.
 * `ring` and `waiting` stay in `seenAt` order: a breaker joins at the back
 * with a `seenAt` no earlier than the back's (which only ever makes the
 * registry wait longer). A parked breaker's circuit carries an observer that
 * notes its transitions, and the next sweep looks again at those that closed
 * (back to the ring, where a new key may take them) and at held ones that
 * moved (an opening ended, moved on by the breaker's own timer, or an
 * operator's reset).
 *
 * Cost. Every step of a sweep evicts a breaker, clears a mark that a call
 * set, or moves a breaker whose circuit changed state since it was last
 * looked at: each step is paid for by a new key, a call or a transition. So
 * finding a victim is amortised O(1) per new key, and refusing a key when
 * every breaker is kept looks at no breaker at all.
 *
 * @internal
 */
import type { Scope } from "effect"
import type { CircuitBreakerImpl } from "./breaker.js"
import type { CircuitObserver } from "./circuit.js"

/**
 * A registry's breaker, and its place in the eviction order.
 *
 * @internal
 */
export class Entry {
  /** Set by every lookup, cleared when the registry looks at the entry. */
  used = false
  prev: Entry | undefined = undefined
  next: Entry | undefined = undefined
  list: EntryList | undefined = undefined
  /** Removes the observer that a parked entry's circuit carries. */
  unwatch: (() => void) | undefined = undefined
  /** Whether the entry is among the changed ones the next sweep looks at. */
  changed = false

  constructor(
    readonly key: string,
    readonly breaker: CircuitBreakerImpl,
    readonly scope: Scope.Closeable,
    /** When the registry made the entry or last found it used: its idle time counts from then. */
    public seenAt: number
  ) {}
}

/** A doubly linked list threaded through its entries: push and unlink in O(1). */
class EntryList {
  head: Entry | undefined = undefined
  tail: Entry | undefined = undefined

  push(entry: Entry): void {
    entry.list = this
    entry.prev = this.tail
    entry.next = undefined
    if (this.tail === undefined) this.head = entry
    else this.tail.next = entry
    this.tail = entry
  }

  unlink(entry: Entry): void {
    if (entry.prev === undefined) this.head = entry.next
    else entry.prev.next = entry.next
    if (entry.next === undefined) this.tail = entry.prev
    else entry.next.prev = entry.prev
    entry.prev = entry.next = entry.list = undefined
  }
}

/** Notes the transitions of a parked entry's circuit for the next sweep; needs no clock. */
class ParkedWatch implements CircuitObserver {
  readonly needsTime = false

  constructor(private readonly eviction: Eviction, private readonly entry: Entry) {}

  // No onCall or onReject: a parked breaker's calls pay nothing for being watched.
  onTransition(): void {
    this.eviction.noteChange(this.entry)
  }
}

/** @internal */
export class Eviction {
  private readonly ring = new EntryList()
  private readonly waiting = new EntryList()
  private readonly held = new EntryList()
  private changed: Array<Entry> = []

  constructor(private readonly idleMillis: number) {}

  /** Tracks a new entry, made at its `seenAt`. */
  add(entry: Entry): void {
    this.ring.push(entry)
  }

  /** Stops tracking an entry removed by hand. */
  forget(entry: Entry): void {
    entry.list?.unlink(entry)
    this.unwatch(entry)
  }

  /** Called by a parked entry's observer: the entry's circuit moved. */
  noteChange(entry: Entry): void {
    if (entry.changed) return
    entry.changed = true
    this.changed.push(entry)
  }

  /**
   * Evicts the idle entries and, while fewer than `room` are evicted, the
   * entries a new key may take; returns the evicted entries, no longer
   * tracked.
   */
  sweep(now: number, room: number): Array<Entry> {
    const evicted: Array<Entry> = []
    if (this.changed.length > 0) {
      const changed = this.changed
      this.changed = []
      for (const entry of changed) {
        entry.changed = false
        // A parked circuit that closed may make room again; a held one that moved may be pinned no more.
        if (
          entry.list === this.held ||
          (entry.list === this.waiting && entry.breaker.circuit.current._tag === "Closed")
        ) {
          this.look(entry, now, false, evicted)
        }
      }
    }
    this.evictIdle(this.waiting, now, evicted)
    this.evictIdle(this.ring, now, evicted)
    // Each turn evicts the head, moves it out of the ring, or clears its mark: the loop ends.
    while (evicted.length < room && this.ring.head !== undefined) this.look(this.ring.head, now, true, evicted)
    return evicted
  }

  /** Looks at the heads of `list` while they are idle (each one looked at leaves the idle front). */
  private evictIdle(list: EntryList, now: number, evicted: Array<Entry>): void {
    let head = list.head
    while (head !== undefined && now - head.seenAt >= this.idleMillis) {
      this.look(head, now, false, evicted)
      head = list.head
    }
  }

  /** Evicts `entry`, or files it where whatever can make it evictable will be seen. */
  private look(entry: Entry, now: number, makingRoom: boolean, evicted: Array<Entry>): void {
    const used = entry.used
    if (used) {
      entry.used = false
      entry.seenAt = now
    }
    const circuit = entry.breaker.circuit
    const idle = now - entry.seenAt >= this.idleMillis
    if (circuit.current._tag === "Closed") {
      if (idle || (makingRoom && !used)) return this.evict(entry, evicted)
      this.unwatch(entry)
      return this.toBack(this.ring, entry)
    }
    const pinned = circuit.isPinned(now)
    if (idle && !pinned) return this.evict(entry, evicted)
    if (entry.unwatch === undefined) entry.unwatch = circuit.addObserver(new ParkedWatch(this, entry))
    if (!idle) return this.toBack(this.waiting, entry)
    entry.list?.unlink(entry)
    this.held.push(entry)
  }

  /** Moves `entry` to the back of an ordered list, keeping the list in `seenAt` order. */
  private toBack(list: EntryList, entry: Entry): void {
    entry.list?.unlink(entry)
    const tail = list.tail
    if (tail !== undefined && tail.seenAt > entry.seenAt) entry.seenAt = tail.seenAt
    list.push(entry)
  }

  private evict(entry: Entry, evicted: Array<Entry>): void {
    this.forget(entry)
    evicted.push(entry)
  }

  private unwatch(entry: Entry): void {
    if (entry.unwatch === undefined) return
    entry.unwatch()
    entry.unwatch = undefined
  }
}
