/**
 * `npm run bench` (bundled and run by scripts/bench.mjs): the circuit
 * breaker's cost per call, measured in one run, in one process, next to its
 * baselines. Writes docs/benchmarks.md and
 * bench/results.json. Numbers, not pass/fail: the targets are shown beside
 * them.
 */
import { circuitBreaker as cockatielBreaker, ConsecutiveBreaker, handleAll } from "cockatiel"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { CircuitBreaker as EffectCircuitBreaker, RateLimiter } from "effect/persistence"
import { writeFileSync } from "node:fs"
import OpossumBreaker from "opossum"
import {
  AdaptiveLimit,
  Bulkhead,
  Chaos,
  CircuitBreaker,
  CircuitBreakerRegistry,
  Fallback,
  Hedge,
  Policy,
  RateLimit,
  Retry,
  Timeout,
  withCircuitBreaker
} from "../src/index.js"
import type { CircuitOpenError } from "../src/index.js"
import { defaultModel, simulateAll, simulationTable } from "./adaptiveSimulation.js"
import { dashboardBench, dashboardStreams } from "./dashboard.js"
import { processFleet } from "./fleetProcesses.js"
import type { Case, Measurement } from "./harness.js"
import { machine, measure, pairedDifference, pairedRatio, retainedBytesPerItem } from "./harness.js"
import { httpConcurrency, httpMethod, httpTable, measureHttp } from "./http.js"
import { flushMillis, redisBench } from "./redis.js"
import { churnCase, measureChurn } from "./registryChurn.js"

const quick = process.argv.includes("--quick")
const ROUNDS = quick ? 5 : 21
const IN_FIBER_OPS = quick ? 20_000 : 100_000
const PROMISE_OPS = quick ? 5_000 : 20_000

let counter = 0
const work = () => counter++
const syncCall = () => Effect.sync(work)
const asyncCall = () => Effect.promise(() => Promise.resolve(work()))
// The same call typed as a guarded one, so that a fallback on `CircuitOpenError` has something to answer for.
const guardedCall: () => Effect.Effect<number, CircuitOpenError> = asyncCall

const scope = Effect.runSync(Scope.make())
const inScope = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Effect.runSync(Scope.provide(effect, scope))

const consecutive = inScope(CircuitBreaker.make({ name: "consecutive", consecutiveFailures: 5 }))
const consecutiveTimed = inScope(CircuitBreaker.make({
  name: "consecutive-timed",
  consecutiveFailures: 5,
  metrics: { callDurations: true }
}))
const consecutiveMetrics = inScope(CircuitBreaker.make({
  name: "consecutive-metrics",
  consecutiveFailures: 5,
  metrics: true
}))
const rate100 = inScope(CircuitBreaker.make({
  name: "rate-100",
  failureRate: 0.5,
  window: CircuitBreaker.countWindow(100)
}))
const rate100k = inScope(CircuitBreaker.make({
  name: "rate-100k",
  failureRate: 0.5,
  window: CircuitBreaker.countWindow(100_000),
  minimumCalls: 100
}))
const timeWindow = inScope(CircuitBreaker.make({
  name: "time-60s",
  failureRate: 0.5,
  slowCallRate: 0.5,
  slowCallDuration: "1 second",
  window: CircuitBreaker.timeWindow("60 seconds", 60)
}))
const open = inScope(CircuitBreaker.make({
  name: "open",
  consecutiveFailures: 1,
  openDuration: "1 day",
  logTransitions: false
}))
Effect.runSync(Effect.exit(open.execute(Effect.fail("trip"))))

const effectMemoryStore = EffectCircuitBreaker.layerStoreMemory()
const effectConsecutive = inScope(
  EffectCircuitBreaker.make({ tripPolicy: EffectCircuitBreaker.consecutive(5), openDuration: "1 minute" }).pipe(
    Effect.provide(effectMemoryStore)
  )
)
const effectRate = inScope(
  EffectCircuitBreaker.make({
    tripPolicy: EffectCircuitBreaker.rate({ threshold: 0.5, size: 100 }),
    openDuration: "1 minute"
  }).pipe(Effect.provide(effectMemoryStore))
)

const withDefault = Context.make(CircuitBreaker.CircuitBreaker, consecutive)

// A registry of 100,000 keyed breakers.
const REGISTRY_KEYS = quick ? 10_000 : 100_000
const registryKeys = Array.from({ length: REGISTRY_KEYS }, (_, i) => `tenant-${i}`)
const registry = inScope(CircuitBreakerRegistry.make({
  config: { consecutiveFailures: 5 },
  maxBreakers: REGISTRY_KEYS
}))
await Effect.runPromise(Effect.forEach(registryKeys, (key) => registry.get(key), { discard: true }))
let nextKey = 0
const anyKey = () => registryKeys[nextKey++ % REGISTRY_KEYS]!
let nextHotKey = 0
const hotKey = () => registryKeys[nextHotKey++ % 100]!

// The policies, each measured on the asynchronous call that succeeds at once:
// the price every call pays, before anything goes wrong.
const retry = Effect.runSync(Retry.make({ name: "bench" }))
const budget = Effect.runSync(Retry.makeBudget({ name: "bench" }))
const retryWithBudget = Effect.runSync(Retry.make({ name: "bench", budget }))
const timeout = Effect.runSync(Timeout.make({ name: "bench", duration: "10 seconds" }))
const bulkhead = Effect.runSync(Bulkhead.make({ name: "bench", maxConcurrent: 10 }))
const adaptiveLimit = Effect.runSync(AdaptiveLimit.make({ name: "bench" }))
// A rate limit over Effect's memory store that never runs out: the cost of counting a call.
const rateLimit = Effect.runSync(
  RateLimit.make({ name: "bench", limit: 1_000_000_000, window: "1 second" }).pipe(
    Effect.provide(RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory)))
  )
)
const chaosOff = Effect.runSync(Chaos.make({ name: "bench", enabled: false, faults: [{ kind: "hang", rate: 1 }] }))
const chaosOn = Effect.runSync(
  Chaos.make({ name: "bench", enabled: true, seed: 1, faults: [{ kind: "hang", rate: 0 }] })
)
const fallback = Effect.runSync(Fallback.make({ name: "bench", on: ["CircuitOpenError"], value: -1 }))
const lastKnownGood = Effect.runSync(Fallback.lastKnownGood<number>()({ name: "bench" }))
const hedge = Effect.runSync(Hedge.make({ name: "bench", delay: "10 seconds" }))
const policy = Effect.runSync(Policy.make({ fallback, breaker: consecutive, retry, bulkhead, timeout }))
const policyNoTimeout = Effect.runSync(Policy.make({ fallback, breaker: consecutive, retry, bulkhead }))

/** A case that runs `ops` calls in one fiber, each `yield*`-ed by an Effect.gen loop. */
const inFiber = (name: string, call: () => Effect.Effect<unknown, unknown, CircuitBreaker.CircuitBreaker>): Case => ({
  name,
  ops: IN_FIBER_OPS,
  run: (ops) =>
    Effect.runPromise(
      Effect.gen(function*() {
        for (let i = 0; i < ops; i++) yield* call()
      }).pipe(Effect.provideContext(withDefault))
    )
})

// The least any wrapper that observes every exit costs in Effect 4: one
// primitive to decide at run time, one to see the exit. No breaker logic at
// all. Its finaliser is not interruptible: an interruptible one (the third
// argument `true`) is skipped when the caller is interrupted, so it does not
// see every exit; it is measured beside it for scale.
const noop = () => undefined
const minimalWrapper = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.withFiber(() => Effect.onExitPrimitive(self, noop))
const interruptibleWrapper = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.withFiber(() => Effect.onExitPrimitive(self, noop, true))

const cockatiel = cockatielBreaker(handleAll, { halfOpenAfter: 60_000, breaker: new ConsecutiveBreaker(5) })
const opossum = new OpossumBreaker((n: number) => Promise.resolve(n))

const promiseCase = (name: string, call: () => Promise<unknown>): Case => ({
  name,
  ops: PROMISE_OPS,
  run: async (ops) => {
    for (let i = 0; i < ops; i++) await call()
  }
})

// The Redis store, against a redis-server this run starts (skipped where there is none).
const redis = await redisBench(scope, {
  inFiber: IN_FIBER_OPS,
  roundTrip: quick ? 500 : 2_000,
  concurrency: 64
})
if (redis === undefined) console.log("redis-server not found: the Redis store's cases are skipped")

// The resilient HTTP client next to the bare one, against a localhost server: measured after the
// other cases, in fresh processes, by clients taking turns in short blocks (see bench/http.ts).
const http = { method: httpMethod(quick) }

// A breaker shown on a dashboard with five streams open, next to one shown nowhere.
const dashboard = await dashboardBench(scope, IN_FIBER_OPS)

const baseCases: ReadonlyArray<Case> = [
  inFiber("sync: bare effect", syncCall),
  inFiber("sync: minimal exit-observing wrapper (floor)", () => minimalWrapper(syncCall())),
  inFiber(
    "sync: wrapper with an interruptible finaliser (misses interrupted exits)",
    () => interruptibleWrapper(syncCall())
  ),
  inFiber("sync: guarded, instance.execute", () => consecutive.execute(syncCall())),
  inFiber("sync: guarded, withCircuitBreaker (service)", () => withCircuitBreaker(syncCall())),
  inFiber("async: bare effect", asyncCall),
  inFiber("async: minimal exit-observing wrapper (floor)", () => minimalWrapper(asyncCall())),
  inFiber("async: guarded, instance.execute", () => consecutive.execute(asyncCall())),
  inFiber("async: guarded, withCircuitBreaker (service)", () => withCircuitBreaker(asyncCall())),
  inFiber("async: guarded, instance.execute, metrics on", () => consecutiveMetrics.execute(asyncCall())),
  inFiber("async: guarded, instance.execute, every call timed", () => consecutiveTimed.execute(asyncCall())),
  inFiber("sync: guarded through a registry of 100,000 keys", () => registry.execute(syncCall(), anyKey())),
  inFiber(
    "sync: guarded through a registry of 100,000 keys, 100 of them hot",
    () => registry.execute(syncCall(), hotKey())
  ),
  inFiber("rate, count window 100", () => rate100.execute(syncCall())),
  inFiber("rate, count window 100,000", () => rate100k.execute(syncCall())),
  inFiber("rate + slow calls, time window 60s/60 buckets", () => timeWindow.execute(syncCall())),
  inFiber("effect/persistence consecutive(5), memory store", () => effectConsecutive.execute(syncCall(), { key: "k" })),
  inFiber("effect/persistence rate(0.5, 100), memory store", () => effectRate.execute(syncCall(), { key: "k" })),
  inFiber("closed call, exit observed", () => Effect.exit(consecutive.execute(syncCall()))),
  inFiber("open rejection, exit observed", () => Effect.exit(open.execute(syncCall()))),
  inFiber("policy: retry (first attempt succeeds)", () => Retry.retry(asyncCall(), retry)),
  inFiber("policy: retry with a budget", () => Retry.retry(asyncCall(), retryWithBudget)),
  inFiber("policy: timeout", () => Timeout.timeout(asyncCall(), timeout)),
  inFiber("policy: Effect.timeout (Effect's own, for scale)", () => Effect.timeout(asyncCall(), "10 seconds")),
  inFiber("policy: bulkhead (a slot is free)", () => Bulkhead.withBulkhead(asyncCall(), bulkhead)),
  inFiber("policy: adaptive limit (a slot is free)", () => AdaptiveLimit.withLimit(asyncCall(), adaptiveLimit)),
  inFiber(
    "policy: rate limit (Effect's memory store, a token is free)",
    () => RateLimit.rateLimit(asyncCall(), rateLimit)
  ),
  inFiber("policy: fault injection switched off", () => Chaos.inject(asyncCall(), chaosOff)),
  inFiber("policy: fault injection on, no fault drawn", () => Chaos.inject(asyncCall(), chaosOn)),
  inFiber("policy: fallback (not needed)", () => Fallback.fallback(guardedCall(), fallback)),
  inFiber("policy: last-known-good cache (stores the value)", () => lastKnownGood.serve(asyncCall(), "key")),
  inFiber("policy: hedge (answered before the delay)", () => Hedge.hedge(asyncCall(), hedge)),
  inFiber("policy: fallback + breaker + retry + bulkhead", () => Policy.apply(asyncCall(), policyNoTimeout)),
  inFiber("policy: fallback + breaker + retry + bulkhead + timeout", () => Policy.apply(asyncCall(), policy)),
  promiseCase("promise: bare async function", () => Promise.resolve(work())),
  promiseCase("promise: Effect.runPromise(bare effect)", () => Effect.runPromise(syncCall())),
  promiseCase("promise: Effect.runPromise(guarded effect)", () => Effect.runPromise(consecutive.execute(syncCall()))),
  promiseCase("promise: cockatiel ConsecutiveBreaker(5)", () => cockatiel.execute(() => Promise.resolve(work()))),
  promiseCase("promise: opossum (defaults)", () => opossum.fire(work()))
]
const cases: ReadonlyArray<Case> = [...baseCases, ...dashboard.cases, ...(redis?.cases ?? [])]

/** The Redis store's figures: shared mode next to memory, both modes next to effect/persistence, trip latency. */
const redisChecks = async (get: (name: string) => Measurement) => {
  const members = 16
  const fleet = await processFleet(redis!.url, members, scope)
  const samples = await fleet.tripLatencies(quick ? 5 : 30)
  const sorted = [...samples].sort((a, b) => a - b)
  const perSecond = (name: string) => 1e9 / get(name).medianNs
  return [
    {
      what: "redis shared mode: guarded async call (Closed) / same call, in-memory store",
      value: pairedRatio(get("redis shared: guarded async call (Closed)"), get("async: guarded, instance.execute")),
      target: "<= 1.1",
      ok: (v: number) => v <= 1.1
    },
    {
      what: `trip on one instance seen by ${members} others in processes of their own, median of ${samples.length} ` +
        `(ms; flush interval ${flushMillis} ms)`,
      value: sorted[Math.floor(sorted.length / 2)]!,
      target: `<= ${2 * flushMillis}`,
      ok: (v: number) => v <= 2 * flushMillis
    },
    {
      what:
        `trip on one instance seen by ${members} others in processes of their own, slowest of ${samples.length} (ms)`,
      value: sorted[sorted.length - 1]!,
      target: `<= ${2 * flushMillis}`,
      ok: (v: number) => v <= 2 * flushMillis
    },
    {
      what: "redis strict / effect/persistence Redis store, one call at a time (throughput)",
      value: perSecond("redis strict: guarded async call, one at a time") /
        perSecond("effect/persistence Redis store: consecutive(5), one at a time"),
      target: ">= 1.8",
      ok: (v: number) => v >= 1.8
    },
    {
      what: "redis strict / effect/persistence Redis store, 64 concurrent callers (throughput)",
      value: perSecond("redis strict: 64 concurrent callers") /
        perSecond("effect/persistence Redis store: 64 concurrent callers"),
      target: ">= 1.5",
      ok: (v: number) => v >= 1.5
    },
    ...[
      "redis shared: 64 concurrent callers",
      "redis strict: 64 concurrent callers",
      "effect/persistence Redis store: 64 concurrent callers",
      "redis strict: guarded async call, one at a time",
      "effect/persistence Redis store: consecutive(5), one at a time"
    ].map((name) => ({
      what: `${name}: calls per second`,
      value: perSecond(name),
      target: "reported",
      ok: () => true
    }))
  ]
}

const main = async () => {
  console.log(`effect-resilience benchmarks (${quick ? "quick" : "full"}): ${ROUNDS} rounds per case`)
  const results = await measure(cases, { rounds: ROUNDS, warmup: 2 })
  const get = (name: string) => results.get(name)!
  const ratio = (a: string, b: string) => pairedRatio(get(a), get(b))
  console.log("http: the clients in turns")
  const httpFigures = await measureHttp(http.method)

  const memoryWindow100 = await retainedBytesPerItem(quick ? 2_000 : 10_000, async (count) => {
    const breakers = []
    const memoryScope = Effect.runSync(Scope.make())
    for (let i = 0; i < count; i++) {
      breakers.push(Effect.runSync(Scope.provide(
        CircuitBreaker.make({ name: `b${i}`, failureRate: 0.5, window: CircuitBreaker.countWindow(100) }),
        memoryScope
      )))
    }
    return [breakers, memoryScope]
  })
  const memoryWindow100Metrics = await retainedBytesPerItem(quick ? 2_000 : 10_000, async (count) => {
    const breakers = []
    const memoryScope = Effect.runSync(Scope.make())
    for (let i = 0; i < count; i++) {
      breakers.push(Effect.runSync(Scope.provide(
        CircuitBreaker.make({
          name: `m${i}`,
          failureRate: 0.5,
          window: CircuitBreaker.countWindow(100),
          metrics: true
        }),
        memoryScope
      )))
    }
    return [breakers, memoryScope]
  })
  const memoryKeyed = await retainedBytesPerItem(REGISTRY_KEYS, async (count) => {
    const memoryScope = Effect.runSync(Scope.make())
    const keyed = Effect.runSync(Scope.provide(
      CircuitBreakerRegistry.make({ config: { consecutiveFailures: 5 }, maxBreakers: count }),
      memoryScope
    ))
    await Effect.runPromise(
      Effect.forEach(Array.from({ length: count }, (_, i) => `key-${i}`), (key) => keyed.get(key), { discard: true })
    )
    return [keyed, memoryScope]
  })

  const churnRuns = quick ? 1 : 3
  const churn = await measureChurn(churnCase, churnRuns)
  if (churn.unexpected > 0) console.log(`registry churn: ${churn.unexpected} calls ended otherwise than expected`)
  const churnFirst = churn.nsPerKey[0]!
  const churnLast = churn.nsPerKey[churn.nsPerKey.length - 1]!
  // The growth check compares the median of the last three segments with that of the first three: a
  // full collection of the 10,000 live breakers lands in one segment or another (a single segment
  // measured 1.5x its neighbours), while a cost that grows with the keys seen raises them all.
  const churnEnds = 3
  const medianOf = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  const churnGrowth = medianOf(churn.nsPerKey.slice(-churnEnds)) / medianOf(churn.nsPerKey.slice(0, churnEnds))
  const churnName = `registry churn, ${churnCase.keys.toLocaleString("en")} distinct keys through ${
    churnCase.maxBreakers.toLocaleString("en")
  } breakers, ${100 / churnCase.tripEvery}% tripping`
  const churnSegment = `${churnCase.segment.toLocaleString("en")} keys`

  const checks = [
    {
      what: "guarded async call / bare async call (Closed)",
      value: ratio("async: guarded, instance.execute", "async: bare effect"),
      target: "<= 2.0",
      ok: (v: number) => v <= 2
    },
    {
      what: "guarded async call, metrics on / bare async call (Closed)",
      value: ratio("async: guarded, instance.execute, metrics on", "async: bare effect"),
      target: "<= 2.0",
      ok: (v: number) => v <= 2
    },
    {
      what: "guarded async call, every call timed into the duration histogram / bare async call",
      value: ratio("async: guarded, instance.execute, every call timed", "async: bare effect"),
      target: "reported",
      ok: () => true
    },
    {
      what: "guarded async call via the service / bare async call",
      value: ratio("async: guarded, withCircuitBreaker (service)", "async: bare effect"),
      target: "<= 2.0",
      ok: (v: number) => v <= 2
    },
    {
      what: "guarded sync no-op / minimal exit-observing wrapper (floor), Closed",
      value: ratio("sync: guarded, instance.execute", "sync: minimal exit-observing wrapper (floor)"),
      target: "<= 1.25",
      ok: (v: number) => v <= 1.25
    },
    {
      what: "guarded async call / minimal exit-observing wrapper (floor), Closed",
      value: ratio("async: guarded, instance.execute", "async: minimal exit-observing wrapper (floor)"),
      target: "<= 1.25",
      ok: (v: number) => v <= 1.25
    },
    {
      what: "guarded sync no-op / bare sync no-op (Closed)",
      value: ratio("sync: guarded, instance.execute", "sync: bare effect"),
      target: "reported (floor above)",
      ok: () => true
    },
    {
      what: "minimal wrapper (floor) / bare sync no-op",
      value: ratio("sync: minimal exit-observing wrapper (floor)", "sync: bare effect"),
      target: "reported",
      ok: () => true
    },
    {
      what: "minimal wrapper (floor) / the same with an interruptible finaliser, which misses interrupted exits",
      value: ratio(
        "sync: minimal exit-observing wrapper (floor)",
        "sync: wrapper with an interruptible finaliser (misses interrupted exits)"
      ),
      target: "reported",
      ok: () => true
    },
    {
      what: "breaker logic beyond the floor (ns per call)",
      value: pairedDifference(
        get("sync: guarded, instance.execute"),
        get("sync: minimal exit-observing wrapper (floor)")
      ),
      target: "reported",
      ok: () => true
    },
    {
      what: "effect/persistence consecutive / this breaker (consecutive)",
      value: ratio("effect/persistence consecutive(5), memory store", "sync: guarded, instance.execute"),
      target: ">= 10",
      ok: (v: number) => v >= 10
    },
    {
      what: "effect/persistence rate / this breaker (rate, window 100)",
      value: ratio("effect/persistence rate(0.5, 100), memory store", "rate, count window 100"),
      target: ">= 10",
      ok: (v: number) => v >= 10
    },
    {
      what: "count window 100,000 / count window 100",
      value: ratio("rate, count window 100,000", "rate, count window 100"),
      target: "<= 1.2",
      ok: (v: number) => v <= 1.2
    },
    {
      what: "open rejection / closed call (both with Effect.exit)",
      value: ratio("open rejection, exit observed", "closed call, exit observed"),
      target: "<= 1.0",
      ok: (v: number) => v <= 1
    },
    ...[
      "policy: retry (first attempt succeeds)",
      "policy: retry with a budget",
      "policy: timeout",
      "policy: Effect.timeout (Effect's own, for scale)",
      "policy: bulkhead (a slot is free)",
      "policy: adaptive limit (a slot is free)",
      "policy: rate limit (Effect's memory store, a token is free)",
      "policy: fault injection switched off",
      "policy: fault injection on, no fault drawn",
      "policy: fallback (not needed)",
      "policy: last-known-good cache (stores the value)",
      "policy: hedge (answered before the delay)",
      "policy: fallback + breaker + retry + bulkhead",
      "policy: fallback + breaker + retry + bulkhead + timeout"
    ].map((name) => ({
      what: `${name.replace("policy: ", "")} / bare async call (overhead ${
        pairedDifference(get(name), get("async: bare effect")).toFixed(0)
      } ns)`,
      value: ratio(name, "async: bare effect"),
      target: "reported",
      ok: () => true
    })),
    {
      what: "guarded call through a registry of 100,000 keys / guarded call on an instance (sync)",
      value: ratio("sync: guarded through a registry of 100,000 keys", "sync: guarded, instance.execute"),
      target: "reported",
      ok: () => true
    },
    {
      what: "guarded call through a registry, 100 hot keys among 100,000 / guarded call on an instance (sync)",
      value: ratio(
        "sync: guarded through a registry of 100,000 keys, 100 of them hot",
        "sync: guarded, instance.execute"
      ),
      target: "reported",
      ok: () => true
    },
    {
      what: "registry lookup and guard beyond an instance's guarded call, a different key each call (ns per call)",
      value: pairedDifference(
        get("sync: guarded through a registry of 100,000 keys"),
        get("sync: guarded, instance.execute")
      ),
      target: "reported",
      ok: () => true
    },
    {
      what: `${churnName}: CPU ns per new key, first ${churnSegment}`,
      value: churnFirst,
      target: "reported",
      ok: () => true
    },
    {
      what: `${churnName}: CPU ns per new key, last ${churnSegment}`,
      value: churnLast,
      target: "reported",
      ok: () => true
    },
    {
      what: `${churnName}: CPU per new key, slowest / fastest of the ${churn.nsPerKey.length} segments`,
      value: Math.max(...churn.nsPerKey) / Math.min(...churn.nsPerKey),
      target: "reported",
      ok: () => true
    },
    {
      what: `${churnName}: CPU per new key, median of the last ${churnEnds} segments / of the first ${churnEnds}`,
      value: churnGrowth,
      target: "<= 1.2",
      ok: (v: number) => v <= 1.2
    },
    {
      what: `${churnName}: new keys refused with RegistryFullError`,
      value: churn.refused,
      target: "0",
      ok: (v: number) => v === 0
    },
    {
      what: "memory per breaker, count window 100, metrics on: the breaker and its series (bytes)",
      value: memoryWindow100Metrics,
      target: "reported",
      ok: () => true
    },
    {
      what: `memory for ${REGISTRY_KEYS.toLocaleString("en")} keyed breakers in a registry (MB)`,
      value: (memoryKeyed * REGISTRY_KEYS) / 1e6,
      target: "well under 1 GB",
      ok: (v: number) => v < 500
    },
    {
      what: "memory per breaker, count window 100 (bytes)",
      value: memoryWindow100,
      target: "<= 4096",
      ok: (v: number) => v <= 4096
    },
    ...dashboard.checks(get),
    ...httpFigures.checks,
    ...(redis === undefined ? [] : await redisChecks(get))
  ].map((check) => ({ ...check, met: check.ok(check.value) }))

  const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2))
  const table = [
    "| case | median ns/op | min | max |",
    "|---|---:|---:|---:|",
    ...[...results.values()].map((m: Measurement) =>
      `| ${m.name} | ${m.medianNs.toFixed(1)} | ${m.minNs.toFixed(1)} | ${m.maxNs.toFixed(1)} |`
    )
  ].join("\n")
  const targets = [
    "| measure | value | target | met |",
    "|---|---:|---|---|",
    ...checks.map((c) => `| ${c.what} | ${fmt(c.value)} | ${c.target} | ${c.met ? "yes" : "**no**"} |`)
  ].join("\n")
  const info = machine()
  const date = new Date().toISOString()

  const httpResults = httpTable(httpFigures)
  console.log(`\n${table}\n\n${httpResults}\n\n${targets}\n`)
  writeFileSync(
    new URL("./results.json", import.meta.url),
    JSON.stringify(
      {
        date,
        machine: info,
        rounds: ROUNDS,
        quick,
        cases: [...results.values()],
        registryChurn: { ...churnCase, runs: churnRuns, ...churn },
        http: { method: httpFigures.method, rows: httpFigures.rows, runs: httpFigures.runs },
        checks
      },
      null,
      2
    ) + "\n"
  )
  if (!quick) {
    // Simulated time (TestClock): the same figures on every machine and every run.
    const simulation = simulationTable(defaultModel, await Effect.runPromise(simulateAll(defaultModel)))
    writeFileSync(
      new URL("../docs/benchmarks.md", import.meta.url),
      benchmarksPage(date, info, table, httpResults, targets, churnRuns, simulation)
    )
    console.log("wrote docs/benchmarks.md and bench/results.json")
  } else {
    console.log("wrote bench/results.json (quick run: docs/benchmarks.md left as it was)")
  }
  dashboard.stop()
  await Effect.runPromise(Scope.close(scope, Exit.void))
  opossum.shutdown()
}

const benchmarksPage = (
  date: string,
  info: ReturnType<typeof machine>,
  table: string,
  httpResults: string,
  targets: string,
  churnRuns: number,
  simulation: string
) =>
  `# Benchmarks

Generated by \`npm run bench\` (\`bench/run.ts\`) on ${date}: Node ${info.node}, ${info.cpu} (${info.cores} cores),
${info.platform}. Machine-readable copy: [\`bench/results.json\`](../bench/results.json).

The benchmarks and the library's sources run bundled by esbuild (\`scripts/bench.mjs\`), as a build
of the package is: not through tsx, which wraps every named closure in a call that sets its name each
time the closure is made — a cost no installed copy pays. Every case runs in the same process, in the
same run, with its rounds interleaved with the other cases' rounds (in their order in even rounds and
in reverse in odd ones, so that no case always runs right after the same other; a paired figure
combines one round of each order) and a full garbage collection before each (so no case pays for another's garbage); the
figure is the median over ${ROUNDS} rounds of the nanoseconds per operation. A ratio between two cases
is paired: the median over rounds of their ratio within the same round, which cancels the drift of a
shared machine.

- **In-fiber cases** run ${IN_FIBER_OPS.toLocaleString("en")} calls per round inside one fiber, each
  \`yield*\`-ed by an \`Effect.gen\` loop, the effect built afresh for every call (as a program does).
- **sync** guards a no-op \`Effect.sync\`: the worst case for any wrapper, since the guarded work costs
  nothing. **async** guards \`Effect.promise(() => Promise.resolve(...))\`, the cheapest call that
  actually suspends, as every call to a remote dependency does.
- Breakers run with their defaults (metrics off), unless a case says **metrics on** (every call
  counted; a count-window breaker does not time its calls, so it observes no durations) or **every
  call timed** (\`metrics: { callDurations: true }\`: two clock reads per call for the duration
  histogram).
- **minimal exit-observing wrapper** is \`Effect.withFiber(() => Effect.onExitPrimitive(self, f))\`
  with nothing in it: one primitive to decide at run time, one to see the exit. It is the floor for any
  circuit breaker written on Effect 4's public API, measured on the sync and the async call; the
  breaker's own logic is the difference between the guarded row and this one. Its finaliser is not
  interruptible, as the breaker's is not: the same wrapper with an interruptible finaliser
  (\`onExitPrimitive(self, f, true)\`), measured beside it, is skipped when the caller is interrupted,
  so it misses exits (and can drop a typed failure from the caller's \`Exit\`).
- **policy** cases guard the asynchronous call with each policy of the toolkit, when nothing goes
  wrong (the first attempt succeeds, a bulkhead slot is free, the hedge's first attempt answers before
  its delay): the price every call pays. A timeout and a hedge run the call in a fiber of its own beside
  a timer, as Effect's own \`Effect.timeout\` does (measured beside it for scale).
- **Promise cases** await ${PROMISE_OPS.toLocaleString("en")} calls per round: the same guarded call
  through \`Effect.runPromise\`, next to cockatiel's \`ConsecutiveBreaker(5)\` and opossum with its
  defaults (which arms a 10 s timeout timer per call).
- **Memory** is the heap retained per breaker (count window of 100, rate rule) after full garbage
  collections, averaged over many breakers — with metrics on, that includes the breaker's series in
  the metric registry — and the heap retained by a registry of keyed breakers.
- **Redis** cases run against a \`redis-server\` on localhost that the run starts (skipped where there is
  none): a closed call in shared mode (no round trip; outcomes flushed every ${flushMillis} ms) next to
  the same call on the in-memory store; strict mode (one round trip per call: its outcome rides in
  the circuit's next script call; callers of one tick share one) and
  effect/persistence's Redis-backed breaker store (\`layerStoreRedis\`, two round trips too), one call at
  a time and with 64 concurrent callers; and the time from a tripping call on one instance until 16
  other instances, each in a process of its own (\`bench/fleetProcesses.ts\`), have seen the circuit
  open, over trips landing at random points of the flush cycle.
- **HTTP** sends \`GET\` requests (reading each body) through Effect's fetch client to one \`node:http\`
  server on localhost that answers at once, from five clients sharing its connections: the bare client,
  the bare client again (a control: its ratio to itself is what the method cannot tell apart),
  \`ResilientHttpClient\` twice — with its defaults (a circuit per origin) and as in the README (a circuit
  per origin, 2 retries, a 2 s timeout per attempt and a fallback, none of them needed) — and Effect's own
  \`HttpClient.withCircuitBreaker\` (a circuit per origin on the \`effect/persistence\` breaker, memory
  store), the peer of the defaults. Measured after the other cases, in
  ${http.method.processes} fresh processes one after another (\`bench/httpProcess.ts\`), each figure the
  median over them and each ratio shown with its range: one process carries its own luck (how the JIT
  compiled the code, where the heap put things), and the same client's ratio moved by up to 3.5 points
  from one process to the next, more than rounds within a process average out; a process of its own
  also leaves out what the other cases keep in theirs (100,000 breakers in the heap, dashboard streams
  and Redis connections). In each, the clients take turns: a request costs about a quarter of a
  millisecond, the target is 3% of it, and this machine's speed drifts by more than that over the
  seconds a round of the harness takes, so the clients take turns in short blocks, in an order
  shuffled every round, and each client's figure is paired with the bare client's in the same round.
  One at a time:
  ${http.method.latencyRounds} rounds of ${http.method.latencyBlock} requests per client; the ratio is
  the median over rounds of a client's median latency in its block over the bare client's (the table's
  median and p99 latencies pool every request). ${httpConcurrency} at once: ${http.method.throughputRounds}
  rounds of ${http.method.throughputBlock.toLocaleString("en")} requests per client; the ratio is the
  median over rounds of a client's time per request over the bare client's. No collection before a
  block (a full one leaves the next block cold). The target is the client middleware — the client
  with its defaults — within 3% of the bare one on both. The README's client is reported: it adds the
  policies it chose, each priced in its own row above; its timeout is most of the difference, since a
  timeout in Effect 4 runs each attempt in a fiber of its own (a fiber once interrupted stays
  interrupted, so the caller's fiber cannot be cut short and go on).
- **policy: rate limit** counts the call in Effect's memory store (\`RateLimit\` over
  \`effect/persistence\`'s \`RateLimiter\`) with tokens to spare; **fault injection** is \`Chaos\`
  switched off (what production pays when it is compiled in but off) and switched on with no fault
  drawn (one random draw per fault).
- **Dashboard** guards the asynchronous call with a breaker shown on a \`Dashboard\` whose
  ${dashboardStreams} streams are open and read to the end (five browsers' worth), next to a breaker shown
  nowhere: the dashboard observes its breakers without timing their calls, and one sampler serves every
  stream. The target is 1.1x.
- **Registry** guards a call with the breaker of one of 100,000 keys — a different key each call (so
  most of the cost is the processor's cache missing 100,000 breakers), or one of 100 hot keys — next to
  the same guarded call on a breaker instance.
- **Registry churn** runs ${churnCase.keys.toLocaleString("en")} distinct keys, each called once, through a
  registry of ${churnCase.maxBreakers.toLocaleString("en")} breakers; one key in ${churnCase.tripEvery} fails
  its call and trips its breaker (open for ${churnCase.openDuration}, \`idleTimeToLive\` ${churnCase.idleTimeToLive}),
  on a clock the bench moves by 1 ms per key, so open periods end and breakers go idle without sleeping.
  The cost per new key (a lookup that misses, a sweep that finds a victim, a breaker made, the evicted
  one's scope closed) is the process's CPU time (user + system, garbage collection included: a run of
  many seconds on a shared machine is disturbed far less than in wall time) per segment of
  ${churnCase.segment.toLocaleString("en")} keys, the median over ${churnRuns} runs: flat from the first
  segment to the last when finding room costs the same however many keys came before. The target
  compares the median of the last three segments with that of the first three: a full collection of
  the breakers alive lands in one segment or another, a cost that grows with the keys seen raises them
  all.

## Results

${table}

### HTTP

${httpResults}

## Targets

${targets}

The closed-state target is the floor: a guarded call costs at most 1.25x the minimal wrapper that
observes every exit, on the synchronous no-op and on the asynchronous call. Next to the bare effect,
the guarded asynchronous call stays within 2x; on a synchronous no-op no wrapper can, in Effect 4: the
floor row shows that the two primitives any exit-observing wrapper needs already cost more than the
no-op itself; the breaker adds its admission, classification and window update on top of that floor.

## Adaptive concurrency: the simulation

A simulated dependency whose latency grows with its queue, driven at 0.5x to 10x its capacity, with
no limit, a bulkhead sized right, a bulkhead sized 2x too big, and each algorithm of \`AdaptiveLimit\`
(\`bench/adaptiveSimulation.ts\`, under \`TestClock\`; the model, the chart and what the figures mean
are in [adaptive-concurrency.md](adaptive-concurrency.md)). Each row gives the goodput as a share of
capacity, the p99 latency of the calls that succeeded, and the share of calls rejected or timed out.

${simulation}
`

void main()
