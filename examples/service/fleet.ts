/**
 * The instances of the demo service. By default one instance, its circuits
 * in memory. With a Redis URL, several instances, each with a
 * `RedisCircuitStore` of its own (its own connections, its own local
 * circuits), sharing every circuit through Redis as separate processes
 * would: a trip decided from the fleet's merged window reaches them all.
 */
import type { Scope } from "effect"
import { Effect, Layer, Runtime, Schema } from "effect"
import type { CircuitBreakerConfigError, PolicyConfigError } from "effect-resilience"
import { RedisCircuitStore } from "effect-resilience"
import type { HttpServerError } from "effect/http"
import type { Instance } from "./instance.js"
import { startInstance } from "./instance.js"
import type { AdminToken } from "./operator.js"
import type { Upstreams } from "./upstreams.js"

/** Redis could not be reached at the URL given. */
export class RedisUnreachable extends Schema.TaggedError<RedisUnreachable>()("RedisUnreachable", {
  /** The URL, its password hidden. */
  url: Schema.String
}) {
  /** The demo prints it itself, in one line. */
  override readonly [Runtime.errorReported] = false
  override get message() {
    return `REDIS_URL is ${this.url}, but no Redis answers there: start one (redis-server) or unset REDIS_URL ` +
      "to keep the circuits in memory"
  }
}

/** `url` with its password, if any, replaced by `***`. */
export const hidePassword = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password === "") return url
    parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(a value that is not a URL)"
  }
}

/** Where the circuits live, and how many instances share them. */
export type Store =
  | { readonly _tag: "Memory" }
  | {
    readonly _tag: "Redis"
    readonly url: string
    readonly instances: number
    /** Prefix of this run's keys, so that runs never see each other's circuits. */
    readonly prefix: string
  }

/** How to start the fleet. */
export interface FleetOptions {
  readonly store: Store
  readonly upstreams: Upstreams
  /** The first instance's port; the next ones try the following ports. */
  readonly port: number
  readonly pace: number
  readonly admin: AdminToken
}

type FleetError = PolicyConfigError | CircuitBreakerConfigError | HttpServerError.ServeError | RedisUnreachable

/** Starts one instance under the Redis store at `url`, or fails if Redis does not answer. */
const redisInstance = (
  store: Extract<Store, { readonly _tag: "Redis" }>,
  options: FleetOptions,
  index: number
): Effect.Effect<Instance, FleetError, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      RedisCircuitStore.layer({ url: store.url, prefix: store.prefix, idleTimeToLive: "10 minutes" })
    )
    // The layer is ready once its first connection attempt succeeded or failed: this says which.
    const connected = yield* Effect.flatMap(RedisCircuitStore.RedisCircuitStore, (s) => s.connected).pipe(
      Effect.provide(context)
    )
    if (!connected) return yield* new RedisUnreachable({ url: hidePassword(store.url) })
    return yield* startInstance({ ...options, index, port: options.port === 0 ? 0 : options.port + index - 1 }).pipe(
      Effect.provide(context)
    )
  })

/** Starts the instances for the current scope. */
export const startFleet = (options: FleetOptions): Effect.Effect<ReadonlyArray<Instance>, FleetError, Scope.Scope> => {
  const store = options.store
  if (store._tag === "Memory") return Effect.map(startInstance({ ...options, index: 1 }), (instance) => [instance])
  return Effect.forEach(
    Array.from({ length: store.instances }, (_, i) => i + 1),
    (index) => redisInstance(store, options, index)
  )
}
