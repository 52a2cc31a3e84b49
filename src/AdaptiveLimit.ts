/**
 * Adaptive concurrency limits: a bulkhead whose size moves with what it
 * observes, so that a dependency gets as many calls at once as it can serve
 * without queueing them — found at run time, not guessed in a config file.
 *
 * At most `limit` calls run at once; every other call fails at once with a
 * typed `ConcurrencyLimitExceededError` (`HttpProblem` answers it with 503 and
 * `Retry-After`). After each call the limit moves, by one of the algorithms
 * of Netflix's concurrency-limits:
 *
 * - `vegas()` (the default): estimates the calls queued at the dependency as
 *   `limit × (1 − rttNoLoad / rtt)` and keeps that queue between `alpha` and
 *   `beta`;
 * - `gradient2()`: compares each round trip with a long-term average of the
 *   dependency's latency, and shrinks the limit when they drift apart by more
 *   than `rttTolerance`;
 * - `aimd()`: one more slot per good call, the limit times `backoffRatio`
 *   after a drop (loss-based, as TCP Reno).
 *
 * A **drop** is what the circuit breaker would call a failure (the same
 * `classify`, with the same default), a timeout (`TimeoutError`, the
 * `Timeout` policy's or Effect's own) or a rejection (`CircuitOpenError`,
 * `BulkheadFullError`, `ConcurrencyLimitExceededError`) — whatever `classify`
 * answers for these. Drops shrink the limit and never enter the round-trip
 * estimates. A call the classifier ignores, and an interrupted call, neither
 * grows nor shrinks the limit (an interruption says nothing about the
 * dependency); every admitted call gives its slot back however it ends.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { AdaptiveLimit, Timeout } from "effect-resilience"
 *
 * declare const search: (q: string) => Effect.Effect<ReadonlyArray<string>, Error>
 *
 * const program = Effect.gen(function*() {
 *   const limit = yield* AdaptiveLimit.make({ name: "search", algorithm: AdaptiveLimit.vegas() })
 *   const timeout = yield* Timeout.make({ duration: "2 seconds" })
 *   // The timeout inside the limit: a call that times out is a drop.
 *   return yield* search("effect").pipe(Timeout.timeout(timeout), AdaptiveLimit.withLimit(limit))
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Context, Effect, Scope, Stream } from "effect"
import { Duration, Layer, Schema } from "effect"
import type { Classifier } from "./Classifier.js"
import type { ConcurrencyLimitExceededError } from "./ConcurrencyLimitExceededError.js"
import { ConfigIssue } from "./ConfigIssue.js"
import { AdaptiveLimitImpl, AlgorithmSchema, defaults } from "./internal/adaptiveLimit.js"
import { Name } from "./internal/options.js"
import { applyPolicy, makePolicy, metricsOption } from "./internal/policy.js"
import { durationInput, FunctionValue, IntBetween } from "./internal/schemas.js"
import { maxConcurrent } from "./Limits.js"
import type { Policy } from "./Policy.js"
import type { PolicyConfigError } from "./PolicyConfigError.js"
import type { LimitChanged } from "./PolicyEvent.js"

export {
  /**
   * A call an adaptive limit turned away (re-exported from the
   * `ConcurrencyLimitExceededError` module).
   *
   * @category errors
   * @since 0.1.0
   */
  ConcurrencyLimitExceededError,
  /**
   * Whether a value is a `ConcurrencyLimitExceededError` (re-exported from the
   * `ConcurrencyLimitExceededError` module).
   *
   * @category guards
   * @since 0.1.0
   */
  isConcurrencyLimitExceededError
} from "./ConcurrencyLimitExceededError.js"

export {
  /**
   * The event of a limit that moved (re-exported from the `PolicyEvent`
   * module).
   *
   * @category events
   * @since 0.1.0
   */
  LimitChanged
} from "./PolicyEvent.js"

/**
 * The options of `aimd()`.
 *
 * @category models
 * @since 0.1.0
 */
export interface AimdOptions {
  /** The limit is multiplied by this after a drop: a number from 0.5 to 0.99. Default 0.9 (as Netflix's). */
  readonly backoffRatio?: number | undefined
  /**
   * A call this slow or slower counts as a drop, even when it succeeds: from 1
   * millisecond to `Limits.maxDuration`. Default 5 seconds (Netflix's
   * `timeout`). Set it to your latency target to make AIMD latency-aware.
   */
  readonly slowCallDuration?: Duration.Input | undefined
}

/**
 * The options of `gradient2()`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Gradient2Options {
  /**
   * How much slower than the long-term average a round trip may be before
   * the limit shrinks: a number from 1 to 10 (2 means twice as slow is
   * fine). Default 1.25 (Netflix's is 1.5, which lets the p99 reach about
   * twice the unloaded latency).
   */
  readonly rttTolerance?: number | undefined
  /** How much of each new estimate the limit takes: a number greater than 0 and at most 1. Default 0.2. */
  readonly smoothing?: number | undefined
  /** Calls the limit may grow by per sample while round trips stay low: an integer from 0 to 1,000. Default 4. */
  readonly queueSize?: number | undefined
  /**
   * Samples the long-term average spans: an integer from 10 to 1,000,000.
   * Default 600. While the limit is full, every `longWindow / 10` samples the
   * average refused, the limit is halved for a moment to measure the
   * dependency with its queue drained.
   */
  readonly longWindow?: number | undefined
}

/**
 * The options of `vegas()`.
 *
 * @category models
 * @since 0.1.0
 */
export interface VegasOptions {
  /**
   * Below this estimated queue the limit grows: a number from 0 to 1,000.
   * Default `3 × log10(limit)` (at least 3).
   */
  readonly alpha?: number | undefined
  /**
   * Above this estimated queue the limit shrinks: a number from 0 to 1,000,
   * greater than `alpha`. Default `6 × log10(limit)` (at least 6).
   */
  readonly beta?: number | undefined
  /** How much of each new estimate the limit takes: a number greater than 0 and at most 1. Default 1. */
  readonly smoothing?: number | undefined
  /**
   * Every `probeMultiplier × limit` samples (jittered by a half) the no-load
   * round trip is measured afresh: an integer from 1 to 100,000. Default 30.
   */
  readonly probeMultiplier?: number | undefined
}

/**
 * An algorithm and its options, made with `aimd`, `gradient2` or `vegas`.
 *
 * @category models
 * @since 0.1.0
 */
export type Algorithm =
  | ({ readonly _tag: "Aimd" } & AimdOptions)
  | ({ readonly _tag: "Gradient2" } & Gradient2Options)
  | ({ readonly _tag: "Vegas" } & VegasOptions)

/**
 * AIMD: additive increase (one slot per good call made while at least half
 * the limit was in use), multiplicative decrease (times `backoffRatio`) on a
 * drop or a call slower than `slowCallDuration`.
 *
 * @example
 * ```ts
 * import { AdaptiveLimit } from "effect-resilience"
 *
 * const limit = AdaptiveLimit.make({ algorithm: AdaptiveLimit.aimd({ slowCallDuration: "250 millis" }) })
 * ```
 *
 * @category algorithms
 * @since 0.1.0
 */
export const aimd = (options?: AimdOptions): Algorithm => ({ _tag: "Aimd", ...options })

/**
 * Gradient2: the limit follows `limit × clamp(rttTolerance × longRtt / rtt,
 * 0.5, 1) + queueSize`, smoothed by `smoothing`. `longRtt` is a long-term
 * average of the dependency's latency that, unlike Netflix's, does not learn
 * the queue its own limit lets build: a sample taken with the limit full may
 * lower it but not raise it, and now and then, while the limit stays full,
 * the limit is halved until a sample of calls started at that level measures
 * the dependency afresh (see docs/adaptive-concurrency.md).
 *
 * @example
 * ```ts
 * import { AdaptiveLimit } from "effect-resilience"
 *
 * const limit = AdaptiveLimit.make({ algorithm: AdaptiveLimit.gradient2({ rttTolerance: 2 }) })
 * ```
 *
 * @category algorithms
 * @since 0.1.0
 */
export const gradient2 = (options?: Gradient2Options): Algorithm => ({ _tag: "Gradient2", ...options })

/**
 * Vegas: keeps the estimated queue at the dependency,
 * `limit × (1 − rttNoLoad / rtt)`, between `alpha` and `beta`.
 *
 * @example
 * ```ts
 * import { AdaptiveLimit } from "effect-resilience"
 *
 * const limit = AdaptiveLimit.make({ algorithm: AdaptiveLimit.vegas({ alpha: 2, beta: 4 }) })
 * ```
 *
 * @category algorithms
 * @since 0.1.0
 */
export const vegas = (options?: VegasOptions): Algorithm => ({ _tag: "Vegas", ...options })

/**
 * The options of `AdaptiveLimit.make`.
 *
 * @category models
 * @since 0.1.0
 */
export interface AdaptiveLimitOptions {
  /**
   * Shown in errors, events and snapshots: a non-blank string of at most `Limits.maxNameLength` (256)
   * characters, without control characters. Default `"default"`.
   */
  readonly name?: string | undefined
  /** How the limit moves: `vegas()`, `gradient2()` or `aimd()`. Default `vegas()`. */
  readonly algorithm?: Algorithm | undefined
  /** The limit to start from: an integer from `minLimit` to `maxLimit`. Default 20 (as Netflix's), kept within `[minLimit, maxLimit]`. */
  readonly initialLimit?: number | undefined
  /** The least the limit goes down to: an integer from 1 to `Limits.maxConcurrent` (100,000). Default 1. */
  readonly minLimit?: number | undefined
  /**
   * The most the limit goes up to: an integer from `minLimit` to `Limits.maxConcurrent` (100,000).
   * Default 200 (as Netflix's AIMD and Gradient2), or `minLimit` when that
   * is larger.
   */
  readonly maxLimit?: number | undefined
  /**
   * What counts as a failure, as for a circuit breaker (see the `Classifier`
   * module): a failure is a drop; an ignored call moves nothing. Timeouts and
   * rejections are drops whatever it answers. Default
   * `Classifier.defaultClassifier`.
   */
  readonly classify?: Classifier | undefined
  /**
   * Finished calls averaged into one sample of the algorithm: an integer
   * from 1 to 1,000. Default 10 (as Netflix's `WindowedLimit`, which also
   * waits at least a second). 1 moves the limit after every call.
   */
  readonly window?: number | undefined
  /**
   * `LimitChanged` events are coalesced: at most one per interval, from 1
   * millisecond to `Limits.maxDuration`. Default 1 second.
   */
  readonly eventInterval?: Duration.Input | undefined
  /** Report this policy's metrics (see the `Metrics` module). Default: as the context says (`Metrics.layer`). */
  readonly metrics?: boolean | undefined
}

/**
 * What an adaptive limit knows now: its `limit` and bounds, the calls
 * `inFlight`, the short-term average round trip of its good calls
 * (`recentRtt`) and the algorithm's reference (`baselineRtt`: Vegas's no-load
 * round trip, Gradient2's long-term average; `null` for AIMD, or before the first
 * sample), and how many calls it counted by outcome.
 *
 * @category models
 * @since 0.1.0
 */
export class AdaptiveLimitSnapshot extends Schema.Class<AdaptiveLimitSnapshot>("AdaptiveLimitSnapshot")({
  policy: Schema.String,
  algorithm: Schema.Literals(["Aimd", "Gradient2", "Vegas"]),
  limit: Schema.Number,
  inFlight: Schema.Number,
  minLimit: Schema.Number,
  maxLimit: Schema.Number,
  recentRtt: Schema.NullOr(Schema.Duration),
  baselineRtt: Schema.NullOr(Schema.Duration),
  successes: Schema.Number,
  drops: Schema.Number,
  ignored: Schema.Number,
  rejections: Schema.Number
}) {}

/**
 * An adaptive concurrency limit. As a policy it adds
 * `ConcurrencyLimitExceededError` to the calls it guards.
 *
 * @category models
 * @since 0.1.0
 */
export interface AdaptiveLimit extends Policy<never, ConcurrencyLimitExceededError> {
  readonly kind: "AdaptiveLimit"
  /** The algorithm moving the limit. */
  readonly algorithm: Algorithm["_tag"]
  /** The limit, the calls in flight, the round-trip estimates and the counts now. */
  readonly snapshot: Effect.Effect<AdaptiveLimitSnapshot>
  /** A `LimitChanged` event when the limit moved (coalesced), from the moment the stream runs. */
  readonly events: Stream.Stream<LimitChanged>
  /** Subscribes now and returns the stream of events from this moment on. */
  readonly subscribe: Effect.Effect<Stream.Stream<LimitChanged>, never, Scope.Scope>
}

/**
 * Makes an adaptive concurrency limit. Bad options (a limit of 0, a
 * `backoffRatio` of 1, `minLimit` above `maxLimit`, an unknown field) fail
 * with `PolicyConfigError` naming each field and rule.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AdaptiveLimit } from "effect-resilience"
 *
 * const program = Effect.gen(function*() {
 *   const limit = yield* AdaptiveLimit.make({ name: "inventory", algorithm: AdaptiveLimit.gradient2(), maxLimit: 100 })
 *   const answer = yield* Effect.succeed("in stock").pipe(AdaptiveLimit.withLimit(limit))
 *   const { inFlight, limit: current } = yield* limit.snapshot
 *   return { answer, inFlight, current }
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options?: AdaptiveLimitOptions): Effect.Effect<AdaptiveLimit, PolicyConfigError> =>
  makePolicy(
    "AdaptiveLimit",
    OptionsSchema,
    options,
    (decoded, setup) => {
      const minLimit = decoded.minLimit ?? defaults.minLimit
      const maxLimit = decoded.maxLimit ?? Math.max(minLimit, defaults.maxLimit)
      return new AdaptiveLimitImpl(setup, (fields) => new AdaptiveLimitSnapshot(fields), {
        algorithm: decoded.algorithm ?? { _tag: "Vegas" },
        bounds: {
          minLimit,
          maxLimit,
          initialLimit: decoded.initialLimit ?? Math.min(maxLimit, Math.max(minLimit, defaults.initialLimit))
        },
        classify: decoded.classify,
        eventIntervalMillis: Duration.toMillis(decoded.eventInterval ?? defaults.eventInterval),
        window: decoded.window ?? defaults.window
      })
    },
    checkRelations
  )

/**
 * Provides an adaptive limit under a service key of your own.
 *
 * @example
 * ```ts
 * import { Context } from "effect"
 * import { AdaptiveLimit } from "effect-resilience"
 *
 * class SearchLimit extends Context.Service<SearchLimit, AdaptiveLimit.AdaptiveLimit>()("app/SearchLimit") {}
 *
 * const SearchLimitLive = AdaptiveLimit.layerAs(SearchLimit, { name: "search" })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerAs = <I>(
  tag: Context.Key<I, AdaptiveLimit>,
  options?: AdaptiveLimitOptions
): Layer.Layer<I, PolicyConfigError> => Layer.effect(tag, make(options))

/**
 * Guards a call with an adaptive limit (data-first or data-last). The error
 * type gains `ConcurrencyLimitExceededError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AdaptiveLimit } from "effect-resilience"
 *
 * declare const limit: AdaptiveLimit.AdaptiveLimit
 * declare const lookup: Effect.Effect<number, Error>
 *
 * // Effect<number, Error | ConcurrencyLimitExceededError>
 * const limited = lookup.pipe(AdaptiveLimit.withLimit(limit))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withLimit: {
  (limit: AdaptiveLimit): <A, E, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | ConcurrencyLimitExceededError, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, limit: AdaptiveLimit): Effect.Effect<
    A,
    E | ConcurrencyLimitExceededError,
    R
  >
} = applyPolicy as never

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

const OptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  algorithm: Schema.optional(AlgorithmSchema),
  initialLimit: Schema.optional(IntBetween(1, maxConcurrent)),
  minLimit: Schema.optional(IntBetween(1, maxConcurrent)),
  maxLimit: Schema.optional(IntBetween(1, maxConcurrent)),
  classify: Schema.optional(FunctionValue<Classifier>("a function (exit) => outcome")),
  window: Schema.optional(IntBetween(1, 1_000)),
  eventInterval: Schema.optional(durationInput({ allowZero: false })),
  ...metricsOption
})

const checkRelations = (
  options: typeof OptionsSchema.Type,
  invalid: ReadonlySet<string>
): ReadonlyArray<ConfigIssue> => {
  const issues: Array<ConfigIssue> = []
  const min = invalid.has("minLimit") ? undefined : options.minLimit ?? defaults.minLimit
  const max = invalid.has("maxLimit") ? undefined : options.maxLimit
  const initial = invalid.has("initialLimit") ? undefined : options.initialLimit
  if (min !== undefined && max !== undefined && max < min) {
    issues.push(new ConfigIssue({ field: "maxLimit", rule: `must be at least minLimit (${min}), got ${max}` }))
  }
  if (initial !== undefined && min !== undefined && initial < min) {
    issues.push(new ConfigIssue({ field: "initialLimit", rule: `must be at least minLimit (${min}), got ${initial}` }))
  }
  const ceiling = max ?? (min === undefined ? undefined : Math.max(min, defaults.maxLimit))
  if (initial !== undefined && ceiling !== undefined && initial > ceiling) {
    issues.push(
      new ConfigIssue({ field: "initialLimit", rule: `must be at most maxLimit (${ceiling}), got ${initial}` })
    )
  }
  const algorithm = invalid.has("algorithm") ? undefined : options.algorithm
  if (algorithm?._tag === "Vegas" && algorithm.alpha !== undefined && algorithm.beta !== undefined) {
    if (algorithm.beta <= algorithm.alpha) {
      issues.push(
        new ConfigIssue({
          field: "algorithm.beta",
          rule: `must be greater than alpha (${algorithm.alpha}), got ${algorithm.beta}`
        })
      )
    }
  }
  return issues
}
