/**
 * Retries for calls to remote dependencies: exponential backoff with jitter
 * and a cap by default, a retry budget (see the `RetryBudget` module) so a
 * fleet of clients cannot multiply the load on a struggling dependency, and
 * rules that keep retries away from an open circuit.
 *
 * - Only typed failures are retried. Defects (bugs) and interruptions are
 *   not.
 * - `CircuitOpenError` is never retried by default: retrying an open circuit
 *   only hammers it. With `waitForOpenCircuit: true` the policy waits out the
 *   open period instead, honouring the error's `retryAfter`.
 * - `BulkheadFullError` is not retried by default: waiting for a slot is the
 *   bulkhead queue's job (`maxQueued`, `maxQueueWait`). Nor is an adaptive
 *   limit's `ConcurrencyLimitExceededError` or a rate limit's
 *   `RateLimitExceededError`: they shed load that a retry would add back. A `retryOn` that returns `true` for them retries them.
 * - When the retries are used up, the budget is spent, or the error is not
 *   retryable, the call fails with its last error, unchanged.
 *
 * Both orders real-world guides recommend work:
 *
 * - **retry inside the breaker** — `withCircuitBreaker(Retry.retry(call, retry))`:
 *   the breaker sees one outcome per logical call;
 * - **retry outside the breaker** — `Retry.retry(withCircuitBreaker(call), retry)`:
 *   every attempt is a breaker call, and the loop stops at once when the
 *   circuit opens.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Retry, withCircuitBreaker } from "effect-resilience"
 *
 * declare const charge: Effect.Effect<string, Error>
 *
 * const program = Effect.gen(function*() {
 *   const retry = yield* Retry.make({ name: "payments", retries: 3, baseDelay: "200 millis" })
 *   return yield* charge.pipe(withCircuitBreaker(), Retry.retry(retry))
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Cause, Scope, Stream } from "effect"
import { Clock, Duration, Effect, Exit, Random, Schedule, Schema } from "effect"
import { isCircuitOpenError } from "./CircuitOpenError.js"
import { ConfigIssue } from "./ConfigIssue.js"
import { isLocalRejection } from "./internal/localRejection.js"
import type { Cell } from "./internal/metrics.js"
import type { CheckRelations } from "./internal/options.js"
import { Name } from "./internal/options.js"
import type { Setup } from "./internal/policy.js"
import { applyPolicy, errorTag, makePolicy, metricsOption, PolicyBase, recoverableError } from "./internal/policy.js"
import type { RetryBudgetLedger } from "./internal/retryBudget.js"
import { isRetryBudget } from "./internal/retryBudget.js"
import {
  durationInput,
  FunctionValue,
  InstanceValue,
  IntBetween,
  NumberBetween,
  ScheduleValue
} from "./internal/schemas.js"
import { maxBackoffFactor, maxDuration, maxRetries } from "./Limits.js"
import { policies as policyMetrics } from "./Metrics.js"
import type { Policy } from "./Policy.js"
import type { PolicyConfigError } from "./PolicyConfigError.js"
import type { RetryStopReason } from "./PolicyEvent.js"
import { RetryGaveUp, RetryScheduled } from "./PolicyEvent.js"
import type { RetryBudget } from "./RetryBudget.js"
import { retryBudgetDefaults } from "./RetryBudget.js"

export {
  /**
   * Makes a retry budget (re-exported from the `RetryBudget` module, as its
   * `make`). Bad options (a zero or negative ratio, say) fail with
   * `PolicyConfigError`.
   *
   * @example
   * ```ts
   * import { Retry } from "effect-resilience"
   *
   * // At most 10% of the calls of the last 10 seconds may be retries, plus 1 retry per second.
   * const budget = Retry.makeBudget({ name: "search", ratio: 0.1, minRetriesPerSecond: 1 })
   * ```
   *
   * @category constructors
   * @since 0.1.0
   */
  make as makeBudget,
  /**
   * A retry budget's counts over its window: first attempts (`calls`),
   * `retries`, and the retries still `available` (re-exported from the
   * `RetryBudget` module).
   *
   * @category models
   * @since 0.1.0
   */
  RetryBudgetSnapshot
} from "./RetryBudget.js"

export type {
  /**
   * A retry budget, shared by the retry policies of the calls to one
   * dependency (re-exported from the `RetryBudget` module).
   *
   * @category models
   * @since 0.1.0
   */
  RetryBudget,
  /**
   * The options of `Retry.makeBudget` (re-exported from the `RetryBudget`
   * module).
   *
   * @category models
   * @since 0.1.0
   */
  RetryBudgetOptions
} from "./RetryBudget.js"

/**
 * The shape of an exponential backoff.
 *
 * @category models
 * @since 0.1.0
 */
export interface BackoffOptions {
  /** Retries after the first attempt: an integer from 0 to `Limits.maxRetries` (1000). Default 3. */
  readonly retries?: number | undefined
  /** Delay before the first retry: 0 or from 1 millisecond to `Limits.maxDuration`. Default 100 milliseconds. */
  readonly baseDelay?: Duration.Input | undefined
  /** Each delay is the previous one times `factor`, from 1 to `Limits.maxBackoffFactor` (10). Default 2. */
  readonly factor?: number | undefined
  /**
   * No delay is longer than this, jitter included: from 1 millisecond to
   * `Limits.maxDuration`, and at least `baseDelay`. Default 10 seconds (or
   * `baseDelay`, if longer).
   */
  readonly maxDelay?: Duration.Input | undefined
  /**
   * Spread each delay randomly between 0.8x and 1.2x (a delay at the cap
   * between 0.8x and 1x of it), so clients do not retry in step. Default `true`.
   */
  readonly jitter?: boolean | undefined
}

/**
 * The options of `Retry.make`. Either `schedule`, or the backoff fields
 * (`retries`, `baseDelay`, `factor`, `maxDelay`, `jitter`), not both.
 *
 * @category models
 * @since 0.1.0
 */
export interface RetryOptions extends BackoffOptions {
  /**
   * Shown in events: a non-blank string of at most `Limits.maxNameLength` (256)
   * characters, without control characters. Default `"default"`.
   */
  readonly name?: string | undefined
  /**
   * When to retry, as a `Schedule` stepped with each failed attempt's error:
   * its delays are the waits (none longer than `Limits.maxDuration`), and it
   * ends when the retries should end.
   */
  readonly schedule?: Schedule.Schedule<unknown> | undefined
  /**
   * Typed errors for which this returns `false` are not retried. Default:
   * every typed error but `BulkheadFullError`, `ConcurrencyLimitExceededError`,
   * `RateLimitExceededError` (and `CircuitOpenError`, which only
   * `waitForOpenCircuit` retries).
   */
  readonly retryOn?: ((error: unknown) => boolean) | undefined
  /** Wait out an open circuit (`CircuitOpenError.retryAfter`) instead of giving up at once. Default `false`. */
  readonly waitForOpenCircuit?: boolean | undefined
  /**
   * With `waitForOpenCircuit`: give up when the circuit stays open longer
   * than this (0 or from 1 millisecond to `Limits.maxDuration`). Default: no
   * limit.
   */
  readonly maxCircuitWait?: Duration.Input | undefined
  /** A budget shared by the calls to one dependency; see `Retry.makeBudget`. */
  readonly budget?: RetryBudget | undefined
  /**
   * Runs once a retry is decided (retryable, schedule not done, budget
   * granted), before its wait, with the error of the attempt it replaces:
   * the place to release what that attempt holds (an HTTP response's body,
   * say). Never run for the attempt whose error the call ends with.
   * Default: nothing.
   */
  readonly onRetry?: ((error: unknown) => Effect.Effect<void>) | undefined
  /** Report this policy's metrics (see the `Metrics` module). Default: as the context says (`Metrics.layer`). */
  readonly metrics?: boolean | undefined
}

/**
 * A retry policy. It never changes a call's error type: a call that keeps
 * failing fails with its last error.
 *
 * @category models
 * @since 0.1.0
 */
export interface Retry extends Policy {
  readonly kind: "Retry"
  /** The schedule the retries follow. */
  readonly schedule: Schedule.Schedule<unknown>
  /** The budget the retries draw on, if any. */
  readonly budget: RetryBudget | undefined
  /** A `RetryScheduled` event before every retry, a `RetryGaveUp` when a failure is let through. */
  readonly events: Stream.Stream<RetryScheduled | RetryGaveUp>
  /** Subscribes now and returns the stream of events from this moment on. */
  readonly subscribe: Effect.Effect<Stream.Stream<RetryScheduled | RetryGaveUp>, never, Scope.Scope>
}

/**
 * The defaults of `Retry.make` and `Retry.makeBudget`.
 *
 * @category defaults
 * @since 0.1.0
 */
export const retryDefaults: {
  readonly retries: number
  readonly baseDelay: Duration.Duration
  readonly factor: number
  readonly maxDelay: Duration.Duration
  readonly jitter: boolean
  readonly budgetRatio: number
  readonly budgetMinRetriesPerSecond: number
  readonly budgetWindow: Duration.Duration
} = {
  retries: 3,
  baseDelay: Duration.millis(100),
  factor: 2,
  maxDelay: Duration.seconds(10),
  jitter: true,
  budgetRatio: retryBudgetDefaults.ratio,
  budgetMinRetriesPerSecond: retryBudgetDefaults.minRetriesPerSecond,
  budgetWindow: retryBudgetDefaults.window
}

const backoffFields = {
  retries: Schema.optional(IntBetween(0, maxRetries)),
  baseDelay: Schema.optional(durationInput({ allowZero: true })),
  factor: Schema.optional(NumberBetween(1, maxBackoffFactor)),
  maxDelay: Schema.optional(durationInput({ allowZero: false })),
  jitter: Schema.optional(Schema.Boolean)
}

const BackoffSchema = Schema.Struct(backoffFields)

type DecodedBackoff = typeof BackoffSchema.Type

/** The cap: as given, else the default cap or the base delay, whichever is longer. */
const maxDelayOf = (options: DecodedBackoff): Duration.Duration =>
  options.maxDelay ?? Duration.max(retryDefaults.maxDelay, options.baseDelay ?? retryDefaults.baseDelay)

const checkBackoff: CheckRelations<DecodedBackoff> = (options, invalid) => {
  if (invalid.has("baseDelay") || invalid.has("maxDelay")) return []
  const base = options.baseDelay ?? retryDefaults.baseDelay
  const max = maxDelayOf(options)
  return Duration.isLessThan(max, base)
    ? [
      new ConfigIssue({
        field: "maxDelay",
        rule: `must be at least baseDelay (${Duration.format(base)}), got ${Duration.format(max)}`
      })
    ]
    : []
}

/**
 * Exponential backoff: `baseDelay * factor^(n-1)` before the n-th retry, for
 * at most `retries` retries. With jitter each delay is spread between 0.8x
 * and 1.2x; a delay that would pass `maxDelay` is spread between 0.8x and 1x
 * of the cap instead, so that clients which have all reached the cap still
 * do not retry in step.
 */
const backoffSchedule = (options: DecodedBackoff): Schedule.Schedule<Duration.Duration> => {
  const maxMillis = Duration.toMillis(maxDelayOf(options))
  const exponential = Schedule.exponential(
    options.baseDelay ?? retryDefaults.baseDelay,
    options.factor ?? retryDefaults.factor
  )
  const capped = (options.jitter ?? retryDefaults.jitter)
    ? Schedule.modifyDelay(exponential, ({ duration }) =>
      Effect.map(Random.next, (r) => {
        const jittered = Duration.toMillis(duration) * (0.8 + 0.4 * r)
        return Duration.millis(jittered <= maxMillis ? jittered : maxMillis * (0.8 + 0.2 * r))
      }))
    : Schedule.modifyDelay(
      exponential,
      ({ duration }) => Effect.succeed(Duration.min(duration, Duration.millis(maxMillis)))
    )
  return Schedule.upTo(capped, { times: options.retries ?? retryDefaults.retries })
}

/**
 * The default backoff: 3 retries, 100 ms then doubling, jittered, capped at
 * 10 seconds.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "effect-resilience"
 *
 * declare const lookup: Effect.Effect<string, Error>
 *
 * const retried = lookup.pipe(Effect.retry(Retry.defaultBackoff))
 * ```
 *
 * @category schedules
 * @since 0.1.0
 */
export const defaultBackoff: Schedule.Schedule<Duration.Duration> = backoffSchedule({})

/**
 * A validated exponential backoff, for use with `Retry.make({ schedule })`
 * or Effect's own `Effect.retry`. Bad options fail with `PolicyConfigError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "effect-resilience"
 *
 * declare const lookup: Effect.Effect<string, Error>
 *
 * const program = Effect.gen(function*() {
 *   const schedule = yield* Retry.backoff({ retries: 5, baseDelay: "50 millis", maxDelay: "2 seconds" })
 *   return yield* lookup.pipe(Effect.retry(schedule))
 * })
 * ```
 *
 * @category schedules
 * @since 0.1.0
 */
export const backoff = (
  options?: BackoffOptions
): Effect.Effect<Schedule.Schedule<Duration.Duration>, PolicyConfigError> =>
  makePolicy("Retry", BackoffSchema, options, backoffSchedule, checkBackoff)

/**
 * Makes a retry policy. Bad options fail with `PolicyConfigError` naming
 * each field and rule.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "effect-resilience"
 *
 * const program = Effect.gen(function*() {
 *   const budget = yield* Retry.makeBudget({ name: "inventory", ratio: 0.1 })
 *   const retry = yield* Retry.make({
 *     name: "inventory",
 *     retries: 4,
 *     maxDelay: "5 seconds",
 *     retryOn: (error) => !(error instanceof TypeError),
 *     budget
 *   })
 *   return retry
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options?: RetryOptions): Effect.Effect<Retry, PolicyConfigError> =>
  makePolicy(
    "Retry",
    RetryOptionsSchema,
    options,
    (decoded, setup) =>
      new RetryImpl(
        setup,
        decoded.schedule ?? backoffSchedule(decoded),
        decoded.retryOn,
        decoded.waitForOpenCircuit ?? false,
        decoded.maxCircuitWait === undefined ? Infinity : Duration.toMillis(decoded.maxCircuitWait),
        decoded.budget,
        decoded.onRetry
      ),
    checkRetry
  )

/**
 * Applies a retry policy to a call (data-first or data-last). The result has
 * the call's own types: retrying adds no error.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "effect-resilience"
 *
 * declare const retry: Retry.Retry
 * declare const fetchOrder: (id: string) => Effect.Effect<string, Error>
 *
 * const order = (id: string) => fetchOrder(id).pipe(Retry.retry(retry))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const retry: {
  (policy: Retry): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, policy: Retry): Effect.Effect<A, E, R>
} = applyPolicy as never

// ---------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------

const RetryOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  schedule: Schema.optional(ScheduleValue),
  ...backoffFields,
  retryOn: Schema.optional(FunctionValue<(error: unknown) => boolean>("a function (error) => boolean")),
  waitForOpenCircuit: Schema.optional(Schema.Boolean),
  maxCircuitWait: Schema.optional(durationInput({ allowZero: true })),
  budget: Schema.optional(InstanceValue(isRetryBudget, "a RetryBudget (from Retry.makeBudget)")),
  onRetry: Schema.optional(
    FunctionValue<(error: unknown) => Effect.Effect<void>>("a function (error) => Effect<void>")
  ),
  ...metricsOption
})

type DecodedRetry = typeof RetryOptionsSchema.Type

const checkRetry: CheckRelations<DecodedRetry> = (options, invalid) => {
  const issues: Array<ConfigIssue> = []
  if (options.schedule !== undefined) {
    for (const field of Object.keys(backoffFields) as Array<keyof typeof backoffFields>) {
      if (options[field] !== undefined) {
        issues.push(
          new ConfigIssue({
            field,
            rule: "cannot be combined with schedule: describe the backoff in the schedule itself"
          })
        )
      }
    }
  } else if (!invalid.has("schedule")) {
    issues.push(...checkBackoff(options, invalid))
  }
  if (
    options.maxCircuitWait !== undefined && !invalid.has("waitForOpenCircuit") && options.waitForOpenCircuit !== true
  ) {
    issues.push(new ConfigIssue({ field: "maxCircuitWait", rule: "has no effect unless waitForOpenCircuit is true" }))
  }
  return issues
}

type Step = (now: number, input: unknown) => Effect.Effect<[unknown, Duration.Duration], Cause.Done<unknown>>

/**
 * What to do with a failed attempt's error: retry (no sooner than
 * `minDelayMillis`), or stop for a reason.
 */
type Decision = { readonly minDelayMillis: number } | RetryStopReason

const retryNow: Decision = { minDelayMillis: 0 }

/**
 * The retry policy. The first attempt costs one failure handler and nothing
 * else; the retry loop, and the schedule's step function, exist only once a
 * call has failed.
 */
class RetryImpl extends PolicyBase<never, never, never, never, RetryScheduled | RetryGaveUp> implements Retry {
  readonly kind = "Retry" as const

  private readonly retries: Cell
  private readonly gaveUpBy: Record<RetryStopReason, Cell>

  constructor(
    setup: Setup,
    readonly schedule: Schedule.Schedule<unknown>,
    private readonly retryOn: ((error: unknown) => boolean) | undefined,
    private readonly waitForOpenCircuit: boolean,
    private readonly maxCircuitWaitMillis: number,
    readonly budget: (RetryBudget & RetryBudgetLedger) | undefined,
    private readonly onRetry: ((error: unknown) => Effect.Effect<void>) | undefined
  ) {
    super(setup)
    this.retries = this.counter(policyMetrics.retries)
    this.gaveUpBy = {
      ScheduleExhausted: this.counter(policyMetrics.retryGaveUp, { reason: "ScheduleExhausted" }),
      BudgetExhausted: this.counter(policyMetrics.retryGaveUp, { reason: "BudgetExhausted" }),
      NotRetryable: this.counter(policyMetrics.retryGaveUp, { reason: "NotRetryable" }),
      CircuitOpenTooLong: this.counter(policyMetrics.retryGaveUp, { reason: "CircuitOpenTooLong" })
    }
  }

  // The failure handlers are written inline: a closure bound to a name costs a
  // `__name` call per call under bundlers that keep function names.
  readonly apply = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const budget = this.budget
    if (budget === undefined) return Effect.catchCause(self, (cause) => this.afterFailure(self, cause))
    return Effect.suspend(() => {
      budget.recordCall()
      return Effect.catchCause(self, (cause) => this.afterFailure(self, cause))
    })
  }

  private afterFailure<A, E, R>(self: Effect.Effect<A, E, R>, cause: Cause.Cause<E>): Effect.Effect<A, E, R> {
    const failed = recoverableError(cause)
    // Defects and interruptions are never retried: they are bugs or a decision to stop.
    if (failed === undefined) return Effect.failCause(cause)
    return this.retryLoop(self, failed.error, cause)
  }

  private retryLoop<A, E, R>(
    self: Effect.Effect<A, E, R>,
    firstError: E,
    firstCause: Cause.Cause<E>
  ): Effect.Effect<A, E, R> {
    return Effect.gen({ self: this }, function*() {
      let error = firstError
      let cause = firstCause
      let attempts = 1
      let step: Step | undefined
      while (true) {
        const decision = this.decide(error)
        if (typeof decision === "string") {
          this.gaveUp(attempts, decision, error)
          return yield* Effect.failCause(cause)
        }
        step ??= (yield* Schedule.toStep(this.schedule)) as Step
        const stepped = yield* Effect.exit(step(yield* Clock.currentTimeMillis, error))
        if (Exit.isFailure(stepped)) {
          this.gaveUp(attempts, "ScheduleExhausted", error)
          return yield* Effect.failCause(cause)
        }
        // A schedule of the user's may compute any delay: none waits past what every timer holds.
        const delay = Duration.min(
          Duration.max(stepped.value[1], Duration.millis(decision.minDelayMillis)),
          maxDuration
        )
        if (this.budget !== undefined && !this.budget.tryRetry()) {
          this.gaveUp(attempts, "BudgetExhausted", error)
          return yield* Effect.failCause(cause)
        }
        this.scheduled(attempts, delay, error)
        if (this.onRetry !== undefined) yield* this.onRetry(error)
        yield* Effect.sleep(delay)
        const exit = yield* Effect.exit(self)
        attempts++
        if (Exit.isSuccess(exit)) return exit.value
        const failed = recoverableError(exit.cause)
        if (failed === undefined) return yield* Effect.failCause(exit.cause)
        error = failed.error
        cause = exit.cause
      }
    })
  }

  /** Whether an error is retried, and how soon at the earliest. */
  private decide(error: unknown): Decision {
    if (isCircuitOpenError(error)) {
      // Retrying an open circuit only hammers it, unless asked to wait it out.
      if (!this.waitForOpenCircuit) return "NotRetryable"
      const retryAfter = Duration.toMillis(error.retryAfter)
      if (!Number.isFinite(retryAfter) || retryAfter > this.maxCircuitWaitMillis) return "CircuitOpenTooLong"
      return { minDelayMillis: retryAfter }
    }
    // A full bulkhead or a reached adaptive limit is local back-pressure: retrying at once only
    // adds load (waiting for a slot is the bulkhead queue's job), unless `retryOn` asks for it.
    if (this.retryOn === undefined) {
      return isLocalRejection(error) ? "NotRetryable" : retryNow
    }
    return this.retryOn(error) ? retryNow : "NotRetryable"
  }

  private scheduled(attempt: number, delay: Duration.Duration, error: unknown): void {
    this.retries.count++
    if (!this.publisher.active) return
    this.publisher.publish(
      new RetryScheduled({ policy: this.name, attempt, delay, error: errorTag(error), at: this.now() })
    )
  }

  private gaveUp(attempts: number, reason: RetryStopReason, error: unknown): void {
    this.gaveUpBy[reason].count++
    if (!this.publisher.active) return
    this.publisher.publish(
      new RetryGaveUp({ policy: this.name, attempts, reason, error: errorTag(error), at: this.now() })
    )
  }
}
