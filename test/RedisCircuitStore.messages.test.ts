import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { awaitState, failing, instance, send } from "./redis/fleet.js"
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
        expect(line.message).toContain("garbage again (and 4999 more like it since the last such warning")
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
