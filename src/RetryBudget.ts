/**
 * Retry budgets: a cap on the retries of the calls to one dependency, as a
 * share of those calls, so that a fleet of clients cannot multiply the load
 * on a struggling dependency (Finagle's retry budget).
 *
 * Over the last `window`, retries may make up at most `ratio` of the calls,
 * plus `minRetriesPerSecond * window` retries that are always allowed. A
 * retry policy given a budget (`Retry.make({ budget })`) records every call's
 * first attempt in it and takes a retry from it before each retry; when none
 * is left, the call fails with its last error. Share one budget between the
 * retry policies of the calls to the same dependency. The `Retry` module
 * re-exports this one's names (`Retry.makeBudget` is `RetryBudget.make`).
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Retry, RetryBudget } from "effect-resilience"
 *
 * declare const search: (q: string) => Effect.Effect<ReadonlyArray<string>, Error>
 *
 * const program = Effect.gen(function*() {
 *   const budget = yield* RetryBudget.make({ name: "search", ratio: 0.1 })
 *   const retry = yield* Retry.make({ name: "search", retries: 3, budget })
 *   return yield* search("lamp").pipe(Retry.retry(retry))
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Context } from "effect"
import { Duration, Effect, Schema } from "effect"
import { ConfigIssue } from "./ConfigIssue.js"
import { Name } from "./internal/options.js"
import { makePolicy } from "./internal/policy.js"
import { budgetBuckets, RetryBudgetLedger } from "./internal/retryBudget.js"
import { durationInput, NumberBetween, PositiveRate } from "./internal/schemas.js"
import { maxMinRetriesPerSecond } from "./Limits.js"
import type { PolicyConfigError } from "./PolicyConfigError.js"

/**
 * The options of `RetryBudget.make` (`Retry.makeBudget`).
 *
 * @category models
 * @since 0.1.0
 */
export interface RetryBudgetOptions {
  /**
   * Shown in snapshots: a non-blank string of at most `Limits.maxNameLength` (256)
   * characters, without control characters. Default `"default"`.
   */
  readonly name?: string | undefined
  /** Retries allowed as a fraction of the calls in the window, in (0, 1]. Default 0.2 (as Finagle). */
  readonly ratio?: number | undefined
  /**
   * Retries always allowed per second of window, however few the calls: from
   * 0 to `Limits.maxMinRetriesPerSecond`. Default 10 (as Finagle).
   */
  readonly minRetriesPerSecond?: number | undefined
  /**
   * How far back calls and retries are counted: from 10 milliseconds (ten
   * buckets of at least 1 ms) to `Limits.maxDuration`. Default 10 seconds (as
   * Finagle).
   */
  readonly window?: Duration.Input | undefined
}

/**
 * A retry budget: over the last `window`, retries may make up at most
 * `ratio` of the calls, plus `minRetriesPerSecond * window` retries that are
 * always allowed. Share one budget between the retry policies of calls to
 * the same dependency.
 *
 * @category models
 * @since 0.1.0
 */
export interface RetryBudget {
  readonly kind: "RetryBudget"
  readonly name: string
  /** The calls, retries and retries still available in the window now. */
  readonly snapshot: Effect.Effect<RetryBudgetSnapshot>
}

/**
 * A retry budget's counts over its window: first attempts (`calls`),
 * `retries`, and the retries still `available`.
 *
 * @category models
 * @since 0.1.0
 */
export class RetryBudgetSnapshot extends Schema.Class<RetryBudgetSnapshot>("RetryBudgetSnapshot")({
  budget: Schema.String,
  calls: Schema.Number,
  retries: Schema.Number,
  available: Schema.Number
}) {}

/**
 * The defaults of `RetryBudget.make` (also in `Retry.retryDefaults`, as
 * `budgetRatio`, `budgetMinRetriesPerSecond` and `budgetWindow`).
 *
 * @category defaults
 * @since 0.1.0
 */
export const retryBudgetDefaults: {
  readonly ratio: number
  readonly minRetriesPerSecond: number
  readonly window: Duration.Duration
} = {
  ratio: 0.2,
  minRetriesPerSecond: 10,
  window: Duration.seconds(10)
}

/**
 * Makes a retry budget. Bad options (a zero or negative ratio, say) fail
 * with `PolicyConfigError`.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "effect-resilience"
 *
 * // At most 10% of the calls of the last 10 seconds may be retries, plus 1 retry per second.
 * const budget = RetryBudget.make({ name: "search", ratio: 0.1, minRetriesPerSecond: 1 })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options?: RetryBudgetOptions): Effect.Effect<RetryBudget, PolicyConfigError> =>
  makePolicy(
    "RetryBudget",
    RetryBudgetOptionsSchema,
    options,
    (decoded, { context, name }) =>
      new RetryBudgetImpl(
        name,
        decoded.ratio ?? retryBudgetDefaults.ratio,
        decoded.minRetriesPerSecond ?? retryBudgetDefaults.minRetriesPerSecond,
        decoded.window ?? retryBudgetDefaults.window,
        context
      ),
    (decoded, invalid) => {
      const window = decoded.window ?? retryBudgetDefaults.window
      return !invalid.has("window") && Duration.toMillis(window) / budgetBuckets < 1
        ? [new ConfigIssue({ field: "window", rule: `must be at least ${budgetBuckets} milliseconds` })]
        : []
    }
  )

// ---------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------

const RetryBudgetOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  ratio: Schema.optional(PositiveRate),
  minRetriesPerSecond: Schema.optional(NumberBetween(0, maxMinRetriesPerSecond)),
  window: Schema.optional(durationInput({ allowZero: false }))
})

class RetryBudgetImpl extends RetryBudgetLedger implements RetryBudget {
  readonly kind = "RetryBudget" as const

  constructor(
    readonly name: string,
    ratio: number,
    minRetriesPerSecond: number,
    windowDuration: Duration.Duration,
    context: Context.Context<never>
  ) {
    super(ratio, minRetriesPerSecond, windowDuration, context)
  }

  get snapshot(): Effect.Effect<RetryBudgetSnapshot> {
    return Effect.sync(() => {
      this.expire()
      return new RetryBudgetSnapshot({
        budget: this.name,
        calls: this.calls(),
        retries: this.retries(),
        available: Math.max(0, Math.floor(this.available()))
      })
    })
  }
}
