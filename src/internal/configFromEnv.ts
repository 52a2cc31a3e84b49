/**
 * Circuit breaker configuration read through Effect's `Config` (environment
 * variables by default): `PREFIX_FAILURE_RATE=0.5`, `PREFIX_OPEN_DURATION=30
 * seconds`, ... Each variable is turned into the value code would write, and
 * the whole configuration goes through the same Schema as code
 * configuration; every broken rule names the variable it came from.
 *
 * @internal
 */
import { Cause, Config, Effect, Option } from "effect"
import type { CircuitBreakerConfig, CircuitBreakerConfigError, ResolvedConfig } from "../CircuitBreakerConfig.js"
import { ConfigIssue } from "../ConfigIssue.js"
import { maxNameLength } from "../Limits.js"
import type { TimeWindow } from "../SlidingWindow.js"
import { countWindow, timeWindow } from "../SlidingWindow.js"
import { decimalNumber } from "./durationText.js"
import { describeValue, isName, nameOf, unreadable } from "./options.js"
import { unknownVariables } from "./unknownVariables.js"

/** What a variable holds. @internal */
export type Kind = "string" | "integer" | "number" | "duration" | "boolean"

/** The fields read from variables, with their kinds. */
const fields: ReadonlyArray<readonly [keyof CircuitBreakerConfig, Kind]> = [
  ["name", "string"],
  ["consecutiveFailures", "integer"],
  ["failureCount", "integer"],
  ["failureRate", "number"],
  ["slowCallRate", "number"],
  ["slowCallDuration", "duration"],
  ["minimumCalls", "integer"],
  ["openDuration", "duration"],
  ["maxOpenDuration", "duration"],
  ["halfOpenPermits", "integer"],
  ["successThreshold", "integer"],
  ["halfOpenFailureRate", "number"],
  ["halfOpenMaxWait", "duration"],
  ["eventBufferSize", "integer"],
  ["metrics", "boolean"],
  ["logTransitions", "boolean"]
]

/** `failureRate` -> `FAILURE_RATE`. @internal */
export const variableSuffix = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()

/** Every suffix a breaker reads: its options, and the window's three variables. */
const suffixes: ReadonlyArray<string> = [
  ...fields.map(([field]) => variableSuffix(field)),
  "WINDOW_SIZE",
  "WINDOW_DURATION",
  "WINDOW_BUCKETS"
]

/** The value a variable stands for, or the rule it breaks. @internal */
export const parse = (kind: Kind, raw: string): { readonly value: unknown } | { readonly rule: string } => {
  const text = raw.trim()
  switch (kind) {
    case "string":
      // Spaces around a value are a slip of the pen in an environment file, not part of the value.
      return { value: text }
    case "integer":
    case "number":
      // Numbers are checked (integer, range) by the configuration schema itself.
      return decimalNumber.test(text)
        ? { value: Number(text) }
        : { rule: `must be a number (got ${describeValue(raw)})` }
    case "duration":
      // A bare number is milliseconds, as in code, and becomes the number code would write; text
      // ("30s", "PT30S", "30 seconds") is read by the schema's duration parser, as in code.
      return { value: decimalNumber.test(text) ? Number(text) : text }
    case "boolean": {
      const lower = text.toLowerCase()
      return lower === "true" ? { value: true } : lower === "false" ? { value: false } : {
        rule: `must be true or false (got ${describeValue(raw)})`
      }
    }
  }
}

/**
 * Reads the variables of `prefix` over `base`, and decodes the result with
 * `decode`.
 *
 * @internal
 */
export const configFromEnv = (
  prefix: string,
  base: CircuitBreakerConfig | undefined,
  decode: (config: CircuitBreakerConfig) => Effect.Effect<ResolvedConfig, CircuitBreakerConfigError>,
  fail: (breaker: string, issues: ReadonlyArray<ConfigIssue>) => Effect.Effect<never, CircuitBreakerConfigError>
): Effect.Effect<ResolvedConfig, CircuitBreakerConfigError> =>
  Effect.suspend(() => {
    // The prefix first: every variable name is made from it, and the breaker is named after it.
    const problem = prefixProblem(prefix)
    return problem === undefined
      ? readVariables(prefix, base, decode, fail)
      : fail(nameOf(base, "default"), [new ConfigIssue({ field: "prefix", rule: problem })])
  })

const prefixPattern = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/

/** The rule of a prefix, as its issue states it. */
const prefixRule = "must be upper-case letters, digits and single underscores, starting with a letter " +
  `and not ending with "_", at most ${maxNameLength} characters`

/**
 * The rule `prefix` breaks, if any. A prefix names variables
 * (`PREFIX_FAILURE_RATE`), so it is what an environment variable's name can
 * begin with in any shell, with `_` only between words (`__` would make an
 * empty segment in Effect's environment tree); it names the breaker (in
 * lower case) when nothing else does, so it is bounded as a name is.
 */
const prefixProblem = (prefix: unknown): string | undefined =>
  typeof prefix === "string" && prefix.length <= maxNameLength && prefixPattern.test(prefix)
    ? undefined
    : `${prefixRule} (got ${describeValue(prefix)})`

/**
 * Reads the variable `name` through the current `ConfigProvider` and parses
 * it as `kind`: its value, `undefined` when it is unset (or empty), or the
 * issue it raises, named after the variable.
 *
 * @internal
 */
export const readVariable = (
  name: string,
  kind: Kind
): Effect.Effect<{ readonly value: unknown } | { readonly issue: ConfigIssue } | undefined> =>
  Effect.map(Effect.exit(Config.option(Config.String(name))), (read) => {
    if (read._tag === "Failure") {
      return { issue: new ConfigIssue({ field: name, rule: unreadable(Cause.squash(read.cause)) }) }
    }
    if (Option.isNone(read.value)) return undefined
    const parsed = parse(kind, read.value.value)
    return "rule" in parsed ? { issue: new ConfigIssue({ field: name, rule: parsed.rule }) } : parsed
  })

/**
 * The issues of a configuration merged from variables, each named after the
 * variable its field came from (`sources`: field -> variable).
 *
 * @internal
 */
export const renameIssues = (
  issues: ReadonlyArray<ConfigIssue>,
  sources: ReadonlyMap<string, string>
): Array<ConfigIssue> =>
  issues.map((issue) => {
    const from = sources.get(issue.field)
    return from === undefined ? issue : new ConfigIssue({ field: from, rule: issue.rule })
  })

const readVariables = (
  prefix: string,
  base: CircuitBreakerConfig | undefined,
  decode: (config: CircuitBreakerConfig) => Effect.Effect<ResolvedConfig, CircuitBreakerConfigError>,
  fail: (breaker: string, issues: ReadonlyArray<ConfigIssue>) => Effect.Effect<never, CircuitBreakerConfigError>
): Effect.Effect<ResolvedConfig, CircuitBreakerConfigError> =>
  Effect.gen(function*() {
    const variable = (suffix: string) => `${prefix}_${suffix}`
    const issues: Array<ConfigIssue> = [
      ...yield* unknownVariables(prefix, suffixes, "a circuit breaker variable", "FAILURE_RATE")
    ]
    const fromEnv: Record<string, unknown> = {}
    /** Which variable each field of the merged configuration came from. */
    const sources = new Map<string, string>()
    const take = (name: string, kind: Kind) =>
      Effect.map(readVariable(name, kind), (read) => {
        if (read === undefined) return Option.none<unknown>()
        if ("issue" in read) {
          issues.push(read.issue)
          return Option.none<unknown>()
        }
        return Option.some(read.value)
      })
    for (const [field, kind] of fields) {
      const name = variable(variableSuffix(field))
      const value = yield* take(name, kind)
      if (Option.isSome(value)) {
        fromEnv[field] = value.value
        sources.set(field, name)
      }
    }
    // The window: WINDOW_SIZE for a count window, WINDOW_DURATION (and WINDOW_BUCKETS) for a time window.
    const size = yield* take(variable("WINDOW_SIZE"), "integer")
    const duration = yield* take(variable("WINDOW_DURATION"), "duration")
    const buckets = yield* take(variable("WINDOW_BUCKETS"), "integer")
    const timeVariables = Option.isSome(duration) || Option.isSome(buckets)
    if (Option.isSome(size)) {
      fromEnv.window = countWindow(size.value as number)
      sources.set("window.size", variable("WINDOW_SIZE"))
      if (timeVariables) {
        const other = variable(Option.isSome(duration) ? "WINDOW_DURATION" : "WINDOW_BUCKETS")
        issues.push(
          new ConfigIssue({
            field: variable("WINDOW_SIZE"),
            rule: `cannot be set with ${other}: a window counts calls or time, not both`
          })
        )
      }
    }
    let timeSpec: TimeWindow | undefined
    if (timeVariables) {
      // A time window: the variables set, over the base's time window if it has one.
      const baseWindow = base?.window?._tag === "TimeWindow" ? base.window : undefined
      const windowDuration = Option.isSome(duration) ? duration.value : baseWindow?.duration
      if (windowDuration === undefined) {
        issues.push(
          new ConfigIssue({ field: variable("WINDOW_BUCKETS"), rule: `needs ${variable("WINDOW_DURATION")}` })
        )
      } else {
        const windowBuckets = Option.isSome(buckets) ? buckets.value as number : baseWindow?.buckets
        timeSpec = windowBuckets === undefined
          ? timeWindow(windowDuration as number)
          : timeWindow(windowDuration as number, windowBuckets)
        if (Option.isSome(duration)) sources.set("window.duration", variable("WINDOW_DURATION"))
        if (Option.isSome(buckets)) sources.set("window.buckets", variable("WINDOW_BUCKETS"))
      }
    }
    const rename = (found: ReadonlyArray<ConfigIssue>) => renameIssues(found, sources)
    if (timeSpec !== undefined && Option.isSome(size)) {
      // Both kinds of window: the time window's variables are still checked, so every broken rule is listed.
      const checked = yield* Effect.exit(decode({ window: timeSpec }))
      if (checked._tag === "Failure") {
        for (const reason of checked.cause.reasons) {
          if (reason._tag === "Fail") issues.push(...rename(reason.error.issues))
        }
      }
    } else if (timeSpec !== undefined) {
      fromEnv.window = timeSpec
    }
    const name = typeof fromEnv.name === "string" ? fromEnv.name : base?.name ?? prefix.toLowerCase()
    const merged = { ...base, ...fromEnv, name } as CircuitBreakerConfig
    // Errors are labelled with a usable name: a bad one is reported by its variable, not repeated.
    const breaker = isName(name) ? name : prefix.toLowerCase()
    // The variables that could not be read as values are reported with every rule the rest breaks.
    const decoded = yield* Effect.exit(decode(merged))
    if (decoded._tag === "Success") {
      return issues.length === 0 ? decoded.value : yield* fail(breaker, issues)
    }
    const error = decoded.cause.reasons.find((reason) => reason._tag === "Fail")
    if (error === undefined || error._tag !== "Fail") return yield* Effect.failCause(decoded.cause)
    return yield* fail(breaker, [...issues, ...rename(error.error.issues)])
  }).pipe(
    Effect.catch((error: ReadonlyArray<ConfigIssue> | CircuitBreakerConfigError) =>
      isIssueList(error) ? fail(prefix.toLowerCase(), error) : Effect.fail(error)
    )
  )

const isIssueList = (u: ReadonlyArray<ConfigIssue> | CircuitBreakerConfigError): u is ReadonlyArray<ConfigIssue> =>
  Array.isArray(u)
