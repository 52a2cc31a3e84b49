/**
 * The fault script of the demo: what each simulated upstream does, and when.
 *
 * A script is a cycle of phases that repeats for as long as the demo runs.
 * Outside its phases an upstream is healthy. The script is data, read
 * against a clock (`ScriptClock`), so the same script drives the real
 * upstreams and, under `TestClock`, the tests.
 */
import { Clock, Effect } from "effect"

/** The three simulated upstreams: inventory (behind checkout), catalog (behind product) and search. */
export type Upstream = "inventory" | "catalog" | "search"

/** Every upstream, in the order the demo prints them. */
export const upstreams: ReadonlyArray<Upstream> = ["inventory", "catalog", "search"]

/** How an upstream answers during a phase. */
export type Fault =
  /** Every answer in 10 to 30 ms. */
  | { readonly _tag: "Healthy" }
  /** A latency spike: `share` of the answers take `minMillis` to `maxMillis`, the others are healthy. */
  | { readonly _tag: "Slow"; readonly share: number; readonly minMillis: number; readonly maxMillis: number }
  /** A 5xx burst: `share` of the answers are `status`, the others are healthy. */
  | { readonly _tag: "Failing"; readonly share: number; readonly status: number }
  /** No answer at all: the request hangs until the caller gives up. */
  | { readonly _tag: "Hanging" }
  /** Every answer is 503 with `Retry-After: retryAfterSeconds`. */
  | { readonly _tag: "Unavailable"; readonly retryAfterSeconds: number }

/** One phase of the script: `upstream` answers with `fault` from `fromMillis` to `untilMillis` of each cycle. */
export interface Phase {
  readonly upstream: Upstream
  readonly fromMillis: number
  readonly untilMillis: number
  readonly fault: Fault
  /** What the toolkit does about it, for the legend. */
  readonly handledBy: string
}

/** A cycle of phases, repeated every `cycleMillis`. */
export interface FaultScript {
  readonly cycleMillis: number
  readonly phases: ReadonlyArray<Phase>
}

const healthy: Fault = { _tag: "Healthy" }

/**
 * The default script: a 30 second cycle, one fault at a time, each followed
 * by a recovery the circuits have time to see.
 */
export const defaultScript: FaultScript = {
  cycleMillis: 30_000,
  phases: [
    {
      upstream: "inventory",
      fromMillis: 5_000,
      untilMillis: 10_000,
      fault: { _tag: "Failing", share: 0.9, status: 500 },
      handledBy: "retries (within a budget), then the inventory circuit trips: checkout answers 503 + Retry-After"
    },
    {
      upstream: "catalog",
      fromMillis: 10_000,
      untilMillis: 15_000,
      fault: { _tag: "Hanging" },
      handledBy: "each attempt times out, the catalog circuit trips: product serves its last known good value"
    },
    {
      upstream: "search",
      fromMillis: 15_000,
      untilMillis: 21_000,
      fault: { _tag: "Slow", share: 0.6, minMillis: 250, maxMillis: 900 },
      handledBy: "hedged requests: a second attempt after 80 ms, the first answer wins; a bulkhead bounds them"
    },
    {
      upstream: "inventory",
      fromMillis: 21_000,
      untilMillis: 25_000,
      fault: { _tag: "Unavailable", retryAfterSeconds: 3 },
      handledBy: "no retry sooner than asked; the circuit stays open for the Retry-After it was given"
    }
  ]
}

/** The phase `upstream` is in at `elapsedMillis` since the script started, if any. */
export const phaseAt = (script: FaultScript, upstream: Upstream, elapsedMillis: number): Phase | undefined => {
  const t = ((elapsedMillis % script.cycleMillis) + script.cycleMillis) % script.cycleMillis
  return script.phases.find((phase) => phase.upstream === upstream && t >= phase.fromMillis && t < phase.untilMillis)
}

/** How `upstream` answers at `elapsedMillis` since the script started. */
export const faultAt = (script: FaultScript, upstream: Upstream, elapsedMillis: number): Fault =>
  phaseAt(script, upstream, elapsedMillis)?.fault ?? healthy

/**
 * The script with every time multiplied by `factor` (Retry-After stays in
 * whole seconds, at least 1): a quicker cycle for the tests.
 */
export const scaled = (script: FaultScript, factor: number): FaultScript => ({
  cycleMillis: Math.round(script.cycleMillis * factor),
  phases: script.phases.map((phase) => ({
    ...phase,
    fromMillis: Math.round(phase.fromMillis * factor),
    untilMillis: Math.round(phase.untilMillis * factor),
    fault: phase.fault._tag === "Unavailable"
      ? { ...phase.fault, retryAfterSeconds: Math.max(1, Math.ceil(phase.fault.retryAfterSeconds * factor)) }
      : phase.fault
  }))
})

/** A fault in a few words. */
export const describeFault = (fault: Fault): string => {
  switch (fault._tag) {
    case "Healthy":
      return "healthy"
    case "Slow":
      return `latency spike (${Math.round(fault.share * 100)}% take ${fault.minMillis}-${fault.maxMillis} ms)`
    case "Failing":
      return `${fault.status} burst (${Math.round(fault.share * 100)}% of answers)`
    case "Hanging":
      return "hangs (no answer)"
    case "Unavailable":
      return `503 + Retry-After: ${fault.retryAfterSeconds}`
  }
}

/** A fault in a word or two, for the status lines. */
export const shortFault = (fault: Fault): string => {
  switch (fault._tag) {
    case "Healthy":
      return "healthy"
    case "Slow":
      return "slow"
    case "Failing":
      return `${fault.status}s`
    case "Hanging":
      return "hangs"
    case "Unavailable":
      return `503 Retry-After ${fault.retryAfterSeconds}s`
  }
}

const seconds = (millis: number): string => `${Number((millis / 1000).toFixed(1))}s`

/** The legend printed at start: one line per phase, then the recovery. */
export const legend = (script: FaultScript): ReadonlyArray<string> => [
  ...script.phases.map((phase) =>
    `${seconds(phase.fromMillis).padStart(5)}-${seconds(phase.untilMillis).padEnd(5)} ${phase.upstream.padEnd(9)} ` +
    `${describeFault(phase.fault)}: ${phase.handledBy}`
  ),
  `${"".padStart(11)} otherwise every upstream is healthy; the cycle repeats every ${seconds(script.cycleMillis)}`
]

/** The script read against the clock of the context, from the moment `ScriptClock.make` ran. */
export interface ScriptClock {
  readonly script: FaultScript
  /** Milliseconds since the script started. */
  readonly elapsed: Effect.Effect<number>
  /** How `upstream` answers now. */
  readonly faultOf: (upstream: Upstream) => Effect.Effect<Fault>
  /** The phases running now, every upstream. */
  readonly activePhases: Effect.Effect<ReadonlyArray<Phase>>
}

/** Starts `script` now, on the context's clock. */
export const make = (script: FaultScript): Effect.Effect<ScriptClock> =>
  Effect.map(Clock.currentTimeMillis, (startedAt) => {
    const elapsed = Effect.map(Clock.currentTimeMillis, (now) => now - startedAt)
    return {
      script,
      elapsed,
      faultOf: (upstream) => Effect.map(elapsed, (t) => faultAt(script, upstream, t)),
      activePhases: Effect.map(elapsed, (t) =>
        upstreams.flatMap((upstream) => {
          const phase = phaseAt(script, upstream, t)
          return phase === undefined ? [] : [phase]
        }))
    }
  })
