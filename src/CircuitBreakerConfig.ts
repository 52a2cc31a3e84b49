/**
 * Circuit breaker configuration: what you write, its defaults, and how it is
 * validated.
 *
 * A configuration is decoded by an `effect/Schema` when a breaker is made.
 * Every invalid value — a negative or fractional count, a rate outside
 * [0, 1], `NaN`, an unknown field, a window that can never fill, a success
 * threshold above the probe permits, anything past its bound (see the
 * `Limits` module), an option that cannot be read (a getter that throws) —
 * fails with a `CircuitBreakerConfigError` that names each field and the
 * rule it breaks, every broken rule at once. Nothing throws, nothing is
 * allocated before the configuration is valid, and nothing is silently
 * replaced by a default. The resolved configuration is frozen.
 *
 * Defaults (and where they come from):
 *
 * | field | default | follows |
 * |---|---|---|
 * | `name` | `"default"` | |
 * | trip rules | `consecutiveFailures: 5` when no rule is set | pybreaker (`fail_max=5`) |
 * | `window` | `countWindow(100)` | Resilience4j (`slidingWindowSize=100`) |
 * | `minimumCalls` | 100, at most the count window's size | Resilience4j, Polly |
 * | `slowCallDuration` | 60 seconds, when `slowCallRate` is set | Resilience4j |
 * | `openDuration` | 60 seconds | Resilience4j, pybreaker |
 * | `maxOpenDuration` | none | |
 * | `halfOpenPermits` | 1 | pybreaker, opossum, cockatiel |
 * | `successThreshold` | `halfOpenPermits` (every probe must succeed) | |
 * | `halfOpenFailureRate` | none (one failed probe reopens) | Resilience4j (`failureRateThreshold` in half-open) |
 * | `halfOpenMaxWait` | none (wait for the probes) | Resilience4j (`0`: no limit) |
 * | `metrics` | off, unless `Metrics.layer` switches them on | |
 * | `logTransitions` | `true` | |
 *
 * @since 0.1.0
 */
import type { Schedule } from "effect"
import { Duration, Effect, Result, Schema } from "effect"
import type { Classifier } from "./Classifier.js"
import { ConfigIssue } from "./ConfigIssue.js"
import { configFromEnv } from "./internal/configFromEnv.js"
import type { CheckRelations } from "./internal/options.js"
import { decodeOptions, Name, nameOf, readField } from "./internal/options.js"
import { markValidated } from "./internal/resolved.js"
import { durationInput, durationOrSchedule, FunctionValue, IntBetween, PositiveRate, Rate } from "./internal/schemas.js"
import { maxCount, maxEventBufferSize, maxHalfOpenPermits } from "./Limits.js"
import type { ResolvedWindow, WindowSpec } from "./SlidingWindow.js"
import { countWindow, WindowSpecSchema } from "./SlidingWindow.js"

/**
 * The configuration of a circuit breaker, as written by its user.
 *
 * @example
 * ```ts
 * import { Schedule } from "effect"
 * import type { CircuitBreakerConfig } from "effect-resilience"
 * import { SlidingWindow } from "effect-resilience"
 *
 * const payments: CircuitBreakerConfig.CircuitBreakerConfig = {
 *   name: "payments",
 *   failureRate: 0.5,
 *   minimumCalls: 20,
 *   window: SlidingWindow.timeWindow("1 minute"),
 *   openDuration: Schedule.exponential("5 seconds").pipe(Schedule.jittered),
 *   maxOpenDuration: "2 minutes",
 *   halfOpenPermits: 3
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface CircuitBreakerConfig {
  /**
   * Shown in errors, events and snapshots: a non-blank string of at most `Limits.maxNameLength` (256)
   * characters, without control characters. Default `"default"`.
   */
  readonly name?: string | undefined
  /** Trip after this many failures in a row (1 to `Limits.maxCount`); a success resets the streak. */
  readonly consecutiveFailures?: number | undefined
  /** Trip when the window holds this many failures (1 to `Limits.maxCount`, at most a count window's size). */
  readonly failureCount?: number | undefined
  /** Trip when `failures / calls` in the window is at or above this fraction (once `minimumCalls` are recorded). */
  readonly failureRate?: number | undefined
  /** Trip when `slowCalls / calls` in the window is at or above this fraction (once `minimumCalls` are recorded). */
  readonly slowCallRate?: number | undefined
  /** A call that takes this long or longer (success or failure) is slow: 1 ms to `Limits.maxDuration`. */
  readonly slowCallDuration?: Duration.Input | undefined
  /**
   * The window the count and rate rules look at. Default `countWindow(100)`.
   * Bounds: `Limits.maxCountWindowSize` outcomes, `Limits.maxTimeWindowBuckets`
   * buckets of at least 1 ms.
   */
  readonly window?: WindowSpec | undefined
  /** Calls the window must hold before a rate rule can trip (1 to `Limits.maxCount`, at most a count window's size). */
  readonly minimumCalls?: number | undefined
  /**
   * How long the circuit stays open: a duration (0, or 1 ms to
   * `Limits.maxDuration`), or a `Schedule` whose n-th delay is the n-th
   * consecutive opening (e.g. exponential backoff; a delay past
   * `Limits.maxDuration` is capped to it).
   */
  readonly openDuration?: Duration.Input | Schedule.Schedule<unknown, number> | undefined
  /**
   * Caps every open period, whatever `openDuration` computes: 1 ms to
   * `Limits.maxDuration`. (Not the option of the same name in
   * `effect/persistence`'s breaker, which caps only a failure's `Retry-After`
   * hint.)
   */
  readonly maxOpenDuration?: Duration.Input | undefined
  /** Probe calls admitted in one half-open period: 1 to `Limits.maxHalfOpenPermits` (1000). Default 1. */
  readonly halfOpenPermits?: number | undefined
  /** Successful probes that close the circuit. Default `halfOpenPermits`. */
  readonly successThreshold?: number | undefined
  /**
   * Decide a half-open period by the failure rate over its probes, as
   * Resilience4j does, instead of "one failed probe reopens": the circuit
   * waits for all `halfOpenPermits` probes to finish, then reopens when
   * `failed / probes` is at or above this fraction (reason
   * `ProbeFailureRate`) and closes otherwise. A number greater than 0 and at
   * most 1; needs `halfOpenPermits` of at least 2, and excludes
   * `successThreshold` (the rate decides). A slow probe counts as failed
   * when `slowCallRate` is set; an interrupted or ignored probe gives its
   * permit back and counts as nothing. Default: none.
   */
  readonly halfOpenFailureRate?: number | undefined
  /**
   * Probes that have not decided within this time reopen the circuit: 1 ms to
   * `Limits.maxDuration`. The wait counts from the admission of a probe made
   * while no other was running (the period's first, or the first after every
   * earlier probe decided): a half-open period that no caller has reached
   * stays half-open.
   */
  readonly halfOpenMaxWait?: Duration.Input | undefined
  /** Classifies every call's exit (see the `Classifier` module). Per-call options override it. */
  readonly classify?: Classifier | undefined
  /** Events buffered per subscriber before the oldest are dropped: 1 to `Limits.maxEventBufferSize`. Default 1024. */
  readonly eventBufferSize?: number | undefined
  /**
   * Register the breaker's metrics (see the `Metrics` module): `true`,
   * `false`, or `{ callDurations }`. Default: as the context says
   * (`Metrics.layer` switches them on), which is off unless switched on. The
   * call duration histogram times every call, which costs two clock reads
   * per call: it is on when the configuration times calls anyway (a time
   * window, a slow-call rule), and otherwise when asked for with
   * `{ callDurations: true }`.
   */
  readonly metrics?: boolean | MetricsOptions | undefined
  /** Log every transition: a warning when calls stop running, info otherwise. Default `true`. */
  readonly logTransitions?: boolean | undefined
}

/**
 * Finer control of a breaker's metrics.
 *
 * @category models
 * @since 0.1.0
 */
export interface MetricsOptions {
  /** Time every call into the call duration histogram. Default: only when the configuration times calls anyway. */
  readonly callDurations?: boolean | undefined
}

/**
 * A validated configuration with every default applied. The ones `decode`
 * (and `fromConfig`) return are frozen, their window too: change a copy
 * (`{ ...config, name: "api-eu" }`), which `CircuitBreaker.makeResolved`
 * checks again.
 *
 * @category models
 * @since 0.1.0
 */
export interface ResolvedConfig {
  readonly name: string
  readonly consecutiveFailures: number | undefined
  readonly failureCount: number | undefined
  readonly failureRate: number | undefined
  readonly slowCallRate: number | undefined
  readonly slowCallDuration: Duration.Duration | undefined
  readonly window: ResolvedWindow
  readonly minimumCalls: number
  readonly openDuration: Duration.Duration | Schedule.Schedule<unknown, number>
  readonly maxOpenDuration: Duration.Duration | undefined
  readonly halfOpenPermits: number
  readonly successThreshold: number
  /** When set, the failure rate over a period's probes decides it (see `CircuitBreakerConfig.halfOpenFailureRate`). */
  readonly halfOpenFailureRate: number | undefined
  readonly halfOpenMaxWait: Duration.Duration | undefined
  readonly classify: Classifier | undefined
  readonly eventBufferSize: number
  /** `undefined`: as the context says (`Metrics.Enabled`). */
  readonly metrics: boolean | MetricsOptions | undefined
  readonly logTransitions: boolean
}

/**
 * One broken rule: the field and what it must be (re-exported from the
 * `ConfigIssue` module).
 *
 * @category errors
 * @since 0.1.0
 */
export { ConfigIssue }

/**
 * An invalid circuit breaker configuration. `issues` lists every broken rule,
 * each naming its field; `message` lists them for a person.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "effect-resilience"
 *
 * const program = CircuitBreaker.make({ name: "payments", failureRate: 1.5 }).pipe(
 *   Effect.scoped,
 *   Effect.catchTag("CircuitBreakerConfigError", (error) =>
 *     Effect.logError(error.message) // failureRate: must be a number between 0 and 1 (got 1.5)
 *   )
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class CircuitBreakerConfigError extends Schema.TaggedError<CircuitBreakerConfigError>()(
  "CircuitBreakerConfigError",
  {
    breaker: Schema.String,
    issues: Schema.NonEmptyArray(ConfigIssue)
  }
) {
  override get message(): string {
    const lines = this.issues.map((issue) => `${issue.field}: ${issue.rule}`)
    return `Invalid configuration for circuit breaker "${this.breaker}": ${lines.join("; ")}`
  }
}

/**
 * The default number of consecutive failures that trips a breaker with no
 * trip rule configured.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultConsecutiveFailures = 5

/**
 * The default window: the last 100 calls.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultWindow = countWindow(100)

/**
 * The default minimum number of calls before a rate rule can trip.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultMinimumCalls = 100

/**
 * The default slow-call threshold, used when `slowCallRate` is set alone.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultSlowCallDuration: Duration.Duration = Duration.seconds(60)

/**
 * The default open duration.
 *
 * @category defaults
 * @since 0.1.0
 */
export const defaultOpenDuration: Duration.Duration = Duration.seconds(60)

const defaultEventBufferSize = 1024

/**
 * The schema a configuration is decoded with. Unknown fields are rejected, so
 * a misspelt option is an error rather than a silently ignored setting.
 *
 * @category schemas
 * @since 0.1.0
 */
export const CircuitBreakerConfigSchema = Schema.Struct({
  name: Schema.optional(Name),
  consecutiveFailures: Schema.optional(IntBetween(1, maxCount)),
  failureCount: Schema.optional(IntBetween(1, maxCount)),
  failureRate: Schema.optional(Rate),
  slowCallRate: Schema.optional(Rate),
  slowCallDuration: Schema.optional(durationInput({ allowZero: false })),
  window: Schema.optional(WindowSpecSchema),
  minimumCalls: Schema.optional(IntBetween(1, maxCount)),
  openDuration: Schema.optional(durationOrSchedule),
  maxOpenDuration: Schema.optional(durationInput({ allowZero: false })),
  halfOpenPermits: Schema.optional(IntBetween(1, maxHalfOpenPermits)),
  successThreshold: Schema.optional(IntBetween(1, maxHalfOpenPermits)),
  halfOpenFailureRate: Schema.optional(PositiveRate),
  halfOpenMaxWait: Schema.optional(durationInput({ allowZero: false })),
  classify: Schema.optional(FunctionValue<Classifier>("a function (exit) => Outcome")),
  eventBufferSize: Schema.optional(IntBetween(1, maxEventBufferSize)),
  metrics: Schema.optional(Schema.Union([
    Schema.Boolean,
    Schema.Struct({ callDurations: Schema.optional(Schema.Boolean) })
  ])),
  logTransitions: Schema.optional(Schema.Boolean)
})

const fail = (breaker: string, issues: ReadonlyArray<ConfigIssue>) =>
  Effect.fail(new CircuitBreakerConfigError({ breaker, issues: issues as [ConfigIssue, ...Array<ConfigIssue>] }))

/**
 * Validates a configuration and applies the defaults.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreakerConfig } from "effect-resilience"
 *
 * const resolved = CircuitBreakerConfig.decode({ name: "db", failureRate: 0.25 })
 * // Effect<ResolvedConfig, CircuitBreakerConfigError>
 * Effect.runSync(Effect.map(resolved, (config) => config.minimumCalls)) // => 100
 * ```
 *
 * @category decoding
 * @since 0.1.0
 */
export const decode = (
  input: CircuitBreakerConfig | undefined
): Effect.Effect<ResolvedConfig, CircuitBreakerConfigError> =>
  Effect.suspend(() => {
    const decoded = decodeOptions(
      CircuitBreakerConfigSchema,
      input,
      "circuit breaker option",
      "(config)",
      checkInput
    )
    const breaker = nameOf(input, "default")
    if (Result.isFailure(decoded)) return fail(breaker, decoded.failure)
    const config = decoded.success
    const window = config.window ?? Schema.decodeUnknownSync(WindowSpecSchema)(defaultWindow)
    const halfOpenPermits = config.halfOpenPermits ?? 1
    const minimumCalls = config.minimumCalls ??
      (window._tag === "CountWindow" ? Math.min(defaultMinimumCalls, window.size) : defaultMinimumCalls)
    const noRule = config.consecutiveFailures === undefined && config.failureCount === undefined &&
      config.failureRate === undefined && config.slowCallRate === undefined
    return Effect.succeed(markValidated<ResolvedConfig>({
      name: breaker,
      consecutiveFailures: noRule ? defaultConsecutiveFailures : config.consecutiveFailures,
      failureCount: config.failureCount,
      failureRate: config.failureRate,
      slowCallRate: config.slowCallRate,
      slowCallDuration: config.slowCallDuration ??
        (config.slowCallRate === undefined ? undefined : defaultSlowCallDuration),
      window,
      minimumCalls,
      openDuration: config.openDuration ?? defaultOpenDuration,
      maxOpenDuration: config.maxOpenDuration,
      halfOpenPermits,
      successThreshold: config.successThreshold ?? halfOpenPermits,
      halfOpenFailureRate: config.halfOpenFailureRate,
      halfOpenMaxWait: config.halfOpenMaxWait,
      classify: config.classify,
      eventBufferSize: config.eventBufferSize ?? defaultEventBufferSize,
      metrics: config.metrics,
      logTransitions: config.logTransitions ?? true
    }))
  })

/** The rules that relate several fields; a rule about an invalid field is left to that field's own issue. */
const checkRelations: CheckRelations<typeof CircuitBreakerConfigSchema.Type> = (config, invalid) => {
  const issues: Array<ConfigIssue> = []
  if (!invalid.has("halfOpenPermits") && !invalid.has("successThreshold")) {
    const halfOpenPermits = config.halfOpenPermits ?? 1
    const successThreshold = config.successThreshold ?? halfOpenPermits
    if (successThreshold > halfOpenPermits) {
      issues.push(
        new ConfigIssue({
          field: "successThreshold",
          rule: `must be at most halfOpenPermits (${halfOpenPermits}), got ${successThreshold}`
        })
      )
    }
  }
  if (
    config.halfOpenFailureRate !== undefined && !invalid.has("halfOpenPermits") && (config.halfOpenPermits ?? 1) < 2
  ) {
    issues.push(
      new ConfigIssue({
        field: "halfOpenPermits",
        rule: `must be at least 2 with halfOpenFailureRate (a rate over one probe is "one failed probe reopens"), got ${
          config.halfOpenPermits ?? 1
        }`
      })
    )
  }
  if (invalid.has("window")) return issues
  const window = config.window ?? defaultWindow
  if (window._tag === "CountWindow") {
    for (const field of ["minimumCalls", "failureCount"] as const) {
      const value = config[field]
      if (value !== undefined && !invalid.has(field) && value > window.size) {
        issues.push(
          new ConfigIssue({
            field,
            rule: `must be at most the count window's size (${window.size}), got ${value}`
          })
        )
      }
    }
  } else if (Duration.toMillis(window.duration as Duration.Duration) / window.buckets < 1) {
    issues.push(
      new ConfigIssue({
        field: "window.buckets",
        rule: `must leave buckets at least 1 millisecond wide (${
          Duration.format(window.duration as Duration.Duration)
        } in ${window.buckets} buckets)`
      })
    )
  }
  return issues
}

/**
 * The rules of a configuration as written: its relations, and one that only
 * the input can break (a resolved configuration always holds a
 * `successThreshold`).
 */
const checkInput: CheckRelations<typeof CircuitBreakerConfigSchema.Type> = (config, invalid) => {
  const issues = [...checkRelations(config, invalid)]
  if (config.halfOpenFailureRate !== undefined && config.successThreshold !== undefined) {
    issues.push(
      new ConfigIssue({
        field: "successThreshold",
        rule: "must not be set with halfOpenFailureRate: the failure rate over the probes decides the half-open period"
      })
    )
  }
  return issues
}

const fields = CircuitBreakerConfigSchema.fields

/**
 * The fields of a resolved configuration whose bounds protect memory,
 * timers and logs, checked again by `makeResolved` for a configuration the
 * library did not make: a copy of a decoded one changed by hand (`decode`
 * freezes its own, so they cannot be changed in place).
 */
const ResolvedBounds = Schema.Struct({
  name: Name,
  window: WindowSpecSchema,
  consecutiveFailures: fields.consecutiveFailures,
  failureCount: fields.failureCount,
  minimumCalls: fields.minimumCalls,
  halfOpenPermits: fields.halfOpenPermits,
  successThreshold: fields.successThreshold,
  halfOpenFailureRate: fields.halfOpenFailureRate,
  eventBufferSize: fields.eventBufferSize,
  slowCallDuration: fields.slowCallDuration,
  openDuration: fields.openDuration,
  maxOpenDuration: fields.maxOpenDuration,
  halfOpenMaxWait: fields.halfOpenMaxWait
})

const boundedFields = Object.keys(ResolvedBounds.fields) as ReadonlyArray<keyof typeof ResolvedBounds.fields>

/**
 * The rules a resolved configuration breaks: the bounds of its window,
 * counts and durations, and the rules between them. Cheaper than `decode`
 * (nothing is resolved again), for `makeResolved`.
 *
 * @internal
 */
export const checkResolved = (config: ResolvedConfig): ReadonlyArray<ConfigIssue> => {
  if (typeof config !== "object" || config === null) {
    return [
      new ConfigIssue({
        field: "(config)",
        rule: "must be a resolved configuration (from CircuitBreakerConfig.decode)"
      })
    ]
  }
  const bounded: Record<string, unknown> = {}
  const unreadable: Array<ConfigIssue> = []
  for (const field of boundedFields) {
    const read = readField(config, field)
    if ("value" in read) bounded[field] = read.value
    else unreadable.push(new ConfigIssue({ field, rule: read.problem }))
  }
  if (unreadable.length > 0) return unreadable
  const decoded = decodeOptions(ResolvedBounds, bounded, "circuit breaker option", "(config)", checkRelations)
  return Result.isFailure(decoded) ? decoded.failure : []
}

/**
 * Reads a configuration through Effect's `Config` — environment variables
 * by default — over `base` (code configuration), and validates it with the
 * same rules as code configuration. Each option is a variable named after
 * `prefix` and the option in upper snake case:
 *
 * | variable | option |
 * |---|---|
 * | `PREFIX_NAME` | `name` |
 * | `PREFIX_CONSECUTIVE_FAILURES`, `PREFIX_FAILURE_COUNT`, `PREFIX_MINIMUM_CALLS` | counts |
 * | `PREFIX_FAILURE_RATE`, `PREFIX_SLOW_CALL_RATE` | rates |
 * | `PREFIX_SLOW_CALL_DURATION`, `PREFIX_OPEN_DURATION`, `PREFIX_MAX_OPEN_DURATION`, `PREFIX_HALF_OPEN_MAX_WAIT` | durations: `30s`, `1m30s`, `250ms`, `PT30S`, `"30 seconds"`, or milliseconds |
 * | `PREFIX_HALF_OPEN_PERMITS`, `PREFIX_SUCCESS_THRESHOLD`, `PREFIX_EVENT_BUFFER_SIZE` | counts |
 * | `PREFIX_HALF_OPEN_FAILURE_RATE` | a rate |
 * | `PREFIX_METRICS`, `PREFIX_LOG_TRANSITIONS` | `true` or `false` |
 * | `PREFIX_WINDOW_SIZE` | a count window of that size |
 * | `PREFIX_WINDOW_DURATION`, `PREFIX_WINDOW_BUCKETS` | a time window |
 *
 * A variable that breaks a rule fails with `CircuitBreakerConfigError`
 * naming the variable and the rule. So does a variable under `PREFIX_` that
 * is no option (`PREFIX_FAILURE_RATIO`: "did you mean
 * PREFIX_FAILURE_RATE?"), unless it ends with an option, as the variables of
 * a breaker with a longer prefix do (`PREFIX_EU_FAILURE_RATE`): give each
 * breaker a prefix of its own, and no other variable under it. Unknown
 * variables are listed 20 at most, then counted in one issue (`PREFIX_*`).
 * An empty variable counts as unset. The breaker is named by `PREFIX_NAME`,
 * else `base.name`, else the prefix in lower case.
 *
 * The prefix itself is checked first: upper-case letters, digits and single
 * underscores, starting with a letter and not ending with `_`, at most
 * `Limits.maxNameLength` (256) characters; any other fails with
 * `CircuitBreakerConfigError` naming the field `prefix`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreakerConfig } from "effect-resilience"
 *
 * // PAYMENTS_BREAKER_FAILURE_RATE=0.5 PAYMENTS_BREAKER_OPEN_DURATION="30 seconds"
 * const config = CircuitBreakerConfig.fromConfig("PAYMENTS_BREAKER", { name: "payments", minimumCalls: 20 })
 * // Effect<ResolvedConfig, CircuitBreakerConfigError>
 * ```
 *
 * @category decoding
 * @since 0.1.0
 */
export const fromConfig = (
  prefix: string,
  base?: CircuitBreakerConfig
): Effect.Effect<ResolvedConfig, CircuitBreakerConfigError> => configFromEnv(prefix, base, decode, fail)
