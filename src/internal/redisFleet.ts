/**
 * The Redis store's view of its whole fleet, beyond the circuits this
 * instance uses: every circuit under the key prefix (a bounded `SCAN` of
 * each node that holds keys, never `KEYS`, then each circuit hash read with
 * `HMGET` and decoded as the script's replies are), and how many store
 * instances are alive (each one renews its entry in a sorted set,
 * `<prefix>instances`, scored by when the entry expires).
 *
 * Whatever is under the prefix is untrusted: a key that is no circuit hash
 * of this store's format is skipped and counted, never an error.
 *
 * @internal
 */
import { Effect, Exit } from "effect"
import * as Redis from "effect/persistence/Redis"
import type { FleetCircuit, FleetCircuits } from "../RedisCircuitStore.js"
import type { RedisConnection } from "./redisClient.js"
import { circuitHashFields, decodeHash, fleetViewOf } from "./redisScript.js"
import type { RedisStore } from "./redisStore.js"
import { fleetSnapshot } from "./snapshotOf.js"

/** Keys asked of a node per `SCAN` call. */
const scanCount = 500

/** `SCAN` calls per listing at most, over every node: a keyspace of millions is not walked to the end. */
const maxScans = 1000

/** Circuit hashes read at once. */
const readConcurrency = 16

/** `text` as a glob pattern that matches only itself (`SCAN ... MATCH`). */
const globEscape = (text: string): string => text.replace(/[*?[\]\\]/g, "\\$&")

/** The sorted set of live store instances: member the store's origin, score when its entry expires. */
export const instancesKey = (prefix: string): string => `${prefix}instances`

/** How long an instance counts as alive after it last renewed its entry: three resync intervals. */
const liveMillis = (store: RedisStore): number => 3 * store.settings.resyncMillis

const unexpected = (what: string) => new Redis.RedisError({ cause: new Error(`unexpected ${what} reply`) })

/** Whether a command failed because Redis answered with an error (`WRONGTYPE`, `NOPERM`), not for want of an answer. */
const answeredWithError = (error: Redis.RedisError, code: string): boolean =>
  error.cause instanceof Error && error.cause.message.startsWith(code)

/**
 * Renews this instance's entry (and drops those that expired). Never an
 * outage: a Redis that refuses it (an ACL rule without the sorted-set
 * commands) is warned about once, and only the count of instances is lost.
 *
 * @internal
 */
export const heartbeat = (store: RedisStore): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (!store.up) return Effect.void
    const now = store.clock.currentTimeMillisUnsafe()
    const key = instancesKey(store.settings.prefix)
    const live = liveMillis(store)
    return Effect.all([
      store.commands.command(["ZADD", key, String(now + live), store.origin]),
      store.commands.command(["ZREMRANGEBYSCORE", key, "-inf", String(now)]),
      store.commands.command(["PEXPIRE", key, String(Math.max(live, store.settings.idleMillis))])
    ], { concurrency: "unbounded", discard: true }).pipe(
      Effect.catch((error) =>
        store.warnOnce(
          "instances",
          `Redis circuit store could not renew its entry in ${key}, so the fleet's count of instances is ` +
            `unknown (${error.cause instanceof Error ? error.cause.message.slice(0, 200) : "no answer"})`
        ) ?? Effect.void
      )
    )
  })

/**
 * This instance's entry goes at once, rather than when it expires (the
 * store is closing).
 *
 * @internal
 */
export const leave = (store: RedisStore): Effect.Effect<void> =>
  Effect.ignore(store.commands.command(["ZREM", instancesKey(store.settings.prefix), store.origin]))

/** The live instances: `null` when Redis would not count them (foreign data, an ACL rule without `ZCOUNT`). */
const countInstances = (store: RedisStore, now: number): Effect.Effect<number | null> =>
  store.commands.command(["ZCOUNT", instancesKey(store.settings.prefix), `(${now}`, "+inf"]).pipe(
    Effect.map((reply) => typeof reply === "number" && Number.isSafeInteger(reply) && reply >= 0 ? reply : null),
    Effect.orElseSucceed(() => null)
  )

/** One node's circuit keys, up to what is left of `limit` and of the scans. */
const scanNode = (
  node: RedisConnection["send"],
  store: RedisStore,
  pattern: string,
  found: Set<string>,
  limit: number,
  budget: { scans: number; complete: boolean }
): Effect.Effect<void, Redis.RedisError> =>
  Effect.gen(function*() {
    const prefix = store.settings.prefix
    let cursor = "0"
    do {
      if (found.size >= limit || budget.scans >= maxScans) {
        budget.complete = false
        return
      }
      budget.scans++
      const reply = yield* store.commands.command(["SCAN", cursor, "MATCH", pattern, "COUNT", String(scanCount)], node)
      if (
        !Array.isArray(reply) || reply.length !== 2 || typeof reply[0] !== "string" || !Array.isArray(reply[1])
      ) return yield* unexpected("SCAN")
      cursor = reply[0]
      for (const key of reply[1] as ReadonlyArray<unknown>) {
        if (typeof key !== "string" || !key.startsWith(`${prefix}{`) || !key.endsWith("}")) continue
        if (found.size >= limit) {
          if (!found.has(key)) budget.complete = false
          continue
        }
        found.add(key)
      }
    } while (cursor !== "0")
  })

/** A circuit hash, or `"skipped"` for data that is not one, or `undefined` for a key gone meanwhile. */
const readCircuit = (
  store: RedisStore,
  key: string,
  now: number
): Effect.Effect<FleetCircuit | "skipped" | undefined, Redis.RedisError> =>
  store.commands.command(["HMGET", key, ...circuitHashFields]).pipe(
    Effect.map((raw) => {
      if (Array.isArray(raw) && raw.every((field) => field === null)) return undefined
      const decoded = decodeHash(raw, now)
      if (Exit.isFailure(decoded)) return "skipped" as const
      const name = key.slice(store.settings.prefix.length + 1, -1)
      return { name, fleet: fleetSnapshot(fleetViewOf(decoded.value, now))! }
    }),
    Effect.catchIf((error) => answeredWithError(error, "WRONGTYPE"), () => Effect.succeed("skipped" as const))
  )

/**
 * Lists at most `limit` circuits of the fleet, by name.
 *
 * @internal
 */
export const listFleet = (store: RedisStore, limit: number): Effect.Effect<FleetCircuits, Redis.RedisError> =>
  Effect.gen(function*() {
    const now = store.clock.currentTimeMillisUnsafe()
    const nodes = store.commands.keyNodes()
    if (nodes.length === 0) return yield* new Redis.RedisError({ cause: new Error("not connected to Redis") })
    const pattern = `${globEscape(store.settings.prefix)}{*}`
    const found = new Set<string>()
    const budget = { scans: 0, complete: true }
    for (const node of nodes) yield* scanNode(node, store, pattern, found, limit, budget)
    const read = yield* Effect.forEach(found, (key) => readCircuit(store, key, now), {
      concurrency: readConcurrency
    })
    const circuits: Array<FleetCircuit> = []
    let skipped = 0
    for (const entry of read) {
      if (entry === "skipped") skipped++
      else if (entry !== undefined) circuits.push(entry)
    }
    circuits.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    return {
      circuits,
      skipped,
      complete: budget.complete,
      instances: yield* countInstances(store, now),
      readAt: now
    }
  })
