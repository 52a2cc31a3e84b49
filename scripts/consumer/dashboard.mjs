/* global fetch, AbortController, TextDecoder */
// The dashboard served from the installed tarball: `node dashboard.mjs esm|cjs` loads the package
// (and effect, and the Node server) as an ES module or through require, mounts the dashboard on a
// localhost port, and checks that the page, its script and stylesheet (uPlot inside) and the stream
// are served from what was installed.
import { createRequire } from "node:module"

const mode = process.argv[2]
const load = async (name) => mode === "cjs" ? createRequire(import.meta.url)(name) : await import(name)
const { CircuitBreaker, Dashboard } = await load("effect-resilience")
const { Effect, Exit, Layer, Scope } = await load("effect")
const { HttpRouter } = await load("effect/http")
const { NodeHttpServer } = await load("@effect/platform-node")
const { createServer } = await import("node:http")

const fail = (message) => {
  console.error(`dashboard (${mode}): ${message}`)
  process.exit(1)
}

const scope = Effect.runSync(Scope.make())
const breaker = Effect.runSync(Scope.provide(CircuitBreaker.make({ name: "consumer-circuit" }), scope))
const server = createServer()
const app = HttpRouter.serve(Dashboard.layer({ sources: [breaker] }), { disableLogger: true, disableListenLog: true })
  .pipe(Layer.provide(NodeHttpServer.layer(() => server, { port: 0, host: "127.0.0.1", gracefulShutdownTimeout: 10 })))
await Effect.runPromise(Scope.provide(Layer.build(app), scope))
const base = `http://127.0.0.1:${server.address().port}`

const page = await fetch(`${base}/dashboard`)
const html = await page.text()
if (page.status !== 200 || !html.includes("<title>Circuits</title>")) fail(`the page: ${page.status}`)
const assets = [...html.matchAll(/\/dashboard\/assets\/([\w.-]+)/g)].map((m) => m[1])
if (assets.length !== 2) fail(`the page names ${assets.length} assets, not 2`)
for (const name of assets) {
  const asset = await fetch(`${base}/dashboard/assets/${name}`)
  const body = await asset.text()
  if (asset.status !== 200 || !/^\/\*! uPlot [\d.]+ \(MIT\)/.test(body)) fail(`${name}: ${asset.status}`)
}
const controller = new AbortController()
const stream = await fetch(`${base}/dashboard/stream`, { signal: controller.signal })
const reader = stream.body.getReader()
let text = ""
while (!text.includes("\n\n")) {
  const { done, value } = await reader.read()
  if (done) break
  text += new TextDecoder().decode(value)
}
controller.abort()
if (!/^(id: \d+\n)?event: Init\n/.test(text) || !text.includes(`"name":"consumer-circuit"`)) {
  fail(`the stream began ${text.slice(0, 80)}`)
}
await Effect.runPromise(Scope.close(scope, Exit.void))
console.log(`dashboard (${mode}): page, ${assets.join(", ")} and stream served from the installed package`)
