/**
 * Schema building blocks shared by the configuration modules: counts, rates
 * and durations with the validation rules and bounds the library promises
 * (see the `Limits` module).
 *
 * @internal
 */
import { Duration, Effect, Option, Schedule, Schema, SchemaIssue, SchemaTransformation } from "effect"
import { maxDuration, minDuration } from "../Limits.js"
import { durationForms, parseDurationText } from "./durationText.js"
import { hasControlCharacter, unreadable } from "./options.js"

/** A number that satisfies `ok`, described as `what` ("an integer between 1 and 1000") in errors. */
const numberRule = (ok: (n: number) => boolean, what: string) =>
  Schema.Number.check(Schema.makeFilter(ok, { expected: what, message: `must be ${what}` }))

/** An integer in `[minimum, maximum]` (NaN, fractions and anything outside are rejected). @internal */
export const IntBetween = (minimum: number, maximum: number) =>
  numberRule((n) => Number.isInteger(n) && n >= minimum && n <= maximum, `an integer between ${minimum} and ${maximum}`)

/** A number in `[minimum, maximum]` (NaN and infinities are rejected). @internal */
export const NumberBetween = (minimum: number, maximum: number) =>
  numberRule((n) => n >= minimum && n <= maximum, `a number between ${minimum} and ${maximum}`)

/** A finite fraction in [0, 1]. @internal */
export const Rate = NumberBetween(0, 1)

const invalid = (input: unknown, message: string) =>
  Effect.fail(new SchemaIssue.InvalidValue({ message }, input) as SchemaIssue.Issue)

const durationUnits = new Set([
  "weeks",
  "days",
  "hours",
  "minutes",
  "seconds",
  "milliseconds",
  "microseconds",
  "nanoseconds"
])

// `Duration.fromInput` reads `{}` and `{ secs: 5 }` as zero: an object must name
// at least one known unit, each with a finite number.
const badDurationObject = (input: object): string | undefined => {
  const keys = Object.keys(input)
  if (keys.length === 0) return "must name at least one unit, such as { seconds: 5 }"
  for (const key of keys) {
    if (!durationUnits.has(key)) return `must name only units among ${[...durationUnits].join(", ")}, not "${key}"`
    const value = (input as Record<string, unknown>)[key]
    if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value))) {
      return `must give "${key}" as a finite number`
    }
  }
  return undefined
}

const maxMillis = Duration.toMillis(maxDuration)
const minMillis = Duration.toMillis(minDuration)

const fromInput = (input: unknown): Duration.Duration | { readonly problem: string } => {
  if (typeof input === "string") {
    const parsed = parseDurationText(input)
    if (parsed === undefined) return { problem: `must be a duration such as ${durationForms}` }
    return "problem" in parsed ? parsed : parsed.duration
  }
  const decoded = Duration.fromInput(input as Duration.Input)
  return Option.isSome(decoded)
    ? decoded.value
    : { problem: `must be a duration such as ${durationForms}, or a Duration` }
}

// `Duration.fromInput` reads NaN, and an hrtime `[seconds, nanos]` holding NaN, as zero.
const holdsNaN = (input: unknown): boolean =>
  (typeof input === "number" && Number.isNaN(input)) ||
  (Array.isArray(input) && input.some((part) => typeof part === "number" && Number.isNaN(part)))

const decodeDuration = (input: unknown, allowZero: boolean) => {
  try {
    return checkDuration(input, allowZero)
  } catch (thrown) {
    // A getter of a duration object, or a Proxy trap, threw.
    return invalid(input, unreadable(thrown))
  }
}

const checkDuration = (input: unknown, allowZero: boolean) => {
  if (holdsNaN(input)) return invalid(input, "must be a duration, got NaN")
  if (typeof input === "object" && input !== null && !Array.isArray(input) && !Duration.isDuration(input)) {
    const problem = badDurationObject(input)
    if (problem !== undefined) return invalid(input, problem)
  }
  const duration = fromInput(input)
  if (!Duration.isDuration(duration)) return invalid(input, duration.problem)
  if (!Duration.isFinite(duration)) return invalid(input, "must be a finite duration")
  const millis = Duration.toMillis(duration)
  if (Number.isNaN(millis) || millis < 0) return invalid(input, "must not be negative")
  if (millis === 0) return allowZero ? Effect.succeed(duration) : invalid(input, "must be at least 1 millisecond")
  if (millis < minMillis) {
    // The clock counts milliseconds: a shorter duration is a unit mistake.
    return invalid(input, allowZero ? "must be 0 or at least 1 millisecond" : "must be at least 1 millisecond")
  }
  if (millis > maxMillis) {
    return invalid(
      input,
      `must be at most ${maxMillis} milliseconds (about 24.8 days), the longest delay a timer holds`
    )
  }
  return Effect.succeed(duration)
}

/**
 * A `Duration.Input` (millis as a number, `"5 seconds"`, a `Duration`, ...)
 * or a duration written as text (`"30s"`, `"PT30S"`: see `durationText`)
 * decoded to a `Duration` between 1 millisecond (or zero, when allowed) and
 * `Limits.maxDuration`. `Duration.fromInput` itself turns `NaN` (as a
 * number, or in an hrtime `[seconds, nanos]`) into zero and accepts
 * negative values; both are rejected here, as is infinity. (A `Duration`
 * made from `NaN`, `Duration.millis(NaN)`, is Effect's zero duration
 * itself: nothing of the NaN is left to refuse.) A duration object that
 * cannot be read (a getter that throws) is refused too.
 *
 * @internal
 */
export const durationInput = (options: { readonly allowZero: boolean }) =>
  Schema.Unknown.pipe(
    Schema.decodeTo(
      Schema.Duration,
      SchemaTransformation.transformEffect({
        decode: (input: unknown) => decodeDuration(input, options.allowZero),
        encode: (duration: Duration.Duration) => Effect.succeed(duration as unknown)
      })
    )
  )

const DurationOrSchedule = Schema.Union([
  Schema.Duration,
  Schema.declare((u: unknown): u is Schedule.Schedule<unknown, number> => Schedule.isSchedule(u), {
    expected: "a Schedule"
  })
])

/**
 * A `Schedule`, or a `Duration.Input` decoded as by `durationInput` (zero
 * allowed).
 *
 * @internal
 */
export const durationOrSchedule = Schema.Unknown.pipe(
  Schema.decodeTo(
    DurationOrSchedule,
    SchemaTransformation.transformEffect({
      decode: (input: unknown) =>
        Schedule.isSchedule(input)
          ? Effect.succeed(input as Schedule.Schedule<unknown, number>)
          : decodeDuration(input, true),
      encode: (value: Duration.Duration | Schedule.Schedule<unknown, number>) => Effect.succeed(value as unknown)
    })
  )
)

/** A plain function, checked structurally. @internal */
export const FunctionValue = <F extends (...args: ReadonlyArray<never>) => unknown>(expected: string) =>
  Schema.declare((u: unknown): u is F => typeof u === "function", { expected })

/** A fraction in (0, 1]: zero is rejected. @internal */
export const PositiveRate = numberRule((n) => n > 0 && n <= 1, "a number greater than 0 and at most 1")

/** A `Schedule` value, checked structurally. @internal */
export const ScheduleValue = Schema.declare(
  (u: unknown): u is Schedule.Schedule<unknown> => Schedule.isSchedule(u),
  { expected: "a Schedule" }
)

/** A value of a class, checked with `isValue`. @internal */
export const InstanceValue = <A>(isValue: (u: unknown) => u is A, expected: string) =>
  Schema.declare(isValue, { expected })

/**
 * Where a module's routes live: a path starting with `/`, without a trailing
 * `/`, `:`, `*`, spaces or control characters, of at most 256 characters.
 *
 * @internal
 */
export const PathPrefix = Schema.String.check(Schema.makeFilter(
  (path: string) =>
    path.startsWith("/") && !path.endsWith("/") && !/[:*\s]/.test(path) && path.length <= 256 &&
    !hasControlCharacter(path),
  { expected: `a path starting with "/", without a trailing "/", ":", "*" or spaces, of at most 256 characters` }
))
