/**
 * The error a guarded call fails with when its circuit rejects it.
 *
 * `CircuitOpenError` is an `effect/Schema` tagged error, so it is typed in the
 * error channel of every guarded call, can be handled with
 * `Effect.catchTag("CircuitOpenError", ...)`, and can be encoded (for example
 * with `Schema.toCodecJson`) to cross a process boundary.
 *
 * @since 0.1.0
 */
import { Duration, Predicate, Schema } from "effect"
import { RejectingState } from "./CircuitState.js"

// Guards check this id, not `instanceof`: a value made by another copy of the library (its ESM
// and CJS builds in one process, or two versions) carries it too. It lives on the prototype, so
// the schema's encoding of a value is unchanged.
const TypeId = "~effect-resilience/CircuitOpenError"

/**
 * A call was rejected without running because its circuit is `Open`,
 * `HalfOpen` with every probe permit taken, or `ForcedOpen`.
 *
 * - `breaker`: the name of the circuit breaker.
 * - `state`: the state that rejected the call.
 * - `retryAfter`: the time left until a probe call will be admitted. It is the
 *   rest of the open period when `Open`, zero when `HalfOpen` (a decision is
 *   pending: retry soon, with a backoff), and infinite when `ForcedOpen`
 *   (nothing is admitted until an operator resets the breaker).
 * - `lastFailure`: what the call that opened the circuit failed with (its
 *   typed error or defect), when a failure opened it — the cause behind the
 *   rejection, as cockatiel's `lastFailure` and Polly's inner exception.
 *   `undefined` when the circuit opened on slow calls, a half-open wait that
 *   ran out, an operator's `forceOpen`, or news from a shared store. It is
 *   not a schema field and not enumerable: it is never serialised with the
 *   rejection (it may hold anything the dependency answered).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { withCircuitBreaker } from "effect-resilience"
 *
 * declare const fetchPrice: Effect.Effect<number, Error>
 *
 * const price = fetchPrice.pipe(
 *   withCircuitBreaker(),
 *   Effect.catchTag("CircuitOpenError", (error) =>
 *     Effect.logWarning(error.message).pipe(Effect.as(0))
 *   )
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class CircuitOpenError extends Schema.TaggedError<CircuitOpenError>()("CircuitOpenError", {
  breaker: Schema.String,
  state: RejectingState,
  retryAfter: Schema.Duration
}) {
  /** What the call that opened the circuit failed with; see the class's documentation. */
  declare readonly lastFailure?: unknown

  override get message(): string {
    switch (this.state) {
      case "Open":
        return `Circuit breaker "${this.breaker}" is open: the call was rejected without running. ` +
          `A probe call will be admitted in ${Duration.format(this.retryAfter)}; ` +
          `serve a fallback or retry after that.`
      case "HalfOpen":
        return `Circuit breaker "${this.breaker}" is half-open and every probe permit is taken: ` +
          `the call was rejected without running. Retry shortly with a backoff, or serve a fallback.`
      case "ForcedOpen":
        return `Circuit breaker "${this.breaker}" was forced open by an operator: ` +
          `every call is rejected until it is reset.`
    }
  }
}

Object.defineProperty(CircuitOpenError.prototype, TypeId, { value: TypeId })

/**
 * Whether a value is a `CircuitOpenError`, made by any copy of the library (its
 * ESM and CJS builds loaded together, or two installed versions): the check is a
 * type id, not `instanceof`.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { CircuitOpenError, isCircuitOpenError } from "effect-resilience"
 *
 * const rejected = new CircuitOpenError({ breaker: "db", state: "Open", retryAfter: Duration.seconds(5) })
 * isCircuitOpenError(rejected) // => true
 * isCircuitOpenError(new Error("db is down")) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isCircuitOpenError = (u: unknown): u is CircuitOpenError => Predicate.hasProperty(u, TypeId)
