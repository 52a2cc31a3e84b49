/**
 * Rate limits: at most `limit` calls per `window`, counted by Effect's own
 * `RateLimiter` (`effect/persistence`), so the count lives in its memory
 * store for one process or in its Redis store for a fleet. This module adds
 * what a policy needs around it: validated options, a typed
 * `RateLimitExceededError` (answered `429` + `Retry-After` by `HttpProblem`),
 * bounded waits, a decision for a store that fails, metrics and events —
 * and Effect's adaptive mode, which learns a dependency's real limit from
 * its `429` + `Retry-After` answers.
 *
 * - `onExceeded: "fail"` (default): a call over the limit fails at once
 *   with `RateLimitExceededError`, saying when a call would be let through.
 * - `onExceeded: "delay"`: the call waits its turn, at most `maxDelay`;
 *   a longer wait fails as above. A call turned away still spends its
 *   tokens, as Effect's stores count them.
 * - `adaptive: true`: after a `429` with `Retry-After` (seen by
 *   `ResilientHttpClient`, or by `apply` in a call's `HttpClientError`),
 *   calls under that key cool down for the time asked, then the limiter
 *   learns how many calls the dependency takes per window and paces them.
 * - A store that fails (Redis down), or does not answer within
 *   `storeTimeout` (1 second), lets calls through by default
 *   (`onStoreError: "allow"`, a warning logged at most once a minute);
 *   `"fail"` fails them with Effect's `RateLimiterError`.
 *
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { RateLimiter } from "effect/persistence"
 * import { RateLimit } from "effect-resilience"
 *
 * declare const sendSms: Effect.Effect<void, Error>
 *
 * const program = Effect.gen(function*() {
 *   const sms = yield* RateLimit.make({ name: "sms", limit: 10, window: "1 second" })
 *   yield* sendSms.pipe(RateLimit.rateLimit(sms)) // Effect<void, Error | RateLimitExceededError>
 * }).pipe(Effect.provide(RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory))))
 * ```
 *
 * @since 0.1.0
 */
import type { Scope, Stream } from "effect"
import { Context, Duration, Effect, Option, Schema } from "effect"
import { HttpClientError } from "effect/http"
import { RateLimiter } from "effect/persistence"
import { retryAfter as parseRetryAfter } from "./HttpClassifier.js"
import { LogThrottle } from "./internal/logThrottle.js"
import type { Cell } from "./internal/metrics.js"
import { hasControlCharacter, Name } from "./internal/options.js"
import type { Setup } from "./internal/policy.js"
import { applyPolicy, makePolicy, metricsOption, PolicyBase } from "./internal/policy.js"
import { durationInput, InstanceValue, IntBetween } from "./internal/schemas.js"
import { maxKeyLength, maxRateLimit } from "./Limits.js"
import { policies as policyMetrics } from "./Metrics.js"
import type { Policy } from "./Policy.js"
import type { PolicyConfigError } from "./PolicyConfigError.js"
import type { RateLimitReason } from "./PolicyEvent.js"
import { RateLimited } from "./PolicyEvent.js"
import { RateLimitExceededError } from "./RateLimitExceededError.js"

export {
  /**
   * Whether a value is a `RateLimitExceededError` (re-exported from the
   * `RateLimitExceededError` module).
   *
   * @category guards
   * @since 0.1.0
   */
  isRateLimitExceededError,
  /**
   * A rate limit turned a call away (re-exported from the
   * `RateLimitExceededError` module).
   *
   * @category errors
   * @since 0.1.0
   */
  RateLimitExceededError
} from "./RateLimitExceededError.js"

/**
 * The options of `RateLimit.make`.
 *
 * @category models
 * @since 0.1.0
 */
export interface RateLimitOptions {
  /**
   * Shown in errors, events and metrics: a non-blank string of at most
   * `Limits.maxNameLength` (256) characters, without control characters.
   * Default `"default"`.
   */
  readonly name?: string | undefined
  /** Calls allowed per window: an integer from 1 to `Limits.maxRateLimit` (1,000,000,000). Required. */
  readonly limit: number
  /** The window: from 1 millisecond to `Limits.maxDuration` (about 24.8 days). Required. */
  readonly window: Duration.Input
  /**
   * Effect's algorithms: `"token-bucket"` (default: a bucket of `limit`
   * tokens refilled evenly over the window, so bursts up to `limit`) or
   * `"fixed-window"`.
   */
  readonly algorithm?: "token-bucket" | "fixed-window" | undefined
  /** `"fail"` (default): turn a call over the limit away at once; `"delay"`: wait its turn, at most `maxDelay`. */
  readonly onExceeded?: "fail" | "delay" | undefined
  /**
   * With `onExceeded: "delay"`: the longest wait (0 to `Limits.maxDuration`);
   * a call that would wait longer fails with `RateLimitExceededError`.
   * Default: the window. Refused with `"fail"`.
   */
  readonly maxDelay?: Duration.Input | undefined
  /**
   * The key the calls are counted under in the store (instances sharing a
   * Redis store and a key share the limit): 1 to `Limits.maxKeyLength` (256)
   * characters, without control characters. Default: the name.
   */
  readonly key?: string | undefined
  /** Tokens each call spends: an integer from 1 to `limit`. Default 1. */
  readonly tokens?: number | undefined
  /** Learn the dependency's real limit from its `429` + `Retry-After` answers (Effect's adaptive mode). Default `false`. */
  readonly adaptive?: boolean | undefined
  /**
   * When the store fails (Redis unreachable): `"allow"` (default) lets the
   * call through and logs a warning at most once a minute; `"fail"` fails
   * it with Effect's `RateLimiterError`.
   */
  readonly onStoreError?: "allow" | "fail" | undefined
  /**
   * The longest wait for the store's answer (Redis stalled, a network that
   * drops packets): from 1 millisecond to `Limits.maxDuration`. A store that
   * has not answered by then has failed, and `onStoreError` decides.
   * Default 1 second.
   */
  readonly storeTimeout?: Duration.Input | undefined
  /** The limiter to count with. Default: the `RateLimiter` service of the context `make` runs in. */
  readonly limiter?: RateLimiter.RateLimiter | undefined
  /** Report this policy's metrics (see the `Metrics` module). Default: as the context says (`Metrics.layer`). */
  readonly metrics?: boolean | undefined
}

/**
 * What a dependency answered a call a permit let through: its HTTP status
 * and `Retry-After` (when it sent one). Only a `429` with a `Retry-After`
 * teaches an adaptive limit something.
 *
 * @category models
 * @since 0.1.0
 */
export interface Answer {
  readonly status: number
  readonly retryAfter?: Duration.Duration | undefined
}

/**
 * One call let through by a rate limit, under `key`; `feedback` hands an
 * adaptive limit what the dependency answered (a no-op otherwise).
 *
 * @category models
 * @since 0.1.0
 */
export interface Permit {
  readonly key: string
  readonly feedback: (answer: Answer) => Effect.Effect<void>
}

/**
 * A rate-limit policy. `StoreError` is Effect's `RateLimiterError` with
 * `onStoreError: "fail"`, `never` otherwise.
 *
 * @category models
 * @since 0.1.0
 */
export interface RateLimit<StoreError = never> extends Policy<never, RateLimitExceededError | StoreError> {
  readonly kind: "RateLimit"
  readonly limit: number
  readonly window: Duration.Duration
  readonly algorithm: "token-bucket" | "fixed-window"
  readonly onExceeded: "fail" | "delay"
  /** The key calls are counted under, unless `acquire` is given another. */
  readonly key: string
  readonly adaptive: boolean
  /**
   * Takes a permit for one call under `key` (default: the policy's key; a
   * key that breaks the key rules counts under the policy's key, with a
   * warning at most once a minute): waits or fails as `apply` does.
   */
  readonly acquire: (key?: string) => Effect.Effect<Permit, RateLimitExceededError | StoreError>
  /** A `RateLimited` event for every call turned away, from the moment the stream runs. */
  readonly events: Stream.Stream<RateLimited>
  /** Subscribes now and returns the stream of events from this moment on. */
  readonly subscribe: Effect.Effect<Stream.Stream<RateLimited>, never, Scope.Scope>
}

/**
 * The policy `make` returns for options `O`.
 *
 * @category models
 * @since 0.1.0
 */
export type Made<O extends RateLimitOptions> = RateLimit<
  O["onStoreError"] extends "fail" ? RateLimiter.RateLimiterError : never
>

/**
 * Makes a rate limit counted by the `RateLimiter` of the context (or the
 * one given as `limiter`). Bad options fail with `PolicyConfigError`
 * naming each field and its rule.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RateLimit } from "effect-resilience"
 *
 * // Effect<RateLimit, PolicyConfigError, RateLimiter>
 * const partnerApi = RateLimit.make({ name: "partner-api", limit: 100, window: "1 minute", onExceeded: "delay" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <const O extends RateLimitOptions>(
  options: O
): Effect.Effect<
  Made<O>,
  PolicyConfigError,
  O["limiter"] extends RateLimiter.RateLimiter ? never : RateLimiter.RateLimiter
> =>
  makePolicy(
    "RateLimit",
    RateLimitOptionsSchema,
    options,
    (decoded, setup) => {
      // The type of `make` requires the service whenever no limiter is given.
      const limiter = decoded.limiter ??
        Context.getUnsafe(setup.context as Context.Context<unknown>, RateLimiter.RateLimiter)
      return new RateLimitImpl(setup, limiter, decoded) as unknown as Made<O>
    },
    checkRelations
  ) as never

/**
 * Applies a rate limit to a call (data-first or data-last).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RateLimit } from "effect-resilience"
 *
 * declare const limit: RateLimit.RateLimit
 * declare const lookup: Effect.Effect<string, Error>
 *
 * // Effect<string, Error | RateLimitExceededError>
 * const limited = lookup.pipe(RateLimit.rateLimit(limit))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const rateLimit: {
  <S>(
    policy: RateLimit<S>
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | RateLimitExceededError | S, R>
  <A, E, R, S>(self: Effect.Effect<A, E, R>, policy: RateLimit<S>): Effect.Effect<A, E | RateLimitExceededError | S, R>
} = applyPolicy as never

// ---------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------

const isRateLimiter = (u: unknown): u is RateLimiter.RateLimiter =>
  typeof u === "object" && u !== null && RateLimiter.TypeId in u

const isKey = (key: string): boolean => key.trim().length > 0 && key.length <= maxKeyLength && !hasControlCharacter(key)

const Key = Schema.String.check(
  Schema.makeFilter((key: string) => isKey(key), {
    expected: `a non-blank string of at most ${maxKeyLength} characters, without control characters`
  })
)

const RateLimitOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  limit: IntBetween(1, maxRateLimit),
  window: durationInput({ allowZero: false }),
  algorithm: Schema.optional(Schema.Literals(["token-bucket", "fixed-window"])),
  onExceeded: Schema.optional(Schema.Literals(["fail", "delay"])),
  maxDelay: Schema.optional(durationInput({ allowZero: true })),
  key: Schema.optional(Key),
  tokens: Schema.optional(IntBetween(1, maxRateLimit)),
  adaptive: Schema.optional(Schema.Boolean),
  onStoreError: Schema.optional(Schema.Literals(["allow", "fail"])),
  storeTimeout: Schema.optional(durationInput({ allowZero: false })),
  limiter: Schema.optional(InstanceValue(isRateLimiter, "a RateLimiter from effect/persistence")),
  ...metricsOption
})

type Decoded = typeof RateLimitOptionsSchema.Type

const checkRelations = (options: Decoded) => [
  ...(options.tokens !== undefined && options.tokens > options.limit
    ? [{ field: "tokens", rule: `must be at most \`limit\` (${options.limit}): such a call could never run` }]
    : []),
  ...(options.maxDelay !== undefined && (options.onExceeded ?? "fail") === "fail"
    ? [{ field: "maxDelay", rule: "applies only with `onExceeded: \"delay\"`: a failing limit never waits" }]
    : [])
]

const storeWarningMillis = 60_000

/** The longest wait for the store by default: a rate limit must not hold a call up longer than its work. */
const defaultStoreTimeout = Duration.seconds(1)

class RateLimitImpl<StoreError>
  extends PolicyBase<never, RateLimitExceededError | StoreError, never, never, RateLimited>
  implements RateLimit<StoreError>
{
  readonly kind = "RateLimit" as const
  readonly limit: number
  readonly window: Duration.Duration
  readonly algorithm: "token-bucket" | "fixed-window"
  readonly onExceeded: "fail" | "delay"
  readonly key: string
  readonly adaptive: boolean
  private readonly tokens: number
  private readonly maxDelayMillis: number
  private readonly failOnStoreError: boolean
  private readonly storeTimeout: Duration.Duration
  private readonly rejected: Record<RateLimitReason, Cell>
  private readonly storeErrors: Cell
  private readonly storeWarnings = new LogThrottle(storeWarningMillis)
  private readonly keyWarnings = new LogThrottle(storeWarningMillis)
  /** The permit of a call let through without adaptive learning: it has nothing to learn. */
  private readonly plainPermit: Permit

  constructor(setup: Setup, private readonly limiter: RateLimiter.RateLimiter, options: Decoded) {
    super(setup)
    this.limit = options.limit
    this.window = options.window
    this.algorithm = options.algorithm ?? "token-bucket"
    this.onExceeded = options.onExceeded ?? "fail"
    this.key = options.key ?? setup.name
    this.adaptive = options.adaptive ?? false
    this.tokens = options.tokens ?? 1
    this.maxDelayMillis = Duration.toMillis(options.maxDelay ?? options.window)
    this.failOnStoreError = options.onStoreError === "fail"
    this.storeTimeout = options.storeTimeout ?? defaultStoreTimeout
    this.rejected = {
      Exceeded: this.counter(policyMetrics.rateLimited, { reason: "Exceeded" }),
      Cooldown: this.counter(policyMetrics.rateLimited, { reason: "Cooldown" })
    }
    this.storeErrors = this.counter(policyMetrics.rateLimitStoreErrors)
    this.plainPermit = { key: this.key, feedback: () => Effect.void }
  }

  readonly apply = <A, E, R>(
    self: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | RateLimitExceededError | StoreError, R> => {
    if (!this.adaptive) return Effect.flatMap(this.acquire(), () => self)
    // An adaptive limit learns from a call's `429` + `Retry-After`, as an HttpClientError carries it.
    return Effect.flatMap(this.acquire(), (permit) =>
      Effect.tapError(self, (error) => {
        const answer = tooManyRequests(error, this.now())
        return answer === undefined ? Effect.void : permit.feedback(answer)
      }))
  }

  readonly acquire = (key?: string): Effect.Effect<Permit, RateLimitExceededError | StoreError> => {
    if (key === undefined || key === this.key || isKey(key)) return this.take(key ?? this.key)
    const warning = this.keyWarnings.warn(
      this.now(),
      () =>
        `Rate limit "${this.name}": a key breaks the key rules (1 to ${maxKeyLength} characters, no ` +
        `control characters); its calls count under "${this.key}"`
    )
    return Effect.andThen(warning, this.take(this.key))
  }

  private take(key: string): Effect.Effect<Permit, RateLimitExceededError | StoreError> {
    const taken = Effect.flatMap(this.consume(key), (delay) => {
      if (delay === undefined) return this.admitted(key)
      return Effect.andThen(Effect.sleep(delay), this.admitted(key))
    })
    return Effect.catchTag(taken, "RateLimiterError", (error) => this.storeFailed(error, key))
  }

  /** Spends the call's tokens: the wait before it may run (`undefined`: none), or the rejection. */
  private consume(
    key: string
  ): Effect.Effect<Duration.Duration | undefined, RateLimitExceededError | RateLimiter.RateLimiterError> {
    const consumed = this.bounded(this.limiter.consume({
      algorithm: this.algorithm,
      onExceeded: this.onExceeded,
      window: this.window,
      limit: this.limit,
      key,
      tokens: this.tokens
    }))
    return Effect.matchEffect(consumed, {
      onSuccess: ({ delay }) => this.waitOrReject(key, delay, "Exceeded"),
      onFailure: (error): Effect.Effect<never, RateLimitExceededError | RateLimiter.RateLimiterError> =>
        error.reason._tag === "RateLimitExceeded"
          ? this.reject(key, error.reason.retryAfter, "Exceeded")
          : Effect.fail(error)
    })
  }

  /** A wait the store asked for: nothing, a wait within `maxDelay`, or a rejection. */
  private waitOrReject(
    key: string,
    delay: Duration.Duration,
    reason: RateLimitReason
  ): Effect.Effect<Duration.Duration | undefined, RateLimitExceededError> {
    const millis = Duration.toMillis(delay)
    if (millis <= 0) return Effect.succeed(undefined)
    if (this.onExceeded === "delay" && millis <= this.maxDelayMillis) return Effect.succeed(delay)
    return this.reject(key, delay, reason)
  }

  private reject(key: string, retryAfter: Duration.Duration, reason: RateLimitReason) {
    this.rejected[reason].count++
    if (this.publisher.active) {
      this.publisher.publish(new RateLimited({ policy: this.name, key, reason, retryAfter, at: this.now() }))
    }
    return Effect.fail(new RateLimitExceededError({ policy: this.name, key, limit: this.limit, retryAfter }))
  }

  /** The permit once the static limit let the call through: an adaptive limit has its say too. */
  private admitted(key: string): Effect.Effect<Permit, RateLimitExceededError | RateLimiter.RateLimiterError> {
    if (!this.adaptive) return Effect.succeed(key === this.key ? this.plainPermit : { ...this.plainPermit, key })
    const fallbackWindow = this.window
    const adaptive: Effect.Effect<Permit, RateLimitExceededError | RateLimiter.RateLimiterError> = Effect.flatMap(
      this.bounded(
        this.limiter.adaptiveConsume({ key, tokens: this.tokens, fallbackLimit: this.limit, fallbackWindow })
      ),
      (result) =>
        Effect.flatMap(
          this.waitOrReject(key, result.delay, result.phase === "cooldown" ? "Cooldown" : "Exceeded"),
          (delay) => {
            // A cool-down is waited out and asked again (it may have turned into learning); a pace is kept.
            if (delay !== undefined && result.phase === "cooldown") return Effect.andThen(Effect.sleep(delay), adaptive)
            const permit = this.learningPermit(key, result.epoch)
            return delay === undefined ? Effect.succeed(permit) : Effect.as(Effect.sleep(delay), permit)
          }
        )
    )
    return adaptive
  }

  private learningPermit(key: string, epoch: number): Permit {
    return {
      key,
      feedback: (answer) =>
        answer.status !== 429 || answer.retryAfter === undefined
          ? Effect.void
          : Effect.catchTag(
            this.bounded(this.limiter.adaptiveFeedback({
              key,
              epoch,
              tokens: this.tokens,
              status: answer.status,
              retryAfter: answer.retryAfter
            })),
            "RateLimiterError",
            (error) => Effect.asVoid(Effect.ignore(this.storeFailed(error, key)))
          )
    }
  }

  /** A store's answer, waited for at most `storeTimeout`: one that does not come is the store's failure. */
  private bounded<A>(
    asked: Effect.Effect<A, RateLimiter.RateLimiterError>
  ): Effect.Effect<A, RateLimiter.RateLimiterError> {
    return Effect.timeoutOrElse(asked, {
      duration: this.storeTimeout,
      orElse: () =>
        Effect.fail(
          new RateLimiter.RateLimiterError({
            reason: new RateLimiter.RateLimitStoreError({
              message: `no answer within ${Duration.format(this.storeTimeout)}`
            })
          })
        )
    })
  }

  /** A store that failed: the call goes through (with a throttled warning), or fails with the store's error. */
  private storeFailed(error: RateLimiter.RateLimiterError, key: string): Effect.Effect<Permit, StoreError> {
    this.storeErrors.count++
    if (this.failOnStoreError) return Effect.fail(error as StoreError)
    return Effect.as(
      this.storeWarnings.warn(
        this.now(),
        () => `Rate limit "${this.name}": its store failed (${error.message}); calls go through unlimited meanwhile`
      ),
      key === this.key ? this.plainPermit : { ...this.plainPermit, key }
    )
  }
}

/** A `429 Too Many Requests` an error carries (Effect's `StatusCodeError`), with its `Retry-After`. */
const tooManyRequests = (error: unknown, now: number): Answer | undefined => {
  if (!HttpClientError.isHttpClientError(error) || error.reason._tag !== "StatusCodeError") return undefined
  const response = error.reason.response
  if (response.status !== 429) return undefined
  return { status: 429, retryAfter: Option.getOrUndefined(parseRetryAfter(response, now, maxRetryAfterHint)) }
}

/** The longest cool-down a `Retry-After` may ask of an adaptive limit (Effect's store caps it at an hour too). */
const maxRetryAfterHint = Duration.hours(1)
