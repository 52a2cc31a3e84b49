/**
 * The retry policy and the retry budget.
 *
 * The first attempt costs one failure handler and nothing else; the retry
 * loop, and the schedule's step function, exist only once a call has failed.
 * A retry budget counts calls and retries in a bucketed time window and
 * allows a retry only while retries stay under `ratio` of the calls plus a
 * small reserve, so a fleet of clients cannot multiply the load on a
 * struggling dependency.
 *
 * @internal
 */
import type { Cause } from "effect"
import { Clock, Context, Duration, Effect, Exit, Random, Schedule, Schema } from "effect"
import { isBulkheadFullError } from "../BulkheadFullError.js"
import { isCircuitOpenError } from "../CircuitOpenError.js"
import { ConfigIssue } from "../ConfigIssue.js"
import { maxBackoffFactor, maxDuration, maxMinRetriesPerSecond, maxRetries } from "../Limits.js"
import { policies as policyMetrics } from "../Metrics.js"
import type { PolicyConfigError } from "../PolicyConfigError.js"
import { RetryGaveUp, RetryScheduled } from "../PolicyEvent.js"
import type { RetryStopReason } from "../PolicyEvent.js"
import type { BackoffOptions, Retry, RetryBudget, RetryBudgetOptions, RetryOptions } from "../Retry.js"
import type { Cell } from "./metrics.js"
import { Name } from "./options.js"
import type { CheckRelations } from "./options.js"
import type { Setup } from "./policy.js"
import { errorTag, makePolicy, metricsOption, PolicyBase, recoverableError } from "./policy.js"
import {
  durationInput,
  FunctionValue,
  InstanceValue,
  IntBetween,
  NumberBetween,
  PositiveRate,
  ScheduleValue
} from "./schemas.js"
import { TimeWindowImpl } from "./window.js"

/** @internal */
export const defaults = {
  retries: 3,
  baseDelay: Duration.millis(100),
  factor: 2,
  maxDelay: Duration.seconds(10),
  jitter: true,
  budgetRatio: 0.2,
  budgetMinRetriesPerSecond: 10,
  budgetWindow: Duration.seconds(10)
} as const

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
  options.maxDelay ?? Duration.max(defaults.maxDelay, options.baseDelay ?? defaults.baseDelay)

const checkBackoff: CheckRelations<DecodedBackoff> = (options, invalid) => {
  if (invalid.has("baseDelay") || invalid.has("maxDelay")) return []
  const base = options.baseDelay ?? defaults.baseDelay
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
 *
 * @internal
 */
export const backoffSchedule = (options: DecodedBackoff): Schedule.Schedule<Duration.Duration> => {
  const maxMillis = Duration.toMillis(maxDelayOf(options))
  const exponential = Schedule.exponential(options.baseDelay ?? defaults.baseDelay, options.factor ?? defaults.factor)
  const capped = (options.jitter ?? defaults.jitter)
    ? Schedule.modifyDelay(exponential, ({ duration }) =>
      Effect.map(Random.next, (r) => {
        const jittered = Duration.toMillis(duration) * (0.8 + 0.4 * r)
        return Duration.millis(jittered <= maxMillis ? jittered : maxMillis * (0.8 + 0.2 * r))
      }))
    : Schedule.modifyDelay(
      exponential,
      ({ duration }) => Effect.succeed(Duration.min(duration, Duration.millis(maxMillis)))
    )
  return Schedule.upTo(capped, { times: options.retries ?? defaults.retries })
}

/** @internal */
export const makeBackoff = (
  options: BackoffOptions | undefined
): Effect.Effect<Schedule.Schedule<Duration.Duration>, PolicyConfigError> =>
  makePolicy("Retry", BackoffSchema, options, backoffSchedule, checkBackoff)

// ---------------------------------------------------------------------------
// Retry budget
// ---------------------------------------------------------------------------

const RetryBudgetOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  ratio: Schema.optional(PositiveRate),
  minRetriesPerSecond: Schema.optional(NumberBetween(0, maxMinRetriesPerSecond)),
  window: Schema.optional(durationInput({ allowZero: false }))
})

const budgetBuckets = 10

/**
 * A retry budget's counts over its window (re-exported as
 * `Retry.RetryBudgetSnapshot`).
 *
 * @internal
 */
export class RetryBudgetSnapshot extends Schema.Class<RetryBudgetSnapshot>("RetryBudgetSnapshot")({
  budget: Schema.String,
  calls: Schema.Number,
  retries: Schema.Number,
  available: Schema.Number
}) {}

/** @internal */
export const RetryBudgetTypeId = "~effect-resilience/RetryBudget" as const

/** @internal */
export class RetryBudgetImpl implements RetryBudget {
  readonly [RetryBudgetTypeId] = RetryBudgetTypeId
  readonly kind = "RetryBudget" as const
  /** Every first attempt is recorded as a success, every retry as a "failure" of the window. */
  private readonly window: TimeWindowImpl
  private readonly reserve: number
  private readonly clock: Clock.Clock

  constructor(
    readonly name: string,
    readonly ratio: number,
    readonly minRetriesPerSecond: number,
    readonly windowDuration: Duration.Duration,
    context: Context.Context<never>
  ) {
    const millis = Duration.toMillis(windowDuration)
    this.window = new TimeWindowImpl(millis, budgetBuckets)
    this.reserve = minRetriesPerSecond * (millis / 1000)
    this.clock = Context.get(context, Clock.Clock)
  }

  /** Records a call's first attempt. */
  recordCall(): void {
    this.window.record(this.clock.currentTimeMillisUnsafe(), false, false)
  }

  /** Takes one retry from the budget, if one is left. */
  tryRetry(): boolean {
    const now = this.clock.currentTimeMillisUnsafe()
    this.window.expire(now)
    if (this.available() < 1) return false
    this.window.record(now, true, false)
    return true
  }

  get snapshot(): Effect.Effect<RetryBudgetSnapshot> {
    return Effect.sync(() => {
      this.window.expire(this.clock.currentTimeMillisUnsafe())
      return new RetryBudgetSnapshot({
        budget: this.name,
        calls: this.calls(),
        retries: this.window.failures,
        available: Math.max(0, Math.floor(this.available()))
      })
    })
  }

  private calls(): number {
    return this.window.calls - this.window.failures
  }

  private available(): number {
    return this.reserve + this.ratio * this.calls() - this.window.failures
  }
}

/** @internal */
export const isRetryBudget = (u: unknown): u is RetryBudget =>
  typeof u === "object" && u !== null && RetryBudgetTypeId in u

/** @internal */
export const makeRetryBudget = (
  options: RetryBudgetOptions | undefined
): Effect.Effect<RetryBudget, PolicyConfigError> =>
  makePolicy(
    "RetryBudget",
    RetryBudgetOptionsSchema,
    options,
    (decoded, { context, name }) =>
      new RetryBudgetImpl(
        name,
        decoded.ratio ?? defaults.budgetRatio,
        decoded.minRetriesPerSecond ?? defaults.budgetMinRetriesPerSecond,
        decoded.window ?? defaults.budgetWindow,
        context
      ),
    (decoded, invalid) => {
      const window = decoded.window ?? defaults.budgetWindow
      return !invalid.has("window") && Duration.toMillis(window) / budgetBuckets < 1
        ? [new ConfigIssue({ field: "window", rule: `must be at least ${budgetBuckets} milliseconds` })]
        : []
    }
  )

// ---------------------------------------------------------------------------
// Retry policy
// ---------------------------------------------------------------------------

const RetryOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  schedule: Schema.optional(ScheduleValue),
  ...backoffFields,
  retryOn: Schema.optional(FunctionValue<(error: unknown) => boolean>("a function (error) => boolean")),
  waitForOpenCircuit: Schema.optional(Schema.Boolean),
  maxCircuitWait: Schema.optional(durationInput({ allowZero: true })),
  budget: Schema.optional(InstanceValue(isRetryBudget, "a RetryBudget (from Retry.makeBudget)")),
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
    readonly budget: RetryBudgetImpl | undefined
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
    // A full bulkhead is local back-pressure: waiting for a slot is the bulkhead queue's job,
    // unless `retryOn` explicitly asks for it.
    if (this.retryOn === undefined) return isBulkheadFullError(error) ? "NotRetryable" : retryNow
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

/** @internal */
export const makeRetry = (options: RetryOptions | undefined): Effect.Effect<Retry, PolicyConfigError> =>
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
        decoded.budget as RetryBudgetImpl | undefined
      ),
    checkRetry
  )
