/**
 * The circuit script run by hand, as the store runs it: operations on a
 * circuit of the test's own, sent on one connection, with the trip rules the
 * fast-path tests use.
 */
import { NodeRedis } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import { Redis } from "effect/persistence"
import { circuitLua } from "../../src/internal/redisLua.js"
import type { ScriptCall } from "../../src/internal/redisScript.js"
import { circuitSha, scriptArgs } from "../../src/internal/redisScript.js"

/** consecutive 4, no count rule, failure rate 50% and slow-call rate 80% once 6 calls are in a window of 10. */
export const rules = [4, 0, 0.5, 0.8, 6, "c", 10, 0] as const

/** Operation `op` at `now` on the circuit `<prefix>:{<name>}`. */
export const scriptCall = (
  prefix: string,
  name: string,
  op: ScriptCall["op"],
  now: number,
  extra: ReadonlyArray<string | number>,
  idleMillis = 8_000
): ScriptCall => {
  const key = `${prefix}:{${name}}`
  return {
    keys: [key, `${key}:w`, `${key}:p`],
    op,
    now,
    idleMillis,
    channel: `${prefix}:transitions`,
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

/** A connection to `url` in the scope, with the script loaded: `send` a command, `run` an operation. */
export const scriptRunner = (url: string): Effect.Effect<
  {
    readonly send: (...args: ReadonlyArray<string>) => Effect.Effect<unknown, Redis.RedisError>
    readonly run: (operation: ScriptCall) => Effect.Effect<unknown, Redis.RedisError>
  },
  unknown,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const context = yield* Layer.build(NodeRedis.layer({ url }))
    const redis = Context.get(context, Redis.Redis)
    const send = (...args: ReadonlyArray<string>) => redis.send<unknown>(args[0]!, ...args.slice(1))
    yield* send("SCRIPT", "LOAD", circuitLua)
    const run = (operation: ScriptCall) => send("EVALSHA", circuitSha, "3", ...scriptArgs(operation))
    return { send, run }
  })
