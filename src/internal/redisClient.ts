/**
 * The Redis circuit store's client: from validated connection settings, the
 * `effect/persistence` `Redis` service the store runs its commands on, for
 * one server or a Redis Cluster, over TCP or TLS, with or without a user and
 * password.
 *
 * - One server: `@effect/platform-node`'s `NodeRedis` layer, on node-redis's
 *   `createClient`.
 * - A cluster: `internal/redisCluster.ts`, on node-redis's `createCluster`
 *   (`NodeRedis` has no cluster layer).
 *
 * Either way the client is handed a host, a port, a user and a password,
 * never a URL, so no client error can echo a password; commands that cannot
 * be sent fail at once instead of queueing (an outage, for the store); and
 * the client reconnects on its own with a capped backoff, telling the store
 * when the connection its commands use is lost and when it is ready again.
 *
 * The packages are loaded when a store starts, so that programs that keep
 * their circuits in memory need neither `@effect/platform-node` nor `redis`.
 *
 * @internal
 */
import type * as NodeRedisModule from "@effect/platform-node/NodeRedis"
import { Context, Effect, Exit, Fiber, Layer, Redacted, References, Scope } from "effect"
import * as Redis from "effect/persistence/Redis"
import type { createCluster as CreateCluster } from "redis"
import { ConfigIssue } from "../ConfigIssue.js"
import { PolicyConfigError } from "../PolicyConfigError.js"
import * as RedisCluster from "./redisCluster.js"
import type { RedisConnectionSettings } from "./redisConnectionOptions.js"

/** A connection to Redis, as the store uses it. @internal */
export interface RedisConnection {
  /** The `Redis` service: the store subscribes through it. */
  readonly redis: Redis.Redis["Service"]
  /**
   * Sends one command and resolves with its raw reply: the store's own
   * commands take this path, which costs no fiber and no script cache
   * lookup per command (strict mode sends one per call).
   */
  readonly send: (args: ReadonlyArray<string>) => Promise<unknown>
  /**
   * A `send` per node that holds keys (the server; a cluster's masters), for
   * the commands that read one node's keyspace (`SCAN`).
   */
  readonly nodes: () => ReadonlyArray<(args: ReadonlyArray<string>) => Promise<unknown>>
  /** Calls `f` each time a connection to Redis becomes ready (after a reconnection, say). */
  readonly onReady: (f: () => void) => void
  /**
   * Drops the connection at once: commands in flight fail, sockets close,
   * nothing is waited for (a connection whose commands go unanswered).
   */
  readonly destroy: () => void
}

/** What the store hears from the client. @internal */
export interface ConnectionHooks {
  /**
   * The connection commands use is down, or could not be made: called on
   * every attempt to reconnect. A subscriber's connection that drops while
   * commands still go through is no outage, and is not reported.
   */
  readonly onLost: (cause: unknown) => void
}

/**
 * Connects, in the current scope, and waits until the connection is ready:
 * the client keeps trying meanwhile, calling `onLost` at each failure.
 *
 * @internal
 */
export type Connect = (hooks: ConnectionHooks) => Effect.Effect<RedisConnection, Redis.RedisError, Scope.Scope>

/** The delay before the next reconnection: exponential from 50 ms, capped at 2 s, with jitter. */
const reconnectDelay = (retries: number): number =>
  Math.min(50 * 2 ** Math.min(retries, 10), 2000) + Math.floor(Math.random() * 100)

/** How often an idle connection is checked with a PING, so that one that died silently is replaced. */
const pingIntervalMillis = 5_000

/** How long a cluster node may fail to reconnect before the client reads the cluster's slots again. */
const topologyRefreshMillis = 1_000

type ReconnectStrategy = (retries: number, cause: Error) => number

/** The node-redis options every connection shares: credentials, TLS, timeouts. */
const commonOptions = (
  settings: RedisConnectionSettings,
  reconnectStrategy: ReconnectStrategy
) => ({
  ...(settings.username === undefined ? {} : { username: settings.username }),
  ...(settings.password === undefined ? {} : { password: Redacted.value(settings.password) }),
  // Commands fail at once while the connection is down, instead of queueing until it returns: an
  // outage, for the store.
  disableOfflineQueue: true,
  // No per-command timer in the client: the store's watchdog (`RedisCommands`) bounds every wait with
  // one timer for all commands in flight. node-redis would otherwise arm an `AbortSignal.timeout` per
  // command (5 s by default), whose timer fires and builds an error even after the reply came.
  commandOptions: { timeout: 0 },
  // Detects a connection that died silently, so that the client reconnects.
  pingInterval: pingIntervalMillis,
  socket: settings.tls === undefined
    ? { reconnectStrategy }
    : {
      tls: true as const,
      reconnectStrategy,
      ...(settings.tls.ca === undefined ? {} : { ca: settings.tls.ca }),
      ...(settings.tls.cert === undefined ? {} : { cert: settings.tls.cert }),
      ...(settings.tls.key === undefined ? {} : { key: settings.tls.key })
    }
})

/** `NodeRedis`'s own reconnection warnings are left out: the store logs once per outage instead. */
const quietly = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, References.MinimumLogLevel, "Error")

const single = (
  NodeRedis: typeof NodeRedisModule,
  settings: RedisConnectionSettings,
  commandTimeoutMillis: number
): Connect =>
(hooks) =>
  Effect.gen(function*() {
    let client: NodeRedisModule.NodeRedis["Service"]["client"] | undefined = undefined
    const common = commonOptions(settings, (retries, cause) => {
      // The subscriber's connection reconnects with the same strategy: while the command
      // connection stands, its trouble is not an outage (a resync covers the lost messages).
      if (client === undefined || !client.isReady) hooks.onLost(cause)
      return reconnectDelay(retries)
    })
    const node = settings.nodes[0]!
    // NodeRedis closes its client gracefully, waiting for every reply in flight: from a server
    // that hangs, or from a handshake cut short (a TLS server that wants a client certificate)
    // none comes, and the store's scope would never close. So the client lives in a scope of its
    // own, built in a fiber of its own: a caller that stops waiting for the connection does not
    // wait for its close either, and a close gets the command timeout, then the client is dropped.
    // (Closing stops the client's reconnection attempts at once; only its wait for replies lingers.)
    const own = yield* Scope.make()
    yield* Effect.addFinalizer(() =>
      Effect.andThen(
        closeWithin(own, commandTimeoutMillis),
        Effect.sync(() => {
          if (client?.isOpen === true) client.destroy()
        })
      )
    )
    const building = yield* Effect.forkDetach(quietly(Layer.buildWithScope(
      NodeRedis.layer({
        ...common,
        ...(settings.database === 0 ? {} : { database: settings.database }),
        socket: { ...common.socket, host: node.host, port: node.port }
      }),
      own
    )))
    const context = yield* Fiber.join(building).pipe(
      Effect.onInterrupt(() => Effect.sync(() => building.interruptUnsafe()))
    )
    client = Context.get(context, NodeRedis.NodeRedis).client
    const ready = client
    return {
      redis: Context.get(context, Redis.Redis),
      send: (args) => ready.sendCommand(args as Array<string>),
      nodes: () => [(args) => ready.sendCommand(args as Array<string>)],
      onReady: (f) => void ready.on("ready", f),
      destroy: () => {
        if (ready.isOpen) ready.destroy()
      }
    }
  })

/** Closes `scope`, waiting at most `millis` in real time; a close that takes longer goes on alone. */
const closeWithin = (scope: Scope.Closeable, millis: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    const closing = yield* Effect.forkDetach(Scope.close(scope, Exit.void))
    yield* Effect.raceFirst(Effect.asVoid(Fiber.await(closing)), pause(millis))
  })

/** Waits `millis` in real time (a test clock must not hold a reconnection back); interruptible. */
const pause = (millis: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(timer))
  })

const cluster = (
  createCluster: typeof CreateCluster,
  settings: RedisConnectionSettings,
  commandTimeoutMillis: number
): Connect =>
(hooks) => {
  let current: RedisCluster.NodeRedisCluster | undefined
  // A node's connection drops: an outage when commands can no longer reach every master (the
  // subscriber's own connection, on any node, is not one).
  const commandsReachEveryMaster = (): boolean =>
    current !== undefined && current.isReady &&
    current.masters.every((master) => master.client?.isReady === true)
  const common = commonOptions(settings, (retries, cause) => {
    if (!commandsReachEveryMaster()) hooks.onLost(cause)
    return reconnectDelay(retries)
  })
  const options: RedisCluster.NodeRedisClusterOptions = {
    rootNodes: settings.nodes.map((node) => ({ socket: { ...common.socket, host: node.host, port: node.port } })),
    defaults: common,
    commandOptions: common.commandOptions,
    // A node that keeps reconnecting for a second may have left the cluster (a replica took
    // over): ask the cluster for its slots again then, not after node-redis's default 5 seconds.
    topologyRefreshOnReconnectionAttemptStrategy: topologyRefreshMillis
  }
  // Discovery asks each seed node once: while none answers, try again after a backoff, as the
  // client does for a connection that dropped.
  return Effect.gen(function*() {
    const scope = yield* Effect.scope
    for (let retries = 0;; retries++) {
      const attemptScope = yield* Scope.fork(scope)
      const exit = yield* Effect.exit(
        RedisCluster.make(createCluster, options, commandTimeoutMillis).pipe(Scope.provide(attemptScope))
      )
      if (Exit.isSuccess(exit)) {
        const connection = exit.value
        current = connection.cluster
        return {
          redis: connection.redis,
          send: connection.send,
          nodes: () =>
            connection.cluster.masters.map((master) => (args: ReadonlyArray<string>) =>
              connection.cluster.nodeClient(master).then((client) => client.sendCommand(args as Array<string>))
            ),
          onReady: (f) => void connection.cluster.on("node-ready", f),
          destroy: () => {
            if (connection.cluster.isOpen) connection.cluster.destroy()
          }
        } satisfies RedisConnection
      }
      yield* Scope.close(attemptScope, exit)
      const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
      hooks.onLost(failure?._tag === "Fail" ? failure.error : new Error("the cluster could not be reached"))
      yield* pause(reconnectDelay(retries))
    }
  })
}

const dependencyError = (packages: string, cause: unknown) =>
  new PolicyConfigError({
    kind: "RedisCircuitStore",
    policy: "redis",
    issues: [
      new ConfigIssue({
        field: "(dependencies)",
        rule: `needs the packages ${packages}: npm install ${packages} (${
          cause instanceof Error ? cause.message : String(cause)
        })`
      })
    ]
  })

/**
 * Loads the client the settings need (`@effect/platform-node`'s `NodeRedis`
 * for one server, `redis` for a cluster), or fails with a
 * `PolicyConfigError` naming the packages to install.
 *
 * @internal
 */
export const load = (
  settings: RedisConnectionSettings,
  commandTimeoutMillis: number
): Effect.Effect<Connect, PolicyConfigError> =>
  settings.topology === "cluster"
    ? Effect.tryPromise({
      try: () => import("redis"),
      catch: (cause) => dependencyError("redis", cause)
    }).pipe(Effect.map((redis) => cluster(redis.createCluster, settings, commandTimeoutMillis)))
    : Effect.tryPromise({
      try: () => import("@effect/platform-node/NodeRedis"),
      catch: (cause) => dependencyError("@effect/platform-node and redis", cause)
    }).pipe(Effect.map((NodeRedis) => single(NodeRedis, settings, commandTimeoutMillis)))
