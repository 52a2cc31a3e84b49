/**
 * Retries for calls to remote dependencies: exponential backoff with jitter
 * and a cap by default, a retry budget so a fleet of clients cannot multiply
 * the load on a struggling dependency, and rules that keep retries away from
 * an open circuit.
 *
 * - Only typed failures are retried. Defects (bugs) and interruptions are
 *   not.
 * - `CircuitOpenError` is never retried by default: retrying an open circuit
 *   only hammers it. With `waitForOpenCircuit: true` the policy waits out the
 *   open period instead, honouring the error's `retryAfter`.
 * - `BulkheadFullError` is not retried by default: waiting for a slot is the
 *   bulkhead queue's job (`maxQueued`, `maxQueueWait`). A `retryOn` that
 *   returns `true` for it retries it.
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
import type { Duration, Effect, Schedule, Scope, Stream } from "effect"
import { applyPolicy } from "./internal/policy.js"
import type { RetryBudgetSnapshot } from "./internal/retry.js"
import { backoffSchedule, defaults, makeBackoff, makeRetry, makeRetryBudget } from "./internal/retry.js"
import type { Policy } from "./Policy.js"
import type { PolicyConfigError } from "./PolicyConfigError.js"
import type { RetryGaveUp, RetryScheduled } from "./PolicyEvent.js"

export {
  /**
   * A retry budget's counts over its window: first attempts (`calls`),
   * `retries`, and the retries still `available`.
   *
   * @category models
   * @since 0.1.0
   */
  RetryBudgetSnapshot
} from "./internal/retry.js"

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
   * every typed error but `BulkheadFullError` (and `CircuitOpenError`, which
   * only `waitForOpenCircuit` retries).
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
 * The options of `Retry.makeBudget`.
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
export const backoff: (
  options?: BackoffOptions
) => Effect.Effect<Schedule.Schedule<Duration.Duration>, PolicyConfigError> = makeBackoff

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
export const make: (options?: RetryOptions) => Effect.Effect<Retry, PolicyConfigError> = makeRetry

/**
 * Makes a retry budget. Bad options (a zero or negative ratio, say) fail
 * with `PolicyConfigError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "effect-resilience"
 *
 * // At most 10% of the calls of the last 10 seconds may be retries, plus 1 retry per second.
 * const budget = Retry.makeBudget({ name: "search", ratio: 0.1, minRetriesPerSecond: 1 })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeBudget: (options?: RetryBudgetOptions) => Effect.Effect<RetryBudget, PolicyConfigError> =
  makeRetryBudget

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
} = defaults
