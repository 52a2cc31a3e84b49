import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Scope } from "effect"
import { TestClock } from "effect/testing"
import { awaitState, failing, fleet, instance, isRejected, joinAll, send, stampede, tripFleet } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

describe.skipIf(!redisAvailable)("RedisCircuitStore, shared mode", () => {
  it.effect(
    "trips every instance when the fleet's failures reach the rule, though no instance saw enough alone",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const instances = yield* fleet(5, server.url, { name: "payments", consecutiveFailures: 4 })
        // Four failures, one on each of four instances: no local window would trip.
        for (const instance of instances.slice(0, 4)) {
          expect(Exit.isFailure(yield* Effect.exit(instance.breaker.execute(failing)))).toBe(true)
        }
        for (const instance of instances) expect(yield* instance.breaker.state).toBe("Closed")
        const opened = yield* Effect.forEach(instances, (instance) => awaitState(instance, "Open"))
        yield* TestClock.adjust("100 millis")
        yield* joinAll(opened)
        for (const instance of instances) {
          expect(yield* instance.breaker.state).toBe("Open")
          expect(isRejected(yield* Effect.exit(instance.breaker.execute(Effect.void)))).toBe(true)
        }
      }).pipe(Effect.scoped),
    30_000
  )

  it.effect("merges the fleet's failure rate over a count window", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const config = {
        name: "rates",
        failureRate: 0.5,
        minimumCalls: 20,
        window: { _tag: "CountWindow", size: 20 }
      } as const
      const instances = yield* fleet(4, server.url, config)
      // Each instance: 3 successes, 2 failures (40%); with a fifth... 20 calls at 40%: no trip.
      for (const instance of instances) {
        for (let i = 0; i < 3; i++) yield* instance.breaker.execute(Effect.void)
        for (let i = 0; i < 2; i++) yield* Effect.exit(instance.breaker.execute(failing))
      }
      yield* TestClock.adjust("100 millis")
      yield* Effect.forEach(instances, (i) => i.store.sync, { discard: true })
      for (const instance of instances) expect(yield* instance.breaker.state).toBe("Closed")
      // Two more failures on each instance: the last 20 calls of the fleet are now at least half failures.
      const opened = yield* Effect.forEach(instances, (i) => awaitState(i, "Open"))
      for (const instance of instances) {
        for (let i = 0; i < 2; i++) yield* Effect.exit(instance.breaker.execute(failing))
      }
      yield* TestClock.adjust("100 millis")
      yield* joinAll(opened)
    }).pipe(Effect.scoped), 30_000)

  for (const [mode, permits] of [["shared", 2], ["strict", 3]] as const) {
    it.effect(
      `${mode} mode admits exactly halfOpenPermits probes fleet-wide under concurrency, then closes everywhere`,
      () =>
        Effect.gen(function*() {
          const server = yield* redisServer
          const instances = yield* fleet(4, server.url, {
            name: `probes-${mode}`,
            consecutiveFailures: 1,
            openDuration: "10 seconds",
            halfOpenPermits: permits
          }, { mode })
          yield* tripFleet(instances)
          yield* TestClock.adjust("10 seconds")
          for (const instance of instances) expect(yield* instance.breaker.state).toBe("HalfOpen")
          const closed = yield* Effect.forEach(instances, (i) => awaitState(i, "Closed"))
          const { counts, decided, fibers, release } = yield* stampede(instances, 25)
          yield* Deferred.await(decided)
          expect(counts).toEqual({ ran: permits, rejected: 100 - permits })
          yield* Deferred.succeed(release, undefined)
          const results = yield* Effect.forEach(fibers, Fiber.join)
          expect(results.filter(Exit.isSuccess)).toHaveLength(permits)
          // The other instances read the circuit when they hear of the closing: at once, or, when
          // they read it for a message less than a flush interval ago (the half-opening), at the
          // next flush.
          yield* TestClock.adjust("100 millis")
          yield* joinAll(closed)
        }).pipe(Effect.scoped),
      30_000
    )
  }
})

describe.skipIf(!redisAvailable)("RedisCircuitStore, half-open across the fleet", () => {
  const config = { name: "search", consecutiveFailures: 1, openDuration: "10 seconds", halfOpenPermits: 1 } as const

  for (const mode of ["shared", "strict"] as const) {
    it.effect(
      `${mode} mode: halfOpenMaxWait counts from the first probe's lease; a period no caller reached stays half-open`,
      () =>
        Effect.gen(function*() {
          const server = yield* redisServer
          const instances = yield* fleet(2, server.url, {
            name: `waiting-${mode}`,
            consecutiveFailures: 1,
            openDuration: "5 seconds",
            halfOpenMaxWait: "1 second"
          }, { mode })
          yield* tripFleet(instances)
          // Half-open from 5 s on; nobody calls for a minute (the instances resync meanwhile).
          yield* TestClock.adjust("1 minute")
          for (const instance of instances) {
            yield* instance.store.sync
            const snapshot = yield* instance.breaker.snapshot
            expect(snapshot.state).toBe("HalfOpen")
            expect(snapshot.consecutiveOpenings).toBe(1)
          }
          // A probe that never answers: the fleet reopens one wait after its lease, not before.
          const probe = yield* Effect.forkScoped(instances[0]!.breaker.execute(Effect.never))
          yield* Effect.yieldNow
          yield* TestClock.adjust("999 millis")
          yield* instances[1]!.store.sync
          expect(yield* instances[1]!.breaker.state).toBe("HalfOpen")
          const reopened = yield* awaitState(instances[1]!, "Open")
          yield* TestClock.adjust("1 millis")
          yield* instances[1]!.store.sync
          yield* Fiber.join(reopened)
          expect((yield* instances[1]!.breaker.snapshot).consecutiveOpenings).toBe(2)
          yield* Fiber.interrupt(probe)
        }).pipe(Effect.scoped),
      30_000
    )
  }

  it.effect(
    "an undecided probe's wait that ran out reopens the fleet from its deadline, however late Redis hears",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        // Resyncs far apart: nothing but the sync below reads the circuit after the deadline.
        const [a, b] = yield* fleet(2, server.url, {
          name: "late-wait",
          consecutiveFailures: 1,
          openDuration: "5 seconds",
          halfOpenMaxWait: "1 second"
        }, { resyncInterval: "1 hour", idleTimeToLive: "2 hours" })
        yield* tripFleet([a!, b!])
        yield* TestClock.adjust("5 seconds")
        const probe = yield* Effect.forkScoped(a!.breaker.execute(Effect.never))
        yield* Effect.yieldNow
        // The wait ends 1 s after the probe's lease; Redis hears of it 2 s after that.
        yield* TestClock.adjust("3 seconds")
        yield* b!.store.sync
        const snapshot = yield* b!.breaker.snapshot
        expect(snapshot.state).toBe("Open")
        // Open from the deadline: 5 s from then, 3 s from now.
        expect(Duration.toMillis(snapshot.retryAfter)).toBe(3_000)
        yield* Fiber.interrupt(probe)
      }).pipe(Effect.scoped),
    30_000
  )

  it.effect("a failed probe reopens every instance", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const instances = yield* fleet(3, server.url, config)
      yield* tripFleet(instances)
      yield* TestClock.adjust("10 seconds")
      const reopened = yield* Effect.forEach(instances.slice(1), (i) => awaitState(i, "Open"))
      yield* Effect.exit(instances[0]!.breaker.execute(failing))
      // The half-opening and the reopening are announced at the same moment: an instance that read
      // the circuit for the first reads it for the second at the next flush (one read per interval).
      yield* TestClock.adjust("100 millis")
      yield* joinAll(reopened)
      for (const instance of instances) {
        const snapshot = yield* instance.breaker.snapshot
        expect(snapshot.state).toBe("Open")
        expect(snapshot.consecutiveOpenings).toBe(2)
      }
    }).pipe(Effect.scoped), 30_000)

  it.effect(
    "a probe whose instance went away gives its lease back when the lease expires",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const survivors = yield* fleet(2, server.url, config, { probeLease: "5 seconds" })
        // The instance that will take the probe and vanish lives in a scope of its own.
        const doomedScope = yield* Scope.make()
        const doomed = yield* instance(server.url, config, { probeLease: "5 seconds" }).pipe(Scope.provide(doomedScope))
        yield* tripFleet([doomed, ...survivors])
        yield* TestClock.adjust("10 seconds")
        const started = yield* Deferred.make<void>()
        const probe = yield* Effect.forkScoped(
          doomed.breaker.execute(Effect.andThen(Deferred.succeed(started, undefined), Effect.never))
        )
        yield* Deferred.await(started)
        // The instance dies with its probe in flight: its store goes first, so the probe cannot report.
        yield* Scope.close(doomedScope, Exit.void)
        yield* Fiber.interrupt(probe)
        const before = yield* Effect.exit(survivors[0]!.breaker.execute(Effect.void))
        expect(isRejected(before)).toBe(true)
        yield* TestClock.adjust("5 seconds")
        // The survivors were told no permit was left; they see the expired lease's permit at their
        // next resync (here, at once).
        yield* survivors[0]!.store.sync
        const closed = yield* awaitState(survivors[1]!, "Closed")
        yield* survivors[0]!.breaker.execute(Effect.void)
        yield* Fiber.join(closed)
      }).pipe(Effect.scoped),
    30_000
  )

  it.effect("an instance that restarts joins the fleet's open circuit at once", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const first = yield* Scope.make()
      const instances = yield* fleet(3, server.url, config).pipe(Scope.provide(first))
      yield* tripFleet(instances)
      yield* Scope.close(first, Exit.void)
      const restarted = yield* instance(server.url, config)
      expect(yield* restarted.breaker.state).toBe("Open")
      expect(isRejected(yield* Effect.exit(restarted.breaker.execute(Effect.void)))).toBe(true)
    }).pipe(Effect.scoped), 30_000)
})

describe.skipIf(!redisAvailable)("RedisCircuitStore, half-open details", () => {
  it.effect(
    "a slow probe is a failed probe when slow calls can trip the circuit, as in memory",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const instances = yield* fleet(2, server.url, {
          name: "slow-probe",
          consecutiveFailures: 1,
          slowCallRate: 0.5,
          slowCallDuration: "1 second",
          openDuration: "10 seconds"
        })
        yield* tripFleet(instances)
        yield* TestClock.adjust("10 seconds")
        const reopened = yield* awaitState(instances[1]!, "Open")
        const started = yield* Deferred.make<void>()
        const probe = yield* Effect.forkScoped(
          instances[0]!.breaker.execute(Effect.andThen(Deferred.succeed(started, undefined), Effect.sleep("2 seconds")))
        )
        yield* Deferred.await(started)
        yield* TestClock.adjust("2 seconds")
        yield* Fiber.join(probe)
        yield* Fiber.join(reopened)
        expect((yield* instances[1]!.breaker.snapshot).consecutiveOpenings).toBe(2)
      }).pipe(Effect.scoped),
    30_000
  )

  it.effect(
    "while the fleet's probe runs, other callers are turned away without a Redis round trip each",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const [prober, busy] = yield* fleet(2, server.url, {
          name: "flood",
          consecutiveFailures: 1,
          openDuration: "1 second"
        })
        yield* tripFleet([prober!, busy!])
        yield* TestClock.adjust("1 second")
        const release = yield* Deferred.make<void>()
        const started = yield* Deferred.make<void>()
        const probe = yield* Effect.forkScoped(
          prober!.breaker.execute(Effect.andThen(Deferred.succeed(started, undefined), Deferred.await(release)))
        )
        yield* Deferred.await(started)
        yield* send(server.url, "CONFIG", "RESETSTAT")
        for (let i = 0; i < 100; i++) {
          expect(isRejected(yield* Effect.exit(busy!.breaker.execute(Effect.void)))).toBe(true)
        }
        const stats = (yield* send(server.url, "INFO", "commandstats")) as string
        const evals = Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0)
        expect(evals).toBeLessThanOrEqual(2)
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(probe)
      }).pipe(Effect.scoped),
    30_000
  )

  it.effect("a clock between two milliseconds does not corrupt the circuit", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      yield* TestClock.adjust("1.5 millis")
      const instances = yield* fleet(2, server.url, { name: "fractional", consecutiveFailures: 1 })
      yield* tripFleet(instances)
      expect(yield* send(server.url, "HGET", "effect-resilience:circuit:{fractional}", "v")).toBe("2")
      const gen = (yield* send(server.url, "HGET", "effect-resilience:circuit:{fractional}", "gen")) as string
      expect(gen).toMatch(/^\d+$/)
    }).pipe(Effect.scoped), 30_000)
})

describe.skipIf(!redisAvailable)("RedisCircuitStore, strict mode", () => {
  it.effect(
    "decides every admission in Redis: a trip is seen by the next call on any instance, no flush",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const instances = yield* fleet(4, server.url, { name: "ledger", consecutiveFailures: 3 }, { mode: "strict" })
        for (const instance of instances.slice(0, 3)) yield* Effect.exit(instance.breaker.execute(failing))
        // No clock moved, no flush: the fourth instance's next call is rejected by Redis.
        expect(isRejected(yield* Effect.exit(instances[3]!.breaker.execute(Effect.void)))).toBe(true)
        expect(yield* instances[3]!.breaker.state).toBe("Open")
      }).pipe(Effect.scoped),
    30_000
  )
})

describe.skipIf(!redisAvailable)("RedisCircuitStore, lost messages", () => {
  it.effect(
    "a circuit in use re-reads the fleet's state every resyncInterval, so a lost message is caught up",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const quiet = yield* instance(server.url, { name: "lost" }, { resyncInterval: "1 second" })
        yield* quiet.breaker.execute(Effect.void)
        // Another program moves the fleet's circuit without publishing: the message is "lost".
        const key = "effect-resilience:circuit:{lost}"
        const gen = Number(yield* send(server.url, "HGET", key, "gen"))
        yield* send(server.url, "HSET", key, "state", "ForcedOpen", "gen", String(gen + 1), "reason", "ForceOpen")
        expect(yield* quiet.breaker.state).toBe("Closed")
        const forced = yield* awaitState(quiet, "ForcedOpen")
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(forced)
      }).pipe(Effect.scoped),
    30_000
  )
})
