/**
 * The error of an operator's call that the breaker refuses: a timed opening
 * with a duration or an instant out of range (`openFor`, `openUntil`), or a
 * document that cannot be restored (`restore`).
 *
 * It is an `effect/Schema` tagged error: `issues` names each field and the
 * rule it breaks, as a configuration error does, and the circuit is left as
 * it was.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ConfigIssue } from "./ConfigIssue.js"

/**
 * The operator's calls that validate their input.
 *
 * @category schemas
 * @since 0.1.0
 */
export const ControlOperation = Schema.Literals(["openFor", "openUntil", "restore"])

/**
 * An operator's call the breaker refused, with every broken rule; the
 * circuit did not change.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "effect-resilience"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ name: "search" })
 *   yield* breaker.openFor("0 seconds").pipe(
 *     Effect.catchTag("CircuitControlError", (error) =>
 *       Effect.logWarning(error.message) // ... duration: must be at least 1 millisecond (got "0 seconds")
 *     )
 *   )
 * }).pipe(Effect.scoped)
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class CircuitControlError extends Schema.TaggedError<CircuitControlError>()("CircuitControlError", {
  breaker: Schema.String,
  operation: ControlOperation,
  issues: Schema.NonEmptyArray(ConfigIssue)
}) {
  override get message(): string {
    const lines = this.issues.map((issue) => `${issue.field}: ${issue.rule}`)
    return `Circuit breaker "${this.breaker}" refused ${this.operation}: ${lines.join("; ")}`
  }
}
