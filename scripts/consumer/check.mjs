// The harness of a runnable documentation example, run by scripts/consumer-test.mjs in the
// consumer project: each `expression // => expected` line of the example calls `check`, and on
// exit the labels that ran and the mismatches are written to $EXAMPLE_RESULTS for the test.
import { Equal } from "effect"
import { writeFileSync } from "node:fs"
import { diff, inspect } from "node:util"

const ran = []
const failures = []

/** Records that the `// =>` line `label` ran, and whether `actual` is `expected`. */
export const check = (label, actual, expected) => {
  ran.push(label)
  if (!same(actual, expected)) failures.push({ label, message: explain(actual, expected) })
  return actual
}

/**
 * Effect's structural equality (primitives, arrays, plain objects, maps, sets, dates, and values
 * that implement `Equal`, such as `Duration` and `Option`); failing that, the same own enumerable
 * fields with equal values, so that `{ _tag: "Fresh", value: 1 }` describes a class instance.
 */
const same = (actual, expected) => {
  if (Equal.equals(actual, expected)) return true
  if (typeof actual !== "object" || actual === null || typeof expected !== "object" || expected === null) return false
  if (Array.isArray(actual) !== Array.isArray(expected)) return false
  const keys = Object.keys(actual)
  const expectedKeys = Object.keys(expected)
  return keys.length === expectedKeys.length &&
    keys.every((key) => Object.hasOwn(expected, key) && same(actual[key], expected[key]))
}

const show = (value) => inspect(value, { depth: 8, breakLength: 100, sorted: true })

const explain = (actual, expected) => {
  const a = show(actual).split("\n")
  const e = show(expected).split("\n")
  if (a.length === 1 && e.length === 1) return `expected ${e[0]}\n    actual   ${a[0]}`
  const lines = diff(a, e).map(([op, line]) => `${op === 0 ? " " : op === 1 ? "+" : "-"} ${line}`)
  return `the value differs from the comment (- expected, + actual):\n${lines.map((l) => `    ${l}`).join("\n")}`
}

process.on("exit", () => {
  writeFileSync(process.env.EXAMPLE_RESULTS, JSON.stringify({ ran, failures }))
})
