/**
 * The error of a call a rate limit turned away.
 *
 * `RateLimitExceededError` is an `effect/Schema` tagged error: typed in the
 * error channel of every call a `RateLimit` guards, handled with
 * `Effect.catchTag("RateLimitExceededError", ...)`, encodable, and answered
 * `429 Too Many Requests` with `Retry-After` by `HttpProblem`.
 *
 * @since 0.1.0
 */
import { Duration, Predicate, Schema } from "effect"

// Guards check this id, not `instanceof`: a value made by another copy of the library (its ESM
// and CJS builds in one process, or two versions) carries it too. It lives on the prototype, so
// the schema's encoding of a value is unchanged.
const TypeId = "~effect-resilience/RateLimitExceededError"

/**
 * A rate limit turned a call away without running it.
 *
 * - `policy`: the rate limit's name; `key`: the key whose tokens ran out
 *   (the policy's own, or the one a call was limited under, such as an
 *   origin);
 * - `limit`: the calls allowed per window;
 * - `retryAfter`: how long until a call would be let through — the store's
 *   answer, or the cool-down a dependency's `429 + Retry-After` asked for.
 *
 * @example
 * ```ts
 * import { Duration, Effect } from "effect"
 * import type { RateLimit } from "effect-resilience"
 *
 * declare const send: Effect.Effect<string, RateLimit.RateLimitExceededError>
 *
 * const later = send.pipe(
 *   Effect.catchTag("RateLimitExceededError", (error) =>
 *     Effect.succeed(`try again in ${Duration.format(error.retryAfter)}`))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class RateLimitExceededError extends Schema.TaggedError<RateLimitExceededError>()("RateLimitExceededError", {
  policy: Schema.String,
  key: Schema.String,
  limit: Schema.Number,
  retryAfter: Schema.Duration
}) {
  override get message(): string {
    return `Rate limit "${this.policy}" (key "${this.key}", ${this.limit} calls per window) is exhausted: ` +
      `the call was rejected without running; a call is let through in ${Duration.format(this.retryAfter)}.`
  }
}

Object.defineProperty(RateLimitExceededError.prototype, TypeId, { value: TypeId })

/**
 * Whether a value is a `RateLimitExceededError`, made by whichever copy of the
 * library: the check is a type id, not `instanceof`.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { RateLimit } from "effect-resilience"
 *
 * const error = new RateLimit.RateLimitExceededError({
 *   policy: "partner-api",
 *   key: "partner-api",
 *   limit: 100,
 *   retryAfter: Duration.seconds(2)
 * })
 * RateLimit.isRateLimitExceededError(error) // => true
 * RateLimit.isRateLimitExceededError("nope") // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isRateLimitExceededError = (u: unknown): u is RateLimitExceededError => Predicate.hasProperty(u, TypeId)
