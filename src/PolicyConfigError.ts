/**
 * The error every policy constructor (retry, retry budget, timeout, bulkhead,
 * adaptive limit, fallback, last-known-good cache, hedge, `Policy.make`), the Redis circuit
 * store, the health route and the HTTP server modules (problem documents,
 * load shedding, admin routes) and the dashboard fail with when given bad
 * options.
 *
 * Options are decoded by an `effect/Schema` when the policy is made. A
 * negative limit, a zero budget ratio, a `NaN` delay, a value past its bound
 * (see the `Limits` module), an unknown field: each broken rule is listed as
 * a `ConfigIssue` naming the field and what it must be, all at once.
 * Constructors never throw and never replace a bad value with a default.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ConfigIssue } from "./ConfigIssue.js"

/**
 * The kinds of policy the library builds.
 *
 * @category models
 * @since 0.1.0
 */
export const PolicyKind = Schema.Literals([
  "Retry",
  "RetryBudget",
  "Timeout",
  "Bulkhead",
  "RateLimit",
  "Chaos",
  "AdaptiveLimit",
  "Fallback",
  "LastKnownGood",
  "Hedge",
  "CircuitBreaker",
  "Wrap",
  "RedisCircuitStore",
  "Health",
  "HttpProblem",
  "HttpLoadShedding",
  "HttpAdmin",
  "HttpClient",
  "Dashboard"
])

/**
 * @category models
 * @since 0.1.0
 */
export type PolicyKind = typeof PolicyKind.Type

/**
 * Invalid options for a policy. `kind` and `policy` (its name) say which
 * policy; `issues` lists every broken rule; `message` lists them for a
 * person.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bulkhead } from "effect-resilience"
 *
 * const program = Bulkhead.make({ name: "payments", maxConcurrent: 0 }).pipe(
 *   Effect.catchTag("PolicyConfigError", (error) =>
 *     Effect.logError(error.message) // maxConcurrent: must be an integer between 1 and 100000 (got 0)
 *   )
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class PolicyConfigError extends Schema.TaggedError<PolicyConfigError>()("PolicyConfigError", {
  kind: PolicyKind,
  policy: Schema.String,
  issues: Schema.NonEmptyArray(ConfigIssue)
}) {
  override get message(): string {
    const lines = this.issues.map((issue) => `${issue.field}: ${issue.rule}`)
    return `Invalid options for ${this.kind} "${this.policy}": ${lines.join("; ")}`
  }
}
