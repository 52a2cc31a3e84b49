/**
 * Variables under a configuration prefix that name no option: a misspelt
 * `PAYMENTS_BREAKER_FAILURE_RATIO` is an error that suggests
 * `PAYMENTS_BREAKER_FAILURE_RATE`, not a setting silently ignored.
 *
 * The variables are listed through the current `ConfigProvider`, so that the
 * default provider reads `process.env` and a test's
 * `ConfigProvider.fromEnv({ env })` reads its own record. The environment
 * provider splits names on `_` into a tree; the names under the prefix are
 * the leaves below the prefix's own segments. Providers of flat records
 * (`fromUnknown({ PAYMENTS_BREAKER_FAILURE_RATE: "0.5" })`) list their keys
 * at the root.
 *
 * The rule: a variable `PREFIX_REST` is unknown when `REST` is not an option
 * and does not end with `_OPTION` for an option. The second part leaves
 * alone the variables of another configuration whose prefix extends this
 * one (`PAYMENTS_BREAKER_FAILURE_RATE` under the prefix `PAYMENTS` belongs to
 * the prefix `PAYMENTS_BREAKER`).
 *
 * @internal
 */
import type { ConfigProvider } from "effect"
import { ConfigProvider as Provider, Effect } from "effect"
import { ConfigIssue } from "../ConfigIssue.js"
import { maxNameLength } from "../Limits.js"
import { thrownMessage, truncate } from "./options.js"

/** Array nodes of the env tree have a length, not keys: past this many indexes, only the last is read. */
const maxIndexes = 64

const namesUnder = (
  provider: ConfigProvider.ConfigProvider,
  prefix: string
): Effect.Effect<ReadonlySet<string>, ConfigProvider.SourceError> =>
  Effect.gen(function*() {
    const names = new Set<string>()
    const start = prefix.split("_")
    const walk = (path: ReadonlyArray<string>): Effect.Effect<void, ConfigProvider.SourceError> =>
      Effect.gen(function*() {
        const node = yield* provider.load(path)
        if (node === undefined) return
        if (path.length > start.length && node.value !== undefined) names.add(path.join("_"))
        if (node._tag === "Record") {
          for (const key of node.keys) yield* walk([...path, key])
        } else if (node._tag === "Array") {
          const last = node.length - 1
          for (let index = 0; index < Math.min(node.length, maxIndexes); index++) yield* walk([...path, String(index)])
          if (last >= maxIndexes) yield* walk([...path, String(last)])
        }
      })
    yield* walk(start)
    const root = yield* provider.load([])
    if (root?._tag === "Record") {
      for (const key of root.keys) if (key.startsWith(`${prefix}_`)) names.add(key)
    }
    return names
  })

/** Edit distance, for suggestions: both strings are short option names. */
const distance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

/** Names longer than this get no suggestion (the distance is quadratic in their length). */
const maxSuggestLength = 64

/** The option `rest` most likely meant, if one is close enough. */
const nearest = (rest: string, options: ReadonlyArray<string>): string | undefined => {
  if (rest.length > maxSuggestLength) return undefined
  let best: string | undefined
  let bestDistance = Infinity
  for (const option of options) {
    const d = distance(rest, option)
    if (d < bestDistance) {
      best = option
      bestDistance = d
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined
}

/** Unknown variables listed one by one at most; the rest are counted in one more issue. */
const maxListed = 20

/**
 * A `ConfigIssue` for each variable under `prefix` whose rest is none of
 * `options` (the suffixes, `FAILURE_RATE`, ...): the field is the variable
 * (its name cut to `Limits.maxNameLength` characters), the rule says what it
 * is not (`what`, "a circuit breaker variable") and suggests the nearest
 * option, or names one as an example (`example`, by default the first). The first 20 are listed; one more
 * issue counts the others, so that a polluted environment makes a short
 * error.
 *
 * @internal
 */
export const unknownVariables = (
  prefix: string,
  options: ReadonlyArray<string>,
  what: string,
  example: string = options[0]!
): Effect.Effect<ReadonlyArray<ConfigIssue>> =>
  Effect.flatMap(Provider.ConfigProvider, (provider) =>
    namesUnder(provider, prefix).pipe(
      Effect.map((names) => {
        const known = new Set(options)
        const issues: Array<ConfigIssue> = []
        let unlisted = 0
        for (const name of [...names].sort()) {
          const rest = name.slice(prefix.length + 1)
          if (known.has(rest) || options.some((option) => rest.endsWith(`_${option}`))) continue
          if (issues.length === maxListed) {
            unlisted++
            continue
          }
          const suggestion = nearest(rest, options)
          issues.push(
            new ConfigIssue({
              field: truncate(name, maxNameLength),
              rule: suggestion === undefined
                ? `is not ${what} (each is ${prefix}_ followed by an option in upper snake case, such as ${prefix}_${example})`
                : `is not ${what}: did you mean ${prefix}_${suggestion}?`
            })
          )
        }
        if (unlisted > 0) {
          issues.push(
            new ConfigIssue({
              field: `${prefix}_*`,
              rule: `is not ${what}: ${unlisted} more variables under ${prefix}_ name no option ` +
                `(the first ${maxListed} are listed)`
            })
          )
        }
        return issues
      }),
      Effect.catch((error) =>
        Effect.succeed([
          new ConfigIssue({ field: `${prefix}_*`, rule: `could not be listed (${thrownMessage(error)})` })
        ])
      )
    ))
