// Extracts every ```ts example from README.md, docs/**/*.md and the JSDoc of src/ into
// .doc-examples/ (one file per example, named after its source and first line, with the code on
// the source's own lines), so that `npm test` type-checks them (tsconfig.examples.json) against
// the library's sources: documentation that no longer compiles fails the run, and the compiler
// names the source line. The consumer test (scripts/consumer-test.mjs) checks them again
// against the packed tarball, and runs the ones with `// =>` results.
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { aligned, exampleFile, extractExamples } from "./examples.mjs"

const root = new URL("..", import.meta.url).pathname
const out = join(root, ".doc-examples")
rmSync(out, { recursive: true, force: true })

const examples = extractExamples(root)
for (const example of examples) {
  const file = join(out, exampleFile(example))
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, aligned(example, `${example.code}\nexport {}`))
}
console.log(`extracted ${examples.length} documentation examples into .doc-examples/`)
