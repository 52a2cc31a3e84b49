/**
 * A test fleet: independent breaker instances, each with its own Redis
 * store (its own connections), sharing circuits through one test server.
 */
import { NodeRedis } from "@effect/platform-node"
import { Cause, Context, Deferred, Effect, Exit, Fiber, Layer, Stream } from "effect"
import type { Scope } from "effect"
import { Redis } from "effect/persistence"
import { TestClock } from "effect/testing"
import type { CircuitBreakerConfig } from "../../src/CircuitBreakerConfig.js"
import { CircuitBreaker, isCircuitOpenError, RedisCircuitStore } from "../../src/index.js"
import type { CircuitBreakerEvent, CircuitState } from "../../src/index.js"

export interface Instance {
  readonly breaker: CircuitBreaker.CircuitBreaker
  readonly store: RedisCircuitStore.RedisCircuitStore["Service"]
  readonly context: Context.Context<RedisCircuitStore.RedisCircuitStore>
}

/** Waits until `store` says Redis is reachable (or not): no sleeping, the store's own signal. */
export const awaitConnected = (store: RedisCircuitStore.RedisCircuitStore["Service"], connected = true) =>
  store.connectedChanges.pipe(Stream.filter((up) => up === connected), Stream.runHead, Effect.asVoid)

/**
 * Where an instance connects: a server's URL, or the options that say where
 * (a cluster's nodes, TLS).
 */
export type Target = string | RedisCircuitStore.RedisCircuitStoreOptions

/** One instance: a store of its own, and a breaker made under it. */
export const instance = (
  target: Target,
  config: CircuitBreakerConfig,
  options?: RedisCircuitStore.RedisCircuitStoreOptions,
  connected = true
): Effect.Effect<Instance, never, Scope.Scope> =>
  Effect.gen(function*() {
    const where = typeof target === "string" ? { url: target } : target
    const context = yield* Layer.build(RedisCircuitStore.layer({ ...where, ...options })).pipe(Effect.orDie)
    const store = Context.get(context, RedisCircuitStore.RedisCircuitStore)
    if (connected) yield* awaitConnected(store)
    const breaker = yield* CircuitBreaker.make(config).pipe(Effect.provide(context), Effect.orDie)
    return { breaker, store, context }
  })

/** `n` instances sharing one circuit. */
export const fleet = (
  n: number,
  target: Target,
  config: CircuitBreakerConfig,
  options?: RedisCircuitStore.RedisCircuitStoreOptions
): Effect.Effect<ReadonlyArray<Instance>, never, Scope.Scope> =>
  Effect.forEach(Array.from({ length: n }, (_, i) => i), () => instance(target, config, options))

/**
 * Starts waiting for `instance` to move to `state`; join the fiber to wait.
 * Subscribes before returning, so no transition after this call is missed.
 */
export const awaitState = (instance: Pick<Instance, "breaker">, state: CircuitState.State) =>
  Effect.gen(function*() {
    const events = yield* instance.breaker.subscribe
    return yield* Effect.forkScoped(
      events.pipe(
        Stream.filter((event: CircuitBreakerEvent.CircuitBreakerEvent) =>
          event._tag === "StateChanged" && event.to === state
        ),
        Stream.runHead,
        Effect.asVoid
      )
    )
  })

/** Joins every waiter. */
export const joinAll = (fibers: ReadonlyArray<Fiber.Fiber<void>>) =>
  Effect.forEach(fibers, Fiber.join, { discard: true })

/** A call that fails. */
export const failing = Effect.fail("boom" as const)

/** Runs one command on a connection of its own (to look at or tamper with what the store keeps). */
export const send = (url: string, command: string, ...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    return yield* redis.send<unknown>(command, ...args)
  }).pipe(Effect.scoped, Effect.provide(NodeRedis.layer({ url })))

/** Whether a call was rejected by its circuit breaker. */
export const isRejected = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) && isCircuitOpenError(Cause.squash(exit.cause))

/** Opens the fleet's circuit from one instance, and waits until every instance knows. */
export const tripFleet = (instances: ReadonlyArray<Instance>) =>
  Effect.gen(function*() {
    const opened = yield* Effect.forEach(instances, (i) => awaitState(i, "Open"))
    yield* Effect.exit(instances[0]!.breaker.execute(failing))
    yield* TestClock.adjust("100 millis")
    yield* joinAll(opened)
  })

/**
 * Sends `perInstance` concurrent calls to every instance, each held open until
 * `release` completes. `decided` completes once every call has either started
 * running or been rejected.
 */
export const stampede = (instances: ReadonlyArray<Instance>, perInstance: number) =>
  Effect.gen(function*() {
    const total = instances.length * perInstance
    const counts = { ran: 0, rejected: 0 }
    const decided = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const settle = Effect.suspend(() =>
      counts.ran + counts.rejected === total ? Deferred.succeed(decided, undefined) : Effect.void
    )
    const call = Effect.suspend(() => {
      counts.ran++
      return Effect.andThen(settle, Deferred.await(release))
    })
    const fibers = yield* Effect.forEach(
      instances.flatMap((i) => Array.from({ length: perInstance }, () => i)),
      (i) =>
        Effect.forkScoped(
          Effect.tap(Effect.exit(i.breaker.execute(call)), (exit) =>
            isRejected(exit)
              ? Effect.suspend(() => {
                counts.rejected++
                return settle
              })
              : Effect.void)
        ),
      { concurrency: "unbounded" }
    )
    return { counts, decided, release, fibers }
  })
