import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Random, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Bulkhead, BulkheadFullError, Chaos, CircuitBreaker, withCircuitBreaker } from "../src/index.js"
import { collectEvents, expectConfigIssue, failure, withSleepCounter } from "./policyHelpers.js"

/** Counts how many calls run at once, and the most that ever did. */
const gauge = () => {
  const state = { running: 0, peak: 0, started: [] as Array<number> }
  const track = <A, E, R>(id: number, effect: Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        state.running++
        state.peak = Math.max(state.peak, state.running)
        state.started.push(id)
      }),
      () => effect,
      () => Effect.sync(() => void state.running--)
    )
  return { state, track }
}

const settle = Effect.repeat(Effect.yieldNow, { times: 10 })

describe("Bulkhead", () => {
  it.effect("runs at most maxConcurrent calls, queues up to maxQueued, and rejects the rest at once", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ name: "pdf", maxConcurrent: 2, maxQueued: 1 })
      const { state, track } = gauge()
      const gate = yield* Deferred.make<void>()
      const fibers = yield* Effect.forEach(
        [1, 2, 3, 4],
        (id) =>
          Effect.forkChild(Effect.exit(track(id, Deferred.await(gate)).pipe(Bulkhead.withBulkhead(bulkhead))), {
            startImmediately: true
          })
      )
      expect(state.running).toBe(2)
      expect(yield* bulkhead.snapshot).toMatchObject({ bulkhead: "pdf", running: 2, queued: 1 })
      // The fourth call failed at once, without running.
      const rejected = fibers[3]!.pollUnsafe()
      expect(rejected?._tag).toBe("Success")
      const error = failure((rejected as Exit.Success<Exit.Exit<unknown, unknown>>).value) as BulkheadFullError
      expect(error).toBeInstanceOf(BulkheadFullError)
      expect(error).toMatchObject({ bulkhead: "pdf", reason: "QueueFull", maxConcurrent: 2, maxQueued: 1 })
      expect(error.message).toMatch(/"pdf" is full/)
      yield* Deferred.succeed(gate, undefined)
      const exits = yield* Effect.forEach(fibers.slice(0, 3), Fiber.join)
      expect(exits.every(Exit.isSuccess)).toBe(true)
      expect(state.peak).toBe(2)
      expect(state.started).toEqual([1, 2, 3])
      expect(yield* bulkhead.snapshot).toMatchObject({ running: 0, queued: 0 })
    }))

  it.effect("the queue is first in, first out, and a newcomer never overtakes a waiting call", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 10 })
      const order: Array<number> = []
      const gates = yield* Effect.forEach([0, 1, 2, 3, 4], () => Deferred.make<void>())
      const call = (id: number) =>
        Effect.sync(() => order.push(id)).pipe(
          Effect.andThen(Deferred.await(gates[id]!)),
          Bulkhead.withBulkhead(bulkhead)
        )
      const first = yield* Effect.forkChild(call(0), { startImmediately: true })
      const waiting = yield* Effect.forEach([1, 2, 3], (id) => Effect.forkChild(call(id), { startImmediately: true }))
      yield* Deferred.succeed(gates[0]!, undefined)
      yield* Fiber.join(first)
      // The slot went to call 1; a newcomer arriving now queues behind 2 and 3.
      const newcomer = yield* Effect.forkChild(call(4), { startImmediately: true })
      for (const id of [1, 2, 3, 4]) yield* Deferred.succeed(gates[id]!, undefined)
      yield* Effect.forEach([...waiting, newcomer], Fiber.join)
      expect(order).toEqual([0, 1, 2, 3, 4])
    }))

  it.effect("a queued call waits at most maxQueueWait, then fails with QueueTimeout without running", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 5, maxQueueWait: "2 seconds" })
      const holder = yield* Effect.forkChild(Effect.never.pipe(Bulkhead.withBulkhead(bulkhead)), {
        startImmediately: true
      })
      let ran = false
      const { result: exit, events } = yield* collectEvents(
        bulkhead.subscribe,
        Effect.gen(function*() {
          const waiter = yield* Effect.forkChild(
            Effect.exit(Effect.sync(() => (ran = true)).pipe(Bulkhead.withBulkhead(bulkhead))),
            {
              startImmediately: true
            }
          )
          yield* TestClock.adjust("1999 millis")
          expect(waiter.pollUnsafe()).toBeUndefined()
          yield* TestClock.adjust("1 millis")
          return yield* Fiber.join(waiter)
        })
      )
      expect((failure(exit) as BulkheadFullError).reason).toBe("QueueTimeout")
      expect(ran).toBe(false)
      expect(events).toMatchObject([{ _tag: "BulkheadRejected", reason: "QueueTimeout", at: 2000 }])
      expect(yield* bulkhead.snapshot).toMatchObject({ running: 1, queued: 0 })
      yield* Fiber.interrupt(holder)
      expect(yield* bulkhead.snapshot).toMatchObject({ running: 0, queued: 0 })
    }))

  it.effect("a queued call that gets a slot in time runs, and its timer is gone", () =>
    withSleepCounter((pendingSleeps) =>
      Effect.gen(function*() {
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 1, maxQueueWait: "2 seconds" })
        const gate = yield* Deferred.make<void>()
        const holder = yield* Effect.forkChild(Deferred.await(gate).pipe(Bulkhead.withBulkhead(bulkhead)), {
          startImmediately: true
        })
        const waiter = yield* Effect.forkChild(
          Deferred.await(gate).pipe(Effect.as("done"), Bulkhead.withBulkhead(bulkhead)),
          {
            startImmediately: true
          }
        )
        yield* TestClock.adjust("1 second")
        expect(pendingSleeps()).toBe(1) // the queue timer
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(holder)
        expect(yield* Fiber.join(waiter)).toBe("done")
        expect(pendingSleeps()).toBe(0)
      })
    ))

  it.effect("a slot freed at the very instant a queued call times out goes to the next call, never twice", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 2, maxQueueWait: "1 second" })
      const holder = yield* Effect.forkChild(Effect.sleep("1 second").pipe(Bulkhead.withBulkhead(bulkhead)), {
        startImmediately: true
      })
      const first = yield* Effect.forkChild(
        Effect.exit(Effect.sleep("10 seconds").pipe(Bulkhead.withBulkhead(bulkhead))),
        {
          startImmediately: true
        }
      )
      yield* TestClock.adjust("500 millis")
      const second = yield* Effect.forkChild(
        Effect.exit(Effect.sleep("10 seconds").pipe(Bulkhead.withBulkhead(bulkhead))),
        {
          startImmediately: true
        }
      )
      // At 1 s the holder ends and the first waiter's queue wait ends, in one step of the clock.
      yield* TestClock.adjust("500 millis")
      yield* settle
      const snapshot = yield* bulkhead.snapshot
      expect(snapshot.running).toBe(1)
      expect(snapshot.running + snapshot.queued).toBeLessThanOrEqual(2)
      yield* TestClock.adjust("1 minute")
      yield* Effect.forEach([first, second], Fiber.join)
      yield* Fiber.join(holder)
      expect(yield* bulkhead.snapshot).toMatchObject({ running: 0, queued: 0 })
    }))

  it.effect("thousands of queued calls that finish at once hand the slot on without deepening the stack", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 20_000 })
      const gate = yield* Deferred.make<void>()
      const holder = yield* Effect.forkChild(Deferred.await(gate).pipe(Bulkhead.withBulkhead(bulkhead)), {
        startImmediately: true
      })
      const quick = yield* Effect.forEach(
        Array.from({ length: 20_000 }, (_, i) => i),
        (i) =>
          Effect.forkChild(Effect.exit(Effect.succeed(i).pipe(Bulkhead.withBulkhead(bulkhead))), {
            startImmediately: true
          })
      )
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      const exits = yield* Effect.forEach(quick, Fiber.join)
      expect(exits.every(Exit.isSuccess)).toBe(true)
      expect(yield* bulkhead.snapshot).toMatchObject({ running: 0, queued: 0 })
    }))

  it.effect("a breaker around a bulkhead does not count its rejections as the dependency's failures", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1 })
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
      const holder = yield* Effect.forkChild(Effect.never.pipe(Bulkhead.withBulkhead(bulkhead)), {
        startImmediately: true
      })
      const exit = yield* Effect.exit(Effect.void.pipe(Bulkhead.withBulkhead(bulkhead), withCircuitBreaker(breaker)))
      expect(failure(exit)).toBeInstanceOf(BulkheadFullError)
      expect(yield* breaker.snapshot).toMatchObject({ state: "Closed", calls: 0 })
      yield* Fiber.interrupt(holder)
    }))

  it.effect("the slot comes back however the call ends: success, failure, defect, interruption", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueued: 1 })
      yield* Effect.exit(Effect.succeed(1).pipe(Bulkhead.withBulkhead(bulkhead)))
      yield* Effect.exit(Effect.fail("no").pipe(Bulkhead.withBulkhead(bulkhead)))
      yield* Effect.exit(Effect.die("bug").pipe(Bulkhead.withBulkhead(bulkhead)))
      const running = yield* Effect.forkChild(Effect.never.pipe(Bulkhead.withBulkhead(bulkhead)), {
        startImmediately: true
      })
      const queued = yield* Effect.forkChild(Effect.never.pipe(Bulkhead.withBulkhead(bulkhead)), {
        startImmediately: true
      })
      expect(yield* bulkhead.snapshot).toMatchObject({ running: 1, queued: 1 })
      yield* Fiber.interrupt(queued)
      expect(yield* bulkhead.snapshot).toMatchObject({ running: 1, queued: 0 })
      yield* Fiber.interrupt(running)
      expect(yield* bulkhead.snapshot).toMatchObject({ running: 0, queued: 0 })
      expect(yield* Effect.succeed("free").pipe(Bulkhead.withBulkhead(bulkhead))).toBe("free")
    }))

  it.effect("one guarded effect run many times, side by side, takes a slot per run", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 3, maxQueued: 10 })
      const gate = yield* Deferred.make<void>()
      const guarded = Deferred.await(gate).pipe(Bulkhead.withBulkhead(bulkhead))
      const fibers = yield* Effect.forEach([1, 2, 3, 4, 5], () => Effect.forkChild(guarded, { startImmediately: true }))
      expect(yield* bulkhead.snapshot).toMatchObject({ running: 3, queued: 2 })
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.forEach(fibers, Fiber.join)
      expect(yield* bulkhead.snapshot).toMatchObject({ running: 0, queued: 0 })
      yield* Effect.repeat(guarded, { times: 3 })
      expect(yield* bulkhead.snapshot).toMatchObject({ running: 0, queued: 0 })
    }))

  it.effect(
    "10,000 fibers with random interruptions: never more than the limit running, every permit back",
    () =>
      Effect.gen(function*() {
        const limit = 16
        const bulkhead = yield* Bulkhead.make({ maxConcurrent: limit, maxQueued: 10_000, maxQueueWait: "30 seconds" })
        const { state, track } = gauge()
        // Calls of 1 to 49 ms, a seventh failing, an eleventh dying: the library's own fault injection.
        const chaos = yield* Chaos.make({
          enabled: true,
          seed: 7,
          faults: [
            { kind: "latency", rate: 1, delay: 1 },
            { kind: "latency", rate: 0.5, delay: 16 },
            { kind: "latency", rate: 0.5, delay: 32 },
            { kind: "fail", rate: 1 / 7, error: () => "failed" },
            { kind: "die", rate: 1 / 11 }
          ]
        })
        const fibers = yield* Effect.forEach(Array.from({ length: 10_000 }, (_, i) => i), (i) =>
          Effect.forkChild(
            Effect.exit(track(i, Effect.void.pipe(Chaos.inject(chaos))).pipe(Bulkhead.withBulkhead(bulkhead))),
            { startImmediately: true }
          ))
        expect(yield* bulkhead.snapshot).toMatchObject({ running: limit, queued: 10_000 - limit })
        // Interrupt random fibers, queued and running, while the clock moves.
        for (let round = 0; round < 100; round++) {
          const victims = yield* Effect.forEach(
            Array.from({ length: 30 }),
            () => Random.nextIntBetween(0, 10_000, { halfOpen: true })
          )
          yield* Effect.forEach(victims, (i) => Fiber.interrupt(fibers[i]!), { discard: true })
          yield* TestClock.adjust(25)
          expect(state.running).toBeLessThanOrEqual(limit)
        }
        yield* TestClock.adjust("1 hour")
        yield* settle
        expect(state.peak).toBe(limit)
        expect(state.running).toBe(0)
        expect(yield* bulkhead.snapshot).toMatchObject({ running: 0, queued: 0 })
        // Every slot is free again: `limit` calls run side by side at once.
        const gate = yield* Deferred.make<void>()
        const again = yield* Effect.forEach(Array.from({ length: limit }, (_, i) => i), (i) =>
          Effect.forkChild(track(i, Deferred.await(gate)).pipe(Bulkhead.withBulkhead(bulkhead)), {
            startImmediately: true
          }))
        expect(state.running).toBe(limit)
        yield* Deferred.succeed(gate, undefined)
        yield* Effect.forEach(again, Fiber.join)
      }),
    60_000
  )

  describe("as services", () => {
    class PaymentsBulkhead extends Bulkhead.Service<PaymentsBulkhead>()("payments") {}
    class InventoryBulkhead extends Bulkhead.Service<InventoryBulkhead>()("inventory") {}

    it.effect("named bulkheads live side by side with their own limits", () =>
      Effect.gen(function*() {
        const payments = yield* PaymentsBulkhead
        const inventory = yield* InventoryBulkhead
        expect([payments.name, payments.maxConcurrent]).toEqual(["payments", 1])
        expect([inventory.name, inventory.maxConcurrent]).toEqual(["inventory", 3])
        const holder = yield* Effect.forkChild(Effect.never.pipe(Bulkhead.withBulkhead(PaymentsBulkhead)), {
          startImmediately: true
        })
        const rejected = yield* Effect.exit(Effect.void.pipe(Bulkhead.withBulkhead(PaymentsBulkhead)))
        expect(failure(rejected)).toBeInstanceOf(BulkheadFullError)
        expect(yield* Bulkhead.withBulkhead(Effect.succeed("ok"), InventoryBulkhead)).toBe("ok")
        yield* Fiber.interrupt(holder)
      }).pipe(Effect.provide(Layer.mergeAll(
        PaymentsBulkhead.layer({ maxConcurrent: 1 }),
        InventoryBulkhead.layer({ maxConcurrent: 3 })
      ))))

    it.effect("the default service and withBulkhead(effect)", () =>
      Effect.gen(function*() {
        expect(yield* Bulkhead.withBulkhead(Effect.succeed(1))).toBe(1)
        expect(yield* Effect.succeed(2).pipe(Bulkhead.withBulkhead())).toBe(2)
        expect((yield* Bulkhead.Bulkhead).name).toBe("db")
      }).pipe(Effect.provide(Bulkhead.layer({ name: "db", maxConcurrent: 2 }))))

    it.effect("a layer with bad options fails to build with PolicyConfigError", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(
          Effect.provide(Effect.flatMap(Bulkhead.Bulkhead, (b) => b.snapshot), Bulkhead.layer({ maxConcurrent: -1 }))
        )
        expect(failure(exit)).toMatchObject({ _tag: "PolicyConfigError", kind: "Bulkhead" })
      }))
  })

  it("BulkheadFullError encodes to JSON and back", () => {
    const codec = Schema.toCodecJson(BulkheadFullError)
    const error = new BulkheadFullError({ bulkhead: "b", reason: "QueueTimeout", maxConcurrent: 2, maxQueued: 3 })
    const decoded = Schema.decodeUnknownSync(codec)(JSON.parse(JSON.stringify(Schema.encodeSync(codec)(error))))
    expect(decoded).toEqual(error)
  })

  describe("bad options fail with PolicyConfigError naming the field", () => {
    const cases: ReadonlyArray<readonly [string, unknown, string, RegExp]> = [
      ["zero limit", { maxConcurrent: 0 }, "maxConcurrent", /integer between 1 and.*got 0/],
      ["negative limit", { maxConcurrent: -4 }, "maxConcurrent", /integer between 1 and/],
      ["fractional limit", { maxConcurrent: 2.5 }, "maxConcurrent", /integer between 1 and/],
      ["negative queue", { maxQueued: -1 }, "maxQueued", /integer between 0 and/],
      ["NaN queue", { maxQueued: NaN }, "maxQueued", /NaN/],
      ["NaN wait", { maxQueued: 1, maxQueueWait: NaN }, "maxQueueWait", /NaN/],
      ["zero wait", { maxQueued: 1, maxQueueWait: 0 }, "maxQueueWait", /at least 1 millisecond/],
      ["wait without a queue", { maxQueueWait: "1 second" }, "maxQueueWait", /maxQueued is at least 1/],
      ["unknown option", { maxConcurent: 3 }, "maxConcurent", /not a bulkhead option/]
    ]
    it.effect.each(cases)(
      "%s",
      ([, options, field, rule]) => expectConfigIssue(Bulkhead.make(options as Bulkhead.BulkheadOptions), field, rule)
    )
  })
})
