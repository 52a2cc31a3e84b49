import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import type { ScriptCall } from "../src/internal/redisScript.js"
import { decodeReply } from "../src/internal/redisScript.js"
import { rules, scriptCall, scriptRunner } from "./redis/script.js"
import { redisAvailable, redisServer } from "./redis/server.js"

// The script answers strict mode's closed admissions on a fast path (`internal/redisLuaClosedAdmit.ts`),
// which must write exactly what the full script writes. A flush carrying the same outcomes never takes
// the fast path: two circuits fed the same outcomes, one through admissions and one through flushes,
// must stay identical, field by field and window entry by window entry.

const IDLE = 8_000
const fields = [
  "state",
  "reason",
  "gen",
  "until",
  "openings",
  "streak",
  "permits",
  "successes",
  "calls",
  "failures",
  "slow"
]

/** A small deterministic generator (a linear congruential one): the same run every time. */
const random = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}

const call = (name: string, op: ScriptCall["op"], now: number, extra: ReadonlyArray<string | number>) =>
  scriptCall("fast", name, op, now, extra, IDLE)

describe.skipIf(!redisAvailable)("strict mode's closed admission, answered on the script's fast path", () => {
  it.effect(
    "writes what the full script writes: the same state, counts, streak and window, through trips and shared flushes",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const { run, send } = yield* scriptRunner(server.url)
        /** A reply, named; what an admission and a flush answer differently (the grant) left out. */
        const named = (raw: unknown) => {
          const decoded = decodeReply(raw)
          expect(Exit.isSuccess(decoded)).toBe(true)
          const { granted: _, ...reply } = Exit.isSuccess(decoded) ? decoded.value : { granted: 0 }
          return reply
        }
        const read = (name: string) =>
          Effect.gen(function*() {
            const key = `fast:{${name}}`
            const hash = (yield* send("HGETALL", key)) as Record<string, string>
            return {
              fields: Object.fromEntries(fields.map((field) => [field, hash[field]])),
              window: (yield* send("LRANGE", `${key}:w`, "0", "-1")) as ReadonlyArray<string>
            }
          })

        const next = random(7)
        let now = 1_000_000
        for (const name of ["admitted", "flushed"]) yield* run(call(name, "sync", now, ["", 0, 0, 0, ""]))
        let trips = 0
        yield* send("CONFIG", "RESETSTAT")
        for (let step = 0; step < 400; step++) {
          now += Math.floor(next() * 600)
          const state = (yield* read("admitted")).fields.state
          if (state !== "Closed") {
            // Both circuits are reset together, and the run goes on.
            trips++
            for (const name of ["admitted", "flushed"]) yield* run(call(name, "control", now, ["Reset"]))
          } else if (next() < 0.8) {
            // Strict mode: one to three calls, in the order they ended.
            const sequence = Array.from({ length: 1 + Math.floor(next() * 3) }, () => {
              const failed = next() < 0.4
              const slow = next() < 0.2
              return failed ? (slow ? "F" : "f") : (slow ? "S" : "s")
            }).join("")
            const failures = [...sequence].filter((c) => c === "f" || c === "F").length
            const slow = [...sequence].filter((c) => c === "F" || c === "S").length
            const gen = (yield* read("admitted")).fields.gen!
            const batch = [
              gen,
              sequence.length,
              failures,
              slow,
              0,
              failures === sequence.length ? 1 : 0,
              ...rules,
              sequence
            ]
            const admitted = yield* run(call("admitted", "admit", now, [1, ...batch]))
            const flushed = yield* run(call("flushed", "flush", now, batch))
            // The same circuit after the operation, as the store reads the reply.
            expect(named(admitted), `step ${step}`).toEqual(named(flushed))
          } else {
            // Shared mode's flush: counts without an order, a batch entry of several calls.
            const calls = 1 + Math.floor(next() * 4)
            const failures = Math.floor(next() * (calls + 1))
            const gen = (yield* read("admitted")).fields.gen!
            const batch = [gen, calls, failures, 0, failures, failures === calls ? 1 : 0, ...rules]
            for (const name of ["admitted", "flushed"]) yield* run(call(name, "flush", now, batch))
          }
          const [admitted, flushed] = [yield* read("admitted"), yield* read("flushed")]
          expect(admitted, `step ${step}`).toEqual(flushed)
          // A window never outlives its circuit: it always expires.
          if (admitted.window.length > 0) {
            expect(yield* send("PTTL", "fast:{admitted}:w"), `step ${step}`).toBeGreaterThan(0)
          }
        }
        // The run took every path: a single call rotating a full window (RPOPLPUSH, the only command
        // for it), batches pushing and trimming (LTRIM, only the fast path trims), rotations undone
        // before a trip (LPOP, only then), and trips the full script made.
        const stats = String(yield* send("INFO", "commandstats"))
        const calls = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
        expect(calls("rpoplpush")).toBeGreaterThan(30)
        expect(calls("ltrim")).toBeGreaterThan(10)
        expect(calls("lpop")).toBeGreaterThan(0)
        expect(trips).toBeGreaterThan(3)
      }).pipe(Effect.scoped),
    60_000
  )

  it.effect(
    "renews a circuit in use as the full script does, at most every eighth of the idle time",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const runner = yield* scriptRunner(server.url)
        const send = runner.send
        const run = (operation: ScriptCall) => runner.run(operation) as Effect.Effect<ReadonlyArray<unknown>, unknown>
        let now = 1_000_000
        const sync = yield* run(call("renewed", "sync", now, ["", 0, 0, 0, ""]))
        const admit = () => run(call("renewed", "admit", now, [1, String(sync[3]), 1, 0, 0, 0, 0, ...rules, "s"]))
        yield* admit()
        expect(yield* send("HGET", "fast:{renewed}", "renewed")).toBe(String(now))
        // Within an eighth of the idle time: not renewed again; after it: renewed.
        now += IDLE / 8 - 1
        yield* admit()
        expect(yield* send("HGET", "fast:{renewed}", "renewed")).toBe(String(1_000_000))
        now += 1
        yield* admit()
        expect(yield* send("HGET", "fast:{renewed}", "renewed")).toBe(String(now))
        for (const key of ["fast:{renewed}", "fast:{renewed}:w"]) {
          const ttl = (yield* send("PTTL", key)) as number
          expect(ttl).toBeGreaterThan(IDLE - 2_000)
          expect(ttl).toBeLessThanOrEqual(IDLE)
        }
      }).pipe(Effect.scoped),
    30_000
  )
})
