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
import { Cause, Deferred, Effect, Exit, Fiber, Queue, Scope } from "effect"
import type * as Redis from "effect/persistence/Redis"
import type { PolicyConfigError } from "../PolicyConfigError.js"
import * as RedisClient from "./redisClient.js"
import type { RedisCommands } from "./redisCommands.js"
import type { RedisConnectionSettings } from "./redisConnectionOptions.js"
import { timedOut } from "./redisErrors.js"

/**
 * What the connection needs of the store that owns it.
 *
 * @internal
 */
export interface ConnectionOwner {
  /** Where to connect: one server or a cluster, credentials, TLS (`internal/redisConnectionOptions.ts`). */
  readonly connection: RedisConnectionSettings
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

/** One connection to Redis: the client (`internal/redisClient.ts`) and its subscriber, closed with `scope`. */
interface Connection {
  readonly scope: Scope.Closeable
  client: RedisClient.RedisConnection | undefined
}

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
      const connectClient = yield* RedisClient.load(this.owner.connection, this.owner.commandTimeoutMillis)
      const owner = this.owner
      const firstAttempt = yield* Deferred.make<void>()
      const runFork = this.forkRoot
      yield* Scope.addFinalizer(
        connections,
        Effect.sync(() => {
          this.closed = true
        })
      )
      const connect = Effect.gen({ self: this }, function*() {
        const connectionScope = yield* Scope.fork(connections)
        const connection: Connection = { scope: connectionScope, client: undefined }
        this.current = connection
        // The client keeps trying until it connects, and says when the connection its commands use is
        // down; it closes within the command timeout with the scope (a dead connection would keep a
        // graceful close waiting for ever).
        const client = yield* connectClient({
          onLost: (cause) => runFork(Effect.andThen(owner.lost(cause), Deferred.done(firstAttempt, Exit.void)))
        }).pipe(Scope.provide(connectionScope))
        connection.client = client
        owner.commands.use(client)
        client.onReady(() => runFork(Effect.forkIn(owner.regained, scope)))
        const messages = yield* client.redis.subscribe(owner.channel).pipe(Scope.provide(connectionScope))
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
