// Run by scripts/consumer-test.mjs in the consumer project, as an ES module: every entry point of
// the installed package can be imported and has every value export of its source module, and a
// breaker made through `import` rejects with a CircuitOpenError once it is open.
import { Effect, Exit } from "effect"
import assert from "node:assert/strict"
import { readFileSync } from "node:fs"

const entries = JSON.parse(readFileSync(process.argv[2], "utf8"))
for (const { specifier, values } of entries) {
  const module = await import(specifier)
  assert.deepEqual(Object.keys(module).sort(), values, specifier)
}

const { CircuitBreaker, isCircuitOpenError } = await import("effect-resilience")
const program = Effect.gen(function*() {
  const breaker = yield* CircuitBreaker.make({ name: "esm", consecutiveFailures: 1 })
  yield* Effect.exit(breaker.execute(Effect.fail("down")))
  return yield* Effect.exit(breaker.execute(Effect.succeed("up")))
}).pipe(Effect.scoped)

const exit = Effect.runSync(program)
assert.ok(Exit.isFailure(exit) && exit.cause.reasons.some((r) => r._tag === "Fail" && isCircuitOpenError(r.error)))
console.log(`import: ${entries.length} entry points, each with its exports; an open breaker rejects`)
