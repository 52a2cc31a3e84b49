/**
 * Circuits shared by every instance of a service, through Redis.
 *
 * With one layer, every breaker made under it shares its circuit with the
 * breakers of the same name in other processes that use the same Redis and
 * key prefix: a dependency that fails for the fleet trips the circuit of the
 * whole fleet, and when it comes back, half-open probes are counted
 * fleet-wide.
 *
 * Two modes:
 *
 * - `"shared"` (the default): a closed circuit admits calls locally, with no
 *   Redis round trip. Outcomes are counted locally and flushed every
 *   `flushInterval`; Redis merges the fleet's windows, decides trips, and
 *   publishes each transition to every instance. Half-open probes are granted
 *   by a Redis lease with a fencing token, so at most `halfOpenPermits` run
 *   fleet-wide, and a probe whose instance dies gives its lease back when it
 *   expires.
 * - `"strict"`: every admission and every outcome is decided atomically in
 *   Redis by one Lua script, so every instance sees exactly one circuit, at
 *   the price of one awaited round trip per call (its outcome rides in the
 *   circuit's next script call; callers arriving together share one).
 *
 * When Redis cannot be reached (at start, or later), breakers keep protecting
 * with their local circuits (`onUnavailable: "allow"`, the default) or reject
 * every call (`"reject"`), log once per outage, and catch up with the fleet
 * when Redis returns. Data under the key prefix that this store did not write
 * is reported and treated as absent.
 *
 * @since 0.1.0
 */
import type { Stream } from "effect"
import { Clock, Context, Duration, Effect, Layer, Result, Schema, SubscriptionRef } from "effect"
import type * as Redis from "effect/persistence/Redis"
import type { FleetSnapshot } from "./CircuitBreakerSnapshot.js"
import { CircuitStore } from "./CircuitStore.js"
import { ConfigIssue } from "./ConfigIssue.js"
import { readVariable, renameIssues } from "./internal/configFromEnv.js"
import type { CheckRelations } from "./internal/options.js"
import { decodeOptions } from "./internal/options.js"
import {
  ClusterOption,
  connectionRelations,
  connectionSettings,
  TlsOption,
  UrlOption
} from "./internal/redisConnectionOptions.js"
import { heartbeat, listFleet } from "./internal/redisFleet.js"
import type { RedisStoreSettings } from "./internal/redisStore.js"
import { RedisStore } from "./internal/redisStore.js"
import { durationInput } from "./internal/schemas.js"
import { unknownVariables } from "./internal/unknownVariables.js"
import { maxCommandTimeout, maxPrefixLength } from "./Limits.js"
import { PolicyConfigError } from "./PolicyConfigError.js"

/**
 * Options of the Redis circuit store. Every field has a default. Every
 * duration is from 1 millisecond to `Limits.maxDuration` (about 24.8 days)
 * unless its own range says less, given as a `Duration.Input` or as text
 * (`"100ms"`, `"PT1S"`).
 *
 * @example
 * ```ts
 * import type { RedisCircuitStore } from "effect-resilience"
 *
 * const options: RedisCircuitStore.RedisCircuitStoreOptions = {
 *   url: "redis://redis.internal:6379",
 *   mode: "shared",
 *   flushInterval: "100 millis"
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface RedisCircuitStoreOptions {
  /**
   * The Redis server's URL (default `redis://localhost:6379`):
   * `redis://[user[:password]@]host[:port][/database]`, or `rediss://` for
   * TLS; a user and password must be percent-encoded. At most
   * `Limits.maxRedisUrlLength` (4,096) characters. Its password never
   * appears in a log line or an error. Not with `cluster`.
   *
   * @example
   * ```ts
   * import { RedisCircuitStore } from "effect-resilience"
   *
   * // An ACL user that may only touch the store's keys and channel, over TLS.
   * const Store = RedisCircuitStore.layer({ url: "rediss://circuits:s3cret@redis.internal:6380" })
   * ```
   */
  readonly url?: string | undefined
  /**
   * A Redis Cluster instead of one server: the URLs of some of its nodes,
   * 1 to `Limits.maxClusterNodes` (64), from which the client discovers the
   * rest, and follows slots that move and replicas that take over. Every
   * node is reached the same way: the URLs must agree on `redis://` or
   * `rediss://` and on the user and password, and select no database. Not
   * with `url`.
   *
   * @example
   * ```ts
   * import { RedisCircuitStore } from "effect-resilience"
   *
   * const Store = RedisCircuitStore.layer({
   *   cluster: { nodes: ["redis://10.0.0.1:6379", "redis://10.0.0.2:6379", "redis://10.0.0.3:6379"] }
   * })
   * ```
   */
  readonly cluster?: { readonly nodes: ReadonlyArray<string> } | undefined
  /**
   * TLS options for `rediss://` URLs, as PEM texts (each at most
   * `Limits.maxPemLength`, 1 MiB): `ca`, the certificate authorities to
   * trust instead of Node's own (a private CA); `cert` and `key`, a client
   * certificate, for a server that asks for one (`tls-auth-clients`).
   * Without `tls`, a `rediss://` URL trusts Node's certificate authorities.
   *
   * @example
   * ```ts
   * import { readFileSync } from "node:fs"
   * import { RedisCircuitStore } from "effect-resilience"
   *
   * const Store = RedisCircuitStore.layer({
   *   url: "rediss://redis.internal:6380",
   *   tls: { ca: readFileSync("/etc/redis/ca.pem", "utf8") }
   * })
   * ```
   */
  readonly tls?: {
    readonly ca?: string | undefined
    readonly cert?: string | undefined
    readonly key?: string | undefined
  } | undefined
  /**
   * Prefix of every key and of the transitions channel: 1 to
   * `Limits.maxPrefixLength` (256) characters (default `"effect-resilience:circuit:"`).
   */
  readonly prefix?: string | undefined
  /** `"shared"` (default) or `"strict"`: see the module's documentation. */
  readonly mode?: "shared" | "strict" | undefined
  /**
   * How often counted outcomes are sent to Redis in shared mode, and how
   * often at most a circuit is read for messages on the channel (default
   * 100 ms; 1 ms to `Limits.maxDuration`).
   */
  readonly flushInterval?: Duration.Input | undefined
  /**
   * How often circuits in use re-read the fleet's state, in case a message
   * was lost (default 1 second; 1 ms to `Limits.maxDuration`).
   */
  readonly resyncInterval?: Duration.Input | undefined
  /**
   * How long Redis keeps a circuit no instance touched (default 1 hour; at
   * least twice `resyncInterval`, at most `Limits.maxDuration`).
   */
  readonly idleTimeToLive?: Duration.Input | undefined
  /**
   * How long a half-open probe holds its permit before it is given back
   * (default 30 seconds; 1 ms to `Limits.maxDuration`).
   */
  readonly probeLease?: Duration.Input | undefined
  /** What calls do while Redis is unreachable: `"allow"` (local circuit decides, default) or `"reject"`. */
  readonly onUnavailable?: "allow" | "reject" | undefined
  /**
   * How long a Redis command may take before Redis counts as unreachable, in
   * real time: a caller waits for Redis at most this long (default 1 second;
   * 1 ms to `Limits.maxCommandTimeout`, 60 seconds).
   */
  readonly commandTimeout?: Duration.Input | undefined
}

const maxCommandTimeoutMillis = Duration.toMillis(maxCommandTimeout)

const OptionsSchema = Schema.Struct({
  url: Schema.optional(UrlOption),
  cluster: Schema.optional(ClusterOption),
  tls: Schema.optional(TlsOption),
  prefix: Schema.optional(Schema.String.check(
    Schema.makeFilter((prefix: string) => prefix.length >= 1 && prefix.length <= maxPrefixLength, {
      expected: `a string of 1 to ${maxPrefixLength} characters`
    })
  )),
  mode: Schema.optional(Schema.Literals(["shared", "strict"])),
  flushInterval: Schema.optional(durationInput({ allowZero: false })),
  resyncInterval: Schema.optional(durationInput({ allowZero: false })),
  idleTimeToLive: Schema.optional(durationInput({ allowZero: false })),
  probeLease: Schema.optional(durationInput({ allowZero: false })),
  onUnavailable: Schema.optional(Schema.Literals(["allow", "reject"])),
  commandTimeout: Schema.optional(
    durationInput({ allowZero: false }).check(
      Schema.makeFilter((timeout: Duration.Duration) => Duration.toMillis(timeout) <= maxCommandTimeoutMillis, {
        expected: `at most ${maxCommandTimeoutMillis} milliseconds`,
        message: `must be at most ${maxCommandTimeoutMillis} milliseconds (Limits.maxCommandTimeout): ` +
          "a caller waits for Redis at most this long"
      })
    )
  )
})

const wholeMillis = (duration: Duration.Duration | undefined, fallback: number): number =>
  duration === undefined ? fallback : Math.max(1, Math.ceil(Duration.toMillis(duration)))

/**
 * Validates store options: a `PolicyConfigError` lists every field that is
 * wrong and why.
 *
 * @internal
 */
export const decode = (
  options: RedisCircuitStoreOptions | undefined
): Effect.Effect<RedisStoreSettings, PolicyConfigError> =>
  Effect.suspend(() => {
    const decoded = decodeOptions(OptionsSchema, options, "Redis circuit store option", "(options)", checkRelations)
    if (Result.isFailure(decoded)) {
      return Effect.fail(
        new PolicyConfigError({
          kind: "RedisCircuitStore",
          policy: "redis",
          issues: decoded.failure as [ConfigIssue, ...Array<ConfigIssue>]
        })
      )
    }
    const o = decoded.success
    return Effect.succeed<RedisStoreSettings>({
      connection: connectionSettings(o),
      prefix: o.prefix ?? "effect-resilience:circuit:",
      mode: o.mode ?? "shared",
      flushMillis: wholeMillis(o.flushInterval, defaultMillis.flushInterval),
      resyncMillis: wholeMillis(o.resyncInterval, defaultMillis.resyncInterval),
      idleMillis: wholeMillis(o.idleTimeToLive, defaultMillis.idleTimeToLive),
      leaseMillis: wholeMillis(o.probeLease, defaultMillis.probeLease),
      onUnavailable: o.onUnavailable ?? "allow",
      commandTimeoutMillis: wholeMillis(o.commandTimeout, defaultMillis.commandTimeout)
    })
  })

const defaultMillis = {
  flushInterval: 100,
  resyncInterval: 1000,
  idleTimeToLive: 3_600_000,
  probeLease: 30_000,
  commandTimeout: 1000
} as const

const checkRelations: CheckRelations<typeof OptionsSchema.Type> = (o, invalid) => [
  ...connectionRelations(o, invalid),
  ...checkTimes(o, invalid)
]

const checkTimes: CheckRelations<typeof OptionsSchema.Type> = (o, invalid) => {
  if (invalid.has("idleTimeToLive") || invalid.has("resyncInterval")) return []
  const idleMillis = wholeMillis(o.idleTimeToLive, defaultMillis.idleTimeToLive)
  const resyncMillis = wholeMillis(o.resyncInterval, defaultMillis.resyncInterval)
  return idleMillis < resyncMillis * 2
    ? [
      new ConfigIssue({
        field: "idleTimeToLive",
        rule: `must be at least twice resyncInterval (${resyncMillis} ms), or circuits in use could expire`
      })
    ]
    : []
}

/**
 * A circuit of the fleet, as Redis keeps it: its name and the fleet's view
 * of it (state, merged window, streak, openings; `readAt` is when it was
 * listed).
 *
 * @example
 * ```ts
 * import type { RedisCircuitStore } from "effect-resilience"
 *
 * const describe = (circuit: RedisCircuitStore.FleetCircuit) =>
 *   `${circuit.name}: ${circuit.fleet.state}, ${circuit.fleet.calls} calls`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface FleetCircuit {
  readonly name: string
  readonly fleet: FleetSnapshot
}

/**
 * What `fleetCircuits` found under the store's prefix.
 *
 * - `circuits`: the fleet's circuits, by name, whichever instance uses them;
 * - `skipped`: keys that looked like circuits but hold data this store did
 *   not write (another format, another program's): left out, never an error;
 * - `complete`: `false` when the listing stopped at `maxCircuits`, or after
 *   1,000 `SCAN` calls in a keyspace holding many other keys;
 * - `instances`: the store instances alive now (each renews its entry every
 *   `resyncInterval`, and counts for three of them after its last renewal),
 *   or `null` when Redis would not count them (an ACL rule without the
 *   sorted-set commands);
 * - `readAt`: when it was listed (epoch milliseconds of the store's clock).
 *
 * @example
 * ```ts
 * import type { RedisCircuitStore } from "effect-resilience"
 *
 * const open = (listing: RedisCircuitStore.FleetCircuits) =>
 *   listing.circuits.filter((circuit) => circuit.fleet.state === "Open").length
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface FleetCircuits {
  readonly circuits: ReadonlyArray<FleetCircuit>
  readonly skipped: number
  readonly complete: boolean
  readonly instances: number | null
  readonly readAt: number
}

/**
 * The default and the range of `fleetCircuits`'s `maxCircuits`.
 *
 * @example
 * ```ts
 * import { RedisCircuitStore } from "effect-resilience"
 *
 * RedisCircuitStore.fleetCircuitsLimits.maxCircuits // => 1000
 * ```
 *
 * @category defaults
 * @since 0.1.0
 */
export const fleetCircuitsLimits = { maxCircuits: 1000, minimum: 1, maximum: 10_000 } as const

/**
 * The Redis store as a service: its mode, whether Redis is reachable, a
 * way to push and pull every circuit now, and the list of the fleet's
 * circuits.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RedisCircuitStore } from "effect-resilience"
 *
 * const health = Effect.gen(function*() {
 *   const store = yield* RedisCircuitStore.RedisCircuitStore
 *   return (yield* store.connected) ? "shared" : "local only"
 * })
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class RedisCircuitStore extends Context.Service<RedisCircuitStore, {
  readonly mode: "shared" | "strict"
  /** Whether Redis is reachable now. */
  readonly connected: Effect.Effect<boolean>
  /** Reachability: the current value, then every change. */
  readonly connectedChanges: Stream.Stream<boolean>
  /**
   * Sends every outcome counted so far and re-reads the fleet's state of
   * every circuit, now rather than at the next flush (for a graceful
   * shutdown, or a test).
   */
  readonly sync: Effect.Effect<void>
  /**
   * Lists the circuits of every instance under this store's prefix, with
   * the fleet's view of each, and counts the live instances (see
   * `FleetCircuits`). It walks the keys with `SCAN` (never `KEYS`), 500 at
   * a time, on every node that holds keys, and stops at `maxCircuits` (1 to
   * 10,000; default 1,000): a value out of range fails with a
   * `PolicyConfigError` naming it. Fails with a `RedisError` when Redis does
   * not answer within the command timeout.
   */
  readonly fleetCircuits: (
    options?: { readonly maxCircuits?: number | undefined }
  ) => Effect.Effect<FleetCircuits, Redis.RedisError | PolicyConfigError>
}>()("effect-resilience/RedisCircuitStore") {}

const maxCircuitsIssue = (maxCircuits: unknown): PolicyConfigError | undefined =>
  maxCircuits === undefined || (Number.isSafeInteger(maxCircuits) && (maxCircuits as number) >= 1 &&
      (maxCircuits as number) <= fleetCircuitsLimits.maximum)
    ? undefined
    : new PolicyConfigError({
      kind: "RedisCircuitStore",
      policy: "redis",
      issues: [
        new ConfigIssue({
          field: "maxCircuits",
          rule: `must be an integer from 1 to ${fleetCircuitsLimits.maximum} (got ${String(maxCircuits).slice(0, 40)})`
        })
      ]
    })

const make = (settings: RedisStoreSettings) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const context = yield* Effect.context<never>()
    const status = yield* SubscriptionRef.make(false)
    const store = new RedisStore(settings, status, Context.get(context, Clock.Clock), Effect.runForkWith(context))
    yield* store.start(scope)
    const service = RedisCircuitStore.of({
      mode: settings.mode,
      connected: SubscriptionRef.get(status),
      connectedChanges: SubscriptionRef.changes(status),
      sync: Effect.andThen(store.flushAll, store.resync(true)).pipe(Effect.andThen(heartbeat(store))),
      fleetCircuits: (options) =>
        Effect.suspend((): Effect.Effect<FleetCircuits, Redis.RedisError | PolicyConfigError> => {
          const maxCircuits = options?.maxCircuits
          const issue = maxCircuitsIssue(maxCircuits)
          if (issue !== undefined) return Effect.fail(issue)
          return listFleet(store, maxCircuits ?? fleetCircuitsLimits.maxCircuits)
        })
    })
    return Context.make(RedisCircuitStore, service).pipe(Context.add(CircuitStore, store))
  })

/**
 * Shares the circuits of every breaker made under this layer through Redis.
 * The layer does not wait for Redis: it is ready once the first connection
 * attempt has succeeded or failed, and breakers protect with their local
 * circuits until Redis answers.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { CircuitBreaker, RedisCircuitStore, withCircuitBreaker } from "effect-resilience"
 *
 * const Payments = CircuitBreaker.layer({ name: "payments", failureRate: 0.5, minimumCalls: 20 }).pipe(
 *   Layer.provide(RedisCircuitStore.layer({ url: "redis://localhost:6379" }))
 * )
 *
 * const charge = withCircuitBreaker(Effect.succeed("charged")).pipe(Effect.provide(Payments))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options?: RedisCircuitStoreOptions
): Layer.Layer<RedisCircuitStore, PolicyConfigError> =>
  Layer.effectContext(Effect.flatMap(decode(options), make)) as Layer.Layer<RedisCircuitStore, PolicyConfigError>

/**
 * The environment variables `layerConfig` reads, each optional.
 *
 * @example
 * ```ts
 * import { RedisCircuitStore } from "effect-resilience"
 *
 * RedisCircuitStore.variables.url // => "REDIS_URL"
 * ```
 *
 * @category config
 * @since 0.1.0
 */
export const variables = {
  url: "REDIS_URL",
  prefix: "RESILIENCE_REDIS_PREFIX",
  mode: "RESILIENCE_REDIS_MODE",
  flushInterval: "RESILIENCE_REDIS_FLUSH_INTERVAL",
  resyncInterval: "RESILIENCE_REDIS_RESYNC_INTERVAL",
  idleTimeToLive: "RESILIENCE_REDIS_IDLE_TTL",
  probeLease: "RESILIENCE_REDIS_PROBE_LEASE",
  onUnavailable: "RESILIENCE_REDIS_ON_UNAVAILABLE",
  commandTimeout: "RESILIENCE_REDIS_COMMAND_TIMEOUT"
} as const

/** The prefix of the store's own variables (all but `REDIS_URL`). */
const variablePrefix = "RESILIENCE_REDIS"

const variableSuffixes = Object.values(variables)
  .filter((name) => name.startsWith(`${variablePrefix}_`))
  .map((name) => name.slice(variablePrefix.length + 1))

/** The options that are durations: a bare number in a variable is milliseconds, as in code. */
const durationOptions: ReadonlySet<string> = new Set([
  "flushInterval",
  "resyncInterval",
  "idleTimeToLive",
  "probeLease",
  "commandTimeout"
])

/**
 * Reads the store's options from `Config` (the environment by default: see
 * `variables`) over `base`, and validates them: a bad value is a
 * `PolicyConfigError` naming the variable.
 *
 * @example
 * ```ts
 * import { RedisCircuitStore } from "effect-resilience"
 *
 * // REDIS_URL=redis://redis:6379 RESILIENCE_REDIS_MODE=strict node app.js
 * const options = RedisCircuitStore.fromConfig({ prefix: "checkout:" })
 * ```
 *
 * @category config
 * @since 0.1.0
 */
export const fromConfig = (
  base?: RedisCircuitStoreOptions
): Effect.Effect<RedisCircuitStoreOptions, PolicyConfigError> =>
  Effect.gen(function*() {
    const merged: Record<string, unknown> = { ...base }
    const sources = new Map<string, string>()
    const issues: Array<ConfigIssue> = [
      ...yield* unknownVariables(variablePrefix, variableSuffixes, "a Redis circuit store variable")
    ]
    for (const [field, name] of Object.entries(variables)) {
      const read = yield* readVariable(name, durationOptions.has(field) ? "duration" : "string")
      if (read === undefined) continue
      if ("issue" in read) {
        issues.push(read.issue)
        continue
      }
      merged[field] = read.value
      sources.set(field, name)
    }
    const decoded = yield* Effect.exit(decode(merged as RedisCircuitStoreOptions))
    const renamed = decoded._tag === "Success"
      ? []
      : decoded.cause.reasons.flatMap((reason) =>
        reason._tag === "Fail" ? renameIssues(reason.error.issues, sources) : []
      )
    const all = [...issues, ...renamed]
    if (all.length > 0) {
      return yield* new PolicyConfigError({
        kind: "RedisCircuitStore",
        policy: "redis",
        issues: all as [ConfigIssue, ...Array<ConfigIssue>]
      })
    }
    return merged as RedisCircuitStoreOptions
  })

/**
 * `layer` with options read by `fromConfig` (e.g. `REDIS_URL`).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { CircuitBreaker, RedisCircuitStore } from "effect-resilience"
 *
 * const Inventory = CircuitBreaker.layer({ name: "inventory" }).pipe(
 *   Layer.provide(RedisCircuitStore.layerConfig())
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  base?: RedisCircuitStoreOptions
): Layer.Layer<RedisCircuitStore, PolicyConfigError> => Layer.unwrap(Effect.map(fromConfig(base), layer))
