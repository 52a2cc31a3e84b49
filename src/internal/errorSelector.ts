/**
 * The `on` option of fallbacks and last-known-good caches: which typed
 * errors they answer for — error tags, a refinement, or (omitted) every
 * typed error — decoded from untrusted options and matched against an
 * error. Shared by the `Fallback` and `LastKnownGood` modules.
 *
 * @internal
 */
import { Effect, Schema, SchemaIssue, SchemaTransformation } from "effect"
import { maxErrorTags } from "../Limits.js"

/**
 * Which typed errors a fallback or a cache answers for: all, a refinement,
 * or tags.
 *
 * @internal
 */
export type ErrorFilter = undefined | ((error: unknown) => boolean) | ReadonlySet<string>

const onRule = "must be a non-empty array of error tags or a refinement (error) => boolean"

/** The issue of each entry of `tags` that is no tag (a string), under its index. */
const tagIssues = (tags: ReadonlyArray<unknown>): Array<SchemaIssue.Issue> => {
  const issues: Array<SchemaIssue.Issue> = []
  for (let i = 0; i < tags.length; i++) {
    if (typeof tags[i] !== "string") {
      issues.push(
        new SchemaIssue.Pointer(
          [i],
          new SchemaIssue.InvalidValue({ message: "must be an error tag (a string)" }, tags[i])
        )
      )
    }
  }
  return issues
}

// One schema, not a union of a tag list and a function: a union reports a bad tag list twice (as a
// list with a bad entry, and as no refinement).
const decodeOn = (input: unknown): Effect.Effect<OnValue, SchemaIssue.Issue> => {
  if (typeof input === "function") return Effect.succeed(input as (error: unknown) => boolean)
  if (!Array.isArray(input)) return Effect.fail(new SchemaIssue.InvalidValue({ message: onRule }, input))
  if (input.length === 0) {
    return Effect.fail(new SchemaIssue.InvalidValue({ message: "must name at least one error tag" }, input))
  }
  if (input.length > maxErrorTags) {
    return Effect.fail(
      new SchemaIssue.InvalidValue(
        { message: `must name at most ${maxErrorTags} error tags (got ${input.length})` },
        input
      )
    )
  }
  const [first, ...rest] = tagIssues(input)
  if (first === undefined) return Effect.succeed(input as ReadonlyArray<string>)
  return Effect.fail(rest.length === 0 ? first : new SchemaIssue.Composite(Schema.Unknown.ast, [first, ...rest], input))
}

type OnValue = ReadonlyArray<string> | ((error: unknown) => boolean)

/**
 * The `on` option: a non-empty list of at most `Limits.maxErrorTags` tags,
 * or a refinement.
 *
 * @internal
 */
export const OnSchema = Schema.Unknown.pipe(
  Schema.decodeTo(
    Schema.declare((u: unknown): u is OnValue => typeof u === "function" || Array.isArray(u), {
      expected: "error tags or a refinement"
    }),
    SchemaTransformation.transformEffect({
      decode: decodeOn,
      encode: (on: OnValue) => Effect.succeed(on as unknown)
    })
  )
)

/** @internal */
export const toFilter = (on: ReadonlyArray<string> | ((error: unknown) => boolean) | undefined): ErrorFilter =>
  on === undefined || typeof on === "function" ? on : new Set(on)

/**
 * Whether a filter chooses an error; tags match an object's string `_tag`.
 *
 * @internal
 */
export const matches = (filter: ErrorFilter, error: unknown): boolean => {
  if (filter === undefined) return true
  if (typeof filter === "function") return filter(error)
  if (typeof error !== "object" || error === null) return false
  const tag = (error as { readonly _tag?: unknown })._tag
  return typeof tag === "string" && filter.has(tag)
}
