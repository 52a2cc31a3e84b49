/**
 * How breakers and policies expose their metrics: each series is registered
 * in the context's `Metric.MetricRegistry` with hooks that read plain
 * numbers, so a call only bumps a field and the registry reads the value when
 * it is scraped.
 *
 * A breaker's series belong to the breaker: registered when it is made, gone
 * when its scope closes. A policy has no scope, so its counters are cells
 * shared by every policy of the same kind and name in one registry: a policy
 * made again under the same name adds to the same series.
 *
 * @internal
 */
import type { Clock } from "effect"
import { Context, Metric } from "effect"
import type { TransitionReason } from "../CircuitBreakerEvent.js"
import type { RejectingState, State } from "../CircuitState.js"
import type { Outcome } from "../Classifier.js"
import { circuitBreaker, durationBoundaries, stateValue } from "../Metrics.js"
import type { Circuit, CircuitObserver } from "./circuit.js"
import type { Admission } from "./phase.js"

type Attributes = Readonly<Record<string, string>>

const noop = () => {}

/** Registers a series of `metric` labelled `attributes`, whose state is `get()`. */
const register = <State>(
  context: Context.Context<never>,
  metric: Metric.Metric<number, State>,
  attributes: Attributes,
  get: () => State
): Metric.Registration =>
  Metric.registerUnsafe(Metric.withAttributes(metric, attributes), context, { get, update: noop, modify: noop })

/** Registers a counter series whose count is `read()`. @internal */
export const registerCounter = (
  context: Context.Context<never>,
  metric: Metric.Counter<number>,
  attributes: Attributes,
  read: () => number
): Metric.Registration => register(context, metric, attributes, () => ({ count: read(), incremental: true }))

/** Registers a gauge series whose value is `read()`. @internal */
export const registerGauge = (
  context: Context.Context<never>,
  metric: Metric.Gauge<number>,
  attributes: Attributes,
  read: () => number
): Metric.Registration => register(context, metric, attributes, () => ({ value: read() }))

/** A histogram's counts, observed in O(buckets) without allocating. @internal */
export class HistogramCells {
  private readonly counts: Float64Array
  count = 0
  sum = 0
  min = Number.MAX_VALUE
  max = -Number.MAX_VALUE

  constructor(private readonly boundaries: ReadonlyArray<number>) {
    this.counts = new Float64Array(boundaries.length + 1)
  }

  observe(value: number): void {
    const boundaries = this.boundaries
    let i = 0
    while (i < boundaries.length && value > boundaries[i]!) i++
    this.counts[i]!++
    this.count++
    this.sum += value
    if (value < this.min) this.min = value
    if (value > this.max) this.max = value
  }

  /** The state Effect's histogram reports: cumulative counts per boundary. */
  state(): Metric.HistogramState {
    const buckets: Array<[number, number]> = []
    let cumulated = 0
    for (let i = 0; i < this.boundaries.length; i++) {
      cumulated += this.counts[i]!
      buckets.push([this.boundaries[i]!, cumulated])
    }
    return { buckets, count: this.count, min: this.min, max: this.max, sum: this.sum }
  }
}

const namesByRegistry = new WeakMap<object, Map<string, Set<string>>>()

/**
 * Claims a name of `kind` in the context's metric registry: only one live
 * owner reports under a name, since two would write into each other's
 * series. Returns what releases the claim, or `undefined` when the name is
 * taken.
 *
 * @internal
 */
export const claimName = (
  context: Context.Context<never>,
  kind: string,
  name: string
): (() => void) | undefined => {
  const registry = Context.get(context, Metric.MetricRegistry)
  let kinds = namesByRegistry.get(registry)
  if (kinds === undefined) {
    kinds = new Map()
    namesByRegistry.set(registry, kinds)
  }
  let names = kinds.get(kind)
  if (names === undefined) {
    names = new Set()
    kinds.set(kind, names)
  }
  if (names.has(name)) return undefined
  names.add(name)
  const claimed = names
  return () => void claimed.delete(name)
}

/**
 * Claims a breaker name's series in the context's registry (see
 * `claimName`).
 *
 * @internal
 */
export const claimBreakerName = (context: Context.Context<never>, name: string): (() => void) | undefined =>
  claimName(context, "CircuitBreaker", name)

/**
 * A circuit breaker's metrics: an observer of its circuit that counts calls,
 * slow calls, rejections, transitions and time spent open, and observes call
 * durations into a histogram when the calls are timed: always when the
 * configuration times them anyway (a time window, a slow-call rule), and
 * otherwise only when asked (`callDurations`), since timing a call costs two
 * clock reads — as much as the rest of the breaker.
 *
 * @internal
 */
export class BreakerMetrics implements CircuitObserver {
  private successes = 0
  private failures = 0
  private ignored = 0
  private rejected = 0
  private slowSuccesses = 0
  private slowFailures = 0
  private readonly durations = new HistogramCells(durationBoundaries)
  private readonly transitionCounts = new Map<string, { count: number }>()
  private openMillis = 0
  private openSince: number | undefined = undefined
  private readonly registrations: Array<Metric.Registration> = []
  private readonly attributes: Attributes
  /** Whether this observer times calls itself: the configuration does not, and call durations were asked for. */
  readonly needsTime: boolean
  /** Whether call durations are observed at all. */
  private readonly durationsObserved: boolean

  constructor(
    name: string,
    private readonly circuit: Circuit,
    private readonly context: Context.Context<never>,
    private readonly clock: Clock.Clock,
    callDurations: boolean | undefined
  ) {
    this.durationsObserved = callDurations ?? circuit.timesCalls
    this.needsTime = this.durationsObserved && !circuit.timesCalls
    const breaker = { breaker: name }
    this.attributes = breaker
    const series = this.registrations
    series.push(registerGauge(context, circuitBreaker.state, breaker, () => stateValue[circuit.current._tag]))
    const outcomes: ReadonlyArray<readonly [string, () => number]> = [
      ["success", () => this.successes],
      ["failure", () => this.failures],
      ["ignored", () => this.ignored],
      ["rejected", () => this.rejected]
    ]
    for (const [outcome, read] of outcomes) {
      series.push(registerCounter(context, circuitBreaker.calls, { ...breaker, outcome }, read))
    }
    if (this.durationsObserved) {
      series.push(register(context, circuitBreaker.callDuration, breaker, () => this.durations.state()))
    }
    series.push(
      registerCounter(context, circuitBreaker.slowCalls, { ...breaker, outcome: "success" }, () => this.slowSuccesses),
      registerCounter(context, circuitBreaker.slowCalls, { ...breaker, outcome: "failure" }, () => this.slowFailures),
      registerCounter(context, circuitBreaker.openSeconds, breaker, () => this.openSeconds()),
      registerGauge(context, circuitBreaker.failureRate, breaker, () => this.rate("failures")),
      registerGauge(context, circuitBreaker.slowCallRate, breaker, () => this.rate("slowCalls"))
    )
    const phase = circuit.current._tag
    if (phase === "Open" || phase === "ForcedOpen") this.openSince = clock.currentTimeMillisUnsafe()
  }

  onCall(
    _state: Admission["state"],
    outcome: Outcome,
    slow: boolean,
    durationMillis: number,
    _counted: boolean,
    _at: number | undefined
  ): void {
    if (outcome === "success") {
      this.successes++
      if (slow) this.slowSuccesses++
    } else if (outcome === "failure") {
      this.failures++
      if (slow) this.slowFailures++
    } else {
      this.ignored++
    }
    if (this.durationsObserved) this.durations.observe(durationMillis / 1000)
  }

  onReject(_state: RejectingState, _retryAfterMillis: number, _at: number): void {
    this.rejected++
  }

  onTransition(from: State, to: State, _reason: TransitionReason, at: number): void {
    const key = `${from}>${to}`
    let cell = this.transitionCounts.get(key)
    if (cell === undefined) {
      const created = { count: 0 }
      cell = created
      this.transitionCounts.set(key, created)
      this.registrations.push(
        registerCounter(this.context, circuitBreaker.transitions, { ...this.attributes, from, to }, () => created.count)
      )
    }
    cell.count++
    const wasOpen = from === "Open" || from === "ForcedOpen"
    const isOpen = to === "Open" || to === "ForcedOpen"
    if (wasOpen && !isOpen && this.openSince !== undefined) {
      this.openMillis += Math.max(0, at - this.openSince)
      this.openSince = undefined
    } else if (isOpen && !wasOpen) {
      this.openSince = at
    }
  }

  /** Removes every series; called when the breaker's scope closes. */
  remove(): void {
    for (const registration of this.registrations) registration.remove()
    this.registrations.length = 0
  }

  private openSeconds(): number {
    const current = this.openSince === undefined
      ? 0
      : Math.max(0, this.clock.currentTimeMillisUnsafe() - this.openSince)
    return (this.openMillis + current) / 1000
  }

  private rate(of: "failures" | "slowCalls"): number {
    const window = this.circuit.window
    window.expire(this.clock.currentTimeMillisUnsafe())
    return window.calls === 0 ? 0 : window[of] / window.calls
  }
}

// ---------------------------------------------------------------------------
// Policy counters
// ---------------------------------------------------------------------------

/** A number a series reads. @internal */
export interface Cell {
  count: number
}

const cellsByRegistry = new WeakMap<object, Map<string, Cell>>()

/**
 * The cell behind a policy counter series in the context's registry, made
 * and registered on first use.
 *
 * @internal
 */
export const policyCell = (
  context: Context.Context<never>,
  metric: Metric.Counter<number>,
  attributes: Attributes
): Cell => {
  const registry = Context.get(context, Metric.MetricRegistry)
  let cells = cellsByRegistry.get(registry)
  if (cells === undefined) {
    cells = new Map()
    cellsByRegistry.set(registry, cells)
  }
  const key = JSON.stringify([metric.id, Object.entries(attributes).sort()])
  let cell = cells.get(key)
  if (cell === undefined) {
    const created: Cell = { count: 0 }
    cell = created
    cells.set(key, created)
    registerCounter(context, metric, attributes, () => created.count)
  }
  return cell
}
