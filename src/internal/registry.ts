/**
 * Circuit breakers made on demand, one per key (a host, a tenant, an
 * endpoint), in a bounded map.
 *
 * Each breaker lives in a scope of its own, forked from the registry's, and
 * is closed when the breaker is evicted. A lookup is one map read and sets a
 * "used" mark (no clock read, nothing reordered on the hot path); which
 * breakers are evicted, and when, is `internal/eviction.ts`'s business: a
 * sweep runs when a breaker is made (and makes room for it when the registry
 * is full) and when the breakers or their snapshots are read.
 *
 * @internal
 */
import { Clock, Context, Deferred, Duration, Effect, Exit, Schema, Scope } from "effect"
import type { CircuitBreaker } from "../CircuitBreaker.js"
import type { ResolvedConfig } from "../CircuitBreakerConfig.js"
import type { CircuitBreakerRegistry } from "../CircuitBreakerRegistry.js"
import type { Snapshot } from "../CircuitBreakerSnapshot.js"
import type { Classifier, ClassifyOptions } from "../Classifier.js"
import { fromOptions } from "../Classifier.js"
import { maxKeyLength } from "../Limits.js"
import type { CircuitBreakerImpl } from "./breaker.js"
import { guardIn } from "./breaker.js"
import { Entry, Eviction } from "./eviction.js"
import { textOf } from "./failures.js"
import { LogThrottle } from "./logThrottle.js"
import { makeBreaker } from "./makeBreaker.js"
import { nameProblem, truncate } from "./options.js"
import { hasTypeId, isEffectValue } from "./service.js"

/** @internal */
export const defaults = { maxBreakers: 10_000, idleTimeToLive: Duration.hours(1) } as const

// Guards check these ids, not `instanceof`: values made by another copy of the library carry them too.
const TypeId = "~effect-resilience/CircuitBreakerRegistry"
const RegistryFullErrorTypeId = "~effect-resilience/RegistryFullError"
const RegistryKeyErrorTypeId = "~effect-resilience/RegistryKeyError"

/**
 * The registry has `maxBreakers` breakers and none can be evicted: each is
 * open, forced open, disabled, or half-open and called within
 * `idleTimeToLive` (re-exported by `CircuitBreakerRegistry`).
 *
 * @internal
 */
export class RegistryFullError extends Schema.TaggedError<RegistryFullError>()("RegistryFullError", {
  registry: Schema.String,
  key: Schema.String,
  maxBreakers: Schema.Number
}) {
  override get message(): string {
    return `Circuit breaker registry "${this.registry}" is full: none of its ${this.maxBreakers} breakers can ` +
      `make room for key "${this.key}" (each is open, forced open, disabled, or half-open and called within ` +
      `idleTimeToLive). Raise maxBreakers, or reset breakers that no longer matter.`
  }
}

Object.defineProperty(RegistryFullError.prototype, RegistryFullErrorTypeId, { value: RegistryFullErrorTypeId })

/**
 * A key the registry refuses (re-exported by `CircuitBreakerRegistry`):
 * `key` is the key as a message quotes it (its first 64 characters and an
 * ellipsis when longer; empty when it is no string); `rule` the rule it
 * breaks.
 *
 * @internal
 */
export class RegistryKeyError extends Schema.TaggedError<RegistryKeyError>()("RegistryKeyError", {
  registry: Schema.String,
  key: Schema.String,
  rule: Schema.String
}) {
  override get message(): string {
    return `Circuit breaker registry "${this.registry}" refused the key ${JSON.stringify(this.key)}: a key ${this.rule}`
  }
}

Object.defineProperty(RegistryKeyError.prototype, RegistryKeyErrorTypeId, { value: RegistryKeyErrorTypeId })

/** @internal */
export const isRegistryFullError = (u: unknown): u is RegistryFullError => hasTypeId(u, RegistryFullErrorTypeId)

/** @internal */
export const isRegistryKeyError = (u: unknown): u is RegistryKeyError => hasTypeId(u, RegistryKeyErrorTypeId)

/** @internal */
export const isRegistry = (u: unknown): u is CircuitBreakerRegistry<unknown> => hasTypeId(u, TypeId)

/**
 * The rule `key` breaks, if any: keys come from request data and name
 * breakers, so they follow the rules of names, up to `Limits.maxKeyLength`.
 */
const overflowWarningMillis = 60_000

const keyProblem = (key: unknown): string | undefined => nameProblem(key, maxKeyLength)

/** The rules a breaker's configuration broke, or what its making failed with. */
const errorRule = (error: unknown): string =>
  typeof error === "object" && error !== null && "issues" in error && Array.isArray(error.issues)
    ? error.issues.map((issue: { readonly rule: string }) => issue.rule).join("; ")
    : String(error)

type Guard = (
  self: Effect.Effect<unknown, unknown, unknown>,
  key: string,
  classify: Classifier | undefined
) => Effect.Effect<unknown, unknown, unknown>

/**
 * A guard by key in its two forms: data-first `(self, key, options?)`, and
 * data-last `(key, options?)`, whose classifier is resolved once, not on
 * every call. Data-last unless given the call first: a key that is no
 * string (from an untyped caller) is still a key, refused by the key rules.
 */
const byKey = (guard: Guard) => (first: unknown, second?: unknown, third?: unknown) => {
  if (!isEffectValue(first)) {
    const classify = fromOptions(second as ClassifyOptions | undefined)
    return (self: Effect.Effect<unknown, unknown, unknown>) => guard(self, first as string, classify)
  }
  return guard(first, second as string, fromOptions(third as ClassifyOptions | undefined))
}

/** @internal */
export class RegistryImpl implements CircuitBreakerRegistry<unknown> {
  private readonly entries = new Map<string, Entry>()
  private readonly eviction: Eviction
  private readonly clock: Clock.Clock

  constructor(
    readonly name: string,
    private readonly configFor: (key: string) => Effect.Effect<ResolvedConfig, unknown>,
    readonly maxBreakers: number,
    readonly idleTimeToLive: Duration.Duration,
    private readonly scope: Scope.Scope,
    private readonly context: Context.Context<never>,
    private readonly overflowConfig: ResolvedConfig
  ) {
    this.eviction = new Eviction(Duration.toMillis(idleTimeToLive))
    this.clock = Context.get(context, Clock.Clock)
  }

  get(key: string): Effect.Effect<CircuitBreaker, unknown> {
    return Effect.suspend(() => {
      const entry = this.entries.get(key)
      if (entry === undefined) return this.create(key)
      entry.used = true
      return Effect.succeed(entry.breaker)
    })
  }

  readonly execute: CircuitBreakerRegistry<unknown>["execute"] = byKey((self, key, classify) =>
    this.guard(self, key, classify, false)
  ) as never

  readonly executeOrOverflow: CircuitBreakerRegistry<unknown>["executeOrOverflow"] = byKey((self, key, classify) =>
    this.guard(self, key, classify, true)
  ) as never

  get size(): Effect.Effect<number> {
    return Effect.sync(() => this.entries.size)
  }

  get keys(): Effect.Effect<ReadonlyArray<string>> {
    return Effect.sync(() => [...this.entries.keys()])
  }

  get breakers(): Effect.Effect<ReadonlyArray<CircuitBreaker>> {
    return Effect.andThen(
      this.sweep(0),
      Effect.sync(() => {
        const held: Array<CircuitBreaker> = [...this.entries.values()].map((entry) => entry.breaker)
        if (this.overflowBreaker !== undefined) held.push(this.overflowBreaker)
        return held
      })
    )
  }

  /** The overflow breaker once made; `overflowMade` while it is being made. */
  private overflowBreaker: CircuitBreaker | undefined = undefined
  private overflowMade: Deferred.Deferred<CircuitBreaker, RegistryKeyError> | undefined = undefined

  get overflow(): Effect.Effect<CircuitBreaker, RegistryKeyError> {
    return Effect.suspend(() => {
      if (this.overflowBreaker !== undefined) return Effect.succeed(this.overflowBreaker)
      if (this.overflowMade !== undefined) return Deferred.await(this.overflowMade)
      // Claimed before anything can yield: made once however many fibers ask at the same time.
      const made = Deferred.makeUnsafe<CircuitBreaker, RegistryKeyError>()
      this.overflowMade = made
      const name = this.overflowConfig.name
      // Its own scope, forked from the registry's: never evicted, closed with the registry.
      return Effect.flatMap(Scope.fork(this.scope), (scope) =>
        makeBreaker(this.overflowConfig).pipe(
          Scope.provide(scope),
          Effect.provideContext(this.context),
          // A store that refuses the configuration makes the overflow unusable, as it would a key.
          Effect.mapError((error) => new RegistryKeyError({ registry: this.name, key: name, rule: errorRule(error) })),
          Effect.onExit((exit) =>
            Effect.suspend(() => {
              if (Exit.isSuccess(exit)) this.overflowBreaker = exit.value
              else this.overflowMade = undefined
              Deferred.doneUnsafe(made, exit)
              return Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, exit)
            })
          )
        ))
    })
  }

  get snapshots(): Effect.Effect<ReadonlyArray<Snapshot>> {
    return Effect.flatMap(this.breakers, (breakers) => Effect.forEach(breakers, (breaker) => breaker.snapshot))
  }

  remove(key: string): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      const entry = this.entries.get(key)
      if (entry === undefined) return Effect.succeed(false)
      this.entries.delete(key)
      this.eviction.forget(entry)
      return Effect.as(Scope.close(entry.scope, Exit.void), true)
    })
  }

  /** Warnings of keys sent to the overflow breaker: one a minute at most. */
  private readonly overflowWarnings = new LogThrottle(overflowWarningMillis)

  /**
   * Guards `self` with the breaker of `key`, made if need be. A key the
   * registry refuses fails the call with the refusal, or — with `orOverflow`
   * (`executeOrOverflow`) — is guarded by the overflow breaker: the refusal
   * is handled where the lookup fails (a new key only), so the call's own
   * errors never meet it and a known key pays nothing more.
   */
  private guard(
    self: Effect.Effect<unknown, unknown, unknown>,
    key: string,
    classify: Classifier | undefined,
    orOverflow: boolean
  ): Effect.Effect<unknown, unknown, unknown> {
    return Effect.withFiber((fiber) => {
      const entry = this.entries.get(key)
      if (entry !== undefined) {
        entry.used = true
        return guardIn(entry.breaker, self, classify, fiber)
      }
      const made = this.create(key)
      const guarded = (breaker: CircuitBreaker) => guardIn(breaker, self, classify, fiber)
      if (!orOverflow) return Effect.flatMap(made, guarded)
      return Effect.matchEffect(made, {
        onFailure: (refusal) =>
          Effect.flatMap(
            this.overflow,
            (overflow) => Effect.andThen(this.warnOverflow(key, refusal), guarded(overflow))
          ),
        onSuccess: guarded
      })
    })
  }

  /** The warning that `key` shares the overflow breaker, at most once a minute. */
  private warnOverflow(key: string, refusal: unknown): Effect.Effect<void> {
    return this.overflowWarnings.warn(
      this.clock.currentTimeMillisUnsafe(),
      () =>
        `Circuit breaker registry "${this.name}": no breaker of its own for key ${
          JSON.stringify(typeof key === "string" ? truncate(key) : "")
        } (${textOf(refusal)}); its calls share the breaker "${this.overflowConfig.name}"`
    )
  }

  /** Breakers being made, by key: a second caller for the same key waits for the first. */
  private readonly making = new Map<string, Deferred.Deferred<CircuitBreakerImpl, unknown>>()

  /** Makes the breaker for `key`, once however many fibers ask at the same time. */
  private create(key: string): Effect.Effect<CircuitBreakerImpl, unknown> {
    return Effect.suspend(() => {
      const pending = this.making.get(key)
      if (pending !== undefined) return Deferred.await(pending)
      // Only a key with no breaker yet is checked: the lookup of a known key pays nothing.
      const problem = keyProblem(key)
      if (problem !== undefined) {
        return Effect.fail(
          new RegistryKeyError({
            registry: this.name,
            key: typeof key === "string" ? truncate(key) : "",
            rule: problem
          })
        )
      }
      // Claimed before anything can yield: no other fiber makes this key meanwhile.
      const claim = Deferred.makeUnsafe<CircuitBreakerImpl, unknown>()
      this.making.set(key, claim)
      return this.build(key).pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            this.making.delete(key)
            Deferred.doneUnsafe(claim, exit)
          })
        )
      )
    })
  }

  /** Validates the key's configuration, makes room, and makes the breaker. */
  private build(key: string): Effect.Effect<CircuitBreakerImpl, unknown> {
    return Effect.gen({ self: this }, function*() {
      // The configuration first: a key whose configuration is invalid must not evict anything.
      const config = yield* this.configFor(key)
      // Breakers being made for other keys count: they will take their places.
      yield* this.sweep(this.entries.size + this.making.size - this.maxBreakers)
      if (this.entries.size + this.making.size > this.maxBreakers) {
        return yield* new RegistryFullError({ registry: this.name, key, maxBreakers: this.maxBreakers })
      }
      const scope = yield* Scope.fork(this.scope)
      const made = yield* Effect.exit(
        // A store that refuses the key's configuration (a shared circuit configured otherwise) makes
        // the key unusable: a RegistryKeyError, as the registry's type says.
        makeBreaker(config, (error) =>
          new RegistryKeyError({
            registry: this.name,
            key: truncate(key),
            rule: error.issues.map((issue) => issue.rule).join("; ")
          })).pipe(Scope.provide(scope), Effect.provideContext(this.context))
      )
      if (Exit.isFailure(made)) {
        yield* Scope.close(scope, made)
        return yield* Effect.failCause(made.cause)
      }
      const breaker = made.value
      // Not marked used: a breaker only earns its second chance by being used again.
      const entry = new Entry(key, breaker, scope, this.clock.currentTimeMillisUnsafe())
      this.entries.set(key, entry)
      this.eviction.add(entry)
      return breaker
    })
  }

  /** Evicts the idle breakers and, when `room` > 0, as many as a new key needs (if it can). */
  private sweep(room: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      const evicted = this.eviction.sweep(this.clock.currentTimeMillisUnsafe(), room)
      if (evicted.length === 0) return Effect.void
      for (const entry of evicted) this.entries.delete(entry.key)
      return Effect.forEach(evicted, (entry) => Scope.close(entry.scope, Exit.void), { discard: true })
    })
  }
}

Object.defineProperty(RegistryImpl.prototype, TypeId, { value: TypeId })
