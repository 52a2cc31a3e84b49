import { NodeRedis } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Logger } from "effect"
import { Redis } from "effect/persistence"
import { RedisCommands } from "../src/internal/redisCommands.js"
import { awaitConnected, awaitState, failing, instance } from "./redis/fleet.js"
import { tcpProxy } from "./redis/proxy.js"
import { realDelay, realDuration, withinRealTime } from "./redis/realTime.js"
import { redisAvailable, redisServer } from "./redis/server.js"

describe.skipIf(!redisAvailable)("RedisCircuitStore when Redis hangs", () => {
  it.effect(
    "strict mode: no guarded call waits for a hung Redis longer than commandTimeout + 10%",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const timeout = 500
        const a = yield* instance(server.url, { name: "hung-wait", consecutiveFailures: 1000 }, {
          mode: "strict",
          commandTimeout: `${timeout} millis`
        })
        yield* a.breaker.execute(Effect.void)
        yield* server.hang
        // Eight callers, started an eighth of the timeout apart, each waiting for its own admission
        // until its own deadline. Real time is the subject here: the command timeout bounds a wait in
        // real time (a hung Redis), which no TestClock moves, so each wait is measured with
        // performance.now() and the callers are spread with real timers. The whole test waits about
        // twice the timeout (500 ms: 10% of it leaves room for a loaded machine).
        const waits = yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) => i),
          (i) => Effect.andThen(realDelay((i * timeout) / 8), realDuration(a.breaker.execute(Effect.void))),
          { concurrency: "unbounded" }
        )
        // The first caller did wait for Redis (the store asked it), and none waited past the bound.
        expect(waits[0]).toBeGreaterThanOrEqual(timeout * 0.95)
        expect(Math.max(...waits)).toBeLessThanOrEqual(timeout * 1.1)
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )

  it.effect(
    "each command waits for a hung Redis until its own deadline, whatever the moment it was sent",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const timeout = 500
        // The store's commands on a connection of their own, with nothing to replace it: this looks at
        // the command timeout alone (in the store, the first silent timeout replaces the connection and
        // releases every other waiting caller at once).
        const context = yield* Layer.build(NodeRedis.layer({ url: server.url }))
        const silences: Array<number> = []
        const commands = new RedisCommands(
          timeout,
          Effect.runForkWith(yield* Effect.context<never>()),
          () => silences.push(performance.now())
        )
        const client = Context.get(context, NodeRedis.NodeRedis).client
        commands.use({
          redis: Context.get(context, Redis.Redis),
          send: (args) => client.sendCommand([...args]),
          nodes: () => [(args) => client.sendCommand([...args])],
          onReady: () => {},
          destroy: () => {}
        })
        yield* commands.ping
        yield* server.hang
        // Eight commands, sent an eighth of the timeout apart, so their deadlines fall at every moment
        // of a periodic check. Real time is the subject (see the test above).
        const waits = yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) => i),
          (i) => Effect.andThen(realDelay((i * timeout) / 8), realDuration(commands.ping)),
          { concurrency: "unbounded" }
        )
        for (const wait of waits) {
          expect(wait).toBeGreaterThanOrEqual(timeout - 1)
          expect(wait).toBeLessThanOrEqual(timeout * 1.1)
        }
        // Nothing answered: every timeout found the connection silent.
        expect(silences.length).toBeGreaterThanOrEqual(1)
        yield* server.resume
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )

  it.effect(
    "a connection that died silently is detected by the command timeout and replaced, subscriber included",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const proxy = yield* tcpProxy(server.port)
        const config = { name: "silent", consecutiveFailures: 2, openDuration: "1 minute" } as const
        // a reaches Redis through the proxy; b directly.
        const a = yield* instance(proxy.url, config, { mode: "strict", commandTimeout: "200 millis" })
        const b = yield* instance(server.url, config, { mode: "strict" })
        yield* proxy.awaitOpen(2) // a's command connection and its subscriber
        yield* a.breaker.execute(Effect.void)
        // The network drops everything on a's connections, and neither end notices: no reset, no close.
        yield* proxy.blackhole
        // The call waits at most the command timeout, then runs on the local circuit.
        expect(yield* a.breaker.execute(Effect.succeed("served"))).toBe("served")
        expect(yield* a.store.connected).toBe(false)
        // Nothing answered on the connection since the command was sent: the store drops it and
        // connects again (through the proxy, which forwards new connections). The bounds are real
        // time because reconnecting is real I/O; a passing run does not wait for them.
        yield* withinRealTime(awaitConnected(a.store), 10_000, "the store replaced its dead connection")
        // Both old connections are closed: two are open, the new command connection and subscriber.
        yield* withinRealTime(proxy.awaitOpen(2), 10_000, "the dead connections were closed")
        // The new subscriber hears the fleet: b trips the circuit, and a follows at once, with no
        // resync (the test clock does not move).
        const aOpens = yield* awaitState(a, "Open")
        for (let i = 0; i < 2; i++) yield* Effect.exit(b.breaker.execute(failing))
        // The tripping outcome's answer (which the caller did not wait for) arrives before the sync's.
        yield* b.store.sync
        expect(yield* b.breaker.state).toBe("Open")
        yield* withinRealTime(Fiber.join(aOpens), 10_000, "a heard the trip on its new subscription")
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )

  it.effect(
    "a Redis hung (SIGSTOP) then resumed: calls go on locally meanwhile, and the store is back at once",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const a = yield* instance(server.url, { name: "stopped", consecutiveFailures: 3 }, {
          mode: "strict",
          commandTimeout: "200 millis"
        })
        yield* a.breaker.execute(Effect.void)
        yield* server.hang
        expect(yield* a.breaker.execute(Effect.succeed("served"))).toBe("served")
        expect(yield* a.store.connected).toBe(false)
        for (let i = 0; i < 3; i++) yield* Effect.exit(a.breaker.execute(failing))
        expect(yield* a.breaker.state).toBe("Open")
        yield* server.resume
        // Back without waiting for a resync (the test clock does not move): the connection the store
        // made when its commands went unanswered completes as soon as Redis answers. Real time bounds a
        // failing run only.
        yield* withinRealTime(awaitConnected(a.store), 10_000, "the store reconnected to the resumed Redis")
        // The opening it made meanwhile is the fleet's now.
        expect(yield* a.breaker.state).toBe("Open")
        const newcomer = yield* instance(server.url, { name: "stopped", consecutiveFailures: 3 }, { mode: "strict" })
        expect(yield* newcomer.breaker.state).toBe("Open")
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )
})
