// Extracts every ```ts example from README.md, docs/*.md and the JSDoc of src/
// into .doc-examples/, so that `npm test` type-checks them (tsconfig.examples.json)
// against the library's sources: documentation that no longer compiles fails the run.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const root = new URL("..", import.meta.url).pathname
const out = join(root, ".doc-examples")
rmSync(out, { recursive: true, force: true })
mkdirSync(out)

const sources = [
  "README.md",
  ...readdirSync(join(root, "docs"), { recursive: true })
    .filter((f) => typeof f === "string" && f.endsWith(".md"))
    .map((f) => `docs/${f}`),
  ...readdirSync(join(root, "src"), { recursive: true })
    .filter((f) => typeof f === "string" && f.endsWith(".ts"))
    .map((f) => `src/${f}`)
]

let count = 0
for (const source of sources) {
  const text = readFileSync(join(root, source), "utf8")
  const lines = source.endsWith(".ts")
    ? text.split("\n").map((line) => line.replace(/^\s*\* ?/, ""))
    : text.split("\n")
  let block = undefined
  let start = 0
  let n = 0
  lines.forEach((line, index) => {
    if (block === undefined && /^```ts\b/.test(line.trim())) {
      block = []
      start = index + 1
    } else if (block !== undefined && line.trim() === "```") {
      const name = `${source.replace(/^docs\//, "").replace(/\W/g, "_")}_${++n}.ts`
      writeFileSync(
        join(out, name),
        `// ${source}:${start + 1}\n${block.join("\n")}\nexport {}\n`
      )
      count++
      block = undefined
    } else if (block !== undefined) {
      block.push(line)
    }
  })
}
console.log(`extracted ${count} documentation examples into .doc-examples/`)
