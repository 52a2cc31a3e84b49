import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import type { ScriptCall } from "../src/internal/redisScript.js"
import { decodeReply } from "../src/internal/redisScript.js"
import { rules, scriptCall, scriptRunner } from "./redis/script.js"
import { redisAvailable, redisServer } from "./redis/server.js"

// The closed admission's fast path (`internal/redisLuaClosedAdmit.ts`) must leave to the full script
// every circuit whose data the full script would not read back whole: foreign data is reported and
// replaced, never written to nor answered from.

const call = (name: string, op: ScriptCall["op"], now: number, extra: ReadonlyArray<string | number>) =>
  scriptCall("foreign", name, op, now, extra)

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
          const { run, send } = yield* scriptRunner(server.url)
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
