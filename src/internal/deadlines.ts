/**
 * The time limits of one timeout policy's calls, on one native timer.
 *
 * A timer of its own per call — a fiber sleeping beside the call, as
 * `Effect.timeout` has — costs about four microseconds per call, more than
 * the rest of a guarded HTTP request's policies together. Every call of one
 * policy has the same duration, so deadlines pass in the order the calls
 * started: the calls in flight wait in a queue in that order, and a single
 * timer is armed for the head. A call that ends leaves the queue (two
 * pointers), and the timer, still armed for a deadline that no longer
 * exists, finds nothing due when it fires and is armed again for the new
 * head — so a busy policy's timer fires about once per duration, whatever
 * the number of calls.
 *
 * Only for the live clock: a `TestClock` (or another clock of the user's)
 * decides when time passes, and its calls keep a sleeping fiber each.
 *
 * The timer keeps the process alive exactly while calls are in flight (as
 * their own timers would): it is unreferenced when the queue empties rather
 * than cleared, so a program whose calls all ended exits at once, and the
 * next call re-references it for nothing but a flag.
 *
 * @internal
 */

/** What a deadline ends when it passes: the timed call (no closure per call). @internal */
export interface Expirable {
  expire(): void
}

/** A call's place in the queue. @internal */
export interface Deadline {
  readonly at: number
  readonly call: Expirable
  previous: Deadline | undefined
  next: Deadline | undefined
  /** Whether it is still queued: it leaves once, when due or when its call ends. */
  queued: boolean
}

/** What `setTimeout` returns under Node (a handle with `ref`/`unref`), or a number elsewhere. */
type Timer = ReturnType<typeof setTimeout>

interface Referable {
  ref(): unknown
  unref(): unknown
}

const isReferable = (timer: Timer): timer is Timer & Referable =>
  typeof timer === "object" && timer !== null && typeof (timer as Partial<Referable>).unref === "function"

/** A monotonic clock in milliseconds: deadlines must not move when the wall clock is set. */
const monotonicMillis = (): number => performance.now()

/** @internal */
export class Deadlines {
  private head: Deadline | undefined = undefined
  private tail: Deadline | undefined = undefined
  private timer: Timer | undefined = undefined
  /** The deadline the armed timer fires for: that of a head, maybe one that has left since. */
  private armedFor = Infinity
  /** Whether the armed timer holds the process open (it does while calls are queued). */
  private referenced = false

  constructor(private readonly durationMillis: number) {}

  /** The time a call starts at, for `add`. */
  now(): number {
    return monotonicMillis()
  }

  /**
   * Queues a call that started at `startedAt` (from `now`): its `expire`
   * runs once its duration has passed, unless `remove` took it out first.
   */
  add(startedAt: number, call: Expirable): Deadline {
    const deadline: Deadline = {
      at: startedAt + this.durationMillis,
      call,
      previous: undefined,
      next: undefined,
      queued: true
    }
    // Calls start in deadline order; one that started earlier but was queued later (it ran
    // synchronously first, or a call of the same policy ran inside it) steps back past later ones.
    let before = this.tail
    while (before !== undefined && before.at > deadline.at) before = before.previous
    this.insertAfter(before, deadline)
    if (this.timer === undefined || deadline.at < this.armedFor) {
      // No timer, or one armed for later than this deadline (it stepped back to the head).
      if (this.timer !== undefined) clearTimeout(this.timer)
      this.arm(deadline.at, monotonicMillis())
    } else if (!this.referenced) {
      this.reference()
    }
    return deadline
  }

  /** Takes a call out of the queue: it ended before its deadline. */
  remove(deadline: Deadline): void {
    if (!deadline.queued) return
    this.unlink(deadline)
    if (this.head !== undefined || this.timer === undefined) return
    // Nothing left to wait for: the process may exit, and the timer is kept for the next call.
    if (!isReferable(this.timer)) {
      clearTimeout(this.timer)
      this.timer = undefined
      this.armedFor = Infinity
    } else if (this.referenced) {
      this.timer.unref()
      this.referenced = false
    }
  }

  private insertAfter(before: Deadline | undefined, deadline: Deadline): void {
    const after = before === undefined ? this.head : before.next
    deadline.previous = before
    deadline.next = after
    if (before === undefined) this.head = deadline
    else before.next = deadline
    if (after === undefined) this.tail = deadline
    else after.previous = deadline
  }

  private unlink(deadline: Deadline): void {
    deadline.queued = false
    const { next, previous } = deadline
    if (previous === undefined) this.head = next
    else previous.next = next
    if (next === undefined) this.tail = previous
    else next.previous = previous
    deadline.previous = undefined
    deadline.next = undefined
  }

  private reference(): void {
    if (this.timer !== undefined && isReferable(this.timer)) this.timer.ref()
    this.referenced = true
  }

  private arm(at: number, now: number): void {
    // Node rounds a fractional delay and may fire up to a millisecond early against
    // `performance.now()`: `fire` then finds the head not yet due and arms again for the rest.
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(at - now)))
    this.armedFor = at
    this.referenced = true
  }

  private readonly fire = (): void => {
    this.timer = undefined
    this.armedFor = Infinity
    this.referenced = false
    const now = monotonicMillis()
    let due = this.head
    while (due !== undefined && due.at <= now) {
      this.unlink(due)
      due.call.expire()
      due = this.head
    }
    // An expired call's interruption may have started another call, which armed the timer.
    if (this.head !== undefined && this.timer === undefined) this.arm(this.head.at, now)
  }
}
