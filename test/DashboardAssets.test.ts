import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { assets, pageTemplate } from "../src/internal/dashboardAssets.js"
import { bucketOf, LatencyHistogram, upperBoundOf } from "../src/internal/latencyHistogram.js"

describe("Dashboard assets", () => {
  it("the generated module is what dashboard/ and uPlot give now (run `node scripts/dashboard-assets.mjs` when not)", () => {
    const run = () => execFileSync(process.execPath, ["scripts/dashboard-assets.mjs", "--check"], { encoding: "utf8" })
    expect(run).not.toThrow()
  })

  it("the page names its script and stylesheet, which carry uPlot, and nothing from elsewhere", () => {
    const script = assets.find((asset) => asset.name.endsWith(".js"))!
    const style = assets.find((asset) => asset.name.endsWith(".css"))!
    expect(pageTemplate).toContain(`{{base}}/assets/${script.name}`)
    expect(pageTemplate).toContain(`{{base}}/assets/${style.name}`)
    expect(script.body).toMatch(/^\/\*! uPlot [\d.]+ \(MIT\)/)
    expect(script.body).toContain(`"uplot"`) // uPlot's root class, in its minified code
    expect(style.body).toContain(".uplot")
    expect(pageTemplate).not.toMatch(/(src|href)="(https?:)?\/\//)
  })
})

describe("Latency histogram", () => {
  it("keeps every duration within 12.5% of the value its bucket reports", () => {
    for (const ms of [0, 1, 15, 16, 17, 100, 999, 1000, 65_535, 3_600_000]) {
      const reported = upperBoundOf(bucketOf(ms))
      expect(reported).toBeGreaterThanOrEqual(ms)
      expect(reported).toBeLessThanOrEqual(Math.max(ms * 1.125, ms + 1))
    }
  })

  it("reports percentiles of what it counted, and nothing when empty", () => {
    const histogram = new LatencyHistogram()
    expect(histogram.percentile(0.5)).toBe(-1)
    for (let ms = 1; ms <= 100; ms++) histogram.record(ms)
    expect(histogram.percentile(0.5)).toBeGreaterThanOrEqual(50)
    expect(histogram.percentile(0.5)).toBeLessThanOrEqual(56)
    expect(histogram.percentile(0.99)).toBeGreaterThanOrEqual(99)
    expect(histogram.percentile(1)).toBe(100)
    expect(histogram.max).toBe(100)
  })
})
