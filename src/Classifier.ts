/**
 * How a finished call is classified for the circuit breaker.
 *
 * Every call a breaker admits ends as one of three outcomes:
 *
 * - `"success"`: recorded, resets the consecutive-failure streak;
 * - `"failure"`: recorded, counts towards every trip rule;
 * - `"ignored"`: not recorded at all (and a half-open probe gives its permit
 *   back).
 *
 * By default a success is a success, a typed failure or a defect is a failure,
 * and an interruption is ignored — and so is a `BulkheadFullError`, a
 * `ConcurrencyLimitExceededError` or a `RateLimitExceededError`: a full
 * bulkhead, an adaptive limit reached or a rate limit exhausted is the
 * caller's own back-pressure, and says nothing about the dependency's health. Narrow what counts per breaker (config) or per call
 * (options of `withCircuitBreaker`, `breaker.execute` or `Policy.apply`):
 *
 * - `ignore`: error tags that count as nothing (e.g. a validation error that
 *   never reached the dependency);
 * - `isFailure`: a predicate over the typed error; errors for which it returns
 *   `false` count as a success (the dependency answered, e.g. `NotFound`), as
 *   Resilience4j's `recordException` does;
 * - `classify`: a function over the whole `Exit`, so that a successful value
 *   (an HTTP 503 response, say) can count as a failure. It replaces the rules
 *   above.
 *
 * An exit made only of interruptions is always ignored, whatever the options
 * say: an interrupted call tells nothing about the dependency. `ignore` and
 * `isFailure` ignore these local rejections too; a `classify` function decides
 * for itself.
 *
 * A `classify` function may also answer `Classifier.failureWithOpenHint(d)`:
 * a failure that says how long the dependency asked to be left alone (an
 * HTTP `Retry-After`, say). When the circuit opens on that failure (it trips,
 * or a half-open probe fails), the opening lasts at least `d`, capped by the
 * breaker's `maxOpenDuration` (or `Limits.maxDuration`). A hint never
 * shortens an opening, and a failure that opens nothing forgets its hint.
 *
 * And `Classifier.failureAs(error)`: a failure recorded as `error` — for a
 * call that succeeded with a value that says it failed (an HTTP 503), so
 * that snapshots, health reports and a rejection's `lastFailure` say what
 * went wrong instead of showing the value; it may carry an open hint too.
 *
 * @since 0.1.0
 */
import type { Exit, Types } from "effect"
import { Cause, Duration, Predicate } from "effect"
import { isLocalRejection as isLocalRejectionError } from "./internal/localRejection.js"

/**
 * The outcome a finished call is recorded as.
 *
 * @category models
 * @since 0.1.0
 */
export type Outcome = "success" | "failure" | "ignored"

const HintedFailureTypeId = "~effect-resilience/Classifier/HintedFailure"

/**
 * A failure carrying an open-duration hint: if the circuit opens on it, the
 * opening lasts at least `openFor` (capped by `maxOpenDuration`). Made with
 * `Classifier.failureWithOpenHint`.
 *
 * @category models
 * @since 0.1.0
 */
export interface HintedFailure {
  readonly [HintedFailureTypeId]: typeof HintedFailureTypeId
  readonly outcome: "failure"
  /** The least time the circuit should stay open if it opens on this failure. */
  readonly openFor: Duration.Duration
}

const FailureAsTypeId = "~effect-resilience/Classifier/FailureAs"

/**
 * A failure recorded as `error` (what snapshots' `lastFailure` and
 * `openedBy`, and a rejection's `lastFailure`, report), with an optional
 * open-duration hint. Made with `Classifier.failureAs`.
 *
 * @category models
 * @since 0.1.0
 */
export interface FailureAs {
  readonly [FailureAsTypeId]: typeof FailureAsTypeId
  readonly outcome: "failure"
  /** What the failure is recorded as, in place of the call's own exit. */
  readonly error: unknown
  /** The least time the circuit should stay open if it opens on this failure, if the call asked for one. */
  readonly openFor: Duration.Duration | undefined
}

/**
 * What a classifier answers: an outcome, a failure with an open-duration
 * hint, or a failure recorded as an error of the classifier's choosing.
 *
 * @category models
 * @since 0.1.0
 */
export type Verdict = Outcome | HintedFailure | FailureAs

/**
 * A failure with an open-duration hint: should the circuit open on this
 * call, it stays open at least `openFor` (capped by the breaker's
 * `maxOpenDuration`, else `Limits.maxDuration`). A negative or non-finite
 * duration is a classifier bug (the call counts as nothing).
 *
 * @example
 * ```ts
 * import { Exit } from "effect"
 * import type { Classifier as C } from "effect-resilience"
 * import { Classifier } from "effect-resilience"
 *
 * interface Response { readonly status: number; readonly retryAfterSeconds?: number }
 *
 * // A 503 asking for 30 seconds of quiet keeps the circuit open that long if it trips.
 * const byStatus: C.Classifier<Response, unknown> = (exit) =>
 *   Exit.isSuccess(exit) && exit.value.status === 503 && exit.value.retryAfterSeconds !== undefined
 *     ? Classifier.failureWithOpenHint(`${exit.value.retryAfterSeconds} seconds`)
 *     : Classifier.defaultClassifier(exit)
 * ```
 *
 * @category classifiers
 * @since 0.1.0
 */
export const failureWithOpenHint = (openFor: Duration.Input): HintedFailure => ({
  [HintedFailureTypeId]: HintedFailureTypeId,
  outcome: "failure",
  openFor: Duration.fromInputUnsafe(openFor)
})

/**
 * A failure recorded as `error`: the breaker keeps `error` as the call's
 * failure (snapshots' `lastFailure` and `openedBy`, a rejection's
 * `lastFailure`) instead of the call's exit — for a call whose value says
 * it failed, whose exit is a success. With `openFor`, it is also an
 * open-duration hint, as `failureWithOpenHint`'s (a negative or non-finite
 * duration is a classifier bug: the call counts as nothing).
 *
 * @example
 * ```ts
 * import { Exit } from "effect"
 * import type { Classifier as C } from "effect-resilience"
 * import { Classifier } from "effect-resilience"
 *
 * interface Response { readonly status: number; readonly url: string }
 *
 * // A 503 is recorded as an error that says so, not as the response.
 * const byStatus: C.Classifier<Response, unknown> = (exit) =>
 *   Exit.isSuccess(exit) && exit.value.status >= 500
 *     ? Classifier.failureAs(new Error(`HTTP ${exit.value.status} (${exit.value.url})`))
 *     : Classifier.defaultClassifier(exit)
 *
 * Classifier.failureAs(new Error("HTTP 503"), { openFor: "30 seconds" }).outcome // => "failure"
 * ```
 *
 * @category classifiers
 * @since 0.1.0
 */
export const failureAs = (
  error: unknown,
  options?: { readonly openFor?: Duration.Input | undefined }
): FailureAs => ({
  [FailureAsTypeId]: FailureAsTypeId,
  outcome: "failure",
  error,
  openFor: options?.openFor === undefined ? undefined : Duration.fromInputUnsafe(options.openFor)
})

/**
 * Whether a value is a `FailureAs` (made by any copy of the library).
 *
 * @example
 * ```ts
 * import { Classifier } from "effect-resilience"
 *
 * Classifier.isFailureAs(Classifier.failureAs(new Error("HTTP 503"))) // => true
 * Classifier.isFailureAs(Classifier.failureWithOpenHint("5 seconds")) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isFailureAs = (u: unknown): u is FailureAs => Predicate.hasProperty(u, FailureAsTypeId)

/**
 * Whether a value is a `HintedFailure` (made by any copy of the library).
 *
 * @example
 * ```ts
 * import { Classifier } from "effect-resilience"
 *
 * Classifier.isHintedFailure(Classifier.failureWithOpenHint("5 seconds")) // => true
 * Classifier.isHintedFailure("failure") // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isHintedFailure = (u: unknown): u is HintedFailure => Predicate.hasProperty(u, HintedFailureTypeId)

/**
 * A function that classifies a call's `Exit`: an `Outcome`, a
 * `HintedFailure` (see `failureWithOpenHint`), or a `FailureAs` (see
 * `failureAs`).
 *
 * @example
 * ```ts
 * import { Exit } from "effect"
 * import type { Classifier } from "effect-resilience"
 *
 * interface Response { readonly status: number }
 *
 * // A 5xx answer is a failure even though the call succeeded.
 * const byStatus: Classifier.Classifier<Response, unknown> = (exit) =>
 *   Exit.isSuccess(exit) ? (exit.value.status >= 500 ? "failure" : "success") : "failure"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Classifier<A = unknown, E = unknown> = (exit: Exit.Exit<A, E>) => Verdict

/**
 * Options that narrow which calls count as failures.
 *
 * @example
 * ```ts
 * import { Data, Effect } from "effect"
 * import { withCircuitBreaker } from "effect-resilience"
 *
 * class NotFound extends Data.TaggedError("NotFound") {}
 * class Invalid extends Data.TaggedError("Invalid") {}
 * class Unavailable extends Data.TaggedError("Unavailable") {}
 *
 * declare const lookup: Effect.Effect<string, NotFound | Invalid | Unavailable>
 *
 * const guarded = withCircuitBreaker(lookup, {
 *   ignore: ["Invalid"],                          // never reached the dependency
 *   isFailure: (error) => error._tag !== "NotFound" // the dependency answered
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface ClassifyOptions<A = unknown, E = unknown> {
  /**
   * Tags of typed errors that count as nothing. Checked against the guarded
   * effect's error tags: where the options are given with the effect
   * (data-first), and where a data-last guard is applied (see
   * `GuardOptions`).
   */
  readonly ignore?: ReadonlyArray<IgnorableTag<E>> | undefined
  /** Typed errors for which this returns `false` count as a success. */
  readonly isFailure?: ((error: E) => boolean) | undefined
  /** Classifies the whole `Exit`; replaces `ignore` and `isFailure`. */
  readonly classify?: Classifier<A, E> | undefined
}

/**
 * The tags `ignore` may name for errors `E`: the tags they carry
 * (`Types.Tags`), or any string while `E` is `unknown` (not known yet).
 *
 * @category type-level
 * @since 0.1.0
 */
export type IgnorableTag<E> = unknown extends E ? string : Types.Tags<E>

/**
 * The per-call options of a data-last guard (`withCircuitBreaker(options)`,
 * `breaker.execute(options)`, a registry's `execute(key, options)`): the
 * `ClassifyOptions`, with the tags of `ignore` kept as `Ignored` so that the
 * guard checks them against each call it is applied to (`IgnoreFits`), as
 * the data-first forms check them against theirs. A guard built once can
 * guard many calls. Where the call's error type is a type parameter its
 * tags are unknown, and `ignore` does not compile (as with
 * `Effect.catchTag`): use `isFailure` there.
 *
 * @example
 * ```ts
 * import { Data, Effect } from "effect"
 * import { withCircuitBreaker } from "effect-resilience"
 *
 * class NotFound extends Data.TaggedError("NotFound") {}
 * declare const getUser: (id: string) => Effect.Effect<string, NotFound>
 *
 * const guard = withCircuitBreaker({ ignore: ["NotFound"] })
 * const user = (id: string) => guard(getUser(id))
 * // @ts-expect-error: "NotFond" is not a tag of NotFound
 * const typo = getUser("ada").pipe(withCircuitBreaker({ ignore: ["NotFond"] }))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface GuardOptions<A, E, Ignored extends string> extends Omit<ClassifyOptions<A, E>, "ignore"> {
  /** Tags of typed errors that count as nothing: each one the guarded call's errors must carry. */
  readonly ignore?: ReadonlyArray<Ignored> | undefined
}

/**
 * What a data-last guard with `ignore: Ignored` asks of a call failing with
 * `E`: that its errors carry every tag of `Ignored` (any tag, for
 * `unknown`). A call that does not is refused, the message naming the tags
 * that do not fit.
 *
 * @category type-level
 * @since 0.1.0
 */
export type IgnoreFits<E, Ignored extends string> = [Ignored] extends [never] ? unknown
  : unknown extends E ? unknown
  : [Ignored] extends [Types.Tags<E>] ? unknown
  : { readonly "~effect-resilience/ignore names tags the call's errors do not carry": Exclude<Ignored, Types.Tags<E>> }

/**
 * The default classification: success, failure (typed error or defect), or
 * ignored (interruption only, or a bulkhead's, an adaptive limit's or a rate
 * limit's rejection).
 *
 * @example
 * ```ts
 * import { Exit } from "effect"
 * import { Classifier } from "effect-resilience"
 *
 * Classifier.defaultClassifier(Exit.succeed(1)) // => "success"
 * Classifier.defaultClassifier(Exit.fail("boom")) // => "failure"
 * ```
 *
 * @category classifiers
 * @since 0.1.0
 */
export const defaultClassifier: (exit: Exit.Exit<unknown, unknown>) => Outcome = (exit) =>
  exit._tag === "Success"
    ? "success"
    : Cause.hasInterruptsOnly(exit.cause) || isLocalRejection(exit.cause)
    ? "ignored"
    : "failure"

/** A bulkhead, an adaptive limit or a rate limit turned the call away: its typed rejection and no defect. */
const isLocalRejection = (cause: Cause.Cause<unknown>): boolean => {
  let rejected = false
  for (const reason of cause.reasons) {
    if (reason._tag === "Die") return false
    if (reason._tag === "Fail" && isLocalRejectionError(reason.error)) rejected = true
  }
  return rejected
}

/**
 * Builds the classifier described by `options`; `undefined` when the options
 * ask for nothing beyond the default.
 *
 * @example
 * ```ts
 * import { Exit } from "effect"
 * import { Classifier } from "effect-resilience"
 *
 * const classify = Classifier.fromOptions({ ignore: ["Invalid"] })!
 * classify(Exit.fail({ _tag: "Invalid" })) // => "ignored"
 * ```
 *
 * @category classifiers
 * @since 0.1.0
 */
export const fromOptions = <A, E>(options: ClassifyOptions<A, E> | undefined): Classifier<A, E> | undefined => {
  if (options === undefined) return undefined
  const { classify, ignore, isFailure } = options
  if (classify !== undefined) {
    return (exit) => exit._tag === "Failure" && Cause.hasInterruptsOnly(exit.cause) ? "ignored" : classify(exit)
  }
  if ((ignore === undefined || ignore.length === 0) && isFailure === undefined) return undefined
  const ignored = new Set<string>(ignore ?? [])
  return (exit) => {
    if (exit._tag === "Success") return "success"
    const cause = exit.cause
    if (Cause.hasInterruptsOnly(cause) || isLocalRejection(cause)) return "ignored"
    if (Cause.hasDies(cause)) return "failure"
    for (const reason of cause.reasons) {
      if (reason._tag !== "Fail") continue
      const error = reason.error
      if (ignored.size > 0 && typeof error === "object" && error !== null && "_tag" in error) {
        const tag = error._tag
        if (typeof tag === "string" && ignored.has(tag)) return "ignored"
      }
      if (isFailure !== undefined && !isFailure(error)) return "success"
      return "failure"
    }
    return "failure"
  }
}
