import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { awaitState, failing, fleet, instance, isRejected, joinAll, send } from "./redis/fleet.js"
import { capturingLogs } from "./redis/logs.js"
import { redisAvailable, redisServer } from "./redis/server.js"

const channel = "effect-resilience:circuit:transitions"
const key = (name: string) => `effect-resilience:circuit:{${name}}`

/** Publishes `count` messages `<text> <i>` on the channel in one command, in order. */
const publishMany = (url: string, text: string, count: number) =>
  send(
    url,
    "EVAL",
    "for i = 1, tonumber(ARGV[3]) do redis.call('PUBLISH', ARGV[1], ARGV[2] .. ' ' .. i) end",
    "0",
    channel,
    text,
    String(count)
  )

/** How many times the stores ran their script (EVALSHA) since the last `CONFIG RESETSTAT`. */
const scriptCalls = (url: string) =>
  Effect.map(
    send(url, "INFO", "commandstats"),
    (stats) => Number(/cmdstat_evalsha:calls=(\d+)/.exec(String(stats))?.[1] ?? 0)
  )

/** A message that reads as a transition of circuit `name`, as anyone who may publish on the channel can write. */
const forged = (name: string, fields: { readonly gen: string; readonly state: string }) =>
  JSON.stringify({
    v: 1,
    name,
    from: "Open",
    state: fields.state,
    gen: fields.gen,
    remaining: 600_000,
    openings: 0,
    reason: fields.state === "Closed" ? "Reset" : "ForceOpen",
    origin: "mallory"
  })

const garbage = (line: { readonly message: string }) => line.message.includes("not a transition")

describe.skipIf(!redisAvailable)("RedisCircuitStore and forged messages", () => {
  it.effect(
    "a forged message with generation 100000000000000000000 moves no circuit and deletes nothing: calls stay out",
    () => {
      const logs = capturingLogs()
      return Effect.gen(function*() {
        const server = yield* redisServer
        const config = { name: "forged", consecutiveFailures: 3, openDuration: "10 minutes" } as const
        const instances = yield* fleet(2, server.url, config)
        const opened = yield* Effect.forEach(instances, (i) => awaitState(i, "Open"))
        for (let i = 0; i < 3; i++) yield* Effect.exit(instances[0]!.breaker.execute(failing))
        yield* TestClock.adjust("100 millis")
        yield* joinAll(opened)
        const before = yield* send(server.url, "HGETALL", key("forged"))
        yield* send(server.url, "PUBLISH", channel, forged("forged", { gen: "100000000000000000000", state: "Closed" }))
        yield* send(server.url, "PUBLISH", channel, "garbage")
        // Each instance logs one of the two (at most one such line a minute): once it has, it has
        // read the forged message (the channel is read in order).
        yield* logs.awaitLines(garbage, 2)
        // Time goes on (flushes, hinted re-reads, resyncs): the fleet's circuit stays as it was.
        yield* TestClock.adjust("100 millis")
        yield* Effect.forEach(instances, (i) => i.store.sync, { discard: true })
        let reached = 0
        const dependency = Effect.suspend(() => {
          reached++
          return failing
        })
        for (const instance of instances) {
          expect(yield* instance.breaker.state).toBe("Open")
          for (let i = 0; i < 100; i++) {
            expect(isRejected(yield* Effect.exit(instance.breaker.execute(dependency)))).toBe(true)
          }
        }
        expect(reached).toBe(0)
        expect(yield* send(server.url, "HGETALL", key("forged"))).toEqual(before)
      }).pipe(Effect.scoped, Effect.provide(logs.layer))
    },
    30_000
  )

  it.effect(
    "a flood of forged messages in range costs each instance one read per circuit per flush interval, and moves nothing by itself",
    () => {
      const logs = capturingLogs()
      return Effect.gen(function*() {
        const server = yield* redisServer
        const instances = yield* fleet(2, server.url, { name: "hinted", consecutiveFailures: 3 })
        yield* send(server.url, "CONFIG", "RESETSTAT")
        // 1,000 messages that claim the newest generation there can be, and an opening.
        yield* send(
          server.url,
          "EVAL",
          "for i = 1, 1000 do redis.call('PUBLISH', ARGV[1], ARGV[2]) end",
          "0",
          channel,
          forged("hinted", { gen: String(Number.MAX_SAFE_INTEGER), state: "Open" })
        )
        yield* send(server.url, "PUBLISH", channel, "garbage")
        yield* logs.awaitLines(garbage, 2)
        // One re-read per instance, not one per message; and the circuit did not move.
        expect(yield* scriptCalls(server.url)).toBe(2)
        for (const instance of instances) expect(yield* instance.breaker.state).toBe("Closed")
        // The hints that came after the first are read once the interval has passed: the circuit's
        // real news (an operator forced it open in Redis, with no message) reaches every instance.
        yield* send(server.url, "HSET", key("hinted"), "state", "ForcedOpen", "reason", "ForceOpen")
        const forcedOpen = yield* Effect.forEach(instances, (i) => awaitState(i, "ForcedOpen"))
        yield* TestClock.adjust("100 millis")
        yield* joinAll(forcedOpen)
        expect(yield* scriptCalls(server.url)).toBe(4)
      }).pipe(Effect.scoped, Effect.provide(logs.layer))
    },
    30_000
  )
})

describe.skipIf(!redisAvailable)("RedisCircuitStore and floods of bad input", () => {
  it.effect("5,000 garbage messages on the channel make one warning; the next, a minute later, counts them", () => {
    const logs = capturingLogs()
    const garbage = (line: { readonly message: string }) => line.message.includes("not a transition")
    return Effect.gen(function*() {
      const server = yield* redisServer
      const config = { name: "flooded", consecutiveFailures: 1, openDuration: "10 minutes" } as const
      const a = yield* instance(server.url, config)
      const b = yield* instance(server.url, config, { mode: "strict" })
      yield* publishMany(server.url, "garbage", 5_000)
      // b's trip is published after the flood, and a's subscriber reads the channel in order: once a
      // has moved, it has read every garbage message.
      const aOpens = yield* awaitState(a, "Open")
      yield* Effect.exit(b.breaker.execute(failing))
      yield* Fiber.join(aOpens)
      expect(logs.matching(garbage)).toHaveLength(2) // one per instance
      yield* TestClock.adjust("1 minute")
      yield* send(server.url, "PUBLISH", channel, "garbage again")
      yield* logs.awaitLines(garbage, 4)
      const again = logs.matching(garbage).slice(2)
      for (const line of again) {
        expect(line.message).toContain("\"garbage again\" (and 4999 more like it since the last such warning")
      }
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  }, 30_000)

  it.effect("a circuit whose key is corrupted again and again is reported once a minute, with a count", () => {
    const logs = capturingLogs()
    const foreign = (line: { readonly message: string }) => line.message.includes("found data it did not write")
    return Effect.gen(function*() {
      const server = yield* redisServer
      const a = yield* instance(server.url, { name: "vandalised" }, { mode: "strict" })
      for (let i = 0; i < 50; i++) {
        yield* send(server.url, "SET", key("vandalised"), `not a circuit ${i}`)
        yield* a.breaker.execute(Effect.void)
      }
      expect(logs.matching(foreign)).toHaveLength(1)
      yield* TestClock.adjust("1 minute")
      yield* send(server.url, "SET", key("vandalised"), "not a circuit again")
      yield* a.breaker.execute(Effect.void)
      const lines = logs.matching(foreign)
      expect(lines).toHaveLength(2)
      expect(lines[1]!.message).toContain("(and 49 more like it since the last such warning, not logged)")
      // Every corruption was still replaced by a fresh circuit.
      expect(yield* send(server.url, "HGET", key("vandalised"), "v")).toBe("2")
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  }, 30_000)
})
