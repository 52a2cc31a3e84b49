/**
 * The panel beside the list: the selected circuit's figures, its chart
 * (uPlot: calls, failures and rejections per interval, p50 and p99 latency),
 * its state timeline, the policies beside it, and the operator's actions
 * when the admin routes are mounted.
 */
import uPlot from "uplot"
import type { Circuit, Model, Point } from "./state.js"
import { formatDuration, formatLatency, formatPercent, stateLabel } from "./state.js"

const css = (name: string): string => getComputedStyle(document.documentElement).getPropertyValue(name).trim()

/** uPlot's columns for `points` ending at `end`, one interval apart. */
export const chartData = (points: ReadonlyArray<Point>, end: number, intervalMillis: number): uPlot.AlignedData => {
  const n = points.length
  const xs = new Array<number>(n)
  const calls = new Array<number>(n)
  const failures = new Array<number>(n)
  const rejected = new Array<number>(n)
  const p50 = new Array<number | null>(n)
  const p99 = new Array<number | null>(n)
  for (let i = 0; i < n; i++) {
    const p = points[i]!
    xs[i] = (end - (n - 1 - i) * intervalMillis) / 1000
    calls[i] = p[0]
    failures[i] = p[1]
    rejected[i] = p[3]
    p50[i] = p[4] < 0 ? null : p[4]
    p99[i] = p[5] < 0 ? null : p[5]
  }
  return [xs, calls, failures, rejected, p50, p99]
}

export const makeSparkline = (into: HTMLElement): uPlot =>
  new uPlot(
    {
      width: 120,
      height: 24,
      cursor: { show: false },
      legend: { show: false },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: false } },
      series: [
        {},
        { stroke: css("--calls"), width: 1 },
        { stroke: css("--failures"), width: 1 },
        { show: false },
        { show: false },
        { show: false }
      ]
    },
    [[], [], [], [], [], []],
    into
  )

const button = (label: string, onClick: () => void, aria?: string): HTMLButtonElement => {
  const b = document.createElement("button")
  b.type = "button"
  b.textContent = label
  if (aria !== undefined) b.setAttribute("aria-label", aria)
  b.addEventListener("click", onClick)
  return b
}

const figure = (list: HTMLElement, term: string, value: string, bad = false) => {
  const dt = document.createElement("dt")
  dt.textContent = term
  const dd = document.createElement("dd")
  dd.textContent = value
  if (bad) dd.className = "bad"
  list.append(dt, dd)
}

const policyText = (kind: string, f: Readonly<Record<string, number>>): string => {
  const v = (k: string) => f[k] ?? 0
  switch (kind) {
    case "Retry":
      return `retries ${v("retries")} (total ${v("retriesTotal")}), gave up ${v("gaveUp")}` +
        (f["budgetAvailable"] === undefined ? "" : `, budget left ${v("budgetAvailable")}`)
    case "RetryBudget":
      return `retries left ${v("available")} (${v("retries")} retries / ${v("calls")} calls in window)`
    case "Timeout":
      return `timeouts ${v("timeouts")} (total ${v("timeoutsTotal")})`
    case "Bulkhead":
      return `in use ${v("running")}/${v("maxConcurrent")}, queued ${v("queued")}/${v("maxQueued")}, rejected ${
        v("rejected")
      } (total ${v("rejectedTotal")})`
    case "Fallback":
      return `fallbacks served ${v("served")} (total ${v("servedTotal")})`
    case "LastKnownGood":
      return `stale values served ${v("staleServed")} (total ${v("staleServedTotal")}), ${v("entries")} cached`
    case "Hedge":
      return `hedges ${v("hedges")}, won by a hedge ${v("hedgeWins")} (total ${v("hedgesTotal")})`
    case "AdaptiveLimit":
      return `limit ${v("limit")} (${v("minLimit")}–${v("maxLimit")}), in flight ${v("inFlight")}, drops ${
        v("drops")
      } (total ${v("dropsTotal")}), rejected ${v("rejected")} (total ${v("rejectedTotal")})` +
        (f["recentRttMillis"] === undefined ? "" : `, round trip ${formatDuration(v("recentRttMillis"))}`) +
        (f["baselineRttMillis"] === undefined ? "" : ` (baseline ${formatDuration(v("baselineRttMillis"))})`)
    default:
      return ""
  }
}

export interface Actions {
  readonly run: (circuit: Circuit, action: "force-open" | "disable" | "reset") => void
}

/** The panel: rebuilt when the selection changes, its figures and chart refreshed on every update. */
export class Detail {
  private chart: uPlot | undefined = undefined
  private shownId: number | undefined = undefined
  message = ""

  constructor(private readonly root: HTMLElement, private readonly model: Model, private readonly actions: Actions) {}

  /** Drops the chart (its colours are the theme's): the next render makes a new one. */
  resetChart(): void {
    this.chart?.destroy()
    this.chart = undefined
    this.shownId = undefined
  }

  render(circuit: Circuit | undefined): void {
    if (circuit === undefined) {
      if (this.shownId !== undefined) {
        this.resetChart()
        this.root.replaceChildren(Object.assign(document.createElement("p"), {
          className: "muted",
          textContent: "The selected circuit is gone."
        }))
      }
      return
    }
    const settings = this.model.settings!
    const now = this.model.now()
    if (this.shownId !== circuit.id) {
      this.resetChart()
      this.shownId = circuit.id
    }
    const chartBox = this.chart?.root.parentElement ?? document.createElement("div")
    const title = document.createElement("h2")
    const badge = Object.assign(document.createElement("span"), {
      className: `badge s-${circuit.state}`,
      textContent: stateLabel[circuit.state]
    })
    title.append(badge, document.createTextNode(circuit.name))

    const figures = document.createElement("dl")
    figures.className = "figures"
    figure(figures, "In state", `${circuit.sinceExact ? "" : "≥ "}${formatDuration(now - circuit.since)}`)
    figure(figures, "Window", `${circuit.calls} calls, ${circuit.failures} failures, ${circuit.slowCalls} slow`)
    figure(figures, "Failure rate", `${formatPercent(circuit.failureRate)} %`, circuit.failureRate > 0)
    figure(figures, "Slow-call rate", `${formatPercent(circuit.slowCallRate)} %`)
    figure(figures, "Failure streak", String(circuit.consecutiveFailures))
    figure(figures, "Openings in a row", String(circuit.consecutiveOpenings))
    figure(
      figures,
      "Latency p50/p90/p99 (1 min)",
      circuit.latency === null
        ? "— (calls not timed)"
        : `${formatLatency(circuit.latency)} ms, max ${circuit.latency.max}`
    )
    figure(figures, "Rejected", String(circuit.rejected), circuit.rejected > 0)
    figure(figures, "Probes in flight", String(circuit.probesInFlight))
    figure(
      figures,
      "Next probe",
      circuit.nextProbeAt === null ? "—" : `in ${formatDuration(circuit.nextProbeAt - now)}`
    )
    if (circuit.openReason !== null) figure(figures, "Opened because", circuit.openReason)
    if (circuit.openedBy !== null) {
      figure(figures, "Opened by", `${circuit.openedBy.tag ?? ""} ${circuit.openedBy.message}`)
    }
    figure(
      figures,
      "Last failure",
      circuit.lastFailure === null
        ? "—"
        : `${formatDuration(now - circuit.lastFailure.at)} ago: ${
          circuit.lastFailure.tag ?? ""
        } ${circuit.lastFailure.message}`
    )
    if (circuit.fleet !== null) {
      const f = circuit.fleet
      figure(
        figures,
        "Fleet",
        `${stateLabel[f.state]}, ${f.calls} calls, ${formatPercent(f.failureRate)} % failing, ` +
          `${formatPercent(f.slowCallRate)} % slow (read ${formatDuration(now - f.readAt)} ago)`
      )
    }

    const points = this.model.history.get(circuit.id) ?? []
    const data = chartData(points, now, settings.intervalMillis)
    if (this.chart === undefined) {
      chartBox.replaceChildren()
      this.chart = new uPlot(
        {
          width: 350,
          height: 170,
          scales: { x: { time: true }, ms: { auto: true } },
          axes: [
            { stroke: css("--muted"), grid: { stroke: css("--line") } },
            { stroke: css("--muted"), grid: { stroke: css("--line") } },
            { scale: "ms", side: 1, stroke: css("--muted"), grid: { show: false } }
          ],
          series: [
            {},
            { label: "calls", stroke: css("--calls"), width: 1 },
            { label: "failures", stroke: css("--failures"), width: 1 },
            { label: "rejected", stroke: css("--forced"), width: 1 },
            { label: "p50 ms", scale: "ms", stroke: css("--latency"), width: 1, dash: [4, 3] },
            { label: "p99 ms", scale: "ms", stroke: css("--latency"), width: 1 }
          ]
        },
        data,
        chartBox
      )
    } else {
      this.chart.setData(data)
    }

    const timeline = this.timeline(circuit, now, points.length * settings.intervalMillis)
    const policies = document.createElement("ul")
    policies.className = "policies"
    for (const policy of this.model.policiesOf(circuit.name)) {
      const li = document.createElement("li")
      li.textContent = `${policy.kind} "${policy.name}": ${policyText(policy.kind, policy.figures)}`
      policies.append(li)
    }

    const children: Array<Node> = [title, figures, heading("Last minutes (per interval)"), chartBox, ...timeline]
    if (policies.childElementCount > 0) children.push(heading("Policies beside it"), policies)
    if (settings.adminPath !== null) {
      const actions = document.createElement("div")
      actions.className = "actions"
      actions.append(
        button("Force open", () => this.actions.run(circuit, "force-open"), `Force open ${circuit.name}`),
        button("Disable", () => this.actions.run(circuit, "disable"), `Disable ${circuit.name}`),
        button("Reset", () => this.actions.run(circuit, "reset"), `Reset ${circuit.name}`)
      )
      children.push(heading("Actions"), actions)
      if (this.message !== "") {
        children.push(Object.assign(document.createElement("p"), { className: "error", textContent: this.message }))
      }
    }
    // Keep the focused action button across refreshes.
    const focused = document.activeElement
    const focusedLabel = focused instanceof HTMLButtonElement && this.root.contains(focused)
      ? focused.getAttribute("aria-label")
      : null
    this.root.replaceChildren(...children)
    if (focusedLabel !== null) {
      this.root.querySelector<HTMLButtonElement>(`button[aria-label="${CSS.escape(focusedLabel)}"]`)?.focus()
    }
  }

  private timeline(circuit: Circuit, now: number, span: number): Array<Node> {
    const transitions = this.model.timelines.get(circuit.id) ?? []
    const start = now - Math.max(span, 60_000)
    const bar = document.createElement("div")
    bar.className = "timeline"
    bar.setAttribute("role", "img")
    let state: Circuit["state"] | "unknown" = transitions.find((t) => t.at >= start)?.from ?? circuit.state
    let from = start
    const segments: Array<[Circuit["state"] | "unknown", number, number]> = []
    // Before the first transition the dashboard heard of, the state is known only since `since`.
    if (transitions.length === 0 && circuit.since > start) {
      segments.push(["unknown", start, circuit.since])
      from = circuit.since
    }
    for (const t of transitions) {
      if (t.at < start) {
        state = t.to
        continue
      }
      segments.push([state, from, t.at])
      state = t.to
      from = t.at
    }
    segments.push([state, from, now])
    const total = now - start
    const described: Array<string> = []
    for (const [s, a, b] of segments) {
      if (b <= a) continue
      const part = document.createElement("span")
      part.className = `s-${s}`
      part.style.width = `${(100 * (b - a)) / total}%`
      part.title = `${s === "unknown" ? "Not watched" : stateLabel[s]} for ${formatDuration(b - a)}`
      described.push(part.title)
      bar.append(part)
    }
    bar.setAttribute("aria-label", `State timeline: ${described.join(", ")}`)
    const list = document.createElement("ul")
    list.className = "transitions"
    for (const t of transitions.slice(-5).reverse()) {
      const li = document.createElement("li")
      li.textContent = `${formatDuration(now - t.at)} ago: ${stateLabel[t.from]} → ${stateLabel[t.to]} (${t.reason})`
      list.append(li)
    }
    return [heading("State timeline"), bar, list]
  }
}

const heading = (text: string) => Object.assign(document.createElement("h3"), { textContent: text })
