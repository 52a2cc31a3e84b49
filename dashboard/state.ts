/**
 * The page's model of the feed: every circuit's figures, history and
 * timeline, rebuilt from each `Init` (so a reconnect after a server restart
 * starts clean) and updated by `Tick` and `Changed`. No DOM here.
 */
import type {
  Circuit,
  DashboardEvent,
  FleetCircuit,
  FleetListing,
  Point,
  Policy,
  Settings,
  Transition
} from "../src/DashboardEvent.js"

export type { Circuit, FleetListing, Point, Policy, Settings, Transition }

/**
 * A circuit known only from the fleet, as a row: negative ids (the feed's
 * are positive), the fleet's figures, no local ones (the fleet's `fleet` view
 * is itself).
 */
const fleetRow = (circuit: FleetCircuit, index: number): Circuit => ({
  id: -1 - index,
  name: circuit.name,
  state: circuit.state,
  since: Number.NaN,
  sinceExact: false,
  calls: circuit.calls,
  failures: circuit.failures,
  slowCalls: circuit.slowCalls,
  failureRate: circuit.failureRate,
  slowCallRate: circuit.slowCallRate,
  consecutiveFailures: 0,
  consecutiveOpenings: circuit.consecutiveOpenings,
  probesInFlight: 0,
  nextProbeAt: null,
  openReason: null,
  openedBy: null,
  lastFailure: null,
  rejected: 0,
  latency: null,
  fleet: null
})

/** Whether a row is a circuit known only from the fleet. */
export const isFleetOnly = (circuit: Circuit): boolean => circuit.id < 0

type Init = Extract<DashboardEvent, { readonly _tag: "Init" }>
type Tick = Extract<DashboardEvent, { readonly _tag: "Tick" }>
type Changed = Extract<DashboardEvent, { readonly _tag: "Changed" }>

/** Lower is more severe: open first, then forced open, half-open, disabled, closed. */
export const severity: Readonly<Record<Circuit["state"], number>> = {
  Open: 0,
  ForcedOpen: 1,
  HalfOpen: 2,
  Disabled: 3,
  Closed: 4
}

export class Model {
  settings: Settings | undefined = undefined
  readonly circuits = new Map<number, Circuit>()
  readonly history = new Map<number, Array<Point>>()
  readonly timelines = new Map<number, Array<Transition>>()
  policies: ReadonlyArray<Policy> = []
  unwatched = 0
  /** The fleet's last listing (`fleet` option), and its circuits only other instances have, as rows. */
  fleet: FleetListing | null = null
  fleetRows: Array<Circuit> = []
  tick = 0
  /** The server's clock minus this one's, from the last event. */
  offset = 0
  /** When the last tick came (this clock). */
  lastTickAt = 0

  now(): number {
    return Date.now() + this.offset
  }

  init(event: Init): void {
    this.settings = event.settings
    this.circuits.clear()
    this.history.clear()
    this.timelines.clear()
    for (const circuit of event.circuits) this.circuits.set(circuit.id, circuit)
    for (const [id, points] of Object.entries(event.history)) this.history.set(Number(id), [...points])
    for (const [id, transitions] of Object.entries(event.timelines)) this.timelines.set(Number(id), [...transitions])
    this.policies = event.policies
    this.unwatched = event.unwatched
    this.setFleet(event.fleet)
    this.tick = event.tick
    this.clock(event.at)
  }

  /** Applies a tick; false for one the `Init` already held. */
  applyTick(event: Tick): boolean {
    if (event.tick <= this.tick) return false
    this.tick = event.tick
    for (const id of event.removed) {
      this.circuits.delete(id)
      this.history.delete(id)
      this.timelines.delete(id)
    }
    for (const circuit of event.circuits) this.circuits.set(circuit.id, circuit)
    const keep = this.settings?.historyPoints ?? 300
    for (const [key, point] of Object.entries(event.points)) {
      const id = Number(key)
      let points = this.history.get(id)
      if (points === undefined) {
        points = []
        this.history.set(id, points)
      }
      points.push(point)
      if (points.length > keep) points.splice(0, points.length - keep)
    }
    this.policies = event.policies
    this.unwatched = event.unwatched
    if (event.fleet !== null) this.setFleet(event.fleet)
    this.clock(event.at)
    this.lastTickAt = Date.now()
    return true
  }

  applyChanged(event: Changed): void {
    for (const circuit of event.circuits) this.circuits.set(circuit.id, circuit)
    for (const transition of event.transitions) {
      let timeline = this.timelines.get(transition.id)
      if (timeline === undefined) {
        timeline = []
        this.timelines.set(transition.id, timeline)
      }
      if (!timeline.some((t) => t.at === transition.at && t.to === transition.to)) timeline.push(transition)
      if (timeline.length > 50) timeline.shift()
    }
    this.clock(event.at)
  }

  private setFleet(fleet: FleetListing | null): void {
    this.fleet = fleet
    this.fleetRows = fleet === null ? [] : fleet.circuits.map(fleetRow)
  }

  private clock(serverNow: number): void {
    this.offset = serverNow - Date.now()
  }

  /** The circuits whose name contains `filter` (any case), most severe first. */
  visible(filter: string): Array<Circuit> {
    const needle = filter.trim().toLowerCase()
    const list: Array<Circuit> = []
    const local = new Set<string>()
    for (const circuit of this.circuits.values()) {
      local.add(circuit.name)
      if (needle === "" || circuit.name.toLowerCase().includes(needle)) list.push(circuit)
    }
    for (const circuit of this.fleetRows) {
      // A circuit this instance has watched since the listing shows once, with its own figures.
      if (local.has(circuit.name)) continue
      if (needle === "" || circuit.name.toLowerCase().includes(needle)) list.push(circuit)
    }
    return list.sort((a, b) =>
      severity[a.state] - severity[b.state] || b.failureRate - a.failureRate || a.name.localeCompare(b.name) ||
      a.id - b.id
    )
  }

  policiesOf(name: string): Array<Policy> {
    return this.policies.filter((policy) => policy.circuit === name)
  }
}

/** "1.5 s", "3 min 4 s", "2 h 5 min". */
export const formatDuration = (millis: number): string => {
  if (!Number.isFinite(millis) || millis < 0) return "—"
  if (millis < 1000) return `${Math.round(millis)} ms`
  const seconds = Math.floor(millis / 1000)
  if (seconds < 60) return `${seconds} s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`
}

export const formatPercent = (rate: number): string => `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)}`

export const formatLatency = (latency: Circuit["latency"]): string =>
  latency === null ? "—" : `${latency.p50} / ${latency.p90} / ${latency.p99}`

export const stateLabel: Readonly<Record<Circuit["state"], string>> = {
  Closed: "Closed",
  Open: "Open",
  ForcedOpen: "Forced open",
  HalfOpen: "Half-open",
  Disabled: "Disabled"
}
