/**
 * The error of a call an adaptive concurrency limit turned away.
 *
 * `ConcurrencyLimitExceededError` is an `effect/Schema` tagged error: typed in
 * the error channel of every call an `AdaptiveLimit` guards, handled with
 * `Effect.catchTag("ConcurrencyLimitExceededError", ...)`, encodable, and
 * answered by `HttpProblem` with 503 and a `Retry-After`.
 *
 * @since 0.1.0
 */
import { Predicate, Schema } from "effect"

// Guards check this id, not `instanceof`: a value made by another copy of the library (its ESM
// and CJS builds in one process, or two versions) carries it too. It lives on the prototype, so
// the schema's encoding of a value is unchanged.
const TypeId = "~effect-resilience/ConcurrencyLimitExceededError"

/**
 * An adaptive concurrency limit turned a call away without running it: as
 * many calls as its current limit were already running.
 *
 * - `policy`: the limiter's name.
 * - `limit`: its limit when the call arrived.
 * - `inFlight`: the calls it was running then.
 * - `retryAfter`: a hint of when a slot may free: the limiter's short-term
 *   average round trip (one second until it has measured one).
 *
 * @example
 * ```ts
 * import { Duration, Effect } from "effect"
 * import { AdaptiveLimit } from "effect-resilience"
 *
 * declare const search: Effect.Effect<string, AdaptiveLimit.ConcurrencyLimitExceededError>
 *
 * const answered = search.pipe(
 *   Effect.catchTag("ConcurrencyLimitExceededError", (error) =>
 *     Effect.succeed(`busy (${error.inFlight}/${error.limit}), retry in ${Duration.format(error.retryAfter)}`))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ConcurrencyLimitExceededError extends Schema.TaggedError<ConcurrencyLimitExceededError>()(
  "ConcurrencyLimitExceededError",
  {
    policy: Schema.String,
    limit: Schema.Number,
    inFlight: Schema.Number,
    retryAfter: Schema.Duration
  }
) {
  override get message(): string {
    return `Concurrency limit "${this.policy}" reached (${this.inFlight} calls in flight, limit ${this.limit}): ` +
      `the call was rejected without running. Shed the load, serve a fallback, or retry later.`
  }
}

Object.defineProperty(ConcurrencyLimitExceededError.prototype, TypeId, { value: TypeId })

/**
 * Whether a value is a `ConcurrencyLimitExceededError`, made by this or another
 * copy of the library: the check is a type id, not `instanceof`.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { AdaptiveLimit } from "effect-resilience"
 *
 * const error = new AdaptiveLimit.ConcurrencyLimitExceededError({
 *   policy: "search",
 *   limit: 8,
 *   inFlight: 8,
 *   retryAfter: Duration.millis(40)
 * })
 * AdaptiveLimit.isConcurrencyLimitExceededError(error) // => true
 * AdaptiveLimit.isConcurrencyLimitExceededError("nope") // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isConcurrencyLimitExceededError = (u: unknown): u is ConcurrencyLimitExceededError =>
  Predicate.hasProperty(u, TypeId)
