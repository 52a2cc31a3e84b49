import { NodeRedis } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Logger, Scope } from "effect"
import { Redis } from "effect/persistence"
import { instance } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

describe.skipIf(!redisAvailable)("RedisCircuitStore's client", () => {
  it.effect(
    "a store whose Redis hangs still closes its scope: its connection gets the command timeout to close, then is dropped",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        // An operator's connection, to pause Redis and to unpause it.
        const operator = Context.get(yield* Layer.build(NodeRedis.layer({ url: server.url })), Redis.Redis)
        const scope = yield* Scope.make()
        const a = yield* instance(server.url, { name: "hung-close" }, { mode: "strict", commandTimeout: "200 millis" })
          .pipe(Scope.provide(scope))
        // Redis holds every write (every script) for a minute: the call's script is left waiting for its reply.
        yield* operator.send("CLIENT", "PAUSE", "60000", "WRITE")
        yield* Effect.ensuring(
          Effect.gen(function*() {
            expect(yield* a.breaker.execute(Effect.succeed("local"))).toBe("local")
            // A graceful close would wait for that reply, a minute; the test's timeout is 30 s.
            yield* Scope.close(scope, Exit.void)
          }),
          Effect.ignore(operator.send("CLIENT", "UNPAUSE"))
        )
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )
})
