// Run by scripts/consumer-test.mjs in the consumer project, as CommonJS: every entry point of the
// installed package can be required and has every value export of its source module, and a
// breaker made through `require` rejects with a CircuitOpenError once it is open.
"use strict"
const assert = require("node:assert/strict")
const { readFileSync } = require("node:fs")

const entries = JSON.parse(readFileSync(process.argv[2], "utf8"))
for (const { specifier, values } of entries) {
  const module = require(specifier)
  assert.deepEqual(Object.keys(module).filter((key) => key !== "__esModule").sort(), values, specifier)
}

const { Effect, Exit } = require("effect")
const { CircuitBreaker, isCircuitOpenError } = require("effect-resilience")

const program = Effect.gen(function*() {
  const breaker = yield* CircuitBreaker.make({ name: "cjs", consecutiveFailures: 1 })
  yield* Effect.exit(breaker.execute(Effect.fail("down")))
  return yield* Effect.exit(breaker.execute(Effect.succeed("up")))
}).pipe(Effect.scoped)

const exit = Effect.runSync(program)
assert.ok(Exit.isFailure(exit) && exit.cause.reasons.some((r) => r._tag === "Fail" && isCircuitOpenError(r.error)))
console.log(`require: ${entries.length} entry points, each with its exports; an open breaker rejects`)
