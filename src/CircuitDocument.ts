/**
 * A breaker's state as a document: what `breaker.export` writes and
 * `breaker.restore` reads back, so that a circuit outlives its process — a
 * serverless function that starts cold for each request, a service that
 * restarts (cockatiel's `toJSON` and restore).
 *
 * The document is an `effect/Schema` class whose fields are plain JSON
 * values: `JSON.stringify(document)` (or `toJson`) writes it, and
 * `breaker.restore(JSON.parse(text))` reads it back. It holds:
 *
 * - `version` (1), `breaker` (the breaker's name) and `exportedAt`;
 * - `state`, and the current opening: `openedAt`, `openReason`, `openUntil`
 *   (an `Open` circuit's end) and `openedBy` (the failure that opened it);
 * - `consecutiveOpenings` (the backoff resumes at the next step),
 *   `consecutiveFailures` (the streak) and `lastFailure`; both counts are at
 *   most `Limits.maxConsecutiveCount`, where a circuit stops counting;
 * - `window`: the outcomes of the sliding window — a count window's
 *   outcomes oldest first (`s` success, `f` failure, upper case when slow),
 *   or a time window's non-empty buckets, each with its start time.
 *
 * A restore refuses, naming each field and the rule, a document the
 * breaker could not have written: another breaker's name, another kind of
 * window, times after `exportedAt` or in the future, opening fields its
 * state contradicts, an opening longer than `Limits.maxDuration`; a count
 * window with more outcomes than its size, or
 * a streak its outcomes contradict (a success resets it); a time window
 * whose buckets are out of order, hold more failures or slow calls than
 * calls, or more calls than `Limits.maxCallsPerMillisecond` allows for a
 * bucket's width or the window's duration. The first 20 broken rules are
 * listed, and one more issue counts the rest.
 *
 * Failures are kept as reports show them (tag and message, the message cut
 * to `CircuitBreakerSnapshot.maxFailureMessageLength`): after a restore, a
 * rejection's `lastFailure` is that summary, not the original error. Probes
 * in flight belong to calls of the exporting process: a half-open circuit
 * restores as a fresh half-open period.
 *
 * Times are epoch milliseconds of the breaker's clock, absolute, so that the
 * time between export and restore counts: an opening that ended meanwhile
 * restores half-open, and time-window buckets that aged out are dropped.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { TransitionReason } from "./CircuitBreakerEvent.js"
import { maxFailureMessageLength } from "./CircuitBreakerSnapshot.js"
import { State } from "./CircuitState.js"
import { IntBetween, NumberBetween } from "./internal/schemas.js"
import { maxConsecutiveCount, maxCountWindowSize, maxNameLength, maxTimeWindowBuckets } from "./Limits.js"

/**
 * The version of the documents this library writes and reads.
 *
 * @category constants
 * @since 0.1.0
 */
export const currentVersion = 1

const Millis = NumberBetween(0, Number.MAX_SAFE_INTEGER)
const Count = IntBetween(0, Number.MAX_SAFE_INTEGER)
/** A circuit counts its consecutive openings and failures up to `Limits.maxConsecutiveCount`, and no further. */
const ConsecutiveCount = IntBetween(0, maxConsecutiveCount)

const boundedString = (max: number) =>
  Schema.String.check(Schema.makeFilter((text: string) => text.length <= max, {
    expected: `a string of at most ${max} characters`,
    message: `must be a string of at most ${max} characters`
  }))

/**
 * A failed call as the document keeps it: when it ended, its tag (or
 * `null`) and its message.
 *
 * @category schemas
 * @since 0.1.0
 */
export const DocumentFailure = Schema.Struct({
  at: Millis,
  tag: Schema.NullOr(boundedString(maxNameLength)),
  message: boundedString(maxFailureMessageLength)
})

/**
 * A count window's outcomes, oldest first: `s` a success, `f` a failure,
 * upper case (`S`, `F`) when slow.
 *
 * @category schemas
 * @since 0.1.0
 */
export const CountWindowOutcomes = Schema.TaggedStruct("CountWindow", {
  outcomes: Schema.String.check(Schema.makeFilter(
    (text: string) => text.length <= maxCountWindowSize && /^[sfSF]*$/.test(text),
    {
      expected: `at most ${maxCountWindowSize} of the letters s, f, S, F`,
      message: `must be at most ${maxCountWindowSize} of the letters s, f, S, F (one per outcome)`
    }
  ))
})

/**
 * One time-window bucket: when it starts, and its calls, failures and slow
 * calls.
 *
 * @category schemas
 * @since 0.1.0
 */
export const WindowBucket = Schema.Struct({ at: Millis, calls: Count, failures: Count, slowCalls: Count })

/**
 * A time window's non-empty buckets, oldest first.
 *
 * @category schemas
 * @since 0.1.0
 */
export const TimeWindowBuckets = Schema.TaggedStruct("TimeWindow", {
  buckets: Schema.Array(WindowBucket).check(Schema.makeFilter(
    (buckets: ReadonlyArray<unknown>) => buckets.length <= maxTimeWindowBuckets,
    {
      expected: `at most ${maxTimeWindowBuckets} buckets`,
      message: `must hold at most ${maxTimeWindowBuckets} buckets`
    }
  ))
})

/**
 * A breaker's exported state (see the module's description for each field).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker, CircuitDocument } from "effect-resilience"
 *
 * declare const load: Effect.Effect<unknown>
 * declare const save: (json: unknown) => Effect.Effect<void>
 *
 * // A serverless handler: restore on start, export before the function returns.
 * const handler = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ name: "payments", consecutiveFailures: 3 })
 *   yield* breaker.restore(yield* load).pipe(Effect.catchTag("CircuitControlError", Effect.logWarning))
 *   // ... guarded calls ...
 *   yield* save(CircuitDocument.toJson(yield* breaker.export))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class CircuitDocument extends Schema.Class<CircuitDocument>("CircuitDocument")({
  version: Schema.Literal(currentVersion),
  breaker: boundedString(maxNameLength),
  exportedAt: Millis,
  state: State,
  openedAt: Schema.NullOr(Millis),
  openReason: Schema.NullOr(TransitionReason),
  openUntil: Schema.NullOr(Millis),
  openedBy: Schema.NullOr(DocumentFailure),
  consecutiveOpenings: ConsecutiveCount,
  consecutiveFailures: ConsecutiveCount,
  lastFailure: Schema.NullOr(DocumentFailure),
  window: Schema.Union([CountWindowOutcomes, TimeWindowBuckets])
}) {}

const encodeJson = Schema.encodeSync(Schema.toCodecJson(CircuitDocument))

/**
 * A document as plain JSON values, ready for `JSON.stringify` or a
 * key-value store.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker, CircuitDocument } from "effect-resilience"
 *
 * const text = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ name: "search" })
 *   return JSON.stringify(CircuitDocument.toJson(yield* breaker.export))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @category encoding
 * @since 0.1.0
 */
export const toJson = (document: CircuitDocument): unknown => encodeJson(document)
