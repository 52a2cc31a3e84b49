/**
 * Many circuit breakers: one per key — per host, per tenant, per endpoint —
 * made on demand from one configuration or a per-key configuration function.
 *
 * A service with many dependencies needs one breaker per dependency, never
 * one global breaker: a registry makes each key's breaker the first time the
 * key is used, keeps at most `maxBreakers`, and evicts a breaker once it has
 * had no call for `idleTimeToLive` — closed or half-open alike, so a key that
 * tripped once and never came back goes too. A *pinned* breaker — still
 * inside its opening, forced open, or disabled — is never evicted: forgetting
 * it would send traffic straight back to a dependency that is down, or undo
 * an operator's decision. When the registry is full, a new key takes the
 * place of a closed breaker that had no call lately; a half-open one (its
 * dependency may still be down) goes only once idle. Finding that place costs
 * amortised O(1) per new key, however many breakers are pinned.
 *
 * Keys often come from request data, and each names a breaker in errors,
 * logs, metric labels and Redis keys: a key is a non-blank string of at most
 * `Limits.maxKeyLength` (256) characters without control characters, and a
 * new key that is not fails with `RegistryKeyError` and makes nothing.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreakerRegistry } from "effect-resilience"
 *
 * declare const fetchFrom: (host: string) => Effect.Effect<string, Error>
 *
 * const program = Effect.gen(function*() {
 *   const perHost = yield* CircuitBreakerRegistry.make({
 *     name: "hosts",
 *     config: { consecutiveFailures: 3, openDuration: "30 seconds" },
 *     maxBreakers: 1_000
 *   })
 *   // Each host has a breaker of its own, named after the host.
 *   return yield* fetchFrom("api.example.com").pipe(perHost.execute("api.example.com"))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import type { Duration, Result, Scope } from "effect"
import { Context, Effect, Layer, Schema } from "effect"
import type { CircuitBreaker } from "./CircuitBreaker.js"
import type { CircuitBreakerConfig, ResolvedConfig } from "./CircuitBreakerConfig.js"
import { CircuitBreakerConfigError, decode } from "./CircuitBreakerConfig.js"
import type { Snapshot } from "./CircuitBreakerSnapshot.js"
import type { CircuitOpenError } from "./CircuitOpenError.js"
import type { ClassifyOptions, GuardOptions, IgnorableTag, IgnoreFits } from "./Classifier.js"
import { ConfigIssue } from "./ConfigIssue.js"
import { decodeOptions, fieldValue, Name, nameOf, thrownMessage } from "./internal/options.js"
import type { RegistryFullError, RegistryKeyError } from "./internal/registry.js"
import {
  defaults,
  isRegistry,
  isRegistryFullError as isRegistryFullErrorInternal,
  isRegistryKeyError as isRegistryKeyErrorInternal,
  RegistryImpl
} from "./internal/registry.js"
import { markValidated } from "./internal/resolved.js"
import { durationInput, FunctionValue, IntBetween } from "./internal/schemas.js"
import { maxBreakers } from "./Limits.js"

export {
  /**
   * The registry holds `maxBreakers` breakers and none can make room for a
   * new key: each is pinned (inside its opening, forced open, disabled) or
   * half-open and called within `idleTimeToLive`. A refusal looks at no
   * breaker; the next new key gets room as soon as one can give it (its idle
   * time runs out, its opening ends, a probe closes it, an operator resets
   * it).
   *
   * @category errors
   * @since 0.1.0
   */
  RegistryFullError,
  /**
   * A key the registry refuses, before making anything for it: a key is a
   * non-blank string of at most `Limits.maxKeyLength` (256) characters
   * without control characters (line breaks, tabs, NUL, ...). Keys often
   * come from request data, and each names a breaker in errors, log lines,
   * metric labels and Redis keys. `key` is the key as a message quotes it
   * (its first 64 characters and an ellipsis when longer), `rule` the rule it
   * breaks.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { CircuitBreakerRegistry } from "effect-resilience"
   *
   * declare const perHost: CircuitBreakerRegistry.CircuitBreakerRegistry
   * declare const fetchFrom: (host: string) => Effect.Effect<string, Error>
   *
   * const fetchHost = (host: string) =>
   *   fetchFrom(host).pipe(
   *     perHost.execute(host),
   *     Effect.catchTag("RegistryKeyError", (error) => Effect.fail(new Error(`bad host: ${error.rule}`)))
   *   )
   * ```
   *
   * @category errors
   * @since 0.1.0
   */
  RegistryKeyError
} from "./internal/registry.js"

/**
 * Whether a value is a `RegistryFullError`, made by any copy of the library
 * (its ESM and CJS builds loaded together, or two installed versions): the
 * check is a type id, not `instanceof`.
 *
 * @example
 * ```ts
 * import { CircuitBreakerRegistry } from "effect-resilience"
 *
 * const full = new CircuitBreakerRegistry.RegistryFullError({ registry: "hosts", key: "a", maxBreakers: 1 })
 * CircuitBreakerRegistry.isRegistryFullError(full) // => true
 * CircuitBreakerRegistry.isRegistryFullError("nope") // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isRegistryFullError: (u: unknown) => u is RegistryFullError = isRegistryFullErrorInternal

/**
 * Whether a value is a `RegistryKeyError`, made by any copy of the library:
 * the check is a type id, not `instanceof`.
 *
 * @example
 * ```ts
 * import { CircuitBreakerRegistry } from "effect-resilience"
 *
 * const refused = new CircuitBreakerRegistry.RegistryKeyError({ registry: "hosts", key: "", rule: "must not be empty or blank" })
 * CircuitBreakerRegistry.isRegistryKeyError(refused) // => true
 * CircuitBreakerRegistry.isRegistryKeyError(new Error("x")) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isRegistryKeyError: (u: unknown) => u is RegistryKeyError = isRegistryKeyErrorInternal

/**
 * Whether a value is a registry (from `make`), made by any copy of the
 * library: the check is a type id, not `instanceof` nor the shape.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreakerRegistry } from "effect-resilience"
 *
 * const program = Effect.gen(function*() {
 *   const registry = yield* CircuitBreakerRegistry.make()
 *   return CircuitBreakerRegistry.isCircuitBreakerRegistry(registry) // true
 * }).pipe(Effect.scoped)
 * CircuitBreakerRegistry.isCircuitBreakerRegistry({ snapshots: [] }) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isCircuitBreakerRegistry: (u: unknown) => u is CircuitBreakerRegistry<unknown> = isRegistry

/**
 * The options of a registry.
 *
 * @category models
 * @since 0.1.0
 */
export interface RegistryOptions {
  /**
   * Shown in errors: a non-blank string of at most `Limits.maxNameLength` (256)
   * characters, without control characters. Default `"default"`.
   */
  readonly name?: string | undefined
  /**
   * The configuration of every key's breaker, or a function that gives one
   * per key. A breaker is named after its key (`name/key` when one shared
   * configuration has a `name`; as the function says otherwise), and reports
   * metrics only when its configuration says `metrics: true`
   * (not when the context switches metrics on: thousands of keys would make
   * tens of thousands of series). Default: the breaker defaults.
   */
  readonly config?: CircuitBreakerConfig | ((key: string) => CircuitBreakerConfig) | undefined
  /**
   * Breakers kept at most: an integer from 1 to `Limits.maxBreakers`
   * (1,000,000). At the bound, a new key evicts a closed breaker that had no
   * call since the registry last looked at it (the CLOCK algorithm). Default
   * 10,000.
   */
  readonly maxBreakers?: number | undefined
  /**
   * A breaker with no call for this long is evicted, closed or half-open,
   * unless pinned (inside its opening, forced open, disabled): from 1
   * millisecond to `Limits.maxDuration` (about 24.8 days). A call is a lookup
   * of its key — `execute`, `withCircuitBreaker`, `get`, rejected calls
   * included — and only sets a mark (no clock read); the registry counts idle
   * time from when it finds the mark, so a breaker goes no sooner than this
   * after its last call, and typically within twice this. Eviction happens in
   * sweeps: when a breaker is made, and when `breakers` or `snapshots` are
   * read. Default 1 hour.
   */
  readonly idleTimeToLive?: Duration.Input | undefined
}

/**
 * A registry of breakers by key. `E` is the error a key's configuration may
 * fail with: `never` for one configuration for every key (validated when the
 * registry is made), `CircuitBreakerConfigError` for a per-key function.
 *
 * @category models
 * @since 0.1.0
 */
export interface CircuitBreakerRegistry<out E = never> {
  readonly name: string
  readonly maxBreakers: number
  readonly idleTimeToLive: Duration.Duration
  /**
   * The breaker of `key`, made if it is not there yet. A new key that breaks
   * the key rules fails with `RegistryKeyError`; a new key with no room, with
   * `RegistryFullError`. Calls count as uses of the key only when they go
   * through the registry (`get`, `execute`): a breaker kept aside from `get`
   * and called directly may be evicted while it is in use, and the next `get`
   * makes a fresh one. Look the key up for each call instead.
   */
  readonly get: (key: string) => Effect.Effect<CircuitBreaker, E | RegistryFullError | RegistryKeyError>
  /** Guards a call with the breaker of `key` (data-first or data-last); fails as `get` does for a new key. */
  readonly execute: {
    <A0 = unknown, E0 = unknown, const Ignored extends IgnorableTag<E0> = never>(
      key: string,
      options?: GuardOptions<A0, E0, Ignored>
    ): <A extends A0, E1 extends E0, R>(
      self: Effect.Effect<A, E1, R> & IgnoreFits<E1, Ignored>
    ) => Effect.Effect<A, E1 | CircuitOpenError | E | RegistryFullError | RegistryKeyError, R>
    <A, E1, R>(
      self: Effect.Effect<A, E1, R>,
      key: string,
      options?: ClassifyOptions<A, E1>
    ): Effect.Effect<A, E1 | CircuitOpenError | E | RegistryFullError | RegistryKeyError, R>
  }
  /**
   * Guards a call with the breaker of `key` (data-first or data-last), or —
   * when the registry can give the key no breaker of its own (it is full, the
   * key breaks the key rules, or a per-key function's configuration for it
   * is invalid) — with the `overflow` breaker, shared by every such key: the
   * call is guarded either way, and the number of breakers stays bounded. A
   * warning names the key and why, at most once a minute per registry (the
   * next line counts those left out). Only a new key is refused: a known
   * key's call costs what `execute`'s does. Fails with `RegistryKeyError`
   * only when the circuit store refuses the overflow breaker's
   * configuration (make it beforehand with `overflow` to know at once).
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { CircuitBreakerRegistry } from "effect-resilience"
   *
   * declare const callHost: (host: string) => Effect.Effect<string, Error>
   *
   * // Hosts come from requests: past 100 of them, the rest share "hosts/(overflow)".
   * const program = Effect.gen(function*() {
   *   const perHost = yield* CircuitBreakerRegistry.make({ name: "hosts", maxBreakers: 100 })
   *   return yield* callHost("api.example.com").pipe(perHost.executeOrOverflow("api.example.com"))
   * })
   * ```
   *
   * @since 0.1.0
   */
  readonly executeOrOverflow: {
    <A0 = unknown, E0 = unknown, const Ignored extends IgnorableTag<E0> = never>(
      key: string,
      options?: GuardOptions<A0, E0, Ignored>
    ): <A extends A0, E1 extends E0, R>(
      self: Effect.Effect<A, E1, R> & IgnoreFits<E1, Ignored>
    ) => Effect.Effect<A, E1 | CircuitOpenError | RegistryKeyError, R>
    <A, E1, R>(
      self: Effect.Effect<A, E1, R>,
      key: string,
      options?: ClassifyOptions<A, E1>
    ): Effect.Effect<A, E1 | CircuitOpenError | RegistryKeyError, R>
  }
  /** The number of breakers held. */
  readonly size: Effect.Effect<number>
  /** The keys of the breakers held. */
  readonly keys: Effect.Effect<ReadonlyArray<string>>
  /** Every breaker held (after a sweep evicted the idle ones). */
  readonly breakers: Effect.Effect<ReadonlyArray<CircuitBreaker>>
  /** The snapshot of every breaker held (after a sweep evicted the idle ones). */
  readonly snapshots: Effect.Effect<ReadonlyArray<Snapshot>>
  /** Drops the breaker of `key` (closing its scope); whether there was one. */
  readonly remove: (key: string) => Effect.Effect<boolean>
  /**
   * The registry's overflow breaker, named `name/(overflow)`: one breaker
   * for the calls whose key gets none of its own (`get` failed: the
   * registry is full, or the key breaks the key rules) and that must still
   * be guarded; `ResilientHttpClient` sends such requests there. Made on
   * first use, with the shared configuration (the breaker defaults beside
   * a per-key function); never evicted; closed with the registry. Once
   * made it is listed by `breakers` and `snapshots`, so health reports and
   * admin routes show and control it; it is no key (`size`, `keys` and
   * `remove` leave it out). Fails with `RegistryKeyError` only when the
   * circuit store refuses its configuration.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { CircuitBreakerRegistry } from "effect-resilience"
   *
   * declare const callHost: (host: string) => Effect.Effect<string, Error>
   *
   * const guarded = (host: string) =>
   *   Effect.gen(function*() {
   *     const registry = yield* CircuitBreakerRegistry.CircuitBreakerRegistry
   *     // A host with no breaker of its own (the registry is full) shares the overflow breaker.
   *     const breaker = yield* registry.get(host).pipe(Effect.catch(() => registry.overflow))
   *     return yield* breaker.execute(callHost(host))
   *   })
   * ```
   */
  readonly overflow: Effect.Effect<CircuitBreaker, RegistryKeyError>
}

const RegistryOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  config: Schema.optional(Schema.Unknown),
  maxBreakers: Schema.optional(IntBetween(1, maxBreakers)),
  idleTimeToLive: Schema.optional(durationInput({ allowZero: false }))
})

const ConfigFunction = FunctionValue<(key: string) => CircuitBreakerConfig>("a function (key) => config")

/**
 * Makes a registry whose breakers end with the current `Scope`. One
 * configuration for every key is validated now; a per-key function's result
 * is validated when the key's breaker is made. Bad options fail with
 * `CircuitBreakerConfigError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreakerRegistry } from "effect-resilience"
 *
 * const perTenant = CircuitBreakerRegistry.make({
 *   name: "tenants",
 *   // Premium tenants get a more patient breaker.
 *   config: (tenant) => tenant.startsWith("premium-") ? { failureRate: 0.8, minimumCalls: 50 } : { consecutiveFailures: 5 },
 *   maxBreakers: 50_000,
 *   idleTimeToLive: "30 minutes"
 * })
 * // Effect<CircuitBreakerRegistry<CircuitBreakerConfigError>, CircuitBreakerConfigError, Scope>
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: {
  (
    options: RegistryOptions & { readonly config: (key: string) => CircuitBreakerConfig }
  ): Effect.Effect<CircuitBreakerRegistry<CircuitBreakerConfigError>, CircuitBreakerConfigError, Scope.Scope>
  (
    options?: RegistryOptions & { readonly config?: CircuitBreakerConfig | undefined }
  ): Effect.Effect<CircuitBreakerRegistry, CircuitBreakerConfigError, Scope.Scope>
} = ((options?: RegistryOptions) =>
  Effect.gen(function*() {
    const name = nameOf(options, "default")
    const decoded = decodeOptions(RegistryOptionsSchema, options, "registry option")
    const config = fieldValue(options, ["config"])
    // One configuration for every key is validated now, with the other options: every broken rule at once.
    const shared = config === undefined || (typeof config === "object" && config !== null && !Array.isArray(config))
      ? yield* Effect.result(decode(config as CircuitBreakerConfig | undefined))
      : undefined
    const issues = [
      ...(decoded._tag === "Failure" ? decoded.failure : []),
      ...(shared?._tag === "Failure"
        ? shared.failure.issues.map((issue) =>
          new ConfigIssue({ field: issue.field === "(config)" ? "config" : `config.${issue.field}`, rule: issue.rule })
        )
        : []),
      ...(shared === undefined && !Schema.is(ConfigFunction)(config)
        ? [
          new ConfigIssue({
            field: "config",
            rule: "must be a circuit breaker configuration or a function (key) => configuration"
          })
        ]
        : [])
    ]
    // (A failed decode always has issues: the first test narrows `decoded` for what follows.)
    if (decoded._tag === "Failure" || issues.length > 0) {
      return yield* new CircuitBreakerConfigError({
        breaker: name,
        issues: issues as [ConfigIssue, ...Array<ConfigIssue>]
      })
    }
    let configFor: (key: string) => Effect.Effect<ResolvedConfig, CircuitBreakerConfigError>
    if (shared === undefined) {
      const perKey = config as (key: string) => CircuitBreakerConfig
      configFor = (key) =>
        Effect.suspend(() => {
          let given: unknown
          try {
            given = perKey(key)
          } catch (thrown) {
            return configProblem(key, `threw for this key: ${thrownMessage(thrown)}`)
          }
          if (typeof given !== "object" || given === null) {
            return configProblem(key, "must return a circuit breaker configuration object for every key")
          }
          // Named after the key unless the function names it; read once, as decode will.
          const named = fieldValue(given, ["name"]) !== undefined
          return decode(given as CircuitBreakerConfig).pipe(
            Effect.map((resolved) => forKey(resolved, named ? resolved.name : key)),
            Effect.mapError((error) =>
              named ? error : new CircuitBreakerConfigError({ breaker: key, issues: error.issues })
            )
          )
        })
    } else {
      const resolved = (shared as Result.Success<ResolvedConfig, never>).success
      const userNamed = fieldValue(config, ["name"]) !== undefined
      // Every key's breaker has a name of its own: the key, after the configuration's name if it has one.
      configFor = (key) => Effect.succeed(forKey(resolved, userNamed ? `${resolved.name}/${key}` : key))
    }
    // The overflow breaker: the shared configuration, or the breaker defaults beside a per-key function.
    const overflowBase = shared === undefined
      ? yield* decode(undefined)
      : (shared as Result.Success<ResolvedConfig, never>).success
    return new RegistryImpl(
      name,
      configFor,
      decoded.success.maxBreakers ?? defaults.maxBreakers,
      decoded.success.idleTimeToLive ?? defaults.idleTimeToLive,
      yield* Effect.scope,
      yield* Effect.context<never>(),
      forKey(overflowBase, `${name}/(overflow)`)
    ) as CircuitBreakerRegistry<CircuitBreakerConfigError>
  })) as never

const configProblem = (key: string, rule: string) =>
  Effect.fail(new CircuitBreakerConfigError({ breaker: key, issues: [new ConfigIssue({ field: "config", rule })] }))

/**
 * The configuration of a key's breaker, named `name`. Keyed breakers report
 * metrics only when their configuration asks: switched on by the context,
 * thousands of keys would make tens of thousands of series. Frozen and
 * marked validated, as `decode`'s own.
 */
const forKey = (resolved: ResolvedConfig, name: string): ResolvedConfig =>
  markValidated({ ...resolved, name, metrics: resolved.metrics ?? false })

/**
 * The default registry service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreakerRegistry } from "effect-resilience"
 *
 * const states = Effect.flatMap(CircuitBreakerRegistry.CircuitBreakerRegistry, (registry) => registry.snapshots)
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const CircuitBreakerRegistry: Context.Service<
  CircuitBreakerRegistry<CircuitBreakerConfigError>,
  CircuitBreakerRegistry<CircuitBreakerConfigError>
> = Context.Service<CircuitBreakerRegistry<CircuitBreakerConfigError>>("effect-resilience/CircuitBreakerRegistry")

/**
 * Provides the default registry service.
 *
 * @example
 * ```ts
 * import { CircuitBreakerRegistry } from "effect-resilience"
 *
 * const RegistryLive = CircuitBreakerRegistry.layer({ config: { consecutiveFailures: 5 }, maxBreakers: 5_000 })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options?: RegistryOptions
): Layer.Layer<CircuitBreakerRegistry<CircuitBreakerConfigError>, CircuitBreakerConfigError> =>
  Layer.effect(
    CircuitBreakerRegistry,
    make(options as never) as Effect.Effect<
      CircuitBreakerRegistry<CircuitBreakerConfigError>,
      CircuitBreakerConfigError,
      Scope.Scope
    >
  )

/**
 * Provides a registry under your own service key.
 *
 * @example
 * ```ts
 * import { Context } from "effect"
 * import { CircuitBreakerRegistry } from "effect-resilience"
 *
 * class Hosts extends Context.Service<Hosts, CircuitBreakerRegistry.CircuitBreakerRegistry>()("app/Hosts") {}
 *
 * const HostsLive = CircuitBreakerRegistry.layerAs(Hosts, { name: "hosts", config: { consecutiveFailures: 3 } })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerAs = <I, E>(
  tag: Context.Key<I, CircuitBreakerRegistry<E>>,
  options?: RegistryOptions
): Layer.Layer<I, CircuitBreakerConfigError> =>
  Layer.effect(
    tag,
    make(options as never) as Effect.Effect<CircuitBreakerRegistry<E>, CircuitBreakerConfigError, Scope.Scope>
  )

/**
 * Guards a call with the breaker of `key` in the default registry service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreakerRegistry } from "effect-resilience"
 *
 * declare const bill: (tenant: string) => Effect.Effect<void, Error>
 *
 * const billTenant = (tenant: string) => bill(tenant).pipe(CircuitBreakerRegistry.withCircuitBreaker(tenant))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withCircuitBreaker = <A0 = unknown, E0 = unknown, const Ignored extends IgnorableTag<E0> = never>(
  key: string,
  options?: GuardOptions<A0, E0, Ignored>
) =>
<A extends A0, E extends E0, R>(
  self: Effect.Effect<A, E, R> & IgnoreFits<E, Ignored>
): Effect.Effect<
  A,
  E | CircuitOpenError | CircuitBreakerConfigError | RegistryFullError | RegistryKeyError,
  R | CircuitBreakerRegistry<CircuitBreakerConfigError>
> =>
  Effect.flatMap(
    CircuitBreakerRegistry,
    (registry) => registry.execute(self, key, options as ClassifyOptions<A, E> | undefined)
  )
