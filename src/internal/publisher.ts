/**
 * Delivers events to subscribers, each through its own sliding queue: a slow
 * subscriber loses its own oldest events, never anyone else's, and never
 * slows the calls that produce them. Publishers check `active` before
 * building an event, so nobody pays for events nobody reads.
 *
 * @internal
 */
import type { Cause, Scope } from "effect"
import { Effect, Queue, Stream } from "effect"

/** @internal */
export class Publisher<Event> {
  private readonly subscribers = new Set<Queue.Queue<Event, Cause.Done>>()
  private closed = false

  /** Subscribes now; events published from here on reach the returned stream. */
  readonly subscribe: Effect.Effect<Stream.Stream<Event>, never, Scope.Scope>
  /** A stream that subscribes when it is run and unsubscribes when it ends. */
  readonly stream: Stream.Stream<Event>

  /**
   * `onActive` runs when the first subscriber arrives and `onIdle` when the
   * last one leaves, so a source can attach itself only while it is watched.
   */
  constructor(
    capacity: number,
    private readonly onActive: () => void = noop,
    private readonly onIdle: () => void = noop
  ) {
    this.subscribe = Effect.map(
      Effect.acquireRelease(
        Effect.flatMap(Queue.sliding<Event, Cause.Done>(capacity), (queue) => Effect.sync(() => this.add(queue))),
        (queue) => Effect.sync(() => this.remove(queue))
      ),
      Stream.fromQueue
    )
    this.stream = Stream.unwrap(this.subscribe)
  }

  /** Whether anyone is subscribed: build an event only when this is true. */
  get active(): boolean {
    return this.subscribers.size > 0
  }

  publish(event: Event): void {
    for (const queue of this.subscribers) Queue.offerUnsafe(queue, event)
  }

  /** Ends every subscriber's stream, and the streams of later subscribers at once. */
  readonly close: Effect.Effect<void> = Effect.sync(() => {
    this.closed = true
    const wasActive = this.subscribers.size > 0
    for (const queue of this.subscribers) Queue.endUnsafe(queue)
    this.subscribers.clear()
    if (wasActive) this.onIdle()
  })

  private add(queue: Queue.Queue<Event, Cause.Done>) {
    if (this.closed) {
      Queue.endUnsafe(queue)
      return queue
    }
    this.subscribers.add(queue)
    if (this.subscribers.size === 1) this.onActive()
    return queue
  }

  private remove(queue: Queue.Queue<Event, Cause.Done>) {
    const removed = this.subscribers.delete(queue)
    Queue.endUnsafe(queue)
    if (removed && this.subscribers.size === 0) this.onIdle()
  }
}

const noop = () => {}
