/**
 * A small benchmark harness: every case runs `ops` operations per round, the
 * rounds of all cases are interleaved (so a slow patch of the machine hits
 * every case alike), and each case reports the median over its rounds of the
 * nanoseconds per operation.
 *
 * The cases run in their order in even rounds and in the reverse order in
 * odd ones: a case that always ran right after another would carry what that
 * one leaves behind (two identical HTTP cases, 64 requests at once, measure
 * 6-9% apart when one always follows the other). Paired figures combine a
 * round of each order (see `pairedRatio`).
 */
import { cpus } from "node:os"

export interface Case {
  readonly name: string
  /** Runs `ops` operations. */
  readonly run: (ops: number) => Promise<void>
  readonly ops: number
}

export interface Measurement {
  readonly name: string
  readonly medianNs: number
  readonly minNs: number
  readonly maxNs: number
  readonly rounds: number
  readonly opsPerRound: number
  /** Nanoseconds per operation in each round, in round order. */
  readonly samples: ReadonlyArray<number>
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** A few turns of the event loop: callbacks a collection or a finished case queued run now. */
const settle = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

export const measure = async (
  cases: ReadonlyArray<Case>,
  options: { readonly rounds: number; readonly warmup: number }
): Promise<Map<string, Measurement>> => {
  const samples = new Map<string, Array<number>>(cases.map((c) => [c.name, []]))
  const gc = (globalThis as { gc?: () => void }).gc
  const reversed = [...cases].reverse()
  for (let round = 0; round < options.warmup + options.rounds; round++) {
    // Rounds are counted from the first measured one: measured round 0 runs in the cases' order.
    for (const c of (round - options.warmup) % 2 === 0 ? cases : reversed) {
      // Collect before each case, so none pays for the garbage the one before it left, and let what
      // the collection queued run first (finalizers: undici's, of the HTTP cases' responses, say).
      gc?.()
      await settle()
      const start = process.hrtime.bigint()
      await c.run(c.ops)
      const nsPerOp = Number(process.hrtime.bigint() - start) / c.ops
      if (round >= options.warmup) samples.get(c.name)!.push(nsPerOp)
    }
  }
  return new Map(
    cases.map((c) => {
      const values = samples.get(c.name)!
      return [c.name, {
        name: c.name,
        medianNs: median(values),
        minNs: Math.min(...values),
        maxNs: Math.max(...values),
        rounds: values.length,
        opsPerRound: c.ops,
        samples: values
      }]
    })
  )
}

/**
 * `a`'s time over `b`'s in each pair of consecutive rounds (one in each
 * order): the ratio of their sums. A round left without a partner (an odd
 * number of rounds) counts alone.
 */
const roundPairs = (a: Measurement, b: Measurement, combine: (a: number, b: number) => number): Array<number> => {
  const pairs: Array<number> = []
  for (let round = 0; round < a.samples.length; round += 2) {
    const next = round + 1 < a.samples.length ? round + 1 : round
    const count = next === round ? 1 : 2
    pairs.push(combine(
      (a.samples[round]! + (count === 2 ? a.samples[next]! : 0)) / count,
      (b.samples[round]! + (count === 2 ? b.samples[next]! : 0)) / count
    ))
  }
  return pairs
}

/**
 * The median over pairs of consecutive rounds of `a`'s time divided by
 * `b`'s time in those rounds. Rounds are interleaved, so the two cases ran
 * seconds apart: a paired ratio cancels the drift of a shared machine that
 * two separate medians keep; and a pair holds one round of each order, so
 * neither case is always the one that runs second.
 */
export const pairedRatio = (a: Measurement, b: Measurement): number => median(roundPairs(a, b, (x, y) => x / y))

/** As `pairedRatio`, the difference: `a`'s time minus `b`'s (ns per operation). */
export const pairedDifference = (a: Measurement, b: Measurement): number => median(roundPairs(a, b, (x, y) => x - y))

/** Heap bytes retained per item by `make(count)`, after full collections. */
export const retainedBytesPerItem = async (count: number, make: (count: number) => Promise<unknown>) => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error("run the benchmark with node --expose-gc (npm run bench does)")
  const collect = () => {
    for (let i = 0; i < 4; i++) gc()
  }
  collect()
  const before = process.memoryUsage().heapUsed
  const kept = await make(count)
  collect()
  const after = process.memoryUsage().heapUsed
  if (kept === undefined) throw new Error("make must return what it keeps alive")
  return (after - before) / count
}

export const machine = () => ({
  node: process.version,
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  platform: `${process.platform} ${process.arch}`
})
