import { NodeRedis } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer } from "effect"
import { Redis } from "effect/persistence"
import { circuitLua } from "../src/internal/redisLua.js"
import type { ScriptCall } from "../src/internal/redisScript.js"
import { circuitSha, decodeReply, scriptArgs } from "../src/internal/redisScript.js"
import { redisAvailable, redisServer } from "./redis/server.js"

// The closed admission's fast path (`internal/redisLuaClosedAdmit.ts`) must leave to the full script
// every circuit whose data the full script would not read back whole: foreign data is reported and
// replaced, never written to nor answered from.

const call = (name: string, op: ScriptCall["op"], now: number, extra: ReadonlyArray<string | number>): ScriptCall => {
  const key = `foreign:{${name}}`
  return {
    keys: [key, `${key}:w`, `${key}:p`],
    op,
    now,
    idleMillis: 8_000,
    channel: "foreign:transitions",
    name,
    permits: 1,
    openMillis: 5_000,
    maxWaitMillis: 0,
    leaseMillis: 30_000,
    origin: "test",
    knownGen: 0,
    extra
  }
}

// consecutive 4, no count rule, failure rate 50% and slow-call rate 80% once 6 calls are in a window of 10.
const rules = [4, 0, 0.5, 0.8, 6, "c", 10, 0]

describe.skipIf(!redisAvailable)("strict mode's closed admission on foreign data", () => {
  for (
    const [what, field, value, report] of [
      ["a reason made of two reasons", "reason", "ProbesSucceeded HalfOpenMaxWait", "unknown transition reason"],
      ["an opening end that is not a number", "until", "soon", "field until is not a non-negative integer"],
      ["a change time that is not a number", "changed", "-1", "field changed is not a non-negative integer"]
    ] as const
  ) {
    it.effect(
      `a closed circuit with ${what} is reported and made afresh, as the full script does`,
      () =>
        Effect.gen(function*() {
          const server = yield* redisServer
          const context = yield* Layer.build(NodeRedis.layer({ url: server.url }))
          const redis = Context.get(context, Redis.Redis)
          const send = (...args: ReadonlyArray<string>) => redis.send<unknown>(args[0]!, ...args.slice(1))
          yield* send("SCRIPT", "LOAD", circuitLua)
          const run = (operation: ScriptCall) => send("EVALSHA", circuitSha, "3", ...scriptArgs(operation))
          const now = 1_000_000
          const synced = (yield* run(call("c", "sync", now, ["", 0, 0, 0, ""]))) as ReadonlyArray<unknown>
          const gen = String(synced[3])
          // One call recorded, then the circuit's hash tampered with by another program.
          yield* run(call("c", "admit", now, [1, gen, 1, 0, 0, 0, 0, ...rules, "s"]))
          yield* send("HSET", "foreign:{c}", field, value)

          const raw = yield* run(call("c", "admit", now + 1, [1, gen, 1, 1, 0, 1, 1, ...rules, "f"]))
          const decoded = decodeReply(raw)
          // The reply reads back, and says what the full script found.
          expect(Exit.isSuccess(decoded), `reply ${JSON.stringify(raw)}`).toBe(true)
          const reply = Exit.isSuccess(decoded) ? decoded.value : undefined
          expect(reply?.corrupt).toContain(report)
          // The circuit was made afresh: a newer generation, and the stale batch not recorded.
          expect(Number(reply?.gen)).toBeGreaterThan(Number(gen))
          expect(reply?.calls).toBe(0)
          expect(yield* send("HGET", "foreign:{c}", field)).not.toBe(value)
          expect(yield* send("LLEN", "foreign:{c}:w")).toBe(0)
        }).pipe(Effect.scoped),
      30_000
    )
  }
})
