/**
 * The fleet after a hung Redis: fleet-wide probes per half-open period never
 * exceed `halfOpenPermits`, however the instances catch up.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Logger, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { CircuitBreakerEvent } from "../src/index.js"
import type { Instance } from "./redis/fleet.js"
import { awaitConnected, awaitState, failing, fleet, joinAll, send } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

const permits = 3

/** Calls that hold until `release`, counting how many got to run. */
const heldCalls = (release: Deferred.Deferred<void>) => {
  const counts = { ran: 0 }
  const call = Effect.suspend(() => {
    counts.ran++
    return Deferred.await(release)
  })
  return { counts, call }
}

describe.skipIf(!redisAvailable)("RedisCircuitStore after a hung Redis recovers", () => {
  for (const mode of ["shared", "strict"] as const) {
    it.effect(
      `${mode} mode: an instance catching up runs no probe without a Redis lease`,
      () =>
        Effect.gen(function*() {
          const server = yield* redisServer
          const config = {
            name: `hung-${mode}`,
            consecutiveFailures: 1,
            openDuration: "1 second",
            halfOpenPermits: permits,
            successThreshold: 1
          } as const
          const instances = yield* fleet(3, server.url, config, { mode, commandTimeout: "200 millis" })
          // Trip the fleet.
          const opened = yield* Effect.forEach(instances, (i) => awaitState(i, "Open"))
          yield* Effect.exit(instances[0]!.breaker.execute(failing))
          yield* TestClock.adjust("100 millis")
          yield* joinAll(opened)
          // Redis hangs. Each instance finds out (its next command times out), and its local circuit,
          // half-open once the opening ends, probes alone and closes: the dependency is back.
          yield* server.hang
          yield* TestClock.adjust("1 second")
          for (const i of instances) {
            yield* i.breaker.execute(Effect.void)
            yield* awaitConnected(i.store, false)
            expect(yield* i.breaker.state).toBe("Closed")
            // Calls go on meanwhile: outcomes the instance keeps for the fleet, to send as it catches up.
            for (let n = 0; n < 5; n++) yield* i.breaker.execute(Effect.void)
          }
          // Redis resumes with the fleet's circuit where it was: its opening has ended, so the fleet is
          // half-open. Every instance that adopts that while it catches up gets callers at once.
          const release = yield* Deferred.make<void>()
          const { call, counts } = heldCalls(release)
          const caught = { duringCatchUp: 0 }
          const callers = yield* Effect.forEach(instances, (i) => callersOnHalfOpen(i, call, caught))
          yield* server.resume
          // The stores try Redis again on their next resync, and catch up.
          yield* TestClock.adjust("1 second")
          for (const i of instances) yield* awaitConnected(i.store)
          // Everyone who was going to be admitted was admitted: more callers on every instance now.
          const late = yield* Effect.forEach(
            instances,
            (i) => Effect.forkScoped(Effect.exit(i.breaker.execute(call))),
            { concurrency: "unbounded" }
          )
          yield* Effect.forEach(late, (fiber) => Fiber.await(fiber).pipe(Effect.timeout("50 millis"), Effect.ignore))
          const leases = yield* send(server.url, "HLEN", `effect-resilience:circuit:{${config.name}}:p`)
          // The callers did arrive mid-catch-up on every instance: the case this test is about.
          expect(caught.duringCatchUp).toBe(instances.length)
          // Every probe that ran holds a lease (a lease may also be on its way to a caller not yet running),
          // and Redis never leases more than the permits.
          expect(counts.ran).toBeLessThanOrEqual(Number(leases))
          expect(Number(leases)).toBeLessThanOrEqual(permits)
          yield* Deferred.succeed(release, undefined)
          yield* Effect.forEach(callers, Fiber.interrupt)
        }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
      60_000
    )
  }
})

/**
 * Calls `instance` five times at once when its circuit becomes half-open
 * while its store is still catching up (not connected yet), and counts the
 * instances caught so.
 */
const callersOnHalfOpen = (instance: Instance, call: Effect.Effect<void>, caught: { duringCatchUp: number }) =>
  Effect.gen(function*() {
    const events = yield* instance.breaker.subscribe
    return yield* Effect.forkScoped(
      events.pipe(
        Stream.filter((event: CircuitBreakerEvent.CircuitBreakerEvent) =>
          event._tag === "StateChanged" && event.to === "HalfOpen"
        ),
        Stream.runForEach(() =>
          Effect.flatMap(instance.store.connected, (connected) => {
            if (connected) return Effect.void
            caught.duringCatchUp++
            return Effect.forEach(
              Array.from({ length: 5 }),
              () => Effect.forkScoped(Effect.exit(instance.breaker.execute(call))),
              { concurrency: "unbounded" }
            )
          })
        )
      )
    )
  })
