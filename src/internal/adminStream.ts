/**
 * The event stream of the admin routes: every breaker's events, merged, as
 * Server-Sent Events text, after a first `Circuits` event and with a
 * `Heartbeat` every interval.
 *
 * Memory is bounded whatever the readers do: each breaker delivers to its
 * own sliding subscription, and the stream's own queue is sliding too, so a
 * slow reader loses its oldest events, never slows a breaker. A registry
 * makes breakers on demand; each heartbeat looks for new ones and subscribes
 * to them, and a breaker the registry evicts ends its subscription (its
 * events end when its scope closes). Everything the stream started ends
 * with it: when the reader goes, the server interrupts the body.
 *
 * @internal
 */
import type { Duration } from "effect"
import { Clock, Effect, Exit, Queue, Schedule, Schema, Scope, Stream } from "effect"
import { Sse } from "effect/encoding"
import type { CircuitBreaker } from "../CircuitBreaker.js"
import type { CircuitBreakerEvent } from "../CircuitBreakerEvent.js"
import { fromBreakerEvent, fromSnapshot, StreamEvent } from "../HttpAdminEvent.js"
import type { CircuitSource } from "./circuitSources.js"
import { breakersOf, snapshotsOf } from "./circuitSources.js"

/** The events a stream's queue holds before the oldest are dropped. @internal */
export const streamBufferSize = 1024

const encodeEvent = Schema.encodeSync(Schema.toCodecJson(StreamEvent))

/** The breaker event tags a stream may carry. @internal */
export type BreakerEventTag = CircuitBreakerEvent["_tag"]

/**
 * The stream of `sources`' events with the tags in `tags`, as SSE text.
 *
 * @internal
 */
export const eventStream = (
  sources: ReadonlyArray<CircuitSource>,
  heartbeat: Duration.Duration,
  tags: ReadonlySet<BreakerEventTag>
): Stream.Stream<Uint8Array> =>
  Stream.unwrap(Effect.gen(function*() {
    const scope = yield* Effect.scope
    const queue = yield* Queue.sliding<StreamEvent>(streamBufferSize)
    const watched = new Set<CircuitBreaker>()

    const forward = (event: CircuitBreakerEvent) =>
      tags.has(event._tag) ? Queue.offer(queue, fromBreakerEvent(event)) : Effect.void

    // Subscribes at once (no event of the next call is missed), in a scope of the breaker's own,
    // closed when its events end (an evicted breaker's do), so that it is forgotten then.
    const watch = (breaker: CircuitBreaker) =>
      Effect.gen(function*() {
        if (watched.has(breaker)) return
        watched.add(breaker)
        const own = yield* Scope.fork(scope, "sequential")
        const events = yield* breaker.subscribe.pipe(Scope.provide(own))
        yield* Stream.runForEach(events, forward).pipe(
          Effect.ensuring(Effect.sync(() => watched.delete(breaker))),
          Effect.ensuring(Scope.close(own, Exit.void)),
          Effect.forkIn(scope)
        )
      })

    const scan = Effect.flatMap(
      Effect.forEach(sources, breakersOf),
      (lists) => Effect.forEach(lists.flat(), watch, { discard: true })
    )

    // Subscribed before the snapshots are read: a transition in between shows in both, never in neither.
    yield* scan
    const circuits = yield* Effect.forEach(sources, snapshotsOf)
    const first: StreamEvent = {
      _tag: "Circuits",
      at: yield* Clock.currentTimeMillis,
      circuits: circuits.flat().map(fromSnapshot)
    }
    const heartbeats = Stream.fromSchedule(Schedule.spaced(heartbeat)).pipe(
      Stream.mapEffect(() =>
        Effect.andThen(scan, Clock.currentTimeMillis).pipe(
          Effect.map((at): StreamEvent => ({ _tag: "Heartbeat", at }))
        )
      )
    )
    let id = 0
    return Stream.make(first).pipe(
      Stream.concat(Stream.merge(Stream.fromQueue(queue), heartbeats)),
      Stream.map((event) =>
        Sse.encoder.write({
          _tag: "Event",
          event: event._tag,
          id: String(id++),
          data: JSON.stringify(encodeEvent(event))
        })
      ),
      Stream.encodeText
    )
  }))
