/**
 * The adaptive concurrency limit against a simulated dependency, in
 * simulated time (`TestClock`): the model behind docs/adaptive-concurrency.md
 * and test/AdaptiveLimit.simulation.test.ts.
 *
 * The dependency has `workers` workers and an unbounded first-in, first-out
 * queue in front of them (an M/G/c queue): a call's latency is its wait in
 * the queue plus its service time, so latency grows with the queue. Service
 * times are drawn from a seeded random (uniform within ±25% of the mean). A
 * caller gives up after `timeoutMillis` (a `Timeout` policy); the dependency
 * does not know, and still serves the abandoned call when its turn comes —
 * which is how an overloaded service without a limit collapses: it works
 * hard on answers nobody waits for any more.
 *
 * Calls arrive as a Poisson process at `load × capacity`. Each configuration
 * guards the call differently: no limit, a static bulkhead, or an adaptive
 * limit, always with the timeout inside (a timed-out call is a drop). The
 * adaptive limits start at `initialLimit` (by default 100, five times the
 * dependency's concurrency: worse than the mis-sized bulkhead), so they must
 * find their level; a limit that never moved would fail the targets.
 */
import { Clock, Deferred, Effect, Exit, Queue, Random } from "effect"
import { TestClock } from "effect/testing"
import type { Policy } from "../src/index.js"
import { AdaptiveLimit, Bulkhead, Timeout } from "../src/index.js"

/** The simulated dependency and the measurement. */
export interface Model {
  /** Calls the dependency serves at once. */
  readonly workers: number
  /** Mean service time of one call, in milliseconds. */
  readonly serviceMillis: number
  /** Service times are uniform in `serviceMillis × (1 ± spread)`. */
  readonly spread: number
  /** When a caller gives up. */
  readonly timeoutMillis: number
  /** How long calls arrive. */
  readonly durationMillis: number
  /** Calls arriving before this are not measured (the limits are still finding their level). */
  readonly warmupMillis: number
}

export const defaultModel: Model = {
  workers: 20,
  serviceMillis: 100,
  spread: 0.25,
  timeoutMillis: 1_000,
  durationMillis: 40_000,
  warmupMillis: 10_000
}

/** Calls per second the dependency can serve. */
export const capacity = (model: Model): number => model.workers * 1000 / model.serviceMillis

/**
 * The latency of one call with nothing else running (its mean and median):
 * the unloaded latency the targets are stated against. Its 99th percentile
 * is `serviceMillis × (1 + 0.98 × spread)`.
 */
export const unloadedLatency = (model: Model): number => model.serviceMillis

export type Guard = "no limit" | "bulkhead (right size)" | "bulkhead (2x too big)" | "aimd" | "gradient2" | "vegas"

export const guards: ReadonlyArray<Guard> = [
  "no limit",
  "bulkhead (right size)",
  "bulkhead (2x too big)",
  "aimd",
  "gradient2",
  "vegas"
]

export const loads: ReadonlyArray<number> = [0.5, 1, 3, 10]

export interface Result {
  readonly guard: Guard
  readonly load: number
  /** Calls measured (arrived after the warm-up). */
  readonly calls: number
  /** Successful calls per second, as a fraction of capacity. */
  readonly goodput: number
  /** 99th percentile latency of the successful calls, in milliseconds. */
  readonly p99: number
  /** Fraction of the calls turned away at once by the limit. */
  readonly rejected: number
  /** Fraction of the calls that timed out. */
  readonly timedOut: number
  /** The adaptive limit at the end (undefined without one). */
  readonly finalLimit: number | undefined
}

const makeGuard = (guard: Guard, model: Model, options: Partial<AdaptiveLimit.AdaptiveLimitOptions>) =>
  Effect.gen(function*() {
    const name = `sim-${guard}`
    switch (guard) {
      case "no limit":
        return undefined
      case "bulkhead (right size)":
        return { policy: yield* Bulkhead.make({ name, maxConcurrent: model.workers }), limit: undefined }
      case "bulkhead (2x too big)":
        return { policy: yield* Bulkhead.make({ name, maxConcurrent: 2 * model.workers }), limit: undefined }
      case "aimd": {
        // AIMD is loss-based: a call slower than the latency target counts as a drop.
        const algorithm = AdaptiveLimit.aimd({ slowCallDuration: 1.5 * model.serviceMillis })
        const limit = yield* AdaptiveLimit.make({ name, algorithm, ...options })
        return { policy: limit as Policy.Policy.Any, limit }
      }
      case "gradient2": {
        const limit = yield* AdaptiveLimit.make({ name, algorithm: AdaptiveLimit.gradient2(), ...options })
        return { policy: limit as Policy.Policy.Any, limit }
      }
      case "vegas": {
        const limit = yield* AdaptiveLimit.make({ name, algorithm: AdaptiveLimit.vegas(), ...options })
        return { policy: limit as Policy.Policy.Any, limit }
      }
    }
  })

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!

/** Runs one configuration at one load, in a `TestClock` of its own. */
export const simulate = (
  guard: Guard,
  load: number,
  model: Model = defaultModel,
  seed = 42,
  /** Options of the adaptive limits (their algorithm aside). */
  options: Partial<AdaptiveLimit.AdaptiveLimitOptions> = { initialLimit: 100 }
): Effect.Effect<Result> =>
  Effect.scoped(Effect.gen(function*() {
    const random = yield* Random.Random
    const uniform = () => random.nextDoubleUnsafe()
    const jobs = yield* Queue.unbounded<Deferred.Deferred<void>>()
    const worker = Effect.gen(function*() {
      while (true) {
        const job = yield* Queue.take(jobs)
        const service = model.serviceMillis * (1 + model.spread * (2 * uniform() - 1))
        yield* Effect.sleep(service)
        Deferred.doneUnsafe(job, Exit.void)
      }
    })
    for (let i = 0; i < model.workers; i++) yield* Effect.forkScoped(worker)

    const dependency = Effect.suspend(() => {
      const job = Deferred.makeUnsafe<void>()
      Queue.offerUnsafe(jobs, job)
      return Deferred.await(job)
    })
    const timeout = yield* Effect.orDie(Timeout.make({ name: "sim", duration: model.timeoutMillis }))
    const guarded = yield* Effect.orDie(makeGuard(guard, model, options))
    const call: Effect.Effect<unknown, unknown> = guarded === undefined
      ? Timeout.timeout(dependency, timeout)
      : guarded.policy.apply(Timeout.timeout(dependency, timeout)) as Effect.Effect<unknown, unknown>

    const latencies: Array<number> = []
    let calls = 0
    let rejected = 0
    let timedOut = 0
    const measured = (arrival: number) => arrival >= model.warmupMillis
    const oneCall = Effect.gen(function*() {
      const arrival = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(call)
      if (!measured(arrival)) return
      calls++
      if (Exit.isSuccess(exit)) {
        latencies.push((yield* Clock.currentTimeMillis) - arrival)
      } else {
        const tag = String((exit.cause.reasons[0] as { readonly error?: { readonly _tag?: unknown } }).error?._tag)
        if (tag === "TimeoutError") timedOut++
        else rejected++
      }
    })

    const rate = load * capacity(model) / 1000 // calls per millisecond
    const arrivals = Effect.gen(function*() {
      let now = 0
      while (true) {
        const gap = -Math.log(1 - uniform()) / rate
        now += gap
        if (now >= model.durationMillis) return
        yield* Effect.sleep(gap)
        yield* Effect.forkScoped(oneCall)
      }
    })
    yield* Effect.forkScoped(arrivals)
    // Calls that arrive before the end get their answer or their timeout.
    yield* TestClock.adjust(model.durationMillis + model.timeoutMillis + 1)

    latencies.sort((a, b) => a - b)
    const seconds = (model.durationMillis - model.warmupMillis) / 1000
    const finalLimit = guarded?.limit === undefined ? undefined : (yield* guarded.limit.snapshot).limit
    return {
      guard,
      load,
      calls,
      goodput: latencies.length / seconds / capacity(model),
      p99: percentile(latencies, 0.99),
      rejected: calls === 0 ? 0 : rejected / calls,
      timedOut: calls === 0 ? 0 : timedOut / calls,
      finalLimit
    }
  })).pipe(Random.withSeed(seed), Effect.provide(TestClock.layer()))

/** Every configuration at each of `loads`, one after another. */
export const simulateAll = (model: Model, atLoads: ReadonlyArray<number> = loads): Effect.Effect<Array<Result>> =>
  Effect.gen(function*() {
    const results: Array<Result> = []
    for (const load of atLoads) {
      for (const guard of guards) results.push(yield* simulate(guard, load, model))
    }
    return results
  })

const percent = (x: number) => `${(100 * x).toFixed(1)}%`
const millis = (x: number) => (Number.isNaN(x) ? "—" : `${x.toFixed(0)} ms`)

/** The model in a sentence, then the results as a Markdown table (docs/adaptive-concurrency.md, docs/benchmarks.md). */
export const simulationTable = (model: Model, results: ReadonlyArray<Result>): string =>
  [
    `Dependency: ${model.workers} workers, service ${model.serviceMillis} ms ±${100 * model.spread}%, ` +
    `capacity ${capacity(model)} calls/s, caller timeout ${model.timeoutMillis} ms; ` +
    `${model.durationMillis / 1000} s of arrivals, the first ${model.warmupMillis / 1000} s not measured. ` +
    `Target at 3x: goodput >= 90%, p99 <= ${2 * unloadedLatency(model)} ms.`,
    "",
    "| load | configuration | goodput (of capacity) | p99 latency | rejected | timed out | final limit |",
    "|---:|---|---:|---:|---:|---:|---:|",
    ...results.map((r) =>
      `| ${r.load}x | ${r.guard} | ${percent(r.goodput)} | ${millis(r.p99)} | ${percent(r.rejected)} | ` +
      `${percent(r.timedOut)} | ${r.finalLimit ?? ""} |`
    )
  ].join("\n")
