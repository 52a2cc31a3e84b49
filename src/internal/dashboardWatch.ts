/**
 * What the dashboard keeps of one circuit: an observer of the breaker (see
 * `CircuitBreaker.observe`) that counts calls, failures, slow calls and
 * rejections and keeps the durations of timed calls, the circuit's history
 * (one point per interval, in a fixed ring) and its last transitions.
 *
 * The observer runs inside the breaker's atomic section, on the call path:
 * it only bumps numbers (an array increment for a duration). It asks for no
 * timing unless the dashboard was told to (`timeCalls`), so a breaker that
 * does not time its calls anyway keeps its cheapest closed path.
 *
 * @internal
 */
import { Duration } from "effect"
import type { CircuitBreaker } from "../CircuitBreaker.js"
import type { TransitionReason } from "../CircuitBreakerEvent.js"
import type { FailureSummary, Snapshot } from "../CircuitBreakerSnapshot.js"
import type { State } from "../CircuitState.js"
import type { CircuitObserver } from "../CircuitStore.js"
import type { Outcome } from "../Classifier.js"
import type { Circuit, Failure, Point, Transition } from "../DashboardEvent.js"
import { fleetFigures } from "./dashboardFleet.js"
import { LatencyHistogram } from "./latencyHistogram.js"

/** The transitions kept per circuit for its timeline. @internal */
export const timelineLength = 50

/** Slots of the rolling latency window (each `slotMillis` long): one minute, as Hystrix's rolling percentiles. */
const latencySlots = 6
const slotMillis = 10_000
const pointWidth = 6

const failureOf = (summary: FailureSummary | null): Failure | null =>
  summary === null ? null : { at: summary.at, tag: summary.tag, message: summary.message }

/** @internal */
export class CircuitWatch implements CircuitObserver {
  readonly needsTime: boolean
  private calls = 0
  private failures = 0
  private slowCalls = 0
  private rejected = 0
  private rejectedTotal = 0
  /** Durations of the current interval, then of the rolling window's slots (made on the first timed call). */
  private latency: { readonly interval: LatencyHistogram; readonly slots: Array<LatencyHistogram> } | undefined
  private slot = 0
  private slotStartedAt: number
  private since: number
  private sinceExact = false
  private readonly history: Float32Array
  private historyStart = 0
  private historyLength = 0
  readonly timeline: Array<Transition> = []
  /** The figures last sent, and their JSON (to tell a changed circuit). */
  frame: Circuit | undefined = undefined
  frameJson = ""
  /** Whether a transition of this circuit waits to be sent. */
  pending = false

  constructor(
    readonly id: number,
    readonly breaker: CircuitBreaker,
    timeCalls: boolean,
    readonly historyPoints: number,
    watchedAt: number,
    private readonly onChange: (watch: CircuitWatch, transition: Transition) => void
  ) {
    this.needsTime = timeCalls
    this.since = watchedAt
    this.slotStartedAt = watchedAt
    this.history = new Float32Array(historyPoints * pointWidth)
  }

  onTransition(from: State, to: State, reason: TransitionReason, at: number): void {
    this.since = at
    this.sinceExact = true
    const transition: Transition = { id: this.id, from, to, reason, at }
    if (this.timeline.length === timelineLength) this.timeline.shift()
    this.timeline.push(transition)
    this.onChange(this, transition)
  }

  onCall(
    _state: "Closed" | "HalfOpen" | "Disabled",
    outcome: Outcome,
    slow: boolean,
    durationMillis: number,
    _counted: boolean,
    at: number | undefined
  ): void {
    this.calls++
    if (outcome === "failure") this.failures++
    if (slow) this.slowCalls++
    // `at` is known only for calls the breaker timed: only their durations mean anything.
    if (at !== undefined) {
      if (this.latency === undefined) {
        this.latency = {
          interval: new LatencyHistogram(),
          slots: Array.from({ length: latencySlots }, () => new LatencyHistogram())
        }
      }
      this.latency.interval.record(durationMillis)
    }
  }

  onReject(): void {
    this.rejected++
    this.rejectedTotal++
  }

  /** Closes the interval: its point goes into the history, and the counts start again. */
  takePoint(now: number): Point {
    const latency = this.latency
    let p50 = -1
    let p99 = -1
    if (latency !== undefined) {
      p50 = latency.interval.percentile(0.5)
      p99 = latency.interval.percentile(0.99)
      if (now - this.slotStartedAt >= slotMillis) {
        this.slot = (this.slot + 1) % latencySlots
        this.slotStartedAt = now
        latency.slots[this.slot]!.clear()
      }
      latency.slots[this.slot]!.add(latency.interval)
      latency.interval.clear()
    }
    const point: Point = [this.calls, this.failures, this.slowCalls, this.rejected, p50, p99]
    this.calls = 0
    this.failures = 0
    this.slowCalls = 0
    this.rejected = 0
    const end = (this.historyStart + this.historyLength) % this.historyPoints
    this.history.set(point, end * pointWidth)
    if (this.historyLength < this.historyPoints) this.historyLength++
    else this.historyStart = (this.historyStart + 1) % this.historyPoints
    return point
  }

  /** The history, oldest point first. */
  points(): Array<Point> {
    const points: Array<Point> = []
    for (let i = 0; i < this.historyLength; i++) {
      const at = ((this.historyStart + i) % this.historyPoints) * pointWidth
      const h = this.history
      points.push([h[at]!, h[at + 1]!, h[at + 2]!, h[at + 3]!, h[at + 4]!, h[at + 5]!])
    }
    return points
  }

  /** The circuit's figures from its snapshot; `changed` tells whether they differ from the last sent. */
  update(snapshot: Snapshot): boolean {
    const openState = snapshot.state === "Open" || snapshot.state === "ForcedOpen"
    // Opened before the dashboard watched it: the snapshot knows since when.
    if (!this.sinceExact && openState && snapshot.openedAt !== null) {
      this.since = snapshot.openedAt
      this.sinceExact = true
    }
    const fleet = snapshot.fleet
    const frame: Circuit = {
      id: this.id,
      name: snapshot.breaker,
      state: snapshot.state,
      since: this.since,
      sinceExact: this.sinceExact,
      calls: snapshot.calls,
      failures: snapshot.failures,
      slowCalls: snapshot.slowCalls,
      failureRate: snapshot.failureRate,
      slowCallRate: snapshot.slowCallRate,
      consecutiveFailures: snapshot.consecutiveFailures,
      consecutiveOpenings: snapshot.consecutiveOpenings,
      probesInFlight: snapshot.probesInFlight,
      nextProbeAt: snapshot.state === "Open" ? snapshot.at + Duration.toMillis(snapshot.retryAfter) : null,
      openReason: snapshot.openReason,
      openedBy: failureOf(snapshot.openedBy),
      lastFailure: failureOf(snapshot.lastFailure),
      rejected: this.rejectedTotal,
      latency: this.rollingLatency(),
      fleet: fleet === null ? null : { ...fleetFigures(fleet), readAt: fleet.readAt }
    }
    const json = JSON.stringify(frame)
    this.frame = frame
    if (json === this.frameJson) return false
    this.frameJson = json
    return true
  }

  private rollingLatency(): Circuit["latency"] {
    if (this.latency === undefined) return null
    const all = new LatencyHistogram()
    for (const slot of this.latency.slots) all.add(slot)
    all.add(this.latency.interval)
    if (all.total === 0) return null
    return {
      p50: all.percentile(0.5),
      p90: all.percentile(0.9),
      p99: all.percentile(0.99),
      max: all.max,
      samples: all.total
    }
  }
}
