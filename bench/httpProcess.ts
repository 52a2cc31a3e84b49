/**
 * One process of the HTTP benchmark (see `http.ts`): measures the clients
 * with the method and the seed of their orders given as its arguments, and
 * sends their rows to its parent.
 * Bundled next to the benchmarks' bundle by `scripts/bench.mjs`, as they are.
 */
import { Effect, Scope } from "effect"
import type { HttpMethod } from "./http.js"
import { measureClients } from "./http.js"

const method = JSON.parse(process.argv[2]!) as HttpMethod
const seed = Number(process.argv[3])
const scope = Effect.runSync(Scope.make())
const rows = await measureClients(scope, method, seed)
process.send!(rows, () => process.exit(0))
