/**
 * The ledger of a retry budget: first attempts and retries counted in a
 * bucketed time window, and whether one more retry fits. Shared by the
 * `RetryBudget` module, which makes budgets and reads their snapshots, and
 * the `Retry` module, whose policies record calls in a budget and draw
 * retries from it.
 *
 * @internal
 */
import { Clock, Context, Duration } from "effect"
import type { RetryBudget } from "../RetryBudget.js"
import { TimeWindowImpl } from "./window.js"

/**
 * The buckets of a budget's window: a window must last at least this many
 * milliseconds.
 *
 * @internal
 */
export const budgetBuckets = 10

/** @internal */
export const RetryBudgetTypeId = "~effect-resilience/RetryBudget" as const

/**
 * What a retry policy needs of its budget; a `RetryBudget` is one.
 *
 * @internal
 */
export abstract class RetryBudgetLedger {
  readonly [RetryBudgetTypeId] = RetryBudgetTypeId
  /** Every first attempt is recorded as a success, every retry as a "failure" of the window. */
  private readonly window: TimeWindowImpl
  private readonly reserve: number
  private readonly clock: Clock.Clock

  constructor(
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

  /** Drops the calls and retries that have left the window. */
  protected expire(): void {
    this.window.expire(this.clock.currentTimeMillisUnsafe())
  }

  /** First attempts in the window. */
  protected calls(): number {
    return this.window.calls - this.window.failures
  }

  /** Retries in the window. */
  protected retries(): number {
    return this.window.failures
  }

  /** Retries still allowed (a fraction: the caller rounds). */
  protected available(): number {
    return this.reserve + this.ratio * this.calls() - this.window.failures
  }
}

/**
 * Whether a value is a retry budget, with its ledger.
 *
 * @internal
 */
export const isRetryBudget = (u: unknown): u is RetryBudget & RetryBudgetLedger =>
  typeof u === "object" && u !== null && RetryBudgetTypeId in u
