/**
 * What the admin routes (`HttpAdmin`) answer and what their event stream
 * sends, as `effect/Schema` structures: a dashboard, a script or a test
 * decodes them with the same schemas. Durations and instants are numbers of
 * milliseconds (instants since the epoch, from the breaker's clock).
 *
 * The stream (`GET {path}/events`, `text/event-stream`) sends Server-Sent
 * Events whose `event` is the payload's `_tag` and whose `data` is the
 * payload as JSON (`id` counts the events of the stream from 0):
 *
 * - `Circuits` first: every circuit's view when the stream opened;
 * - `StateChanged`, `CallRecorded`, `CallRejected`: the breakers' events
 *   (see `CircuitBreakerEvent`), as they happen;
 * - `Heartbeat` every `heartbeat` interval, so proxies keep the connection
 *   open and a reader notices a dead one.
 *
 * ```ts
 * import { Schema } from "effect"
 * import { HttpAdminEvent } from "effect-resilience"
 *
 * // The `data` of any event of the stream:
 * const decodeData = Schema.decodeUnknownSync(Schema.fromJsonString(HttpAdminEvent.StreamEvent))
 * const event = decodeData(`{"_tag":"Heartbeat","at":1700000000000}`)
 * ```
 *
 * @since 0.1.0
 */
import { Duration, Schema, Struct } from "effect"
import { CallRecorded, TransitionReason } from "./CircuitBreakerEvent.js"
import type { CircuitBreakerEvent } from "./CircuitBreakerEvent.js"
import { Snapshot } from "./CircuitBreakerSnapshot.js"
import { RejectingState, State } from "./CircuitState.js"

const millisOrNull = (duration: Duration.Duration): number | null =>
  Duration.isFinite(duration) ? Duration.toMillis(duration) : null

/**
 * One circuit as the admin routes show it: a `CircuitBreakerSnapshot` with
 * `retryAfterMillis` (the time until a probe is admitted; `null` when forced
 * open: only an operator's reset will).
 *
 * @category schemas
 * @since 0.1.0
 */
export const CircuitView = Schema.Struct({
  // A snapshot's own fields, its retry time as milliseconds: one definition for both.
  ...Struct.omit(Snapshot.fields, ["retryAfter"]),
  retryAfterMillis: Schema.NullOr(Schema.Number)
})

/**
 * @category models
 * @since 0.1.0
 */
export type CircuitView = typeof CircuitView.Type

/**
 * The answer of `GET {path}/circuits`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const CircuitList = Schema.Struct({ circuits: Schema.Array(CircuitView) })

/**
 * @category models
 * @since 0.1.0
 */
export type CircuitList = typeof CircuitList.Type

/**
 * The first event of a stream: every circuit when it opened.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Circuits = Schema.TaggedStruct("Circuits", { at: Schema.Number, circuits: Schema.Array(CircuitView) })

/**
 * Sent every `heartbeat` interval.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Heartbeat = Schema.TaggedStruct("Heartbeat", { at: Schema.Number })

/**
 * A circuit moved from one state to another.
 *
 * @category schemas
 * @since 0.1.0
 */
export const StateChanged = Schema.TaggedStruct("StateChanged", {
  breaker: Schema.String,
  from: State,
  to: State,
  reason: TransitionReason,
  at: Schema.Number
})

/**
 * An admitted call finished (see `CircuitBreakerEvent.CallRecorded`).
 *
 * @category schemas
 * @since 0.1.0
 */
export const CallRecordedEvent = Schema.TaggedStruct("CallRecorded", {
  breaker: Schema.String,
  state: State,
  outcome: CallRecorded.fields.outcome,
  slow: Schema.Boolean,
  durationMillis: Schema.Number,
  counted: Schema.Boolean,
  at: Schema.Number
})

/**
 * A call was rejected without running; `retryAfterMillis` is `null` when
 * the circuit was forced open.
 *
 * @category schemas
 * @since 0.1.0
 */
export const CallRejected = Schema.TaggedStruct("CallRejected", {
  breaker: Schema.String,
  state: RejectingState,
  retryAfterMillis: Schema.NullOr(Schema.Number),
  at: Schema.Number
})

/**
 * Any payload of the event stream; its `_tag` is the SSE event name.
 *
 * @category schemas
 * @since 0.1.0
 */
export const StreamEvent = Schema.Union([Circuits, Heartbeat, StateChanged, CallRecordedEvent, CallRejected])

/**
 * @category models
 * @since 0.1.0
 */
export type StreamEvent = typeof StreamEvent.Type

/**
 * The view of a snapshot.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker, HttpAdminEvent } from "effect-resilience"
 *
 * const view = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ name: "search" })
 *   return HttpAdminEvent.fromSnapshot(yield* breaker.snapshot)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @category conversions
 * @since 0.1.0
 */
export const fromSnapshot = (snapshot: Snapshot): CircuitView => {
  const { retryAfter, ...fields } = snapshot
  return { ...fields, retryAfterMillis: millisOrNull(retryAfter) }
}

/**
 * The stream payload of a breaker event.
 *
 * @example
 * ```ts
 * import { CircuitBreakerEvent, HttpAdminEvent } from "effect-resilience"
 *
 * const payload = HttpAdminEvent.fromBreakerEvent(
 *   new CircuitBreakerEvent.StateChanged({ breaker: "db", from: "Closed", to: "Open", reason: "ConsecutiveFailures", at: 0 })
 * )
 * payload._tag // => "StateChanged"
 * ```
 *
 * @category conversions
 * @since 0.1.0
 */
export const fromBreakerEvent = (event: CircuitBreakerEvent): StreamEvent => {
  switch (event._tag) {
    case "StateChanged":
      return {
        _tag: "StateChanged",
        breaker: event.breaker,
        from: event.from,
        to: event.to,
        reason: event.reason,
        at: event.at
      }
    case "CallRecorded":
      return {
        _tag: "CallRecorded",
        breaker: event.breaker,
        state: event.state,
        outcome: event.outcome,
        slow: event.slow,
        durationMillis: event.durationMillis,
        counted: event.counted,
        at: event.at
      }
    case "CallRejected":
      return {
        _tag: "CallRejected",
        breaker: event.breaker,
        state: event.state,
        retryAfterMillis: millisOrNull(event.retryAfter),
        at: event.at
      }
  }
}
