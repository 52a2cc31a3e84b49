/**
 * The Redis store's connection: one node-redis client and its subscriber at
 * a time, each in a scope of its own. It connects (the client keeps
 * reconnecting a dropped socket), drops a connection whose commands go
 * unanswered and connects again, reads the transitions channel, and closes
 * within the command timeout. What a lost or regained connection means to
 * the circuits is the store's business: the connection only tells it.
 *
 * @internal
 */
import type * as NodeRedisModule from "@effect/platform-node/NodeRedis"
import { Cause, Context, Deferred, Effect, Exit, Fiber, Layer, Queue, References, Scope } from "effect"
import * as Redis from "effect/persistence/Redis"
import { ConfigIssue } from "../ConfigIssue.js"
import { PolicyConfigError } from "../PolicyConfigError.js"
import type { RedisCommands } from "./redisCommands.js"
import { timedOut } from "./redisErrors.js"

/**
 * What the connection needs of the store that owns it.
 *
 * @internal
 */
export interface ConnectionOwner {
  readonly url: string
  readonly channel: string
  readonly commandTimeoutMillis: number
  /** The store's commands, sent on the current connection. */
  readonly commands: RedisCommands
  /** Redis became unreachable. */
  readonly lost: (cause: unknown) => Effect.Effect<void>
  /** Redis answers again (or for the first time). */
  readonly regained: Effect.Effect<void>
  /** A message on the transitions channel. */
  readonly receive: (message: string) => Effect.Effect<void>
}

/** One connection to Redis: the command client and its subscriber, closed with `scope`. */
interface Connection {
  readonly scope: Scope.Closeable
  client: NodeRedisModule.NodeRedis["Service"]["client"] | undefined
}

const reconnectDelay = (retries: number): number =>
  Math.min(50 * 2 ** Math.min(retries, 10), 2000) + Math.floor(Math.random() * 100)

/**
 * The store's connection to Redis.
 *
 * @internal
 */
export class RedisConnection {
  /** The current connection; none while it is replaced. */
  private current: Connection | undefined = undefined
  /** Drops the current connection and makes a new one; set by `start`. */
  private replace: ((cause: unknown) => Effect.Effect<void>) | undefined = undefined
  private replacing = false
  private closed = false

  constructor(
    private readonly owner: ConnectionOwner,
    private readonly forkRoot: <A, E>(effect: Effect.Effect<A, E>) => Fiber.Fiber<A, E>
  ) {}

  /**
   * A command got no answer within the command timeout, and nothing else
   * answered since it was sent: Redis hangs, or the connection died without
   * the socket noticing (a network that drops packets). The client would
   * wait on it for ever, so the connection is dropped, subscriber included,
   * and made again.
   */
  silent(): void {
    const replace = this.replace
    if (replace === undefined || this.replacing || this.closed) return
    this.replacing = true
    this.forkRoot(Effect.ensuring(
      replace(timedOut(this.owner.commandTimeoutMillis)),
      Effect.sync(() => {
        this.replacing = false
      })
    ))
  }

  /**
   * Starts connecting in the background: connections live under
   * `connections`, the fibers in `scope`. The effect it returns waits for
   * the first attempt to succeed or fail.
   */
  start(
    connections: Scope.Scope,
    scope: Scope.Scope
  ): Effect.Effect<Effect.Effect<void>, PolicyConfigError> {
    return Effect.gen({ self: this }, function*() {
      const NodeRedis = yield* loadNodeRedis
      const owner = this.owner
      const firstAttempt = yield* Deferred.make<void>()
      const runFork = this.forkRoot
      yield* Scope.addFinalizer(
        connections,
        Effect.sync(() => {
          this.closed = true
        })
      )
      const options = {
        url: owner.url,
        // Commands fail at once while the connection is down, instead of queueing until it returns,
        // and one that waits to be sent longer than the command timeout fails: either way, an outage.
        disableOfflineQueue: true,
        commandOptions: { timeout: owner.commandTimeoutMillis },
        // Detects a connection that died silently, so that the client reconnects.
        pingInterval: 5_000,
        socket: {
          reconnectStrategy: (retries: number, cause: Error) => {
            // The subscriber's connection reconnects with the same strategy: while the command
            // connection stands, its trouble is not an outage (a resync covers the lost messages).
            const commandClient = this.current?.client
            if (commandClient === undefined || !commandClient.isReady) {
              runFork(Effect.andThen(owner.lost(cause), Deferred.done(firstAttempt, Exit.void)))
            }
            return reconnectDelay(retries)
          }
        }
      }
      const connect = Effect.gen({ self: this }, function*() {
        const connectionScope = yield* Scope.fork(connections)
        const connection: Connection = { scope: connectionScope, client: undefined }
        this.current = connection
        // NodeRedis logs every reconnection attempt; the store logs once per outage instead.
        const context = yield* Layer.buildWithScope(NodeRedis.layer(options), connectionScope).pipe(
          Effect.provideService(References.MinimumLogLevel, "Error")
        )
        const redis = Context.get(context, Redis.Redis)
        const client = Context.get(context, NodeRedis.NodeRedis).client
        connection.client = client
        // Closing waits for the commands in flight, at most the command timeout: a dead connection
        // would keep it waiting for ever.
        yield* Scope.addFinalizer(
          connectionScope,
          Effect.promise(() => closeWithin(client, owner.commandTimeoutMillis))
        )
        owner.commands.use(redis)
        client.on("ready", () => runFork(Effect.forkIn(owner.regained, scope)))
        const messages = yield* redis.subscribe(owner.channel).pipe(Scope.provide(connectionScope))
        yield* Effect.forkIn(this.listen(messages, connection), connectionScope)
        yield* owner.regained
        yield* Deferred.done(firstAttempt, Exit.void)
      })
      const failed = (cause: Cause.Cause<unknown>) =>
        Effect.andThen(owner.lost(Cause.squash(cause)), Deferred.done(firstAttempt, Exit.void))
      const connectOrFail = Effect.catchCause(connect, failed)
      this.replace = (cause) =>
        Effect.suspend(() => {
          const old = this.current
          this.current = undefined
          owner.commands.drop()
          // The commands in flight fail at once, and the socket closes, subscriber included.
          old?.client?.destroy()
          return Effect.andThen(
            Effect.andThen(owner.lost(cause), old === undefined ? Effect.void : Scope.close(old.scope, Exit.void)),
            connectOrFail
          )
        }).pipe(Effect.forkIn(scope), Effect.flatMap(Fiber.join))
      yield* Effect.forkIn(connectOrFail, scope)
      return Deferred.await(firstAttempt)
    })
  }

  private listen(
    messages: Queue.Dequeue<Redis.RedisMessage, Redis.RedisError>,
    connection: Connection
  ): Effect.Effect<void> {
    return Effect.forever(
      Effect.flatMap(Queue.take(messages), (message) => this.owner.receive(message.message))
    ).pipe(Effect.catchCause((cause) =>
      // The subscription of a connection that was dropped ends with it: no news.
      this.current === connection ? this.owner.lost(Cause.squash(cause)) : Effect.void
    ))
  }
}

/**
 * Closes a client once the commands in flight are answered, or after
 * `millis` at the latest, dropping what is still in flight.
 */
const closeWithin = (client: NodeRedisModule.NodeRedis["Service"]["client"], millis: number): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.destroy()
      resolve()
    }, millis)
    const done = () => {
      clearTimeout(timer)
      resolve()
    }
    try {
      client.close().then(done, done)
    } catch {
      // Closed already (the connection was dropped).
      done()
    }
  })

/**
 * The Redis client is loaded when a store starts, so that programs that keep
 * their circuits in memory need neither `@effect/platform-node` nor `redis`.
 */
const loadNodeRedis: Effect.Effect<typeof NodeRedisModule, PolicyConfigError> = Effect.tryPromise({
  try: () => import("@effect/platform-node/NodeRedis"),
  catch: (cause) =>
    new PolicyConfigError({
      kind: "RedisCircuitStore",
      policy: "redis",
      issues: [
        new ConfigIssue({
          field: "(dependencies)",
          rule: `needs the packages @effect/platform-node and redis: npm install @effect/platform-node redis (${
            cause instanceof Error ? cause.message : String(cause)
          })`
        })
      ]
    })
})
