import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { circuitLua } from "../src/internal/redisLua.js"
import type { ScriptCall } from "../src/internal/redisScript.js"
import { scriptArgs } from "../src/internal/redisScript.js"
import { send } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

const name = "scripted"
const key = `effect-resilience:circuit:{${name}}`
const MAX = Number.MAX_SAFE_INTEGER

/** One operation of the circuit script, as the store sends it, with `changes` applied. */
const call = (changes: Partial<ScriptCall>): ScriptCall => ({
  keys: [key, `${key}:w`, `${key}:p`],
  op: "sync",
  now: 1_000_000,
  idleMillis: 60_000,
  channel: "effect-resilience:circuit:transitions",
  name,
  permits: 1,
  openMillis: 10_000,
  maxWaitMillis: 0,
  leaseMillis: 30_000,
  origin: "test",
  knownGen: 0,
  extra: ["", 0, 0, 0],
  ...changes
})

const flush = (extra: Partial<Record<number, string | number>>) => {
  const base: Array<string | number> = ["0", 1, 1, 0, 1, 0, 3, 0, -1, -1, 1, "c", 100, 0]
  for (const [i, value] of Object.entries(extra)) base[Number(i)] = value!
  return base
}

/** Runs the script with EVAL on a connection of the test's own. */
const run = (url: string, operation: ScriptCall) =>
  send(url, "EVAL", circuitLua, "3", ...scriptArgs(operation)) as Effect.Effect<
    ReadonlyArray<string | number>,
    unknown
  >

describe.skipIf(!redisAvailable)("the circuit script and the numbers it is sent", () => {
  it.effect(
    "a number out of its range is refused with an error that names it, and nothing is written",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const refused: ReadonlyArray<readonly [string, Partial<ScriptCall>]> = [
          ["knownGen", { knownGen: 1e20 }],
          ["knownGen", { knownGen: -1 }],
          ["knownGen", { knownGen: 1.5 }],
          ["knownGen", { knownGen: NaN }],
          ["now", { now: 1e20 }],
          ["idleMillis", { idleMillis: 1e20 }],
          ["leaseMillis", { leaseMillis: 1e19 }],
          ["openMillis", { openMillis: -5 }],
          ["maxWaitMillis", { maxWaitMillis: Infinity }],
          ["permits", { permits: 2.5 }],
          ["seed openings", { extra: ["Open", 0, 1e20, 0] }],
          ["calls", { op: "flush", extra: flush({ 1: -5 }) }],
          ["failureRate", { op: "flush", extra: flush({ 8: 2 }) }],
          ["window kind", { op: "flush", extra: flush({ 11: "x" }) }],
          ["outcome", { op: "probe", extra: ["1", "maybe", 1] }],
          ["target", { op: "control", extra: ["Sideways"] }]
        ]
        for (const [field, changes] of refused) {
          const exit = yield* Effect.exit(run(server.url, call(changes)))
          expect(Exit.isFailure(exit), field).toBe(true)
          expect(String(Exit.isFailure(exit) ? exit.cause.reasons.map(String) : ""), field).toContain(field)
          expect(yield* send(server.url, "EXISTS", key, `${key}:w`, `${key}:p`), field).toBe(0)
        }
        // An existing circuit is left as it was, even one whose opening has ended (which any operation
        // would move to half-open, clearing its window): the arguments are checked before that.
        yield* run(server.url, call({}))
        yield* send(server.url, "HSET", key, "state", "Open", "until", "1", "reason", "ConsecutiveFailures")
        yield* send(server.url, "RPUSH", `${key}:w`, "0:1:1:0")
        const before = yield* send(server.url, "HGETALL", key)
        for (const [field, changes] of refused) {
          expect(Exit.isFailure(yield* Effect.exit(run(server.url, call(changes)))), field).toBe(true)
        }
        expect(yield* send(server.url, "HGETALL", key)).toEqual(before)
        expect(yield* send(server.url, "LRANGE", `${key}:w`, "0", "-1")).toEqual(["0:1:1:0"])
      }).pipe(Effect.scoped),
    30_000
  )

  it.effect(
    "a generation or a fencing token at 2^53 - 1 is never written past it, so it is never read as corrupt",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        yield* run(server.url, call({}))
        yield* send(server.url, "HSET", key, "gen", String(MAX), "token", String(MAX))
        // A transition bumps the generation; the caller knows the newest generation there is.
        const forced = yield* run(server.url, call({ op: "control", extra: ["ForcedOpen"], knownGen: MAX }))
        expect(forced[0]).toBe("")
        expect(forced[3]).toBe(String(MAX))
        // Half-open with a permit: an admission takes a new fencing token.
        yield* send(server.url, "HSET", key, "state", "HalfOpen", "reason", "OpenDurationElapsed", "permits", "1")
        const admitted = yield* run(server.url, call({ op: "admit", knownGen: MAX, extra: [1] }))
        expect(admitted[0]).toBe("")
        expect(Number(admitted[12])).toBeGreaterThan(0)
        expect(Number(admitted[12])).toBeLessThanOrEqual(MAX)
        // What was written reads back as the script's own.
        const after = yield* run(server.url, call({ knownGen: MAX }))
        expect(after[0]).toBe("")
        expect(after[1]).toBe("HalfOpen")
        for (const field of ["gen", "token"]) {
          const value = (yield* send(server.url, "HGET", key, field)) as string
          expect(value, field).toMatch(/^\d+$/)
          expect(Number(value), field).toBeLessThanOrEqual(MAX)
        }
      }).pipe(Effect.scoped),
    30_000
  )

  it.effect(
    "a duration between two milliseconds is kept as whole milliseconds, never as a fraction it would refuse",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        yield* run(server.url, call({}))
        yield* send(server.url, "HSET", key, "state", "HalfOpen", "reason", "OpenDurationElapsed", "permits", "1")
        const admitted = yield* run(server.url, call({ op: "admit", maxWaitMillis: 1.25, extra: [1] }))
        expect(admitted[0]).toBe("")
        expect(yield* send(server.url, "HGET", key, "waitEnds")).toBe("1000002")
        const after = yield* run(server.url, call({}))
        expect(after[0]).toBe("")
      }).pipe(Effect.scoped),
    30_000
  )

  it.effect("corrupt data is quoted in a report at most 64 characters long", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      yield* run(server.url, call({}))
      yield* send(server.url, "HSET", key, "calls", "x".repeat(100_000))
      const reply = yield* run(server.url, call({}))
      expect(reply[0]).toContain("field calls is not a non-negative integer")
      expect(String(reply[0]).length).toBeLessThan(200)
    }).pipe(Effect.scoped), 30_000)
})
