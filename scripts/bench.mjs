// `npm run bench` (and `bench:quick`): bundles bench/run.ts, the library's sources with it, as a
// user's build of the package would be (esbuild, which tsup runs for dist/), and runs the bundle.
//
// Why not `tsx bench/run.ts`: tsx keeps function names, wrapping every named closure in a call that
// sets its `name` each time the closure is made. No installed copy of the package pays that (dist/
// is built without it), and it weighs on exactly what the benchmarks compare — code that makes
// closures per call, the library's and the baselines' alike.
//
// The bundle is written next to bench/run.ts (bench/.run.mjs, ignored by git; the HTTP benchmark's
// processes run bench/.http.mjs, built alike), so the paths the benchmarks resolve from
// `import.meta.url` are theirs. Packages stay external: the installed
// `effect`, cockatiel and opossum are loaded as they are.
//
//   node scripts/bench.mjs [--quick]
import * as esbuild from "esbuild"
import { spawnSync } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const outfile = join(root, "bench/.run.mjs")

// The HTTP benchmark's processes run a bundle of their own, built the same way (bench/.http.mjs).
for (const [entry, out] of [["bench/run.ts", outfile], ["bench/httpProcess.ts", join(root, "bench/.http.mjs")]]) {
  await esbuild.build({
    entryPoints: [join(root, entry)],
    outfile: out,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    packages: "external",
    sourcemap: "inline",
    logLevel: "warning"
  })
}

const run = spawnSync(process.execPath, ["--expose-gc", "--enable-source-maps", outfile, ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit"
})
process.exit(run.status ?? 1)
