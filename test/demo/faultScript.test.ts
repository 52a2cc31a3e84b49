import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as ScriptClock from "../../examples/service/faultScript.js"
import { defaultScript, faultAt, legend, scaled } from "../../examples/service/faultScript.js"

describe("demo fault script", () => {
  it.effect("each upstream follows the default script over the cycle, and the cycle repeats", () =>
    Effect.gen(function*() {
      const clock = yield* ScriptClock.make(defaultScript)
      const at = (upstream: ScriptClock.Upstream) => Effect.map(clock.faultOf(upstream), (fault) => fault._tag)

      expect(yield* at("inventory")).toBe("Healthy")
      yield* TestClock.adjust("5 seconds")
      expect(yield* at("inventory")).toBe("Failing")
      expect(yield* at("catalog")).toBe("Healthy")
      yield* TestClock.adjust("4999 millis")
      expect(yield* at("inventory")).toBe("Failing")
      yield* TestClock.adjust("1 millis") // 10 s: the burst is over, the catalog hangs
      expect(yield* at("inventory")).toBe("Healthy")
      expect(yield* at("catalog")).toBe("Hanging")
      yield* TestClock.adjust("5 seconds") // 15 s
      expect(yield* at("catalog")).toBe("Healthy")
      expect(yield* at("search")).toBe("Slow")
      yield* TestClock.adjust("6 seconds") // 21 s
      expect(yield* at("search")).toBe("Healthy")
      expect(yield* clock.faultOf("inventory")).toEqual({ _tag: "Unavailable", retryAfterSeconds: 3 })
      yield* TestClock.adjust("4 seconds") // 25 s: recovery, nothing running
      expect(yield* clock.activePhases).toEqual([])
      yield* TestClock.adjust("10 seconds") // 35 s = 5 s into the second cycle
      expect(yield* at("inventory")).toBe("Failing")
      expect((yield* clock.activePhases).map((phase) => phase.upstream)).toEqual(["inventory"])
    }))

  it.effect("the script starts when ScriptClock.make runs, not at the clock's epoch", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("7 seconds")
      const clock = yield* ScriptClock.make(defaultScript)
      expect(yield* clock.elapsed).toBe(0)
      expect((yield* clock.faultOf("inventory"))._tag).toBe("Healthy")
      yield* TestClock.adjust("5 seconds")
      expect((yield* clock.faultOf("inventory"))._tag).toBe("Failing")
    }))

  it("a scaled script keeps its phases in proportion, and Retry-After in whole seconds of at least 1", () => {
    const quick = scaled(defaultScript, 0.1)
    expect(quick.cycleMillis).toBe(3_000)
    expect(faultAt(quick, "inventory", 499)._tag).toBe("Healthy")
    expect(faultAt(quick, "inventory", 500)._tag).toBe("Failing")
    expect(faultAt(quick, "catalog", 1_000)._tag).toBe("Hanging")
    expect(faultAt(quick, "inventory", 2_100)).toEqual({ _tag: "Unavailable", retryAfterSeconds: 1 })
    expect(faultAt(quick, "inventory", 3_500)._tag).toBe("Failing") // the next cycle
  })

  it("the legend names each phase's times, upstream and fault, then the recovery", () => {
    const lines = legend(defaultScript)
    expect(lines).toHaveLength(defaultScript.phases.length + 1)
    expect(lines[0]).toMatch(/^\s*5s-10s\s+inventory 500 burst \(90% of answers\): retries/)
    expect(lines[3]).toContain("21s-25s")
    expect(lines[3]).toContain("503 + Retry-After: 3")
    expect(lines[4]).toContain("repeats every 30s")
  })
})
