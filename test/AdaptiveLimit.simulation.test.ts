// The adaptive limit against a simulated dependency whose latency grows with its queue, in
// TestClock time (bench/adaptiveSimulation.ts): the targets of docs/adaptive-concurrency.md.
// At 3x the dependency's capacity, an adaptive limit keeps goodput at 90% of capacity or more
// with a p99 latency at most twice the unloaded latency, where no limit collapses and a bulkhead
// twice too big does clearly worse. The adaptive limits start five times too high: one that
// never moved would time out like the missing limit.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Guard, Result } from "../bench/adaptiveSimulation.js"
import { defaultModel, simulate, unloadedLatency } from "../bench/adaptiveSimulation.js"

const target = 2 * unloadedLatency(defaultModel)
const overload = (guard: Guard): Effect.Effect<Result> => simulate(guard, 3)

describe("AdaptiveLimit, simulated at 3x the dependency's capacity", () => {
  it.effect("no limit: the queue grows without end, every call times out, goodput collapses", () =>
    Effect.gen(function*() {
      const result = yield* overload("no limit")
      expect(result.goodput).toBeLessThan(0.1)
      expect(result.timedOut).toBeGreaterThan(0.9)
    }))

  it.effect("a bulkhead of the right size keeps goodput and latency (the yardstick)", () =>
    Effect.gen(function*() {
      const result = yield* overload("bulkhead (right size)")
      expect(result.goodput).toBeGreaterThanOrEqual(0.9)
      expect(result.p99).toBeLessThanOrEqual(target)
    }))

  it.effect("a bulkhead twice too big keeps goodput but queues: p99 past the target", () =>
    Effect.gen(function*() {
      const right = yield* overload("bulkhead (right size)")
      const tooBig = yield* overload("bulkhead (2x too big)")
      expect(tooBig.p99).toBeGreaterThan(target)
      expect(tooBig.p99).toBeGreaterThan(1.5 * right.p99)
    }))

  it.effect("Vegas finds the level from five times too high: goodput >= 90%, p99 <= 2x unloaded", () =>
    Effect.gen(function*() {
      const result = yield* overload("vegas")
      expect(result.goodput).toBeGreaterThanOrEqual(0.9)
      expect(result.p99).toBeLessThanOrEqual(target)
      expect(result.timedOut).toBe(0)
      expect(result.finalLimit).toBeLessThan(2 * defaultModel.workers)
    }))

  it.effect("Vegas finds the level from below too (starting at 5)", () =>
    Effect.gen(function*() {
      const result = yield* simulate("vegas", 3, defaultModel, 42, { initialLimit: 5 })
      expect(result.goodput).toBeGreaterThanOrEqual(0.9)
      expect(result.p99).toBeLessThanOrEqual(target)
    }))

  it.effect("AIMD with slowCallDuration at 1.5x the unloaded latency: goodput >= 90%, p99 <= 2x unloaded", () =>
    Effect.gen(function*() {
      const result = yield* overload("aimd")
      expect(result.goodput).toBeGreaterThanOrEqual(0.9)
      expect(result.p99).toBeLessThanOrEqual(target)
    }))

  it.effect("Gradient2 at its defaults finds the level from five times too high: goodput >= 90%, p99 <= 2x unloaded", () =>
    Effect.gen(function*() {
      const result = yield* overload("gradient2")
      expect(result.goodput).toBeGreaterThanOrEqual(0.9)
      expect(result.p99).toBeLessThanOrEqual(target)
      expect(result.timedOut).toBe(0)
    }))

  it.effect("Gradient2 holds the target through a long overload: its long-term average does not follow its own queue", () =>
    Effect.gen(function*() {
      const result = yield* simulate("gradient2", 3, { ...defaultModel, durationMillis: 120_000 })
      expect(result.goodput).toBeGreaterThanOrEqual(0.9)
      expect(result.p99).toBeLessThanOrEqual(target)
    }))
})
