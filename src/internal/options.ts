/**
 * Decodes user options with a Schema and turns every schema issue into a
 * `ConfigIssue` that names the field and the rule in the library's words
 * ("must be an integer between 1 and 1000 (got 0)"), so that breakers and
 * policies report bad options the same way, every broken rule at once.
 *
 * @internal
 */
import { Duration, Result, Schema, SchemaIssue } from "effect"
import { ConfigIssue } from "../ConfigIssue.js"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** A value as a person would write it, for "(got ...)" in a rule. @internal */
export const describeValue = (u: unknown): string => {
  if (typeof u === "string") return JSON.stringify(u)
  if (typeof u === "number" || typeof u === "bigint" || typeof u === "boolean") return String(u)
  if (u === null) return "null"
  if (u === undefined) return "undefined"
  if (typeof u === "function") return "a function"
  if (Duration.isDuration(u)) return Duration.format(u)
  return typeof u
}

/** The value at `path` inside `input`, if there is one. @internal */
export const fieldValue = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let current: unknown = input
  for (const key of path) {
    if (typeof current !== "object" || current === null) return undefined
    current = (current as Record<PropertyKey, unknown>)[key]
  }
  return current
}

// Schema messages say "Expected ..."; the library's rules read "must be ...".
const ruleOf = (message: string, value: unknown, present: boolean, what: string): string => {
  if (message.startsWith("must")) {
    return message.includes("got ") ? message : `${message} (got ${describeValue(value)})`
  }
  if (message === "Unexpected key" || message.includes("excess property")) return `is not a ${what}`
  if (message === "Missing key") return "is required"
  const expected = message.replace(/^Expected /, "").replace(/ \| undefined$/, "")
  return `must be ${expected}${present ? ` (got ${describeValue(value)})` : ""}`
}

const issuesOf = (input: unknown, issue: SchemaIssue.Issue, what: string, root: string): Array<ConfigIssue> => {
  const seen = new Set<string>()
  const result: Array<ConfigIssue> = []
  for (const { message, path } of formatter(issue).issues) {
    const keys = (path ?? []).map((segment) =>
      typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment
    ) as ReadonlyArray<PropertyKey>
    if (keys.length === 0) {
      result.push(new ConfigIssue({ field: root, rule: `must be an object of ${what}s (got ${describeValue(input)})` }))
      break
    }
    const field = keys.map(String).join(".")
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

/** The options of `raw` that decode on their own, and the names of those that do not. */
const decodeEach = (
  fields: Readonly<Record<string, Schema.Top>>,
  raw: object,
  invalid: Set<string>
): Record<string, unknown> => {
  const valid: Record<string, unknown> = {}
  for (const key of Object.keys(fields)) {
    if (invalid.has(key) || !(key in raw)) continue
    const decoded = Schema.decodeUnknownResult(fields[key] as Schema.Codec<unknown, unknown>)(
      (raw as Record<string, unknown>)[key]
    )
    if (Result.isSuccess(decoded)) valid[key] = decoded.success
    else invalid.add(key)
  }
  return valid
}

/**
 * Decodes `input` (`undefined` reads as `{}`) with `schema`, rejecting
 * unknown fields, and checks the rules that relate several fields with
 * `check` — even when some fields are invalid, so that every broken rule is
 * listed at once. `what` names one option in messages ("is not a bulkhead
 * option"); `root` is the field named when `input` is not an object at all.
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
  const decoded = Schema.decodeUnknownResult(schema)(raw, { errors: "all", onExcessProperty: "error" })
  if (Result.isSuccess(decoded)) {
    const related = check?.(decoded.success, noneInvalid) ?? []
    return related.length === 0 ? Result.succeed(decoded.success) : Result.fail(related)
  }
  const issues = issuesOf(raw, decoded.failure.issue, what, root)
  const fields = (schema as { readonly fields?: Readonly<Record<string, Schema.Top>> }).fields
  if (check === undefined || fields === undefined || typeof raw !== "object" || raw === null) {
    return Result.fail(issues)
  }
  const invalid = new Set(issues.map((issue) => issue.field.split(".")[0]!))
  const valid = decodeEach(fields, raw, invalid)
  return Result.fail([...issues, ...check(valid as S["Type"], invalid)])
}

/**
 * The `name` option of `input` when it is a usable name, for errors raised
 * before the options are known to be valid.
 *
 * @internal
 */
export const nameOf = (input: unknown, fallback: string): string => {
  const name = fieldValue(input, ["name"])
  return typeof name === "string" && name.trim().length > 0 ? name : fallback
}

/** A non-blank name. @internal */
export const Name = Schema.String.check(
  Schema.makeFilter((s: string) => s.trim().length > 0, { message: "must be a non-empty string" })
)
