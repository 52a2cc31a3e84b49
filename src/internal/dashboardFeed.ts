/**
 * The dashboard's feed: one sampler per mounted dashboard, shared by every
 * stream. Every interval it finds the circuits of its sources (a registry's
 * come and go), reads each breaker's snapshot and what its observer counted,
 * reads the policies, and publishes one `Tick` — encoded once, as SSE bytes,
 * whatever the number of readers. A transition reaches the feed through the
 * breaker's observer and goes out at once as a `Changed` event.
 *
 * Memory is bounded: at most `maxCircuits` circuits are watched, each with a
 * fixed ring of history and at most `timelineLength` transitions; the hub is
 * a sliding buffer, so a reader that falls behind loses its oldest events
 * (every tenth tick carries every circuit, so it catches up), never slows the
 * sampler or the breakers. The guarded calls never wait for it.
 *
 * @internal
 */
import type { Duration } from "effect"
import { Clock, Effect, Exit, PubSub, Queue, Schema, Scope, Stream } from "effect"
import { Sse } from "effect/encoding"
import type { CircuitBreaker } from "../CircuitBreaker.js"
import type { Circuit, Point, Policy, Settings, Transition } from "../DashboardEvent.js"
import { DashboardEvent } from "../DashboardEvent.js"
import type { CircuitSource } from "./circuitSources.js"
import { breakersOf } from "./circuitSources.js"
import type { ListFleet } from "./dashboardFleet.js"
import { FleetPoller } from "./dashboardFleet.js"
import type { PolicyWatch } from "./dashboardPolicies.js"
import { CircuitWatch } from "./dashboardWatch.js"

/** Every how many ticks a tick carries every circuit, not only those that changed. @internal */
export const fullTickEvery = 10

/** Events a slow reader may fall behind before it loses the oldest. */
const hubCapacity = 64

const encodeEvent = Schema.encodeSync(Schema.toCodecJson(DashboardEvent))
const utf8 = new TextEncoder()

/** A defect in one round (a breaker of another copy that misbehaves) is logged; the next round runs. */
const survive = (what: string) => <A>(round: Effect.Effect<A>) =>
  Effect.catchCause(round, (cause) => Effect.logError(`Dashboard: ${what} failed`, cause))

/** @internal */
export interface FeedSettings {
  readonly sources: ReadonlyArray<CircuitSource>
  readonly policies: ReadonlyArray<PolicyWatch>
  readonly interval: Duration.Duration
  readonly historyPoints: number
  readonly timeCalls: boolean
  readonly maxCircuits: number
  readonly page: Settings
  /** The fleet's listing and how often to read it, with the `fleet` option. */
  readonly fleet: { readonly list: ListFleet; readonly period: Duration.Duration } | undefined
}

/** @internal */
export class Feed {
  private readonly watches = new Map<
    CircuitBreaker,
    { readonly watch: CircuitWatch; readonly scope: Scope.Closeable }
  >()
  private nextId = 1
  private tick = 0
  private eventId = 0
  private unwatched = 0
  private policies: ReadonlyArray<Policy> = []
  private transitions: Array<Transition> = []
  private readonly fleet: FleetPoller | undefined

  private constructor(
    private readonly settings: FeedSettings,
    private readonly scope: Scope.Scope,
    private readonly clock: Clock.Clock,
    private readonly changes: Queue.Queue<CircuitWatch>,
    private readonly hub: PubSub.PubSub<Uint8Array>
  ) {
    this.fleet = settings.fleet === undefined ? undefined : new FleetPoller(settings.fleet.list, () => {
      const names = new Set<string>()
      for (const breaker of this.watches.keys()) names.add(breaker.name)
      return names
    })
  }

  /**
   * Starts the feed in `scope`: a first sample at once (so the first reader
   * finds every circuit), then one every interval, and the sender of
   * transitions; both end when the scope closes.
   */
  static start(settings: FeedSettings): Effect.Effect<Feed, never, Scope.Scope> {
    return Effect.gen(function*() {
      const scope = yield* Effect.scope
      // Each circuit waits in `changes` at most once (its `pending` flag): the queue holds at most every circuit.
      const changes = yield* Queue.unbounded<CircuitWatch>()
      const hub = yield* PubSub.sliding<Uint8Array>(hubCapacity)
      const feed = new Feed(settings, scope, yield* Clock.Clock, changes, hub)
      yield* Effect.forEach(settings.policies, (policy) => policy.start(scope), { discard: true })
      yield* Scope.addFinalizer(scope, PubSub.shutdown(feed.hub))
      if (feed.fleet !== undefined) yield* feed.fleet.start(settings.fleet!.period, scope)
      yield* feed.sample
      yield* Effect.sleep(settings.interval).pipe(
        Effect.andThen(feed.sample),
        survive("a sample"),
        Effect.forever,
        Effect.forkIn(scope)
      )
      yield* Queue.takeAll(feed.changes).pipe(
        Effect.flatMap((watches) => feed.sendChanges(watches)),
        survive("sending a transition"),
        Effect.forever,
        Effect.forkIn(scope)
      )
      return feed
    })
  }

  /** Called by an observer, inside its breaker's atomic section: only queues the circuit. */
  private readonly changed = (watch: CircuitWatch, transition: Transition): void => {
    this.transitions.push(transition)
    if (this.transitions.length > 1000) this.transitions.shift()
    if (watch.pending) return
    watch.pending = true
    Queue.offerUnsafe(this.changes, watch)
  }

  /** Watches new circuits, forgets those gone (a registry's evicted ones); the ids of the forgotten. */
  private get scan(): Effect.Effect<ReadonlyArray<number>> {
    return Effect.gen({ self: this }, function*() {
      const lists = yield* Effect.forEach(this.settings.sources, breakersOf)
      const seen = new Set<CircuitBreaker>()
      let unwatched = 0
      const now = this.clock.currentTimeMillisUnsafe()
      for (const breaker of lists.flat()) {
        if (seen.has(breaker)) continue
        seen.add(breaker)
        if (this.watches.has(breaker)) continue
        if (this.watches.size >= this.settings.maxCircuits) {
          unwatched++
          continue
        }
        const watch = new CircuitWatch(
          this.nextId++,
          breaker,
          this.settings.timeCalls,
          this.settings.historyPoints,
          now,
          this.changed
        )
        const own = yield* Scope.fork(this.scope, "sequential")
        yield* breaker.observe(watch).pipe(Scope.provide(own))
        this.watches.set(breaker, { watch, scope: own })
      }
      this.unwatched = unwatched
      const removed: Array<number> = []
      for (const [breaker, { scope, watch }] of this.watches) {
        if (seen.has(breaker)) continue
        this.watches.delete(breaker)
        removed.push(watch.id)
        yield* Scope.close(scope, Exit.void)
      }
      return removed
    })
  }

  /** One interval: scan, read every circuit and policy, publish a `Tick`. */
  private get sample(): Effect.Effect<void> {
    return Effect.gen({ self: this }, function*() {
      const removed = yield* this.scan
      const now = this.clock.currentTimeMillisUnsafe()
      this.tick++
      const full = this.tick % fullTickEvery === 0
      const circuits: Array<Circuit> = []
      const points: Record<string, Point> = {}
      for (const { watch } of this.watches.values()) {
        const changed = watch.update(yield* watch.breaker.snapshot)
        points[watch.id] = watch.takePoint(now)
        if (changed || full) circuits.push(watch.frame!)
      }
      this.policies = yield* Effect.forEach(this.settings.policies, (policy) => policy.sample)
      yield* this.publish({
        _tag: "Tick",
        at: now,
        tick: this.tick,
        full,
        circuits,
        points,
        removed,
        policies: this.policies,
        unwatched: this.unwatched,
        fleet: this.fleet?.take() ?? null
      })
    })
  }

  private sendChanges(watches: ReadonlyArray<CircuitWatch>): Effect.Effect<void> {
    return Effect.gen({ self: this }, function*() {
      const circuits: Array<Circuit> = []
      for (const watch of watches) {
        watch.pending = false
        // A circuit forgotten meanwhile (evicted) is not sent.
        if (!this.watches.has(watch.breaker)) continue
        watch.update(yield* watch.breaker.snapshot)
        circuits.push(watch.frame!)
      }
      const transitions = this.transitions
      this.transitions = []
      if (circuits.length === 0 && transitions.length === 0) return
      yield* this.publish({ _tag: "Changed", at: this.clock.currentTimeMillisUnsafe(), circuits, transitions })
    })
  }

  private publish(event: DashboardEvent): Effect.Effect<void> {
    return Effect.asVoid(PubSub.publish(this.hub, this.encode(event)))
  }

  private encode(event: DashboardEvent): Uint8Array {
    return utf8.encode(
      Sse.encoder.write({
        _tag: "Event",
        event: event._tag,
        id: String(this.eventId++),
        data: JSON.stringify(encodeEvent(event))
      })
    )
  }

  /** The `Init` event a new reader starts with: everything the feed knows now. */
  initEvent(): Uint8Array {
    const circuits: Array<Circuit> = []
    const history: Record<string, ReadonlyArray<Point>> = {}
    const timelines: Record<string, ReadonlyArray<Transition>> = {}
    for (const { watch } of this.watches.values()) {
      if (watch.frame === undefined) continue
      circuits.push(watch.frame)
      history[watch.id] = watch.points()
      timelines[watch.id] = watch.timeline
    }
    return this.encode({
      _tag: "Init",
      at: this.clock.currentTimeMillisUnsafe(),
      tick: this.tick,
      settings: this.settings.page,
      circuits,
      history,
      timelines,
      policies: this.policies,
      unwatched: this.unwatched,
      fleet: this.fleet?.listing ?? null
    })
  }

  /**
   * A reader's stream: `Init`, then every event published from the moment
   * it subscribed (subscribed first, so nothing falls in between).
   */
  get stream(): Stream.Stream<Uint8Array> {
    return Stream.unwrap(
      Effect.map(PubSub.subscribe(this.hub), (subscription) =>
        Stream.make(this.initEvent()).pipe(
          Stream.concat(Stream.fromSubscription(subscription))
        ))
    )
  }
}
