/**
 * `effect/persistence`'s `Redis` service over a Redis Cluster, on
 * node-redis's cluster client (`createCluster`).
 *
 * `@effect/platform-node`'s `NodeRedis` builds its `Redis` service on
 * `createClient`, one server; it has no cluster layer. This module builds the
 * same service with `Redis.make` over `createCluster`, which discovers the
 * cluster's nodes, routes each command to the node that owns its key's slot
 * and follows `MOVED` and `ASK` redirections when slots move or a replica
 * takes over.
 *
 * What a cluster changes for the `Redis` service:
 *
 * - `send` routes a script (`EVAL`, `EVALSHA`, `FCALL`) by its first key;
 *   node-redis routes other commands by its own command table.
 * - `SCRIPT LOAD` runs on every master: `Redis.eval` loads a script once and
 *   then calls it by its hash, on whichever master owns the keys. A master
 *   that lacks it (a replica promoted since) answers `NOSCRIPT`, and
 *   `Redis.eval` loads it again, everywhere.
 * - `subscribe` uses classic pub/sub, which a cluster broadcasts to every
 *   node: one subscription on any node hears what is published on any other.
 *   node-redis moves it to another node when its node leaves the cluster.
 * - `reserve` (a dedicated connection for blocking commands) is refused:
 *   nothing that uses this module needs one.
 *
 * `redis` is imported for its types only: the caller hands `createCluster`
 * in, so that programs that never use Redis need no `redis` package.
 *
 * @internal
 */
import { Effect } from "effect"
import * as Redis from "effect/persistence/Redis"
import type { createCluster as CreateCluster } from "redis"

/** A node-redis cluster client. @internal */
export type NodeRedisCluster = ReturnType<typeof CreateCluster>

/** The options of a node-redis cluster client. @internal */
export type NodeRedisClusterOptions = Parameters<typeof CreateCluster>[0]

/** The cluster client, and the `Redis` service over it. @internal */
export interface RedisClusterConnection {
  readonly cluster: NodeRedisCluster
  readonly redis: Redis.Redis["Service"]
  /** Sends one command (`[command, ...args]`), routed as `redis.send` routes it, and resolves with its raw reply. */
  readonly send: (command: ReadonlyArray<string>) => Promise<unknown>
}

/** Commands whose arguments are `<script or name> <numkeys> <key>...`: routed by their first key. */
const keyedByScript = new Set(["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"])

/** The key whose slot decides where `command` runs; undefined: node-redis decides. */
const routingKey = (command: string, args: ReadonlyArray<string>): string | undefined => {
  if (!keyedByScript.has(command.toUpperCase())) return undefined
  return Number(args[1]) > 0 ? args[2] : undefined
}

const isScriptLoad = (command: string, args: ReadonlyArray<string>): boolean =>
  command.toUpperCase() === "SCRIPT" && args[0]?.toUpperCase() === "LOAD"

/** Loads a script on every master, and answers its hash. */
const loadEverywhere = async (cluster: NodeRedisCluster, args: ReadonlyArray<string>): Promise<unknown> => {
  const masters = cluster.masters
  if (masters.length === 0) throw new Error("the cluster has no master node to load the script on")
  const hashes = await Promise.all(
    masters.map(async (master) => (await cluster.nodeClient(master)).sendCommand(["SCRIPT", ...args]))
  )
  return hashes[0]
}

const notReserved = new Redis.RedisError({
  cause: new Error("a Redis Cluster connection offers no reserved connections")
})

/**
 * Closes the client: waits for the replies in flight, at most `millis` (real
 * time: a node that hangs must not hold a scope open), then drops the
 * connections.
 */
const closeWithin = (cluster: NodeRedisCluster, millis: number): Effect.Effect<void> =>
  Effect.promise(() =>
    new Promise<void>((resolve) => {
      if (!cluster.isOpen) return resolve()
      const timer = setTimeout(() => {
        if (cluster.isOpen) cluster.destroy()
        resolve()
      }, millis)
      cluster.close().catch(() => {
        if (cluster.isOpen) cluster.destroy()
      }).finally(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  )

/**
 * Connects a cluster client made with `options` (it discovers the cluster
 * from `options.rootNodes`), and builds the `Redis` service over it. Fails
 * when no seed node answers; closes the client with the scope.
 *
 * @internal
 */
export const make = Effect.fnUntraced(function*(
  createCluster: typeof CreateCluster,
  options: NodeRedisClusterOptions,
  closeTimeoutMillis: number
) {
  const cluster = yield* Effect.acquireRelease(
    Effect.sync(() => {
      const cluster = createCluster(options)
      // node-redis throws `error` events nobody listens to, which would crash the process on a
      // transient fault; what matters to the caller fails its commands as a `RedisError`.
      cluster.on("error", () => {})
      return cluster
    }),
    (cluster) => closeWithin(cluster, closeTimeoutMillis)
  )
  yield* Effect.tryPromise({
    try: () => cluster.connect(),
    catch: (cause) => new Redis.RedisError({ cause })
  })
  const sendRaw = (command: ReadonlyArray<string>): Promise<unknown> => {
    const [name = "", ...args] = command
    return isScriptLoad(name, args)
      ? loadEverywhere(cluster, args)
      : cluster.sendCommand(routingKey(name, args), false, command as Array<string>)
  }
  const send = <A = unknown>(command: string, ...args: ReadonlyArray<string>): Effect.Effect<A, Redis.RedisError> =>
    Effect.tryPromise({
      try: () => sendRaw([command, ...args]) as Promise<A>,
      catch: (cause) => new Redis.RedisError({ cause })
    })
  const redis = yield* Redis.make({
    send,
    connect: Effect.fail(notReserved),
    subscribe: Effect.fnUntraced(function*(channel, onMessage) {
      const listener = (message: string | Buffer, channel: string | Buffer) =>
        onMessage({ channel: String(channel), message: String(message) })
      yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: () => cluster.subscribe(channel, listener),
          catch: (cause) => new Redis.RedisError({ cause })
        }),
        // Not awaited: a node that hangs must not hold the scope open.
        () => Effect.sync(() => void cluster.unsubscribe(channel, listener).catch(() => {}))
      )
      // node-redis keeps the subscription across reconnections and topology changes.
      return Effect.never
    })
  })
  return { cluster, redis, send: sendRaw } satisfies RedisClusterConnection
})
