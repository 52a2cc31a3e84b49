// `npm run test:consumer`: the package as users install it. After `npm run build`:
//
// 1. `npm pack`, and a fresh project in a temporary directory that installs the tarball with
//    `effect` and the packages the documentation's examples use (at this repository's versions;
//    no `paths`, no access to src/);
// 2. every ```ts example of README.md, docs/ and the JSDoc of src/ is type-checked against the
//    installed package under `nodenext` and `bundler` resolution (strict,
//    exactOptionalPropertyTypes), with the installed declarations checked too; and every entry
//    point's exports, seen from ESM and CJS under `nodenext` and from `bundler`, must have the
//    names and meanings (value, type, namespace) of its source module;
// 3. every entry point is required from CommonJS and imported from an ES module; the ESM and
//    the CJS build, loaded together, must recognise each other's errors and values;
// 4. every runnable example (one with `expression // => expected` lines, see
//    scripts/examples.mjs) is run, and each `// =>` line must run and show the value it names.
//
// Any failure names the example (file:line) or the entry point and export, and fails the run.
import { execFileSync, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, relative } from "node:path"
import { checkConsumer, exportsOfSources } from "./consumer/typecheck.mjs"
import { aligned, exampleFile, extractExamples, runnable } from "./examples.mjs"

const root = new URL("..", import.meta.url).pathname
const here = join(root, "scripts", "consumer")
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
const started = Date.now()
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`
const problems = []

const step = async (title, run) => {
  const since = Date.now()
  process.stdout.write(`consumer test: ${title}...`)
  const result = await run()
  process.stdout.write(` ${seconds(since)}\n`)
  return result
}

const fail = (message) => {
  console.error(`\nconsumer test: ${message}`)
  process.exit(1)
}

if (!process.features.typescript) {
  fail(`Node ${process.version} cannot run TypeScript; run it with \`npm run test:consumer\` (the project's Node 24)`)
}

// The tarball is made from dist/: it must be the build of the current sources.
const builtAt = (() => {
  try {
    return statSync(join(root, "dist", "index.js")).mtimeMs
  } catch {
    return fail("dist/ is missing: run `npm run build` first")
  }
})()
const sources = readdirSync(join(root, "src"), { recursive: true, encoding: "utf8" }).map((file) => `src/${file}`)
for (const file of ["package.json", "tsup.config.ts", ...sources]) {
  if (statSync(join(root, file)).mtimeMs > builtAt) fail(`dist/ is older than ${file}: run \`npm run build\` first`)
}

const entries = Object.keys(pkg.exports).filter((key) => key !== "./package.json").map((key) => ({
  specifier: key === "." ? pkg.name : `${pkg.name}/${key.slice(2)}`,
  file: key === "." ? "src/index.ts" : `src/${key.slice(2)}.ts`
}))
const examples = extractExamples(root)
const runnables = examples.filter((example) => example.checks.length > 0)

const work = mkdtempSync(join(tmpdir(), "effect-resilience-consumer-"))
const consumer = join(work, "project")
const write = (file, text) => {
  mkdirSync(dirname(join(consumer, file)), { recursive: true })
  writeFileSync(join(consumer, file), text)
}

// 1. The tarball, installed in a fresh project.
const tarball = await step("npm pack", () => {
  const [packed] = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--pack-destination", work], { cwd: root, encoding: "utf8" })
  )
  return join(work, packed.filename)
})

const installedVersion = (name) =>
  JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")).version
// effect, the optional peers the examples use, and what the examples import besides.
const companions = ["effect", "@effect/platform-node", "redis", "@effect/vitest", "vitest", "@types/node"]
await step(`installing the tarball with ${companions.join(", ")}`, () => {
  write("package.json", JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2))
  execFileSync("npm", [
    "install",
    "--prefer-offline",
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
    tarball,
    ...companions.map((name) => `${name}@${installedVersion(name)}`)
  ], { cwd: consumer, stdio: ["ignore", "ignore", "inherit"] })
})

// 2. Type-checking: the examples, and every entry point's exports.
const reference = await step("reading the exports of src/", () => exportsOfSources(root, entries))
for (const example of examples) {
  write(join("examples", exampleFile(example)), aligned(example, `${example.code}\nexport {}`))
}
for (const example of runnables) {
  const file = join("run", exampleFile(example))
  write(file, runnable(example, relative(dirname(join(consumer, file)), join(consumer, "check.mjs"))))
}
write("exports.mts", entries.map((e, i) => `import * as E${i} from "${e.specifier}"\n`).join(""))
write("exports.cts", entries.map((e, i) => `import E${i} = require("${e.specifier}")\n`).join(""))
write("exports.ts", entries.map((e, i) => `import * as E${i} from "${e.specifier}"\n`).join(""))

const exampleFiles = examples.map((example) => join(consumer, "examples", exampleFile(example)))
const describe = (file, line, column) => {
  const path = relative(consumer, file)
  const example = /^examples\/(.*)\.\d+\.ts$/.exec(path)
  return example !== null ? `${example[1]}:${line}:${column}` : `${path}:${line}:${column}`
}
for (const resolution of ["nodenext", "bundler"]) {
  const importers = resolution === "nodenext"
    ? { [join(consumer, "exports.mts")]: "ESM", [join(consumer, "exports.cts")]: "CJS" }
    : { [join(consumer, "exports.ts")]: "ESM" }
  await step(`type-checking ${examples.length} examples and ${entries.length} entry points (${resolution})`, () => {
    problems.push(...checkConsumer({
      dir: consumer,
      root,
      files: exampleFiles,
      importers,
      reference,
      resolution,
      packageName: pkg.name,
      describe
    }))
  })
}

// 3. require and import; the two builds in one process.
const node = (args, options = {}) =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: consumer, ...options, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (chunk) => (output += chunk))
    child.stderr.on("data", (chunk) => (output += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, output })
    })
  })

// Each loads the package its own way; check.mjs is what the runnable examples' checks import.
const loaders = ["require.cjs", "import.mjs", "two-copies.mjs"]
// The dashboard's page and assets, served from the installed package, loaded both ways.
const dashboards = [["dashboard.mjs", "esm"], ["dashboard.mjs", "cjs"]]
write("entries.json", JSON.stringify(reference.map(({ specifier, values }) => ({ specifier, values }))))
for (const script of [...loaders, "dashboard.mjs", "check.mjs"]) write(script, readFileSync(join(here, script), "utf8"))
await step("require (CJS), import (ESM), both builds in one process, and the dashboard served", async () => {
  for (const args of [...loaders.map((script) => [script, "entries.json"]), ...dashboards]) {
    const { code, output, signal } = await node(args)
    if (code !== 0) {
      problems.push({
        where: `scripts/consumer/${args.join(" ")}`,
        message: `failed (${signal ?? `exit code ${code}`}):\n${output}`
      })
    }
  }
})

// 4. The runnable examples.
const runExample = async (example) => {
  const results = join(work, `results-${example.line}-${exampleFile(example).replace(/\W/g, "_")}.json`)
  const file = join("run", exampleFile(example))
  const { code, output, signal } = await node(["--disable-warning=ExperimentalWarning", file], {
    env: { ...process.env, EXAMPLE_RESULTS: results }
  })
  const where = `${example.source}:${example.line}`
  // Stack traces name the example's file in the temporary project: show its source instead.
  const readable = output.replace(/(?:file:\/\/)?\S*\/run\/(\S+?)\.\d+\.ts:(\d+)(:\d+)?/g, "$1:$2$3").trim()
  if (code !== 0) {
    problems.push({ where, message: `the example failed (${signal ?? `exit code ${code}`}):\n${readable}` })
  }
  let outcome = { ran: [], failures: [] }
  try {
    outcome = JSON.parse(readFileSync(results, "utf8"))
  } catch {
    if (code === 0) problems.push({ where, message: "the example left no results" })
  }
  for (const failure of outcome.failures) problems.push({ where: failure.label, message: failure.message })
  for (const check of example.checks) {
    if (!outcome.ran.includes(check.label)) {
      problems.push({ where: check.label, message: `\`${check.expression}\` never ran (its \`// =>\` is not checked)` })
    }
  }
}
await step(`running ${runnables.length} runnable examples`, async () => {
  const queue = [...runnables]
  const worker = async () => {
    for (let example = queue.shift(); example !== undefined; example = queue.shift()) await runExample(example)
  }
  await Promise.all([worker(), worker()])
})

const checks = runnables.reduce((n, example) => n + example.checks.length, 0)
if (problems.length > 0) {
  console.error(`\nconsumer test: ${problems.length} problem(s) with the package as users install it:\n`)
  for (const { message, where } of problems) console.error(`${where}: ${message}\n`)
  console.error(`(the consumer project is kept in ${consumer})`)
  process.exit(1)
}
rmSync(work, { recursive: true, force: true })
console.log(
  `consumer test: passed in ${
    seconds(started)
  }: ${examples.length} examples type-checked under nodenext and bundler, ` +
    `${entries.length} entry points checked from ESM and CJS, ${runnables.length} examples run (${checks} \`// =>\` checks)`
)
