/**
 * Turns what a circuit does into `CircuitBreakerEvent`s for its subscribers.
 * The hub observes the circuit only while someone is subscribed, so a breaker
 * nobody listens to builds no event objects at all.
 *
 * @internal
 */
import type { Effect, Scope, Stream } from "effect"
import { Duration } from "effect"
import type { CircuitBreakerEvent } from "../CircuitBreakerEvent.js"
import { CallRecorded, CallRejected, StateChanged } from "../CircuitBreakerEvent.js"
import type { Circuit, CircuitObserver } from "./circuit.js"
import { Publisher } from "./publisher.js"

/** @internal */
export class EventHub implements CircuitObserver {
  private readonly publisher: Publisher<CircuitBreakerEvent>
  private detach: (() => void) | undefined = undefined

  constructor(
    circuit: Circuit,
    private readonly name: string,
    capacity: number
  ) {
    this.publisher = new Publisher<CircuitBreakerEvent>(
      capacity,
      () => {
        this.detach = circuit.addObserver(this)
      },
      () => {
        this.detach?.()
        this.detach = undefined
      }
    )
  }

  /** Subscribes now; events from here on reach the returned stream. */
  get subscribe(): Effect.Effect<Stream.Stream<CircuitBreakerEvent>, never, Scope.Scope> {
    return this.publisher.subscribe
  }

  /** Ends every subscriber's stream; called when the breaker's scope closes. */
  get close(): Effect.Effect<void> {
    return this.publisher.close
  }

  onTransition(from: StateChanged["from"], to: StateChanged["to"], reason: StateChanged["reason"], at: number) {
    this.publisher.publish(new StateChanged({ breaker: this.name, from, to, reason, at }))
  }

  onCall(
    state: CallRecorded["state"],
    outcome: CallRecorded["outcome"],
    slow: boolean,
    durationMillis: number,
    counted: boolean,
    at: number | undefined
  ) {
    // This observer needs time, so every call it hears of was timed.
    this.publisher.publish(
      new CallRecorded({ breaker: this.name, state, outcome, slow, durationMillis, counted, at: at ?? 0 })
    )
  }

  onReject(state: CallRejected["state"], retryAfterMillis: number, at: number) {
    const retryAfter = retryAfterMillis === Infinity ? Duration.infinity : Duration.millis(retryAfterMillis)
    this.publisher.publish(new CallRejected({ breaker: this.name, state, retryAfter, at }))
  }
}
