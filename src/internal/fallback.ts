/**
 * Fallbacks: an answer in place of a call that failed with a chosen error,
 * and the last-known-good cache, which keeps each key's last successful
 * value and serves it, marked stale with its age, while the dependency fails.
 *
 * Both act on typed failures only: defects and interruptions pass through.
 *
 * @internal
 */
import { Data, Duration, Effect, Exit, Schema, SchemaIssue, SchemaTransformation } from "effect"
import { ConfigIssue } from "../ConfigIssue.js"
import type { Fallback, FallbackOptions, LastKnownGood, LastKnownGoodOptions } from "../Fallback.js"
import { maxCacheEntries, maxErrorTags } from "../Limits.js"
import { policies as policyMetrics } from "../Metrics.js"
import type { PolicyConfigError } from "../PolicyConfigError.js"
import { FallbackUsed, StaleValueServed } from "../PolicyEvent.js"
import type { Cell } from "./metrics.js"
import { Name } from "./options.js"
import type { Setup } from "./policy.js"
import { errorTag, makePolicy, metricsOption, Observed, PolicyBase, recoverableError } from "./policy.js"
import { durationInput, FunctionValue, IntBetween } from "./schemas.js"

/** @internal */
export const LastKnownGoodTypeId = "~effect-resilience/LastKnownGood" as const

/** @internal */
export type LastKnownGoodTypeId = typeof LastKnownGoodTypeId

/** Which typed errors a fallback answers for: all, a refinement, or tags. */
type ErrorFilter = undefined | ((error: unknown) => boolean) | ReadonlySet<string>

const onRule = "must be a non-empty array of error tags or a refinement (error) => boolean"

/** The issue of each entry of `tags` that is no tag (a string), under its index. */
const tagIssues = (tags: ReadonlyArray<unknown>): Array<SchemaIssue.Issue> => {
  const issues: Array<SchemaIssue.Issue> = []
  for (let i = 0; i < tags.length; i++) {
    if (typeof tags[i] !== "string") {
      issues.push(
        new SchemaIssue.Pointer(
          [i],
          new SchemaIssue.InvalidValue({ message: "must be an error tag (a string)" }, tags[i])
        )
      )
    }
  }
  return issues
}

// One schema, not a union of a tag list and a function: a union reports a bad tag list twice (as a
// list with a bad entry, and as no refinement).
const decodeOn = (input: unknown): Effect.Effect<OnValue, SchemaIssue.Issue> => {
  if (typeof input === "function") return Effect.succeed(input as (error: unknown) => boolean)
  if (!Array.isArray(input)) return Effect.fail(new SchemaIssue.InvalidValue({ message: onRule }, input))
  if (input.length === 0) {
    return Effect.fail(new SchemaIssue.InvalidValue({ message: "must name at least one error tag" }, input))
  }
  if (input.length > maxErrorTags) {
    return Effect.fail(
      new SchemaIssue.InvalidValue(
        { message: `must name at most ${maxErrorTags} error tags (got ${input.length})` },
        input
      )
    )
  }
  const [first, ...rest] = tagIssues(input)
  if (first === undefined) return Effect.succeed(input as ReadonlyArray<string>)
  return Effect.fail(rest.length === 0 ? first : new SchemaIssue.Composite(Schema.Unknown.ast, [first, ...rest], input))
}

type OnValue = ReadonlyArray<string> | ((error: unknown) => boolean)

const OnSchema = Schema.Unknown.pipe(
  Schema.decodeTo(
    Schema.declare((u: unknown): u is OnValue => typeof u === "function" || Array.isArray(u), {
      expected: "error tags or a refinement"
    }),
    SchemaTransformation.transformEffect({
      decode: decodeOn,
      encode: (on: OnValue) => Effect.succeed(on as unknown)
    })
  )
)

const toFilter = (on: ReadonlyArray<string> | ((error: unknown) => boolean) | undefined): ErrorFilter =>
  on === undefined || typeof on === "function" ? on : new Set(on)

const matches = (filter: ErrorFilter, error: unknown): boolean => {
  if (filter === undefined) return true
  if (typeof filter === "function") return filter(error)
  if (typeof error !== "object" || error === null) return false
  const tag = (error as { readonly _tag?: unknown })._tag
  return typeof tag === "string" && filter.has(tag)
}

// ---------------------------------------------------------------------------
// Fallback
// ---------------------------------------------------------------------------

const FallbackOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  on: Schema.optional(OnSchema),
  orElse: Schema.optional(FunctionValue<(error: unknown) => Effect.Effect<unknown, unknown, unknown>>(
    "a function (error) => Effect"
  )),
  value: Schema.optional(Schema.Unknown),
  ...metricsOption
})

class FallbackImpl extends PolicyBase<unknown, unknown, unknown, unknown, FallbackUsed>
  implements Fallback<unknown, unknown, unknown, unknown>
{
  readonly kind = "Fallback" as const

  private readonly used: Cell

  constructor(
    setup: Setup,
    private readonly filter: ErrorFilter,
    private readonly orElse: (error: unknown) => Effect.Effect<unknown, unknown, unknown>
  ) {
    super(setup)
    this.used = this.counter(policyMetrics.fallbacks)
  }

  readonly apply = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<unknown, unknown, unknown> =>
    Effect.catchCause(self, (cause) => {
      const failed = recoverableError(cause)
      if (failed === undefined || !matches(this.filter, failed.error)) return Effect.failCause(cause)
      this.used.count++
      if (this.publisher.active) {
        this.publisher.publish(new FallbackUsed({ policy: this.name, error: errorTag(failed.error), at: this.now() }))
      }
      return this.orElse(failed.error)
    })
}

/** @internal */
export const makeFallback = (
  options: FallbackOptions
): Effect.Effect<Fallback<unknown, unknown, unknown, unknown>, PolicyConfigError> =>
  makePolicy(
    "Fallback",
    FallbackOptionsSchema,
    options,
    (decoded, setup) => {
      const orElse = decoded.orElse ?? constant(Exit.succeed(decoded.value))
      return new FallbackImpl(setup, toFilter(decoded.on), orElse)
    },
    (decoded, invalid) => {
      // A rule between the two is not checked while one of them is reported broken.
      if (invalid.has("value") || invalid.has("orElse")) return []
      const value = decoded.value
      const hasOrElse = decoded.orElse !== undefined
      // `value: undefined` is a value of its own, unless `orElse` is given (as by a spread of defaults).
      const hasValue = hasOrElse ? value !== undefined : "value" in decoded
      if (hasValue === hasOrElse) {
        return [
          new ConfigIssue({
            field: hasValue ? "value" : "orElse",
            rule: hasValue
              ? "cannot be combined with orElse: give a value or an effect, not both"
              : "is required: give orElse (error) => Effect, or a value"
          })
        ]
      }
      if (hasValue && Effect.isEffect(value)) {
        return [
          new ConfigIssue({
            field: "value",
            rule: "is an Effect, which would be served as it is: give orElse: () => effect to run it"
          })
        ]
      }
      return []
    }
  )

const constant = <A>(a: A) => () => a

// ---------------------------------------------------------------------------
// Last-known-good cache
// ---------------------------------------------------------------------------

/** @internal */
export const lastKnownGoodDefaults = { maxEntries: 1000, ttl: "10 minutes" } as const

/**
 * A value fresh from the call (re-exported as `Fallback.Fresh`).
 *
 * @internal
 */
export class Fresh<A> extends Data.TaggedClass("Fresh")<{ readonly value: A }> {}

/**
 * A value served from the cache in place of a failed call (re-exported as
 * `Fallback.Stale`): `age` since it was stored at `storedAt`, and the
 * `error` the call failed with.
 *
 * @internal
 */
export class Stale<A, E> extends Data.TaggedClass("Stale")<{
  readonly value: A
  readonly age: Duration.Duration
  readonly storedAt: number
  readonly error: E
}> {}

const LastKnownGoodOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  maxEntries: Schema.optional(IntBetween(1, maxCacheEntries)),
  ttl: Schema.optional(durationInput({ allowZero: false })),
  on: Schema.optional(OnSchema),
  ...metricsOption
})

interface Entry<A> {
  readonly value: A
  readonly storedAt: number
}

class LastKnownGoodImpl<A> extends Observed<StaleValueServed> implements LastKnownGood<A, unknown> {
  declare readonly [LastKnownGoodTypeId]: LastKnownGood<A, unknown>[LastKnownGoodTypeId]
  readonly kind = "LastKnownGood" as const
  /** Insertion order is recency: a store moves its key to the end, the first key is the eldest. */
  private readonly entries = new Map<string, Entry<A>>()
  private readonly ttlMillis: number

  private readonly served: Cell

  constructor(
    setup: Setup,
    readonly maxEntries: number,
    readonly ttl: Duration.Duration,
    private readonly filter: ErrorFilter
  ) {
    super(setup)
    this.ttlMillis = Duration.toMillis(ttl)
    this.served = this.counter(policyMetrics.staleValuesServed)
  }

  readonly serve: LastKnownGood<A, unknown>["serve"] = ((first: unknown, second?: unknown) =>
    typeof first === "string"
      ? (self: Effect.Effect<A, unknown, unknown>) => this.serveKey(self, first)
      : this.serveKey(first as Effect.Effect<A, unknown, unknown>, second as string)) as never

  get size(): Effect.Effect<number> {
    return Effect.sync(() => this.entries.size)
  }

  invalidate(key: string): Effect.Effect<void> {
    return Effect.sync(() => void this.entries.delete(key))
  }

  private serveKey<E, R>(self: Effect.Effect<A, E, R>, key: string): Effect.Effect<Fresh<A> | Stale<A, E>, E, R> {
    return Effect.catchCause(
      Effect.map(self, (value) => {
        this.store(key, value)
        return new Fresh({ value })
      }),
      (cause) => {
        const failed = recoverableError(cause)
        if (failed === undefined || !matches(this.filter, failed.error)) return Effect.failCause(cause)
        const now = this.now()
        const entry = this.lookup(key, now)
        if (entry === undefined) return Effect.failCause(cause)
        const age = Duration.millis(Math.max(0, now - entry.storedAt))
        this.served.count++
        if (this.publisher.active) {
          this.publisher.publish(
            new StaleValueServed({ policy: this.name, error: errorTag(failed.error), age, at: now })
          )
        }
        return Effect.succeed(new Stale({ value: entry.value, age, storedAt: entry.storedAt, error: failed.error }))
      }
    )
  }

  private store(key: string, value: A): void {
    const entries = this.entries
    entries.delete(key)
    entries.set(key, { value, storedAt: this.now() })
    if (entries.size > this.maxEntries) entries.delete(entries.keys().next().value!)
  }

  private lookup(key: string, now: number): Entry<A> | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    if (now - entry.storedAt > this.ttlMillis) {
      this.entries.delete(key)
      return undefined
    }
    return entry
  }
}

Object.defineProperty(LastKnownGoodImpl.prototype, LastKnownGoodTypeId, {
  value: { _Handlers: (handlers: unknown) => handlers }
})

/** @internal */
export const makeLastKnownGood = <A>(
  options: LastKnownGoodOptions | undefined
): Effect.Effect<LastKnownGood<A, unknown>, PolicyConfigError> =>
  makePolicy(
    "LastKnownGood",
    LastKnownGoodOptionsSchema,
    options,
    (decoded, setup) =>
      new LastKnownGoodImpl<A>(
        setup,
        decoded.maxEntries ?? lastKnownGoodDefaults.maxEntries,
        decoded.ttl ?? Duration.fromInputUnsafe(lastKnownGoodDefaults.ttl),
        toFilter(decoded.on)
      )
  )
