/**
 * The error of a call a bulkhead turned away.
 *
 * `BulkheadFullError` is an `effect/Schema` tagged error: typed in the error
 * channel of every call a bulkhead guards, handled with
 * `Effect.catchTag("BulkheadFullError", ...)`, and encodable.
 *
 * @since 0.1.0
 */
import { Predicate, Schema } from "effect"
import { BulkheadRejectionReason } from "./PolicyEvent.js"

// Guards check this id, not `instanceof`: a value made by another copy of the library (its ESM
// and CJS builds in one process, or two versions) carries it too. It lives on the prototype, so
// the schema's encoding of a value is unchanged.
const TypeId = "~effect-resilience/BulkheadFullError"

/**
 * A bulkhead turned a call away without running it.
 *
 * - `bulkhead`: the bulkhead's name.
 * - `reason`: `"QueueFull"` when every slot and every queue place was taken
 *   (the call failed at once), `"QueueTimeout"` when it waited in the queue
 *   for `maxQueueWait` without getting a slot.
 * - `maxConcurrent`, `maxQueued`: the bulkhead's limits.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Bulkhead } from "effect-resilience"
 *
 * declare const report: Effect.Effect<string, Bulkhead.BulkheadFullError>
 *
 * const busy = report.pipe(
 *   Effect.catchTag("BulkheadFullError", (error) => Effect.succeed(`busy (${error.reason}), try later`))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class BulkheadFullError extends Schema.TaggedError<BulkheadFullError>()("BulkheadFullError", {
  bulkhead: Schema.String,
  reason: BulkheadRejectionReason,
  maxConcurrent: Schema.Number,
  maxQueued: Schema.Number
}) {
  override get message(): string {
    return this.reason === "QueueFull"
      ? `Bulkhead "${this.bulkhead}" is full (${this.maxConcurrent} calls running, ${this.maxQueued} queued): ` +
        `the call was rejected without running. Shed the load, serve a fallback, or retry later.`
      : `Bulkhead "${this.bulkhead}": the call waited in the queue without getting one of its ` +
        `${this.maxConcurrent} slots, and was rejected without running.`
  }
}

Object.defineProperty(BulkheadFullError.prototype, TypeId, { value: TypeId })

/**
 * Whether a value is a `BulkheadFullError`, made by any copy of the library (its
 * ESM and CJS builds loaded together, or two installed versions): the check is a
 * type id, not `instanceof`.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-resilience"
 *
 * const full = new Bulkhead.BulkheadFullError({
 *   bulkhead: "reports",
 *   reason: "QueueFull",
 *   maxConcurrent: 4,
 *   maxQueued: 0
 * })
 * Bulkhead.isBulkheadFullError(full) // => true
 * Bulkhead.isBulkheadFullError("nope") // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isBulkheadFullError = (u: unknown): u is BulkheadFullError => Predicate.hasProperty(u, TypeId)
