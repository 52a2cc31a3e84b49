import { NodeRedis } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { Redis } from "effect/persistence"
import { redisAvailable, redisServer } from "./server.js"

const send = (url: string, command: string, ...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    return yield* redis.send<unknown>(command, ...args)
  }).pipe(Effect.scoped, Effect.provide(NodeRedis.layer({ url })))

describe.skipIf(!redisAvailable)("the test redis-server", () => {
  it.live("starts on a free port, dies when killed, and comes back empty when restarted", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      expect(yield* send(server.url, "SET", "k", "v")).toBe("OK")
      expect(yield* send(server.url, "GET", "k")).toBe("v")
      yield* server.kill
      const unreachable = yield* Effect.exit(send(server.url, "PING"))
      expect(Exit.isFailure(unreachable)).toBe(true)
      yield* server.restart
      expect(yield* send(server.url, "GET", "k")).toBeNull()
    }).pipe(Effect.scoped), 30_000)
})
