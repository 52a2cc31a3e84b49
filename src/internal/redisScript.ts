/**
 * Runs the Lua script that keeps a shared circuit in Redis (`internal/redisLua.ts`),
 * and the Schemas that decode its replies and the messages it publishes.
 *
 * One script does every operation, so that each one reads, decides and
 * writes atomically: Redis runs a script to the end before any other command.
 * A circuit is three keys that share a hash tag (so a Redis Cluster keeps
 * them on one node):
 *
 * - `<prefix>{<name>}`: a hash with the state, its generation, when an Open
 *   period ends, the fleet's consecutive openings and failure streak, the
 *   half-open permits left and successes so far, when the wait for undecided
 *   probes ends (`halfOpenMaxWait`, counted from the first probe's lease),
 *   and the window's totals;
 * - `<prefix>{<name>}:w`: the merged window, a list of `bucket:calls:failures:slow`
 *   batches, newest first;
 * - `<prefix>{<name>}:p`: the half-open probe leases, fencing token -> expiry.
 *
 * Times are the callers' clock (epoch milliseconds), so one `TestClock`
 * drives a whole test fleet. Whatever the keys hold is checked before use:
 * data that is not this script's (another program's, an older format, a
 * hand edit) is reported in the reply and replaced by a fresh circuit, never
 * trusted and never an error.
 *
 * @internal
 */
import { Exit, Schema } from "effect"
import { createHash } from "node:crypto"
import { TransitionReason } from "../CircuitBreakerEvent.js"
import { State } from "../CircuitState.js"
import type { FleetView } from "../CircuitStore.js"
import { circuitLua } from "./redisLua.js"
import { IntBetween } from "./schemas.js"

/** An operation of the script, with the arguments every operation shares. @internal */
export interface ScriptCall {
  readonly keys: readonly [string, string, string]
  readonly op: "sync" | "flush" | "admit" | "probe" | "control"
  readonly now: number
  readonly idleMillis: number
  readonly channel: string
  readonly name: string
  readonly permits: number
  readonly openMillis: number
  readonly maxWaitMillis: number
  readonly leaseMillis: number
  readonly origin: string
  readonly knownGen: number
  readonly extra: ReadonlyArray<string | number>
}

/** The script's SHA-1, which `EVALSHA` calls it by once Redis holds it. @internal */
export const circuitSha = createHash("sha1").update(circuitLua).digest("hex")

/**
 * The script's keys and arguments for `EVALSHA <sha> 3 ...`, as text: a number
 * is sent as JavaScript prints it (the script refuses what is not a number
 * in range).
 *
 * @internal
 */
export const scriptArgs = (call: ScriptCall): Array<string> => {
  const args = [
    call.keys[0],
    call.keys[1],
    call.keys[2],
    call.op,
    String(call.now),
    String(call.idleMillis),
    call.channel,
    call.name,
    String(call.permits),
    String(call.openMillis),
    String(call.maxWaitMillis),
    String(call.leaseMillis),
    call.origin,
    String(call.knownGen)
  ]
  for (const value of call.extra) args.push(String(value))
  return args
}

/** A count the script keeps: an integer from 0 to 2^53 - 1, as Lua and JavaScript both read it exactly. */
const Count = IntBetween(0, Number.MAX_SAFE_INTEGER)

/** A generation: the digits of an integer from 1 to 2^53 - 1 (the script prints it as text). */
const Generation = Schema.String.check(
  Schema.makeFilter((text) => /^[1-9][0-9]{0,15}$/.test(text) && Number(text) <= Number.MAX_SAFE_INTEGER, {
    expected: "the digits of an integer from 1 to 2^53 - 1",
    message: "must be the digits of an integer from 1 to 2^53 - 1"
  })
)

/** A configuration fingerprint as the script keeps it: lowercase letters and digits, at most 64; empty when none. */
const Fingerprint = Schema.String.check(
  Schema.makeFilter((text) => text.length <= 64 && /^[0-9a-z]*$/.test(text), {
    expected: "at most 64 lowercase letters and digits",
    message: "must be at most 64 lowercase letters and digits"
  })
)

/** The script's reply as it arrives: an array read by position, every field checked. */
const ReplyArray = Schema.Tuple([
  Schema.String,
  State,
  TransitionReason,
  Generation,
  Count,
  Count,
  Count,
  Count,
  Count,
  Count,
  Count,
  Count,
  IntBetween(-1, Number.MAX_SAFE_INTEGER),
  Schema.Union([Schema.Literal(""), TransitionReason]),
  Fingerprint
])

/**
 * The script's reply, named: the circuit as it is after the operation.
 *
 * - `corrupt`: what was wrong with the stored data that was replaced (empty when nothing was);
 * - `remaining`: how long an Open state's opening still lasts, from the operation's `now`;
 * - `granted`: for `admit`, -1 rejected, 0 admitted outside half-open, else the probe's fencing
 *   token; for `flush` and `probe`, -1 when the batch or probe was stale and dropped;
 * - `moved`: the reason of the transition this operation made, or empty;
 * - `config`: for `sync`, the configuration fingerprint kept with the circuit (empty otherwise).
 *
 * @internal
 */
export interface CircuitReply {
  readonly corrupt: string
  readonly state: State
  readonly reason: TransitionReason
  readonly gen: string
  readonly remaining: number
  readonly openings: number
  readonly permits: number
  readonly successes: number
  readonly calls: number
  readonly failures: number
  readonly slow: number
  readonly streak: number
  readonly granted: number
  readonly moved: "" | TransitionReason
  readonly config: string
}

const decodeReplyArray = Schema.decodeUnknownExit(ReplyArray)

/** A count as the script prints it: the digits of an integer from 0 to 2^53 - 1. */
const CountText = Schema.String.check(
  Schema.makeFilter((text) => /^(0|[1-9][0-9]{0,15})$/.test(text) && Number(text) <= Number.MAX_SAFE_INTEGER, {
    expected: "the digits of an integer from 0 to 2^53 - 1",
    message: "must be the digits of an integer from 0 to 2^53 - 1"
  })
)

/**
 * The reply of a closed admission answered on the script's fast path
 * (`internal/redisLuaClosedAdmit.ts`), split at its spaces: `Closed`, the
 * reason, the generation, then calls, failures, slow calls and the streak.
 */
const ClosedReplyText = Schema.Tuple([
  Schema.Literal("Closed"),
  TransitionReason,
  Generation,
  CountText,
  CountText,
  CountText,
  CountText
])

const decodeClosedReplyText = Schema.decodeUnknownExit(ClosedReplyText)

/**
 * Decodes a reply of the script (its array, or the fast path's text): every
 * field is checked by its Schema (a number out of range is an unreadable
 * reply, never a state), then named. What does not decode is a failed `Exit`, never a throw. The names
 * are given by hand, not by a second Schema: strict mode decodes a reply per
 * call, and a struct's own checks would run every check twice.
 *
 * @internal
 */
export const decodeReply = (raw: unknown): Exit.Exit<CircuitReply, Schema.SchemaError> =>
  typeof raw === "string"
    ? Exit.map(
      decodeClosedReplyText(raw.split(" ", 8)),
      ([state, reason, gen, calls, failures, slow, streak]) =>
        named([
          "",
          state,
          reason,
          gen,
          0,
          0,
          0,
          0,
          Number(calls),
          Number(failures),
          Number(slow),
          Number(streak),
          0,
          "",
          ""
        ])
    )
    : Exit.map(decodeReplyArray(raw), named)

/** The reply's fields, by name. */
const named = (
  [
    corrupt,
    state,
    reason,
    gen,
    remaining,
    openings,
    permits,
    successes,
    calls,
    failures,
    slow,
    streak,
    granted,
    moved,
    config
  ]: typeof ReplyArray.Type
): CircuitReply => ({
  corrupt,
  state,
  reason,
  gen,
  remaining,
  openings,
  permits,
  successes,
  calls,
  failures,
  slow,
  streak,
  granted,
  moved,
  config
})

/**
 * The fields of a circuit hash read for the fleet's listing (`HMGET`), in
 * this order: the format version, then what a reply carries.
 *
 * @internal
 */
export const circuitHashFields = [
  "v",
  "state",
  "reason",
  "gen",
  "until",
  "openings",
  "permits",
  "successes",
  "calls",
  "failures",
  "slow",
  "streak"
] as const

/** A circuit hash as `HMGET circuitHashFields` answers it: every field checked, as the script checks it. */
const CircuitHash = Schema.Tuple([
  Schema.Literal("2"),
  State,
  TransitionReason,
  Generation,
  CountText,
  CountText,
  CountText,
  CountText,
  CountText,
  CountText,
  CountText,
  CountText
])

const decodeCircuitHash = Schema.decodeUnknownExit(CircuitHash)

/**
 * Decodes a circuit hash read without the script (the fleet's listing), as
 * the reply the script would give at `now` without moving the circuit:
 * what does not decode (another format, another program's data) is a
 * failed `Exit`, never a throw.
 *
 * @internal
 */
export const decodeHash = (raw: unknown, now: number): Exit.Exit<CircuitReply, Schema.SchemaError> =>
  Exit.map(
    decodeCircuitHash(raw),
    ([, state, reason, gen, until, openings, permits, successes, calls, failures, slow, streak]) =>
      named([
        "",
        state,
        reason,
        gen,
        state === "Open" ? Math.max(0, Number(until) - now) : 0,
        Number(openings),
        Number(permits),
        Number(successes),
        Number(calls),
        Number(failures),
        Number(slow),
        Number(streak),
        0,
        "",
        ""
      ])
  )

/** The fleet's view of a circuit, from a reply to an operation sent at `readAt`. @internal */
export const fleetViewOf = (reply: CircuitReply, readAt: number): FleetView => ({
  state: reply.state,
  calls: reply.calls,
  failures: reply.failures,
  slowCalls: reply.slow,
  consecutiveFailures: reply.streak,
  consecutiveOpenings: reply.openings,
  readAt
})

/**
 * A transition message on the store's channel. Other programs may publish on
 * it too, so every message is decoded, what does not decode is reported and
 * ignored, and what decodes is only a hint to read the circuit from Redis
 * (`internal/redisHints.ts`).
 *
 * @internal
 */
export const Message = Schema.Struct({
  v: Schema.Literal(1),
  name: Schema.String,
  from: State,
  state: State,
  gen: Generation,
  remaining: Count,
  openings: Count,
  reason: TransitionReason,
  origin: Schema.String
})

/** @internal */
export type Message = typeof Message.Type
