/**
 * Delivers a circuit's events to its subscribers.
 *
 * Each subscriber gets its own sliding queue: a slow subscriber loses its own
 * oldest events, never anyone else's, and never slows the calls that produce
 * them. The hub observes the circuit only while someone is subscribed, so a
 * breaker nobody listens to builds no event objects at all.
 *
 * @internal
 */
import type { Cause, Scope } from "effect"
import { Duration, Effect, Queue, Stream } from "effect"
import type { CircuitBreakerEvent } from "../CircuitBreakerEvent.js"
import { CallRecorded, CallRejected, StateChanged } from "../CircuitBreakerEvent.js"
import type { Circuit, CircuitObserver } from "./circuit.js"

/** @internal */
export class EventHub implements CircuitObserver {
  private readonly subscribers = new Set<Queue.Queue<CircuitBreakerEvent, Cause.Done>>()
  private detach: (() => void) | undefined = undefined
  private closed = false

  /** Subscribes now; events published from here on reach the returned stream. */
  readonly subscribe: Effect.Effect<Stream.Stream<CircuitBreakerEvent>, never, Scope.Scope>
  /** A stream that subscribes when it is run and unsubscribes when it ends. */
  readonly stream: Stream.Stream<CircuitBreakerEvent>

  constructor(
    private readonly circuit: Circuit,
    private readonly name: string,
    capacity: number
  ) {
    this.subscribe = Effect.map(
      Effect.acquireRelease(
        Effect.flatMap(Queue.sliding<CircuitBreakerEvent, Cause.Done>(capacity), (queue) =>
          Effect.sync(() => this.add(queue))),
        (queue) => Effect.sync(() => this.remove(queue))
      ),
      Stream.fromQueue
    )
    this.stream = Stream.unwrap(this.subscribe)
  }

  onTransition(from: StateChanged["from"], to: StateChanged["to"], reason: StateChanged["reason"], at: number) {
    this.publish(new StateChanged({ breaker: this.name, from, to, reason, at }))
  }

  onCall(
    state: CallRecorded["state"],
    outcome: CallRecorded["outcome"],
    slow: boolean,
    durationMillis: number,
    counted: boolean,
    at: number
  ) {
    this.publish(new CallRecorded({ breaker: this.name, state, outcome, slow, durationMillis, counted, at }))
  }

  onReject(state: CallRejected["state"], retryAfterMillis: number, at: number) {
    const retryAfter = retryAfterMillis === Infinity ? Duration.infinity : Duration.millis(retryAfterMillis)
    this.publish(new CallRejected({ breaker: this.name, state, retryAfter, at }))
  }

  /** Ends every subscriber's stream; called when the breaker's scope closes. */
  readonly close: Effect.Effect<void> = Effect.sync(() => {
    this.closed = true
    for (const queue of this.subscribers) Queue.endUnsafe(queue)
    this.subscribers.clear()
    if (this.detach !== undefined) {
      this.detach()
      this.detach = undefined
    }
  })

  private add(queue: Queue.Queue<CircuitBreakerEvent, Cause.Done>) {
    if (this.closed) {
      Queue.endUnsafe(queue)
      return queue
    }
    this.subscribers.add(queue)
    if (this.detach === undefined) this.detach = this.circuit.addObserver(this)
    return queue
  }

  private remove(queue: Queue.Queue<CircuitBreakerEvent, Cause.Done>) {
    this.subscribers.delete(queue)
    Queue.endUnsafe(queue)
    if (this.subscribers.size === 0 && this.detach !== undefined) {
      this.detach()
      this.detach = undefined
    }
  }

  private publish(event: CircuitBreakerEvent): void {
    for (const queue of this.subscribers) Queue.offerUnsafe(queue, event)
  }
}
