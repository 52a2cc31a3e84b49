/**
 * The dashboard page: connects to the stream (and again a second after it
 * breaks; every `Init` rebuilds the model), renders the
 * circuits most severe first in a virtual list (only the rows in view exist,
 * so a thousand circuits cost what thirty do), and runs the operator's
 * actions through the admin routes with a token kept in sessionStorage.
 *
 * `performance` marks: `dashboard:init` when an `Init` arrives and
 * `dashboard:rendered` once it is on screen, measured as `dashboard:render`.
 */
import type uPlot from "uplot"
import type { Actions } from "./detail.js"
import { chartData, Detail, makeSparkline } from "./detail.js"
import type { Circuit } from "./state.js"
import { formatDuration, formatLatency, formatPercent, isFleetOnly, Model, stateLabel } from "./state.js"

const rowHeight = 34
const overscan = 6
const tokenKey = "effect-resilience:admin-token"
const themeKey = "effect-resilience:theme"

const byId = <E extends HTMLElement>(id: string): E => document.getElementById(id) as E
const base = document.body.dataset["base"] ?? ""
const model = new Model()
const viewport = byId<HTMLDivElement>("viewport")
const rowsBox = byId<HTMLDivElement>("rows")
const filter = byId<HTMLInputElement>("filter")
const status = byId<HTMLSpanElement>("status")
const summary = byId<HTMLSpanElement>("summary")
const empty = byId<HTMLParagraphElement>("empty")
const tokenButton = byId<HTMLButtonElement>("token")
const themeButton = byId<HTMLButtonElement>("theme")
const dialog = byId<HTMLDialogElement>("token-dialog")
const tokenInput = byId<HTMLInputElement>("token-input")

let selected: number | undefined = undefined
let sorted: Array<Circuit> = []
let pendingRender = false
let measureNext = false

// ---- theme: the system's preference, or the operator's choice (kept across visits)
const systemDark = window.matchMedia("(prefers-color-scheme: dark)")
const isDark = () => {
  const chosen = document.documentElement.dataset["theme"]
  return chosen === undefined ? systemDark.matches : chosen === "dark"
}
const showTheme = () => {
  const dark = isDark()
  themeButton.textContent = dark ? "Light theme" : "Dark theme"
  themeButton.setAttribute("aria-pressed", String(dark))
}
const storedTheme = localStorage.getItem(themeKey)
if (storedTheme === "dark" || storedTheme === "light") document.documentElement.dataset["theme"] = storedTheme
showTheme()
themeButton.addEventListener("click", () => {
  const next = isDark() ? "light" : "dark"
  document.documentElement.dataset["theme"] = next
  localStorage.setItem(themeKey, next)
  showTheme()
  recolor()
})
systemDark.addEventListener("change", () => {
  showTheme()
  recolor()
})

// ---- admin token: asked for when an action needs it, kept in this tab only
const askToken = (): Promise<string | undefined> =>
  new Promise((resolve) => {
    tokenInput.value = ""
    const done = (value: string | undefined) => {
      dialog.close()
      save.removeEventListener("click", onSave)
      cancel.removeEventListener("click", onCancel)
      resolve(value)
    }
    const save = byId<HTMLButtonElement>("token-save")
    const cancel = byId<HTMLButtonElement>("token-cancel")
    const onSave = () => {
      const value = tokenInput.value.trim()
      if (value === "") return
      sessionStorage.setItem(tokenKey, value)
      done(value)
    }
    const onCancel = () => done(undefined)
    save.addEventListener("click", onSave)
    cancel.addEventListener("click", onCancel)
    tokenInput.onkeydown = (e) => {
      if (e.key === "Enter") onSave()
    }
    dialog.showModal()
    tokenInput.focus()
  })
tokenButton.addEventListener("click", () => void askToken())

const actions: Actions = {
  run: (circuit, action) => {
    void (async () => {
      const admin = model.settings?.adminPath
      if (admin === null || admin === undefined) return
      const token = sessionStorage.getItem(tokenKey) ?? await askToken()
      if (token === undefined) return
      const response = await fetch(`${admin}/circuits/${encodeURIComponent(circuit.name)}/${action}`, {
        method: "POST",
        // The header HttpAdmin requires on control routes: a cross-site form cannot send it.
        headers: { authorization: `Bearer ${token}`, "x-resilience-admin": "1" }
      }).catch(() => undefined)
      if (response === undefined) detail.message = "The server could not be reached."
      else if (response.status === 401) {
        sessionStorage.removeItem(tokenKey)
        detail.message = "The token was refused: enter it again."
      } else if (!response.ok) detail.message = `The server answered ${response.status}.`
      else detail.message = ""
      schedule()
    })()
  }
}
const detail = new Detail(byId("detail"), model, actions)

// ---- the list: pooled rows, positioned in a tall box, filled with the circuits in view
interface RowView {
  readonly element: HTMLDivElement
  readonly cells: ReadonlyArray<HTMLSpanElement>
  readonly badge: HTMLSpanElement
  readonly name: HTMLButtonElement
  readonly spark: uPlot
  id: number
}
const pool: Array<RowView> = []

const makeRow = (): RowView => {
  const element = document.createElement("div")
  element.className = "row"
  element.setAttribute("role", "listitem")
  const badge = document.createElement("span")
  const name = document.createElement("button")
  name.type = "button"
  name.className = "name"
  const cells: Array<HTMLSpanElement> = []
  for (let i = 0; i < 9; i++) {
    const cell = document.createElement("span")
    if (i >= 1 && i <= 6) cell.className = "num"
    cells.push(cell)
  }
  const sparkBox = document.createElement("span")
  sparkBox.className = "spark"
  sparkBox.setAttribute("aria-hidden", "true")
  const stateCell = document.createElement("span")
  stateCell.append(badge)
  element.append(stateCell, name, ...cells, sparkBox)
  const view: RowView = { element, cells, badge, name, spark: makeSparkline(sparkBox), id: -1 }
  name.addEventListener("click", () => select(view.id))
  name.addEventListener("keydown", (e) => onRowKey(e, view))
  rowsBox.append(element)
  return view
}

const select = (id: number) => {
  // A fleet-only circuit has no breaker here: nothing to detail, no action to take.
  if (id < 0) return
  selected = id
  detail.message = ""
  schedule()
}

const focusIndex = (index: number) => {
  if (sorted.length === 0) return
  const i = Math.max(0, Math.min(sorted.length - 1, index))
  const top = i * rowHeight
  if (top < viewport.scrollTop) viewport.scrollTop = top
  else if (top + rowHeight > viewport.scrollTop + viewport.clientHeight) {
    viewport.scrollTop = top + rowHeight - viewport.clientHeight
  }
  render()
  const id = sorted[i]!.id
  pool.find((row) => row.id === id)?.name.focus()
}

const onRowKey = (e: KeyboardEvent, view: RowView) => {
  const index = sorted.findIndex((c) => c.id === view.id)
  const page = Math.max(1, Math.floor(viewport.clientHeight / rowHeight) - 1)
  const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page }
  if (e.key in moves) focusIndex(index + moves[e.key]!)
  else if (e.key === "Home") focusIndex(0)
  else if (e.key === "End") focusIndex(sorted.length - 1)
  else return
  e.preventDefault()
}

/** A circuit only other instances have: the fleet's state, calls and rates; nothing local. */
const fillFleetRow = (view: RowView, circuit: Circuit) => {
  view.id = circuit.id
  view.element.classList.remove("selected")
  view.element.classList.add("fleet-only")
  view.badge.className = `badge s-${circuit.state}`
  view.badge.textContent = stateLabel[circuit.state]
  view.name.textContent = `${circuit.name} (fleet)`
  view.name.setAttribute("aria-label", `${circuit.name}, ${stateLabel[circuit.state]}, known only from the fleet`)
  view.name.setAttribute("aria-pressed", "false")
  const c = view.cells
  for (const cell of c) cell.textContent = "—"
  c[1]!.textContent = String(circuit.calls)
  c[2]!.textContent = formatPercent(circuit.failureRate)
  c[2]!.classList.toggle("bad", circuit.failureRate > 0)
  c[3]!.textContent = formatPercent(circuit.slowCallRate)
  c[8]!.textContent = "fleet only: no breaker of this name on this instance"
  c[8]!.title = c[8]!.textContent
  view.spark.setData(chartData([], 0, model.settings?.intervalMillis ?? 1000))
}

const fillRow = (view: RowView, circuit: Circuit, now: number) => {
  if (isFleetOnly(circuit)) return fillFleetRow(view, circuit)
  view.element.classList.remove("fleet-only")
  view.id = circuit.id
  view.element.classList.toggle("selected", circuit.id === selected)
  view.badge.className = `badge s-${circuit.state}`
  view.badge.textContent = stateLabel[circuit.state]
  view.name.textContent = circuit.name
  view.name.setAttribute("aria-label", `${circuit.name}, ${stateLabel[circuit.state]}: show details`)
  view.name.setAttribute("aria-pressed", String(circuit.id === selected))
  const c = view.cells
  c[0]!.textContent = `${circuit.sinceExact ? "" : "≥ "}${formatDuration(now - circuit.since)}`
  c[1]!.textContent = String(circuit.calls)
  c[2]!.textContent = formatPercent(circuit.failureRate)
  c[2]!.classList.toggle("bad", circuit.failureRate > 0)
  c[3]!.textContent = formatPercent(circuit.slowCallRate)
  c[4]!.textContent = formatLatency(circuit.latency)
  c[5]!.textContent = String(circuit.rejected)
  c[6]!.textContent = String(circuit.probesInFlight)
  c[7]!.textContent = circuit.nextProbeAt === null ? "—" : formatDuration(circuit.nextProbeAt - now)
  c[8]!.textContent = circuit.lastFailure === null
    ? "—"
    : `${circuit.lastFailure.tag ?? ""} ${circuit.lastFailure.message}`
  c[8]!.title = c[8]!.textContent
  view.spark.setData(chartData(model.history.get(circuit.id) ?? [], now, model.settings?.intervalMillis ?? 1000))
}

const render = () => {
  pendingRender = false
  const now = model.now()
  sorted = model.visible(filter.value)
  rowsBox.style.height = `${sorted.length * rowHeight}px`
  empty.hidden = sorted.length > 0 || model.settings === undefined
  const first = Math.max(0, Math.floor(viewport.scrollTop / rowHeight) - overscan)
  const count = Math.min(sorted.length - first, Math.ceil(viewport.clientHeight / rowHeight) + 2 * overscan)
  while (pool.length < count) pool.push(makeRow())
  for (let i = 0; i < pool.length; i++) {
    const view = pool[i]!
    if (i >= count) {
      view.element.hidden = true
      view.id = -1
      continue
    }
    view.element.hidden = false
    view.element.style.transform = `translateY(${(first + i) * rowHeight}px)`
    fillRow(view, sorted[first + i]!, now)
  }
  renderSummary()
  detail.render(selected === undefined ? undefined : model.circuits.get(selected))
  if (measureNext) {
    measureNext = false
    performance.mark("dashboard:rendered")
    performance.measure("dashboard:render", "dashboard:init", "dashboard:rendered")
    document.body.dataset["rendered"] = String(model.circuits.size)
  }
}

const renderSummary = () => {
  const counts: Record<string, number> = {}
  let fleetCalls = 0
  let fleetFailures = 0
  let fleetOpen = 0
  let shared = 0
  for (const c of model.circuits.values()) {
    counts[c.state] = (counts[c.state] ?? 0) + 1
    if (c.fleet !== null) {
      shared++
      fleetCalls += c.fleet.calls
      fleetFailures += c.fleet.failures
      if (c.fleet.state !== "Closed" && c.fleet.state !== "Disabled") fleetOpen++
    }
  }
  const parts = (["Open", "ForcedOpen", "HalfOpen", "Disabled", "Closed"] as const)
    .filter((s) => counts[s] !== undefined)
    .map((s) => `${counts[s]} ${stateLabel[s].toLowerCase()}`)
  if (model.unwatched > 0) parts.push(`${model.unwatched} not shown (maxCircuits)`)
  const fleet = model.fleet
  if (fleet !== null) {
    const t = fleet.totals
    parts.push(
      `fleet: ${
        fleet.instances === null ? "" : `${fleet.instances} instance${fleet.instances === 1 ? "" : "s"}, `
      }${t.circuits} circuits${fleet.complete ? "" : "+"}, ${t.notClosed} not closed, ${t.calls} calls, ${
        t.calls === 0 ? 0 : formatPercent(t.failures / t.calls)
      } % failing${fleet.error === null ? "" : " (stale: the fleet could not be listed)"}`
    )
  } else if (shared > 0) {
    parts.push(
      `fleet: ${shared} shared, ${fleetOpen} not closed, ${fleetCalls} calls, ${
        fleetCalls === 0 ? 0 : formatPercent(fleetFailures / fleetCalls)
      } % failing`
    )
  }
  summary.textContent = parts.join(" · ")
}

const schedule = () => {
  if (pendingRender) return
  pendingRender = true
  requestAnimationFrame(render)
}

const recolor = () => {
  for (const row of pool) row.element.remove()
  for (const row of pool) row.spark.destroy()
  pool.length = 0
  detail.resetChart()
  schedule()
}

viewport.addEventListener("scroll", schedule, { passive: true })
window.addEventListener("resize", schedule)
filter.addEventListener("input", () => {
  viewport.scrollTop = 0
  schedule()
})
filter.addEventListener("keydown", (e) => {
  if (e.key === "ArrowDown") {
    e.preventDefault()
    focusIndex(0)
  }
})

// ---- the stream
let source: EventSource | undefined = undefined
const setStatus = (text: string, kind: "live" | "down" | "") => {
  status.textContent = text
  status.className = `status ${kind}`
}
const connect = () => {
  source = new EventSource(`${base}/stream`)
  source.addEventListener("open", () => setStatus("live", "live"))
  source.addEventListener("error", () => {
    // The stream broke (a server restart) or was refused (a 503 when too many dashboards are open):
    // reconnect after a second, rather than after the browser's own delay; the next Init rebuilds the page.
    source?.close()
    setStatus("reconnecting…", "down")
    setTimeout(connect, 1000)
  })
  source.addEventListener("Init", (e) => {
    performance.clearMarks("dashboard:init")
    performance.mark("dashboard:init")
    model.init(JSON.parse((e as MessageEvent<string>).data))
    const settings = model.settings!
    byId("instance").textContent = settings.instance
    tokenButton.hidden = settings.adminPath === null
    setStatus("live", "live")
    measureNext = true
    schedule()
  })
  source.addEventListener("Tick", (e) => {
    if (model.applyTick(JSON.parse((e as MessageEvent<string>).data))) schedule()
  })
  source.addEventListener("Changed", (e) => {
    model.applyChanged(JSON.parse((e as MessageEvent<string>).data))
    schedule()
  })
}
connect()
