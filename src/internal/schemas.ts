/**
 * Schema building blocks shared by the configuration modules: counts, rates
 * and durations with the validation rules the library promises.
 *
 * @internal
 */
import { Duration, Effect, Option, Schedule, Schema, SchemaIssue, SchemaTransformation } from "effect"

/** A number that satisfies `ok`, described as `what` ("an integer >= 1") in errors. */
const numberRule = (ok: (n: number) => boolean, what: string) =>
  Schema.Number.check(Schema.makeFilter(ok, { expected: what, message: `must be ${what}` }))

/** An integer of at least 1 (NaN, fractions and negatives are rejected). @internal */
export const PositiveInt = numberRule((n) => Number.isInteger(n) && n >= 1, "an integer >= 1")

/** A finite fraction in [0, 1]. @internal */
export const Rate = numberRule((n) => n >= 0 && n <= 1, "a number between 0 and 1")

const invalid = (input: unknown, message: string) =>
  Effect.fail(new SchemaIssue.InvalidValue({ message }, input) as SchemaIssue.Issue)

const describe = (input: unknown): string => {
  if (typeof input === "string") return JSON.stringify(input)
  if (typeof input === "number" || typeof input === "bigint") return String(input)
  return Duration.isDuration(input) ? Duration.format(input) : typeof input
}

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
    if (!durationUnits.has(key)) return `has an unknown unit "${key}"`
    const value = (input as Record<string, unknown>)[key]
    if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value))) {
      return `must give "${key}" as a finite number`
    }
  }
  return undefined
}

const decodeDuration = (input: unknown, allowZero: boolean) => {
  if (typeof input === "number" && Number.isNaN(input)) {
    return invalid(input, "must be a duration, got NaN")
  }
  if (typeof input === "object" && input !== null && !Array.isArray(input) && !Duration.isDuration(input)) {
    const problem = badDurationObject(input)
    if (problem !== undefined) return invalid(input, problem)
  }
  const decoded = Duration.fromInput(input as Duration.Input)
  if (Option.isNone(decoded)) {
    return invalid(input, `must be a duration such as 500 (millis) or "5 seconds", got ${describe(input)}`)
  }
  const duration = decoded.value
  if (!Duration.isFinite(duration)) {
    return invalid(input, `must be a finite duration, got ${describe(input)}`)
  }
  const millis = Duration.toMillis(duration)
  if (Number.isNaN(millis) || millis < 0) {
    return invalid(input, `must not be negative, got ${describe(input)}`)
  }
  if (!allowZero && millis === 0) {
    return invalid(input, "must be greater than zero")
  }
  return Effect.succeed(duration)
}

/**
 * A `Duration.Input` (millis as a number, `"5 seconds"`, a `Duration`, ...)
 * decoded to a finite `Duration`. `Duration.fromInput` itself turns `NaN` into
 * zero and accepts negative values; both are rejected here, as is infinity.
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

/** An integer of at least 0 (NaN, fractions and negatives are rejected). @internal */
export const NonNegativeInt = numberRule((n) => Number.isInteger(n) && n >= 0, "an integer >= 0")

/** A finite number of at least 0. @internal */
export const NonNegativeNumber = numberRule((n) => Number.isFinite(n) && n >= 0, "a finite number >= 0")

/** A fraction in (0, 1]: zero is rejected. @internal */
export const PositiveRate = numberRule((n) => n > 0 && n <= 1, "a number greater than 0 and at most 1")

/** A growth factor: a finite number of at least 1. @internal */
export const Factor = numberRule((n) => Number.isFinite(n) && n >= 1, "a finite number >= 1")

/** A `Schedule` value, checked structurally. @internal */
export const ScheduleValue = Schema.declare(
  (u: unknown): u is Schedule.Schedule<unknown> => Schedule.isSchedule(u),
  { expected: "a Schedule" }
)

/** A value of a class, checked with `isValue`. @internal */
export const InstanceValue = <A>(isValue: (u: unknown) => u is A, expected: string) =>
  Schema.declare(isValue, { expected })
