import { describe, expect, it } from "@effect/vitest"
import { SlidingWindow } from "../src/index.js"
import { CountWindowImpl, TimeWindowImpl } from "../src/internal/window.js"

const totals = (w: { calls: number; failures: number; slowCalls: number }) => [w.calls, w.failures, w.slowCalls]

describe("count window", () => {
  it("keeps the last `size` outcomes with running totals", () => {
    const window = new CountWindowImpl(3)
    window.record(0, true, false)
    window.record(0, false, true)
    expect(totals(window)).toEqual([2, 1, 1])
    window.record(0, true, true)
    window.record(0, false, false) // evicts the first (failure)
    expect(totals(window)).toEqual([3, 1, 2])
    window.record(0, false, false) // evicts the slow success
    window.record(0, false, false) // evicts the slow failure
    expect(totals(window)).toEqual([3, 0, 0])
  })

  it("matches a naive recount after thousands of random outcomes", () => {
    const window = new CountWindowImpl(17)
    const all: Array<readonly [boolean, boolean]> = []
    let seed = 7
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647
    for (let i = 0; i < 5000; i++) {
      const outcome = [random() < 0.3, random() < 0.2] as const
      all.push(outcome)
      window.record(0, outcome[0], outcome[1])
      const last = all.slice(-17)
      expect(totals(window)).toEqual([last.length, last.filter((o) => o[0]).length, last.filter((o) => o[1]).length])
    }
  })

  it("clear forgets everything", () => {
    const window = new CountWindowImpl(2)
    window.record(0, true, true)
    window.clear()
    expect(totals(window)).toEqual([0, 0, 0])
    window.record(0, false, false)
    window.record(0, false, false)
    window.record(0, false, false)
    expect(totals(window)).toEqual([2, 0, 0])
  })
})

describe("time window", () => {
  it("drops a bucket's outcomes once the bucket leaves the window", () => {
    const window = new TimeWindowImpl(1000, 4) // buckets of 250 ms
    window.record(0, true, false)
    window.record(249, true, true)
    window.record(250, false, false)
    expect(totals(window)).toEqual([3, 2, 1])
    window.expire(999)
    expect(totals(window)).toEqual([3, 2, 1])
    window.expire(1000) // bucket [0, 250) leaves
    expect(totals(window)).toEqual([1, 0, 0])
    window.expire(1250)
    expect(totals(window)).toEqual([0, 0, 0])
  })

  it("a jump longer than the window clears it in one step", () => {
    const window = new TimeWindowImpl(60_000, 6)
    for (let t = 0; t < 60_000; t += 1000) window.record(t, t % 2000 === 0, false)
    expect(window.calls).toBe(60)
    window.record(10 * 60_000, true, false)
    expect(totals(window)).toEqual([1, 1, 0])
  })

  it("time that goes backwards counts as now", () => {
    const window = new TimeWindowImpl(1000, 10)
    window.record(5000, false, false)
    window.record(1000, true, false) // clock corrected backwards
    expect(totals(window)).toEqual([2, 1, 0])
    window.expire(5999)
    expect(totals(window)).toEqual([2, 1, 0])
    window.expire(6000)
    expect(totals(window)).toEqual([0, 0, 0])
  })

  it("matches a naive recount of the bucketed window", () => {
    const duration = 1000
    const buckets = 7
    const width = duration / buckets
    const window = new TimeWindowImpl(duration, buckets)
    const all: Array<{ at: number; failure: boolean; slow: boolean }> = []
    let now = 0
    let seed = 11
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647
    for (let i = 0; i < 3000; i++) {
      now += Math.floor(random() * 120)
      const outcome = { at: now, failure: random() < 0.4, slow: random() < 0.1 }
      all.push(outcome)
      window.record(now, outcome.failure, outcome.slow)
      const epoch = Math.floor(now / width)
      const inWindow = all.filter((o) => Math.floor(o.at / width) > epoch - buckets)
      expect(totals(window)).toEqual([
        inWindow.length,
        inWindow.filter((o) => o.failure).length,
        inWindow.filter((o) => o.slow).length
      ])
    }
  })
})

describe("window descriptions", () => {
  it("never throw, whatever the arguments; validation happens when the breaker is made", () => {
    expect(SlidingWindow.countWindow(-1)).toEqual({ _tag: "CountWindow", size: -1 })
    expect(SlidingWindow.timeWindow("1 minute")).toEqual({ _tag: "TimeWindow", duration: "1 minute", buckets: 10 })
  })
})
