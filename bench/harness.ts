/**
 * A small benchmark harness: every case runs `ops` operations per round, the
 * rounds of all cases are interleaved (so a slow patch of the machine hits
 * every case alike), and each case reports the median over its rounds of the
 * nanoseconds per operation.
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
  for (let round = 0; round < options.warmup + options.rounds; round++) {
    for (const c of cases) {
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
 * The median over rounds of `a`'s time divided by `b`'s time in the same
 * round. Rounds are interleaved, so each pair ran seconds apart: a paired
 * ratio cancels the drift of a shared machine that two separate medians keep.
 */
export const pairedRatio = (a: Measurement, b: Measurement): number =>
  median(a.samples.map((value, round) => value / b.samples[round]!))

/** The median over rounds of `a`'s time minus `b`'s time in the same round (ns per operation). */
export const pairedDifference = (a: Measurement, b: Measurement): number =>
  median(a.samples.map((value, round) => value - b.samples[round]!))

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
