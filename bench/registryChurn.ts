/**
 * A registry under churn: a long run of distinct keys through a registry of
 * `maxBreakers`, a share of them failing their first call and tripping their
 * breaker, each key used once. The registry's cost per new key — a lookup
 * that misses, a sweep that finds a victim, a breaker made, the evicted one's
 * scope closed — is timed over successive segments of the run, so a cost
 * that grows with the keys seen (a registry filling up with tripped breakers
 * it cannot evict, each refusal sweeping all of them) shows as a rising
 * segment. The time is the process's CPU time (user + system, garbage
 * collection included), which other processes on a shared machine disturb
 * far less than the wall clock over a run of many seconds.
 *
 * Time is the bench's own: a `Clock` that reads a counter moved by 1 ms per
 * key, so open periods end and idle time passes without sleeping. Its sleeps
 * never end (a breaker's timers never fire): every read of a breaker applies
 * what time has done, and the registry reads `Open` periods by their end.
 *
 * Run alone: `node --expose-gc --import tsx bench/registry-churn.ts`.
 */
import type { Duration } from "effect"
import { Clock, Effect, Exit } from "effect"
import { CircuitBreakerRegistry } from "../src/index.js"

export interface ChurnOptions {
  /** Distinct keys, each used once. */
  readonly keys: number
  /** Keys per timed segment. */
  readonly segment: number
  readonly maxBreakers: number
  /** One key in `tripEvery` fails its call and trips its breaker. */
  readonly tripEvery: number
  readonly idleTimeToLive: Duration.Input
  readonly openDuration: Duration.Input
}

export interface ChurnResult {
  /** CPU nanoseconds per new key in each segment, in order. */
  readonly nsPerKey: ReadonlyArray<number>
  /** New keys refused with `RegistryFullError`. */
  readonly refused: number
  /** Calls that ended otherwise than expected (a success, or the tripping key's own failure). */
  readonly unexpected: number
  /** Breakers held at the end. */
  readonly size: number
}

/** The case the bench reports: 1,000,000 keys through 10,000 breakers, 2% tripping. */
export const churnCase = {
  keys: 1_000_000,
  segment: 100_000,
  maxBreakers: 10_000,
  tripEvery: 50,
  idleTimeToLive: "1 minute",
  openDuration: "10 seconds"
} as const satisfies ChurnOptions

const down = Effect.fail("down" as const)
const up = Effect.void

const isRegistryFull = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) &&
  exit.cause.reasons.some((reason) =>
    reason._tag === "Fail" && CircuitBreakerRegistry.isRegistryFullError(reason.error)
  )

/** Runs the churn once, on a clock of its own. */
export const registryChurn = (options: ChurnOptions): Promise<ChurnResult> => {
  let millis = 0
  const program = Effect.gen(function*() {
    const live = yield* Clock.Clock
    const clock: Clock.Clock = Object.assign(Object.create(live) as Clock.Clock, {
      currentTimeMillisUnsafe: () => millis,
      currentTimeMillis: Effect.sync(() => millis),
      currentTimeNanosUnsafe: () => BigInt(millis) * 1_000_000n,
      currentTimeNanos: Effect.sync(() => BigInt(millis) * 1_000_000n),
      sleep: () => Effect.never
    })
    return yield* Effect.provideService(churn(options, () => millis++), Clock.Clock, clock)
  })
  return Effect.runPromise(Effect.scoped(program))
}

const churn = (options: ChurnOptions, tick: () => void) =>
  Effect.gen(function*() {
    const registry = yield* CircuitBreakerRegistry.make({
      config: { consecutiveFailures: 1, openDuration: options.openDuration, logTransitions: false },
      maxBreakers: options.maxBreakers,
      idleTimeToLive: options.idleTimeToLive
    })
    const nsPerKey: Array<number> = []
    let refused = 0
    let unexpected = 0
    let start = process.cpuUsage()
    for (let i = 0; i < options.keys; i++) {
      const trips = i % options.tripEvery === 0
      const exit = yield* Effect.exit(registry.execute(trips ? down : up, `key-${i}`))
      if (isRegistryFull(exit)) refused++
      else if (Exit.isFailure(exit) !== trips) unexpected++
      tick()
      if ((i + 1) % options.segment === 0) {
        const used = process.cpuUsage(start)
        nsPerKey.push(((used.user + used.system) * 1000) / options.segment)
        start = process.cpuUsage()
      }
    }
    return { nsPerKey, refused, unexpected, size: yield* registry.size }
  })

/** The median of each segment over several runs, after a shorter run to warm up. */
export const measureChurn = async (options: ChurnOptions, runs: number) => {
  const gc = (globalThis as { gc?: () => void }).gc
  await registryChurn({ ...options, keys: options.segment })
  const results: Array<ChurnResult> = []
  for (let run = 0; run < runs; run++) {
    gc?.()
    results.push(await registryChurn(options))
  }
  const median = (values: Array<number>) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  return {
    nsPerKey: results[0]!.nsPerKey.map((_, segment) => median(results.map((r) => r.nsPerKey[segment]!))),
    refused: Math.max(...results.map((r) => r.refused)),
    unexpected: Math.max(...results.map((r) => r.unexpected)),
    size: Math.max(...results.map((r) => r.size))
  }
}
