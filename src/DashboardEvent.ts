/**
 * What the dashboard's stream (`GET {path}/stream`, see `Dashboard`) sends,
 * as `effect/Schema` structures: the page reads them, and a script or a test
 * decodes them with the same schemas. Every field is a JSON value (numbers,
 * strings, `null`, arrays, records), so a payload's encoded form is the
 * payload itself. Instants are epoch milliseconds of the server's clock.
 *
 * The stream sends Server-Sent Events whose `event` is the payload's `_tag`:
 *
 * - `Init` first: the settings, every circuit, its history (one `Point` per
 *   interval, the oldest first) and its state timeline, and the policies;
 * - `Tick` every interval: one `Point` per circuit, the circuits whose
 *   figures changed (every circuit on every tenth tick), and the policies.
 *   Ticks are the stream's heartbeat;
 * - `Changed` at once when circuits change state: their new figures and the
 *   transitions.
 *
 * ```ts
 * import { Schema } from "effect"
 * import { DashboardEvent } from "effect-resilience"
 *
 * // The `data` of each event of the stream:
 * const decodeData = Schema.decodeUnknownSync(Schema.fromJsonString(DashboardEvent.DashboardEvent))
 * ```
 *
 * @since 0.1.0
 */
import { Schema, Struct } from "effect"
import { TransitionReason } from "./CircuitBreakerEvent.js"
import { FleetSnapshot, Snapshot } from "./CircuitBreakerSnapshot.js"
import { State } from "./CircuitState.js"

/**
 * Call latency in milliseconds: percentiles over the last minute, from the
 * calls the breaker timed (within 12.5%: the sampler keeps counts in
 * logarithmic buckets, eight per doubling).
 *
 * @category schemas
 * @since 0.1.0
 */
export const Latency = Schema.Struct({
  p50: Schema.Number,
  p90: Schema.Number,
  p99: Schema.Number,
  max: Schema.Number,
  /** The timed calls the percentiles are over. */
  samples: Schema.Number
})

/**
 * @category models
 * @since 0.1.0
 */
export type Latency = typeof Latency.Type

/**
 * A failed call: when it ended, its error's tag (or class name) and message.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Failure = Schema.Struct({ at: Schema.Number, tag: Schema.NullOr(Schema.String), message: Schema.String })

/**
 * @category models
 * @since 0.1.0
 */
export type Failure = typeof Failure.Type

/**
 * The fleet's view of a circuit shared through a store (`Snapshot.fleet`):
 * the shared state and the totals of the fleet's merged window.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Fleet = Schema.Struct(
  // The store's fleet snapshot, as it defines it: one definition for both.
  Struct.pick(FleetSnapshot.fields, [
    "state",
    "calls",
    "failures",
    "slowCalls",
    "failureRate",
    "slowCallRate",
    "consecutiveOpenings",
    "readAt"
  ])
)

/**
 * @category models
 * @since 0.1.0
 */
export type Fleet = typeof Fleet.Type

/**
 * A circuit known only from the fleet (see `Dashboard`'s `fleet` option): a
 * circuit under the Redis store's prefix that no breaker of this instance
 * has, with the fleet's state and merged window. There are no local figures.
 *
 * @category schemas
 * @since 0.1.0
 */
export const FleetCircuit = Schema.Struct({
  name: Schema.String,
  ...Struct.pick(FleetSnapshot.fields, [
    "state",
    "calls",
    "failures",
    "slowCalls",
    "failureRate",
    "slowCallRate",
    "consecutiveOpenings"
  ])
})

/**
 * @category models
 * @since 0.1.0
 */
export type FleetCircuit = typeof FleetCircuit.Type

/**
 * The fleet's listing, read from the Redis store every few intervals:
 *
 * - `circuits`: the circuits only other instances have (this instance's own
 *   carry their `fleet` view already);
 * - `totals`: over every circuit of the fleet, this instance's included: how
 *   many, how many not closed, and the merged windows' calls, failures and
 *   slow calls;
 * - `instances`: the store instances alive (`null` when Redis would not count them);
 * - `skipped`: keys under the prefix that are no circuit of the store's;
 * - `complete`: `false` when the listing stopped at `maxCircuits`;
 * - `error`: why the last listing failed (Redis did not answer), `null` when
 *   it succeeded; the figures are then the last ones read, as of `readAt`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const FleetListing = Schema.Struct({
  readAt: Schema.Number,
  instances: Schema.NullOr(Schema.Number),
  circuits: Schema.Array(FleetCircuit),
  totals: Schema.Struct({
    circuits: Schema.Number,
    notClosed: Schema.Number,
    calls: Schema.Number,
    failures: Schema.Number,
    slowCalls: Schema.Number
  }),
  skipped: Schema.Number,
  complete: Schema.Boolean,
  error: Schema.NullOr(Schema.String)
})

/**
 * @category models
 * @since 0.1.0
 */
export type FleetListing = typeof FleetListing.Type

/**
 * One circuit's figures.
 *
 * - `id`: the sampler's number for the breaker (two breakers may share a name);
 * - `since`: when the circuit entered its state; `sinceExact` is false when
 *   it has been in it since before the dashboard watched it (then `since`
 *   is when watching began);
 * - `calls` … `slowCallRate`, `consecutiveFailures`, `consecutiveOpenings`,
 *   `probesInFlight`: the breaker's snapshot (its own sliding window);
 * - `nextProbeAt`: when a probe is next let in (`Open`), `null` otherwise;
 * - `rejected`: calls rejected since the dashboard watched the breaker;
 * - `latency`: `null` until the breaker has timed a call in the last minute;
 * - `fleet`: the fleet's view, for a circuit shared through a store.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Circuit = Schema.Struct({
  id: Schema.Number,
  name: Schema.String,
  state: State,
  since: Schema.Number,
  sinceExact: Schema.Boolean,
  // The window's figures as a snapshot has them: one definition for both.
  ...Struct.pick(Snapshot.fields, [
    "calls",
    "failures",
    "slowCalls",
    "failureRate",
    "slowCallRate",
    "consecutiveFailures",
    "consecutiveOpenings",
    "probesInFlight"
  ]),
  nextProbeAt: Schema.NullOr(Schema.Number),
  openReason: Schema.NullOr(TransitionReason),
  openedBy: Schema.NullOr(Failure),
  lastFailure: Schema.NullOr(Failure),
  rejected: Schema.Number,
  latency: Schema.NullOr(Latency),
  fleet: Schema.NullOr(Fleet)
})

/**
 * @category models
 * @since 0.1.0
 */
export type Circuit = typeof Circuit.Type

/**
 * One interval of one circuit: `[calls, failures, slowCalls, rejected,
 * p50, p99]` — the calls that ended in the interval, by outcome, the calls
 * rejected, and the latency percentiles of the interval's timed calls in
 * milliseconds (`-1` when none was timed).
 *
 * @category schemas
 * @since 0.1.0
 */
export const Point = Schema.Tuple([
  Schema.Number,
  Schema.Number,
  Schema.Number,
  Schema.Number,
  Schema.Number,
  Schema.Number
])

/**
 * @category models
 * @since 0.1.0
 */
export type Point = typeof Point.Type

/**
 * A state change of a circuit.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Transition = Schema.Struct({
  id: Schema.Number,
  from: State,
  to: State,
  reason: TransitionReason,
  at: Schema.Number
})

/**
 * @category models
 * @since 0.1.0
 */
export type Transition = typeof Transition.Type

/**
 * A policy shown beside a circuit (`circuit`, the name it was given under):
 * its kind and name, and its figures by name (see docs/dashboard.md for the
 * figures of each kind: counts in the last interval, totals, occupancy).
 *
 * @category schemas
 * @since 0.1.0
 */
export const Policy = Schema.Struct({
  circuit: Schema.String,
  kind: Schema.Literals([
    "Retry",
    "RetryBudget",
    "Timeout",
    "Bulkhead",
    "Fallback",
    "LastKnownGood",
    "Hedge",
    "AdaptiveLimit"
  ]),
  name: Schema.String,
  figures: Schema.Record(Schema.String, Schema.Number)
})

/**
 * @category models
 * @since 0.1.0
 */
export type Policy = typeof Policy.Type

/**
 * The settings the page needs: the interval between ticks, the points of
 * history kept, where the admin routes are (`null`: no actions), the
 * dashboard's title and this instance's name.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Settings = Schema.Struct({
  intervalMillis: Schema.Number,
  historyPoints: Schema.Number,
  adminPath: Schema.NullOr(Schema.String),
  title: Schema.String,
  instance: Schema.String,
  maxCircuits: Schema.Number
})

/**
 * @category models
 * @since 0.1.0
 */
export type Settings = typeof Settings.Type

/**
 * The first event of a stream. `history` and `timelines` are keyed by
 * circuit id; `tick` is the number of the last tick (later ticks count on
 * from it); `unwatched` counts the circuits past `maxCircuits`; `fleet` is
 * the fleet's last listing (`null` without the `fleet` option, or before
 * the first).
 *
 * @category schemas
 * @since 0.1.0
 */
export const Init = Schema.TaggedStruct("Init", {
  at: Schema.Number,
  tick: Schema.Number,
  settings: Settings,
  circuits: Schema.Array(Circuit),
  history: Schema.Record(Schema.String, Schema.Array(Point)),
  timelines: Schema.Record(Schema.String, Schema.Array(Transition)),
  policies: Schema.Array(Policy),
  unwatched: Schema.Number,
  fleet: Schema.NullOr(FleetListing)
})

/**
 * Sent every interval: `points` is keyed by circuit id (every watched
 * circuit), `circuits` holds the circuits whose figures changed (all of
 * them when `full`), `removed` the ids of circuits no longer watched,
 * `fleet` the fleet's listing when a new one was read since the last tick
 * (`null` otherwise).
 *
 * @category schemas
 * @since 0.1.0
 */
export const Tick = Schema.TaggedStruct("Tick", {
  at: Schema.Number,
  tick: Schema.Number,
  full: Schema.Boolean,
  circuits: Schema.Array(Circuit),
  points: Schema.Record(Schema.String, Point),
  removed: Schema.Array(Schema.Number),
  policies: Schema.Array(Policy),
  unwatched: Schema.Number,
  fleet: Schema.NullOr(FleetListing)
})

/**
 * Sent at once when circuits change state.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Changed = Schema.TaggedStruct("Changed", {
  at: Schema.Number,
  circuits: Schema.Array(Circuit),
  transitions: Schema.Array(Transition)
})

/**
 * A payload of the stream, whichever it is; its `_tag` is the SSE event name.
 *
 * @category schemas
 * @since 0.1.0
 */
export const DashboardEvent = Schema.Union([Init, Tick, Changed])

/**
 * @category models
 * @since 0.1.0
 */
export type DashboardEvent = typeof DashboardEvent.Type
