import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { summary } from "../../examples/service/report.js"
import * as Stats from "../../examples/service/stats.js"

describe("demo stats and summary", () => {
  it.effect("intervals count what happened since the previous one, over the clock's time", () =>
    Effect.gen(function*() {
      const stats = yield* Stats.make
      yield* stats.record("checkout", "success")
      yield* stats.record("checkout", "open")
      yield* stats.record("product", "fallback")
      yield* TestClock.adjust("2 seconds")
      const first = yield* stats.interval
      expect(first.elapsedMillis).toBe(2_000)
      expect(first.tally.checkout).toEqual({ requests: 2, success: 1, fallback: 0, open: 1, shed: 0, error: 0 })
      expect(first.tally.product.fallback).toBe(1)

      yield* stats.record("checkout", "error")
      yield* stats.record("search", "shed")
      yield* TestClock.adjust("3 seconds")
      const second = yield* stats.interval
      expect(second.elapsedMillis).toBe(3_000)
      expect(second.tally.checkout).toEqual({ requests: 1, success: 0, fallback: 0, open: 0, shed: 0, error: 1 })
      expect(second.tally.product.requests).toBe(0)
      expect(second.tally.search.shed).toBe(1)

      const total = yield* stats.total
      expect(total.elapsedMillis).toBe(5_000)
      expect(total.tally.checkout.requests).toBe(3)
      expect(Stats.perSecond(total.tally.checkout.requests, total.elapsedMillis)).toBe(0.6)
    }))

  it("requests are the sum of their outcomes; shares and rates round as printed", () => {
    let tally = Stats.empty
    const outcomes: ReadonlyArray<Stats.Outcome> = ["success", "success", "fallback", "open", "shed", "error"]
    for (const outcome of outcomes) tally = Stats.record(tally, "product", outcome)
    const product = tally.product
    expect(product.requests).toBe(6)
    expect(Stats.answered(product)).toBe(3)
    expect(Stats.unavailable(product)).toBe(2)
    expect(Stats.percent(Stats.answered(product), product.requests)).toBe(50)
    expect(Stats.percent(0, 0)).toBe(0)
    expect(Stats.perSecond(200, 20_000)).toBe(10)
    expect(Stats.perSecond(5, 0)).toBe(0)
  })

  it.effect("the summary prints each endpoint's counts, share answered and rate, and each circuit's trips and state", () =>
    Effect.gen(function*() {
      const stats = yield* Stats.make
      for (let i = 0; i < 30; i++) yield* stats.record("checkout", i < 20 ? "success" : i < 28 ? "open" : "error")
      for (let i = 0; i < 40; i++) yield* stats.record("product", i < 30 ? "success" : "fallback")
      yield* TestClock.adjust("10 seconds")
      const lines = summary({
        total: yield* stats.total,
        circuits: [
          { name: "inventory", counts: { trips: 2, state: "Closed" }, otherStates: [] },
          { name: "catalog", counts: { trips: 1, state: "HalfOpen" }, otherStates: [] }
        ],
        upstreamRequests: [{ name: "inventory", requests: 41 }]
      })
      expect(lines[0]).toBe("Summary after 10.0s:")
      const row = (name: string) => lines.find((line) => line.trimStart().startsWith(name))!.trim().split(/\s+/)
      // endpoint, requests, success, fallback, 503 open, 503 shed, errors, ok %, req/s
      expect(row("checkout")).toEqual(["checkout", "30", "20", "0", "8", "0", "2", "67", "3.0"])
      expect(row("product")).toEqual(["product", "40", "30", "10", "0", "0", "0", "100", "4.0"])
      expect(row("search")).toEqual(["search", "0", "0", "0", "0", "0", "0", "0", "0.0"])
      expect(lines).toContain("  503s in all: 8")
      expect(row("inventory")).toEqual(["inventory", "2", "Closed"])
      expect(row("catalog")).toEqual(["catalog", "1", "HalfOpen"])
      expect(lines.at(-1)).toContain("inventory 41")
    }))
})
