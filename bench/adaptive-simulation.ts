/**
 * `npm run simulate:adaptive`: runs bench/adaptiveSimulation.ts for every
 * configuration at 0.5x, 1x, 3x and 10x the dependency's capacity, prints
 * the table of docs/adaptive-concurrency.md, and draws its chart
 * (docs/adaptive-concurrency.svg). Simulated time: a run takes about a
 * minute, whatever the machine; the numbers are the same on every run.
 *
 * `-- --workers=N` simulates a dependency of N workers instead (the table
 * only, at 3x: the sensitivity table of the docs).
 */
import { Effect } from "effect"
import { writeFileSync } from "node:fs"
import type { Guard, Result } from "./adaptiveSimulation.js"
import { defaultModel, guards, loads, simulateAll, simulationTable, unloadedLatency } from "./adaptiveSimulation.js"

const workersArgument = process.argv.find((arg) => arg.startsWith("--workers="))
const model = workersArgument === undefined
  ? defaultModel
  : { ...defaultModel, workers: Number(workersArgument.slice("--workers=".length)) }
const simulatedLoads = workersArgument === undefined ? loads : [3]

const results = await Effect.runPromise(simulateAll(model, simulatedLoads))
console.log(simulationTable(model, results))

if (workersArgument !== undefined) process.exit(0)

// The chart: goodput and p99 against load, one line per configuration.
const colors: Record<Guard, string> = {
  "no limit": "#d62728",
  "bulkhead (right size)": "#7f7f7f",
  "bulkhead (2x too big)": "#ff7f0e",
  aimd: "#2ca02c",
  gradient2: "#9467bd",
  vegas: "#1f77b4"
}
const width = 360
const height = 220
const margin = { left: 56, right: 12, top: 28, bottom: 36 }
const xOf = (load: number) =>
  margin.left + (Math.log10(load / 0.5) / Math.log10(10 / 0.5)) * (width - margin.left - margin.right)

const panel = (
  offsetX: number,
  title: string,
  value: (r: Result) => number,
  max: number,
  ticks: ReadonlyArray<number>,
  label: (v: number) => string,
  targetLine?: { readonly value: number; readonly text: string }
) => {
  const yOf = (v: number) => margin.top + (1 - Math.min(v, max) / max) * (height - margin.top - margin.bottom)
  const parts: Array<string> = [`<g transform="translate(${offsetX},0)">`]
  parts.push(`<text x="${width / 2}" y="16" text-anchor="middle" font-weight="bold">${title}</text>`)
  for (const t of ticks) {
    parts.push(
      `<line x1="${margin.left}" x2="${width - margin.right}" y1="${yOf(t)}" y2="${yOf(t)}" stroke="#eee"/>`,
      `<text x="${margin.left - 6}" y="${yOf(t) + 4}" text-anchor="end">${label(t)}</text>`
    )
  }
  for (const load of loads) {
    parts.push(`<text x="${xOf(load)}" y="${height - margin.bottom + 16}" text-anchor="middle">${load}x</text>`)
  }
  parts.push(
    `<text x="${(margin.left + width - margin.right) / 2}" y="${height - 4}" text-anchor="middle">load</text>`
  )
  if (targetLine !== undefined) {
    const y = yOf(targetLine.value)
    parts.push(
      `<line x1="${margin.left}" x2="${
        width - margin.right
      }" y1="${y}" y2="${y}" stroke="#000" stroke-dasharray="4 3"/>`,
      `<text x="${width - margin.right}" y="${y - 4}" text-anchor="end">${targetLine.text}</text>`
    )
  }
  for (const guard of guards) {
    const points = results
      .filter((r) => r.guard === guard && !Number.isNaN(value(r)))
      .map((r) => `${xOf(r.load).toFixed(1)},${yOf(value(r)).toFixed(1)}`)
    parts.push(
      `<polyline fill="none" stroke="${colors[guard]}" stroke-width="2" points="${points.join(" ")}"/>`,
      ...points.map((p) => {
        const [x, y] = p.split(",")
        return `<circle cx="${x}" cy="${y}" r="3" fill="${colors[guard]}"/>`
      })
    )
  }
  parts.push("</g>")
  return parts.join("\n")
}

const legend = guards.map((guard, i) =>
  `<g transform="translate(${margin.left + (i % 3) * 230},${height + 14 + Math.floor(i / 3) * 18})">` +
  `<rect width="14" height="4" y="-4" fill="${colors[guard]}"/><text x="20" y="0">${guard}</text></g>`
).join("\n")

const target = 2 * unloadedLatency(model)
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * width}" height="${height + 52}" ` +
  `font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
${panel(0, "goodput (% of capacity)", (r) => 100 * r.goodput, 110, [0, 25, 50, 75, 100], (v) => `${v}%`)}
${
    panel(
      width,
      "p99 latency of successful calls",
      (r) => r.p99,
      1000,
      [0, 250, 500, 750, 1000],
      (v) => `${v} ms`,
      { value: target, text: `target ${target} ms` }
    )
  }
${legend}
</svg>
`
writeFileSync(new URL("../docs/adaptive-concurrency.svg", import.meta.url), svg)
console.log("\nwrote docs/adaptive-concurrency.svg")
