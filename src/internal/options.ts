/**
 * Decodes user options with a Schema and turns every schema issue into a
 * `ConfigIssue` that names the field and the rule in the library's words
 * ("must be an integer between 1 and 1000 (got 0)"), so that breakers and
 * policies report bad options the same way, every broken rule at once.
 *
 * Options are read defensively: a getter that throws, or a `Proxy` whose
 * traps do, is a field that "could not be read", never a defect; and every
 * value quoted back in a rule is cut short, so that no message grows with
 * its input.
 *
 * @internal
 */
import type { SchemaAST } from "effect"
import { Cause, Duration, Exit, Option, Result, Schema, SchemaIssue, SchemaParser } from "effect"
import { ConfigIssue } from "../ConfigIssue.js"
import { maxNameLength } from "../Limits.js"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Text quoted in a message is cut past this many characters. */
const maxQuotedLength = 64

/** `text`, cut to `max` characters and marked with "…" when longer. @internal */
export const truncate = (text: string, max = maxQuotedLength): string =>
  text.length <= max ? text : `${text.slice(0, max)}…`

/** A value as a person would write it, for "(got ...)" in a rule: short, whatever the value. @internal */
export const describeValue = (u: unknown): string => {
  try {
    if (typeof u === "string") {
      return u.length <= maxQuotedLength
        ? JSON.stringify(u)
        : `${JSON.stringify(truncate(u))} (${u.length} characters)`
    }
    if (typeof u === "number" || typeof u === "bigint" || typeof u === "boolean") return truncate(String(u))
    if (u === null) return "null"
    if (u === undefined) return "undefined"
    if (typeof u === "function") return "a function"
    if (Duration.isDuration(u)) return truncate(Duration.format(u))
    return typeof u
  } catch {
    // A Proxy whose traps throw.
    return "a value that cannot be read"
  }
}

/** What was thrown, for a message: an error's message, cut to 100 characters. @internal */
export const thrownMessage = (thrown: unknown): string => {
  try {
    return truncate(thrown instanceof Error ? thrown.message : String(thrown), 100)
  } catch {
    return "a value that cannot be read"
  }
}

/** The rule of a value whose reading threw `thrown`. @internal */
export const unreadable = (thrown: unknown): string => `could not be read (${thrownMessage(thrown)})`

/**
 * The value of `key` in `input`, or the rule broken when reading it throws
 * (a getter, a `Proxy` trap).
 *
 * @internal
 */
export const readField = (
  input: object,
  key: PropertyKey
): { readonly value: unknown } | { readonly problem: string } => {
  try {
    return { value: (input as Record<PropertyKey, unknown>)[key] }
  } catch (thrown) {
    return { problem: unreadable(thrown) }
  }
}

/** Whether `input` has `key`; a `Proxy` whose `has` trap throws has it, to be read and found unreadable. */
const hasField = (input: object, key: PropertyKey): boolean => {
  try {
    return key in input
  } catch {
    return true
  }
}

/** The value at `path` inside `input`, if there is one and it can be read. @internal */
export const fieldValue = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let current: unknown = input
  for (const key of path) {
    if (typeof current !== "object" || current === null) return undefined
    const read = readField(current, key)
    if (!("value" in read)) return undefined
    current = read.value
  }
  return current
}

// Schema messages say "Expected ..."; the library's rules read "must be ...".
const ruleOf = (message: string, value: unknown, present: boolean, what: string): string => {
  if (message.startsWith("could not be read")) return message
  if (message.startsWith("must")) {
    return message.includes("got ") ? message : `${message} (got ${describeValue(value)})`
  }
  if (message === "Unexpected key" || message.includes("excess property")) return `is not a ${what}`
  if (message === "Missing key") return "is required"
  const expected = message.replace(/^Expected /, "").replace(/ \| undefined$/, "")
  return `must be ${expected}${present ? ` (got ${describeValue(value)})` : ""}`
}

/**
 * The issues of a failed decoding of `input`. Fields are named by their path
 * after `prefix` (the field `input` is the value of, if any); an issue about
 * `input` itself, with no prefix, is about the options as a whole (`root`).
 */
const issuesOf = (
  input: unknown,
  issue: SchemaIssue.Issue,
  what: string,
  root: string,
  prefix: ReadonlyArray<PropertyKey> = []
): Array<ConfigIssue> => {
  const seen = new Set<string>()
  const result: Array<ConfigIssue> = []
  for (const { message, path } of formatter(issue).issues) {
    const keys = (path ?? []).map((segment) =>
      typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment
    ) as ReadonlyArray<PropertyKey>
    if (keys.length === 0 && prefix.length === 0) {
      result.push(new ConfigIssue({ field: root, rule: `must be an object of ${what}s (got ${describeValue(input)})` }))
      break
    }
    const field = [...prefix, ...keys].map(String).join(".")
    // A union (a duration or a schedule, say) reports one issue per member; keep the first per field.
    if (seen.has(field)) continue
    seen.add(field)
    const value = fieldValue(input, keys)
    result.push(new ConfigIssue({ field, rule: ruleOf(message, value, value !== undefined, what) }))
  }
  return result
}

/**
 * Rules that relate several options (`successThreshold` at most
 * `halfOpenPermits`, say). They see the options that decoded — all of them,
 * or, when some are invalid, the valid ones only — and `invalid`, the
 * options that did not: a rule about an invalid option is not checked, so
 * it is reported once, by its own field.
 *
 * @internal
 */
export type CheckRelations<A> = (options: A, invalid: ReadonlySet<string>) => ReadonlyArray<ConfigIssue>

const noneInvalid: ReadonlySet<string> = new Set()

type Fields = Readonly<Record<string, Schema.Top>>

const fieldsOf = (schema: Schema.Top): Fields | undefined => (schema as { readonly fields?: Fields }).fields

/** What was thrown while decoding: a getter or a `Proxy` trap of the input threw it. */
interface Thrown {
  readonly thrown: unknown
}

/**
 * Decodes `input` with `schema`: its value, its issue, or what reading it
 * threw (which Schema turns into a defect; the defect is the thrown value).
 */
const decodeSafely = <A>(
  schema: Schema.ConstraintDecoder<unknown>,
  input: unknown,
  options: SchemaAST.ParseOptions
): Result.Result<A, SchemaIssue.Issue | Thrown> => {
  try {
    const exit = SchemaParser.decodeUnknownExit(schema)(input, options)
    if (Exit.isSuccess(exit)) return Result.succeed(exit.value as A)
    const issue = Cause.findErrorOption(exit.cause)
    if (Option.isSome(issue)) return Result.fail(issue.value)
    const defect = Cause.findDefect(exit.cause)
    return Result.fail({ thrown: Result.isSuccess(defect) ? defect.success : Cause.squash(exit.cause) })
  } catch (thrown) {
    return Result.fail({ thrown })
  }
}

const isThrown = (u: SchemaIssue.Issue | Thrown): u is Thrown => "thrown" in u

/** Decodes one option's value; a decoding that throws (a getter inside the value) is a rule too. */
const decodeField = (schema: Schema.Top, value: unknown) =>
  decodeSafely<unknown>(schema as Schema.Codec<unknown, unknown>, value, { errors: "all" })

/** The options of `raw` that decode on their own, and the names of those that do not. */
const decodeEach = (fields: Fields, raw: object, invalid: Set<string>): Record<string, unknown> => {
  const valid: Record<string, unknown> = {}
  for (const key of Object.keys(fields)) {
    if (invalid.has(key)) continue
    const read = readField(raw, key)
    if (!("value" in read)) {
      invalid.add(key)
      continue
    }
    if (read.value === undefined) continue
    const decoded = decodeField(fields[key]!, read.value)
    if (Result.isSuccess(decoded)) valid[key] = decoded.success
    else invalid.add(key)
  }
  return valid
}

/**
 * The issues of options whose decoding threw: a getter or a `Proxy` trap
 * did. Each option is read and decoded on its own to find which; the rules
 * that relate several options are left until every option can be read.
 */
const unreadableIssues = (
  fields: Fields | undefined,
  raw: unknown,
  thrown: unknown,
  what: string,
  root: string
): Array<ConfigIssue> => {
  const whole = [new ConfigIssue({ field: root, rule: unreadable(thrown) })]
  if (fields === undefined || typeof raw !== "object" || raw === null) return whole
  const issues: Array<ConfigIssue> = []
  try {
    for (const key of Reflect.ownKeys(raw)) {
      if (typeof key === "symbol" || !Object.hasOwn(fields, key)) {
        issues.push(new ConfigIssue({ field: String(key), rule: `is not a ${what}` }))
      }
    }
  } catch (listing) {
    return [new ConfigIssue({ field: root, rule: unreadable(listing) })]
  }
  for (const key of Object.keys(fields)) {
    // As the schema does, an option that is not there is not read.
    const read = hasField(raw, key) ? readField(raw, key) : { value: undefined }
    if (!("value" in read)) {
      issues.push(new ConfigIssue({ field: key, rule: read.problem }))
      continue
    }
    if (read.value === undefined) continue
    const decoded = decodeField(fields[key]!, read.value)
    if (Result.isSuccess(decoded)) continue
    const failure = decoded.failure
    if (isThrown(failure)) issues.push(new ConfigIssue({ field: key, rule: unreadable(failure.thrown) }))
    else issues.push(...issuesOf(read.value, failure, what, root, [key]))
  }
  // A getter that threw once and not again: the options as a whole could not be read.
  return issues.length > 0 ? issues : whole
}

/**
 * Decodes `input` (`undefined` reads as `{}`) with `schema`, rejecting
 * unknown fields, and checks the rules that relate several fields with
 * `check` — even when some fields are invalid, so that every broken rule is
 * listed at once. `what` names one option in messages ("is not a bulkhead
 * option"); `root` is the field named when `input` is not an object at all.
 * Nothing here throws: an option that cannot be read is an issue.
 *
 * @internal
 */
export const decodeOptions = <S extends Schema.ConstraintDecoder<unknown>>(
  schema: S,
  input: unknown,
  what: string,
  root = "(options)",
  check?: CheckRelations<S["Type"]>
): Result.Result<S["Type"], ReadonlyArray<ConfigIssue>> => {
  const raw: unknown = input === undefined ? {} : input
  const fields = fieldsOf(schema as unknown as Schema.Top)
  const decoded = decodeSafely<S["Type"]>(schema, raw, { errors: "all", onExcessProperty: "error" })
  if (Result.isFailure(decoded) && isThrown(decoded.failure)) {
    return Result.fail(unreadableIssues(fields, raw, decoded.failure.thrown, what, root))
  }
  try {
    if (Result.isSuccess(decoded)) {
      const related = check?.(decoded.success, noneInvalid) ?? []
      return related.length === 0 ? Result.succeed(decoded.success) : Result.fail(related)
    }
    const issues = issuesOf(raw, decoded.failure as SchemaIssue.Issue, what, root)
    if (check === undefined || fields === undefined || typeof raw !== "object" || raw === null) {
      return Result.fail(issues)
    }
    const invalid = new Set(issues.map((issue) => issue.field.split(".")[0]!))
    const valid = decodeEach(fields, raw, invalid)
    return Result.fail([...issues, ...check(valid as S["Type"], invalid)])
  } catch (thrown) {
    // A rule between options read one that threw (a getter that threw only the second time).
    return Result.fail([new ConfigIssue({ field: root, rule: unreadable(thrown) })])
  }
}

/** Whether `text` holds a control character (C0, DEL or C1), which could forge a log line. @internal */
export const hasControlCharacter = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) return true
  }
  return false
}

/**
 * The rule `u` breaks as a name of at most `max` characters (a breaker's
 * name, a registry's key), if any: a name is a non-blank string without
 * control characters, since it goes into errors, logs, metric labels and
 * Redis keys.
 *
 * @internal
 */
export const nameProblem = (u: unknown, max: number): string | undefined => {
  if (typeof u !== "string") return `must be a string (got ${describeValue(u)})`
  if (u.length > max) return `must be at most ${max} characters (got ${u.length})`
  if (u.trim().length === 0) return "must not be empty or blank"
  if (hasControlCharacter(u)) return "must not contain control characters (line breaks, tabs, NUL, ...)"
  return undefined
}

/** Whether `u` is a usable name: non-blank, at most `Limits.maxNameLength` characters, no control characters. @internal */
export const isName = (u: unknown): u is string => nameProblem(u, maxNameLength) === undefined

const nameExpected = `a non-empty string of at most ${maxNameLength} characters, without control characters`

/** The rule every name follows, as its issues state it. @internal */
export const nameRule = `must be ${nameExpected}`

/**
 * The `name` option of `input` when it is a usable name, for errors raised
 * before the options are known to be valid.
 *
 * @internal
 */
export const nameOf = (input: unknown, fallback: string): string => {
  const name = fieldValue(input, ["name"])
  return isName(name) ? name : fallback
}

/** A name: non-blank, at most `Limits.maxNameLength` characters, no control characters. @internal */
// One check, not a string schema with a filter: inside `Schema.optional` a type mismatch would read
// "must be string", unlike every other broken rule of a name.
export const Name = Schema.declare(isName, { expected: nameExpected })
