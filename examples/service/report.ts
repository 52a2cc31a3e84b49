/**
 * What the demo prints: the start banner (URLs, load, the fault script's
 * legend), a status line every few seconds, a line per circuit transition,
 * and the summary at the end. Pure text from the demo's figures.
 */
import type { CircuitBreakerEvent, CircuitState } from "effect-resilience"
import type { FaultScript, Phase } from "./faultScript.js"
import { legend, shortFault } from "./faultScript.js"
import type { CircuitCounts, Counts, Window } from "./stats.js"
import { answered, endpoints, percent, perSecond, unavailable } from "./stats.js"

/** What the banner shows. */
export interface BannerFacts {
  /** `"memory"`, or the Redis URL with any password hidden. */
  readonly store: string
  readonly instances: ReadonlyArray<{
    readonly url: string
    readonly routes: ReadonlyArray<{ readonly label: string; readonly path: string }>
  }>
  readonly adminToken: { readonly value: string; readonly generated: boolean }
  readonly upstreams: ReadonlyArray<{ readonly name: string; readonly url: string }>
  readonly ratePerSecond: number
  readonly maxInFlight: number
  readonly script: FaultScript
  /** Milliseconds to run, or `undefined` until Ctrl-C. */
  readonly forMillis: number | undefined
}

const seconds = (millis: number): string => `${(millis / 1000).toFixed(1)}s`

/** The width of the banner's labels. */
const label = 13

/** The start banner. */
export const banner = (facts: BannerFacts): ReadonlyArray<string> => {
  const [first, ...others] = facts.instances
  const lines: Array<string> = [
    facts.store === "memory"
      ? "effect-resilience demo service: circuits in memory, one instance"
      : `effect-resilience demo service: ${facts.instances.length} instances sharing circuits through ${facts.store}`,
    ""
  ]
  for (const instance of first === undefined ? [] : [first, ...others]) {
    const name = facts.instances.length > 1 ? `instance ${facts.instances.indexOf(instance) + 1}` : "service"
    lines.push(
      `  ${name.padEnd(label)}${instance.url}   POST /checkout?sku=sku-1 · GET /products/p-1 · GET /search?q=lamp`
    )
    if (instance === first) {
      for (const route of instance.routes) lines.push(`  ${route.label.padEnd(label)}${instance.url}${route.path}`)
    }
  }
  if (others.length > 0) lines.push(`  ${"".padEnd(label)}(every instance serves the same routes)`)
  lines.push(
    `  ${"admin token".padEnd(label)}` + (facts.adminToken.generated
      ? `${facts.adminToken.value}  (generated; set RESILIENCE_ADMIN_TOKEN to choose it)`
      : "from RESILIENCE_ADMIN_TOKEN"),
    `  ${"".padEnd(label)}curl -H "Authorization: Bearer <token>" ${first?.url ?? ""}/admin/resilience/circuits`,
    `  ${"upstreams".padEnd(label)}${facts.upstreams.map((u) => `${u.name} ${u.url}`).join(" · ")}`,
    `  ${"load".padEnd(label)}${facts.ratePerSecond} requests/s (half product, a quarter each checkout and search), ` +
      `at most ${facts.maxInFlight} in flight`,
    "",
    `Fault script (from the start, repeating every ${seconds(facts.script.cycleMillis)}):`,
    ...legend(facts.script).map((line) => `  ${line}`),
    "",
    facts.forMillis === undefined
      ? "Running until Ctrl-C (npm start -- --for 20s runs 20 seconds and prints a summary)."
      : `Running for ${seconds(facts.forMillis)} (Ctrl-C stops sooner), then a summary.`
  )
  return lines
}

const endpointStatus = (name: string, counts: Counts): string => {
  const parts = [`${name} ${answered(counts)}/${counts.requests}`]
  if (counts.fallback > 0) parts.push(`${counts.fallback} cached`)
  if (counts.open > 0) parts.push(`${counts.open}×503`)
  if (counts.shed > 0) parts.push(`${counts.shed} shed`)
  if (counts.error > 0) parts.push(`${counts.error} err`)
  return parts.join(" ")
}

const stateWord = (state: CircuitState.State): string => state === "Closed" ? "closed" : state.toUpperCase()

/**
 * One status line: the last interval's requests per endpoint (answered of
 * all, then cached answers, 503s, shed and errors), every circuit's state,
 * and the faults running now.
 */
export const statusLine = (
  elapsedMillis: number,
  interval: Window,
  states: ReadonlyArray<{ readonly name: string; readonly state: CircuitState.State }>,
  phases: ReadonlyArray<Phase>
): string =>
  [
    `${seconds(elapsedMillis).padStart(7)}`,
    endpoints.map((endpoint) => endpointStatus(endpoint, interval.tally[endpoint])).join(", "),
    `circuits ${states.map((c) => `${c.name} ${stateWord(c.state)}`).join(" ")}`,
    phases.length === 0 ? "no fault" : phases.map((p) => `${p.upstream} ${shortFault(p.fault)}`).join(", ")
  ].join(" | ")

/** A circuit transition, as it happens. */
export const transitionLine = (elapsedMillis: number, event: CircuitBreakerEvent.StateChanged): string =>
  `${seconds(elapsedMillis).padStart(7)} | circuit ${event.breaker}: ${event.from} -> ${event.to} (${event.reason})`

/** What the summary shows. */
export interface SummaryFacts {
  readonly total: Window
  readonly circuits: ReadonlyArray<{
    readonly name: string
    readonly counts: CircuitCounts
    /** The state on every other instance, when there are several. */
    readonly otherStates: ReadonlyArray<CircuitState.State>
  }>
  readonly upstreamRequests: ReadonlyArray<{ readonly name: string; readonly requests: number }>
}

const row = (cells: ReadonlyArray<string | number>, widths: ReadonlyArray<number>) =>
  cells.map((cell, i) => i === 0 ? String(cell).padEnd(widths[i]!) : String(cell).padStart(widths[i]!)).join(" ")

/** The summary printed at the end. */
export const summary = (facts: SummaryFacts): ReadonlyArray<string> => {
  const widths = [10, 9, 9, 9, 9, 9, 7, 7, 7]
  const { elapsedMillis, tally } = facts.total
  return [
    `Summary after ${seconds(elapsedMillis)}:`,
    "  " +
    row(["endpoint", "requests", "success", "fallback", "503 open", "503 shed", "errors", "ok %", "req/s"], widths),
    ...endpoints.map((endpoint) => {
      const c = tally[endpoint]
      return "  " + row([
        endpoint,
        c.requests,
        c.success,
        c.fallback,
        c.open,
        c.shed,
        c.error,
        percent(answered(c), c.requests),
        perSecond(c.requests, elapsedMillis).toFixed(1)
      ], widths)
    }),
    `  503s in all: ${endpoints.reduce((sum, e) => sum + unavailable(tally[e]), 0)}`,
    "  " + row(["circuit", "trips", "state"], [10, 9, 10]) + (facts.circuits.some((c) => c.otherStates.length > 0)
      ? "  (other instances)"
      : ""),
    ...facts.circuits.map((circuit) =>
      "  " + row([circuit.name, circuit.counts.trips, circuit.counts.state.padStart(10)], [10, 9, 10]) +
      (circuit.otherStates.length > 0 ? `  ${circuit.otherStates.join(", ")}` : "")
    ),
    `  upstream requests (retries and hedged attempts included): ` +
    facts.upstreamRequests.map((u) => `${u.name} ${u.requests}`).join(", ")
  ]
}
