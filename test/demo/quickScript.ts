/**
 * The demo on a quick fault script, for the tests that run it in real time: a burst of 500s at the
 * inventory and a hanging catalog from 1 s to 2.2 s, healthy otherwise, with the story's times scaled
 * to a quarter.
 */
import { Effect, Redacted } from "effect"
import type { DemoConfig } from "../../examples/service/demo.js"
import type { FaultScript } from "../../examples/service/faultScript.js"

/** A burst of 500s at the inventory and a hanging catalog, from 1 s to 2.2 s; healthy otherwise. */
export const quickScript: FaultScript = {
  cycleMillis: 60_000,
  phases: [
    {
      upstream: "inventory",
      fromMillis: 1_000,
      untilMillis: 2_200,
      fault: { _tag: "Failing", share: 1, status: 500 },
      handledBy: "the inventory circuit trips"
    },
    { upstream: "catalog", fromMillis: 1_000, untilMillis: 2_200, fault: { _tag: "Hanging" }, handledBy: "cache" }
  ]
}

/** The demo's configuration on the quick script, its lines printed into `lines`. */
export const quickConfig = (lines: Array<string>, overrides: Partial<DemoConfig> = {}): DemoConfig => ({
  script: quickScript,
  pace: 0.25,
  forMillis: 4_500, // real clock: the run's length, long enough for a trip and a recovery
  port: 0,
  store: { _tag: "Memory" },
  admin: { token: Redacted.make("test-admin-token-0123456789"), generated: true },
  ratePerSecond: 100,
  maxInFlight: 64,
  statusEvery: "1 second", // real clock: a status line a second
  print: (line) => Effect.sync(() => void lines.push(line)),
  ...overrides
})
