/**
 * The Redis store's benchmarks, against a real `redis-server` on localhost
 * that the benchmark starts (the test suites' harness): the cost of a closed
 * call in shared mode next to the in-memory store, both modes' throughput
 * next to effect/persistence's Redis-backed breaker store. How long a trip
 * takes to reach a fleet of processes is `fleetProcesses.ts`.
 */
import { NodeRedis } from "@effect/platform-node"
import { Context, Effect, Layer, Scope, Stream } from "effect"
import { CircuitBreaker as EffectCircuitBreaker } from "effect/persistence"
import { CircuitBreaker, RedisCircuitStore } from "../src/index.js"
import { redisAvailable, redisServer } from "../test/redis/server.js"
import type { Case } from "./harness.js"

const FLUSH_MILLIS = 100

export interface RedisBench {
  readonly url: string
  readonly cases: ReadonlyArray<Case>
}

/** Starts a server and the instances the cases use, in `scope`; undefined without redis-server. */
export const redisBench = async (
  scope: Scope.Scope,
  ops: { readonly inFiber: number; readonly roundTrip: number; readonly concurrency: number }
): Promise<RedisBench | undefined> => {
  if (!redisAvailable) return undefined
  const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Effect.runPromise(Scope.provide(effect, scope))
  const server = await run(redisServer)
  const store = (options: RedisCircuitStore.RedisCircuitStoreOptions) =>
    run(Effect.gen(function*() {
      const context = yield* Layer.build(RedisCircuitStore.layer({ url: server.url, ...options })).pipe(Effect.orDie)
      const service = Context.get(context, RedisCircuitStore.RedisCircuitStore)
      yield* service.connectedChanges.pipe(Stream.filter((up) => up), Stream.runHead)
      return context
    }))
  const shared = await store({ flushInterval: FLUSH_MILLIS })
  const strict = await store({ mode: "strict" })
  const make = (context: Context.Context<never>, name: string) =>
    run(CircuitBreaker.make({ name, consecutiveFailures: 5 }).pipe(Effect.provide(context), Effect.orDie))
  const sharedBreaker = await make(shared, "bench-shared")
  const strictBreaker = await make(strict, "bench-strict")
  // The store layer is built into the benchmark's scope: its connection must outlive the breaker's construction.
  const effectRedis = await run(Effect.gen(function*() {
    const effectStore = yield* Layer.build(
      EffectCircuitBreaker.layerStoreRedis({ prefix: "bench-effect:" }).pipe(
        Layer.provide(NodeRedis.layer({ url: server.url }))
      )
    ).pipe(Effect.orDie)
    return yield* EffectCircuitBreaker.make({
      tripPolicy: EffectCircuitBreaker.consecutive(5),
      openDuration: "1 minute",
      // A store error fails the call, so that a broken connection cannot pass for a fast one.
      onStoreError: "fail"
    }).pipe(Effect.provide(effectStore))
  }))

  let counter = 0
  const asyncCall = () => Effect.promise(() => Promise.resolve(counter++))
  const sequential = (name: string, n: number, call: () => Effect.Effect<unknown, unknown>): Case => ({
    name,
    ops: n,
    run: (count) =>
      Effect.runPromise(Effect.gen(function*() {
        for (let i = 0; i < count; i++) yield* call()
      }))
  })
  const concurrent = (name: string, call: () => Effect.Effect<unknown, unknown>): Case => ({
    name,
    ops: ops.roundTrip * 4,
    run: (count) =>
      Effect.runPromise(
        Effect.forEach(Array.from({ length: count }), call, { concurrency: ops.concurrency, discard: true })
      )
  })

  const cases: ReadonlyArray<Case> = [
    sequential("redis shared: guarded async call (Closed)", ops.inFiber, () => sharedBreaker.execute(asyncCall())),
    sequential(
      "redis strict: guarded async call, one at a time",
      ops.roundTrip,
      () => strictBreaker.execute(asyncCall())
    ),
    sequential(
      "effect/persistence Redis store: consecutive(5), one at a time",
      ops.roundTrip,
      () => effectRedis.execute(asyncCall(), { key: "k" })
    ),
    concurrent(`redis shared: ${ops.concurrency} concurrent callers`, () => sharedBreaker.execute(asyncCall())),
    concurrent(`redis strict: ${ops.concurrency} concurrent callers`, () => strictBreaker.execute(asyncCall())),
    concurrent(
      `effect/persistence Redis store: ${ops.concurrency} concurrent callers`,
      () => effectRedis.execute(asyncCall(), { key: "k" })
    )
  ]

  return { url: server.url, cases }
}

export const flushMillis = FLUSH_MILLIS
