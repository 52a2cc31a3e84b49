// The ```ts examples of README.md, docs/**/*.md and the JSDoc of src/, shared by
// scripts/doc-examples.mjs (type-checked against src/ by `npm test`) and
// scripts/consumer-test.mjs (type-checked and run against the packed tarball).
//
// An example whose lines carry `expression // => expected` is runnable: the consumer test runs
// it and checks that each such expression, when reached, equals the expected value (a JavaScript
// expression, compared structurally). Each `// =>` line must be one whole expression, for
// example `Effect.runSync(program) // => 42`, `await Effect.runPromise(program) // => "ok"`, or,
// inside `Effect.gen`, `yield* breaker.state // => "Open"`; and every one must run.
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

/** The files whose ```ts blocks are examples, relative to the repository root. */
export const exampleSources = (root) => [
  "README.md",
  ...readdirSync(join(root, "docs"), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".md"))
    .sort()
    .map((file) => `docs/${file}`),
  ...readdirSync(join(root, "src"), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .sort()
    .map((file) => `src/${file}`)
]

/**
 * Every ```ts block of `sources`: `{ source, line, code, checks }`, where `line` is the
 * 1-based line of `source` the code starts on and `checks` lists its `// =>` lines.
 */
export const extractExamples = (root, sources = exampleSources(root)) => {
  const examples = []
  for (const source of sources) {
    const text = readFileSync(join(root, source), "utf8")
    const lines = source.endsWith(".ts")
      ? text.split("\n").map((line) => line.replace(/^\s*\* ?/, ""))
      : text.split("\n")
    let block = undefined
    let start = 0
    lines.forEach((line, index) => {
      if (block === undefined && /^```ts\b/.test(line.trim())) {
        block = []
        start = index + 2
      } else if (block !== undefined && line.trim() === "```") {
        const code = block.join("\n")
        examples.push({ source, line: start, code, checks: checksOf(source, start, code) })
        block = undefined
      } else if (block !== undefined) {
        block.push(line)
      }
    })
  }
  return examples
}

const checkLine = /^(\s*)(\S.*?)\s*\/\/ => (.*\S)\s*$/

/** The `// =>` lines of an example: `{ label: "file:line", expression, expected }`. */
const checksOf = (source, start, code) =>
  code.split("\n").flatMap((line, index) => {
    const label = `${source}:${start + index}`
    if (/^\s*\/\/ =>/.test(line)) {
      throw new Error(`${label}: a \`// =>\` result goes on the line of its expression: \`expression // => expected\``)
    }
    const match = checkLine.exec(line)
    return match === null ? [] : [{ label, expression: match[2], expected: match[3] }]
  })

/** A file name for an example that says where it comes from: `docs/guide.md.74.ts`. */
export const exampleFile = (example, extension = "ts") => `${example.source}.${example.line}.${extension}`

/**
 * The example's code on the same lines as in its source (blank lines before it), so that a
 * compiler's or a stack trace's line numbers are the source's.
 */
export const aligned = (example, code = example.code) => "\n".repeat(example.line - 1) + code + "\n"

/**
 * The runnable form of an example: each `expression // => expected` line becomes
 * `check("file:line", expression, expected)`, on the same line; `check` is imported from
 * `harness` (an import at the end of a module is hoisted).
 */
export const runnable = (example, harness) => {
  const code = example.code.split("\n").map((line, index) => {
    const match = checkLine.exec(line)
    if (match === null) return line
    const label = `${example.source}:${example.line + index}`
    return `${match[1]}__check(${JSON.stringify(label)}, ${match[2]}, ${match[3]})`
  }).join("\n")
  return aligned(example, `${code}\nimport { check as __check } from ${JSON.stringify(harness)}`)
}
