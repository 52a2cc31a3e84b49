// Run by scripts/consumer-test.mjs in the consumer project: the ESM and the CJS build of the
// installed package loaded in one process are two copies of the library, with classes of their
// own (as two installed versions would be). Each copy's guards, policies and breakers must
// recognise what the other copy makes: a retry must never hammer an open circuit because the
// CircuitOpenError came from the other copy.
import { Duration, Effect, Exit } from "effect"
import assert from "node:assert/strict"
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)
const copies = {
  esm: {
    ...(await import("effect-resilience")),
    subpath: {
      CircuitOpenError: await import("effect-resilience/CircuitOpenError"),
      BulkheadFullError: await import("effect-resilience/BulkheadFullError"),
      TimeoutError: await import("effect-resilience/TimeoutError")
    }
  },
  cjs: {
    ...require("effect-resilience"),
    subpath: {
      CircuitOpenError: require("effect-resilience/CircuitOpenError"),
      BulkheadFullError: require("effect-resilience/BulkheadFullError"),
      TimeoutError: require("effect-resilience/TimeoutError")
    }
  }
}
assert.notEqual(copies.esm.CircuitOpenError, copies.cjs.CircuitOpenError, "the ESM and CJS builds are two copies")

const errorsOf = (copy) => ({
  open: new copy.CircuitOpenError({ breaker: "payments", state: "Open", retryAfter: Duration.seconds(30) }),
  full: new copy.BulkheadFullError({ bulkhead: "reports", reason: "QueueFull", maxConcurrent: 1, maxQueued: 0 }),
  timeout: new copy.TimeoutError({ policy: "search", duration: Duration.seconds(2) })
})

const guardsOf = (copy) => ({
  open: {
    isCircuitOpenError: copy.isCircuitOpenError,
    "CircuitOpenError.isCircuitOpenError": copy.subpath.CircuitOpenError.isCircuitOpenError
  },
  full: {
    isBulkheadFullError: copy.isBulkheadFullError,
    "Bulkhead.isBulkheadFullError": copy.Bulkhead.isBulkheadFullError,
    "BulkheadFullError.isBulkheadFullError": copy.subpath.BulkheadFullError.isBulkheadFullError
  },
  timeout: {
    isTimeoutError: copy.isTimeoutError,
    "Timeout.isTimeoutError": copy.Timeout.isTimeoutError,
    "TimeoutError.isTimeoutError": copy.subpath.TimeoutError.isTimeoutError
  }
})

/** An effect that counts its runs and always fails with `error`. */
const failingWith = (error) => {
  const runs = { count: 0 }
  return { runs, effect: Effect.suspend(() => (runs.count++, Effect.fail(error))) }
}

const run = (effect) => Effect.runPromise(Effect.scoped(effect))

for (const [makerName, checkerName] of [["cjs", "esm"], ["esm", "cjs"]]) {
  const maker = copies[makerName]
  const checker = copies[checkerName]
  const errors = errorsOf(maker)
  const from = `made by the ${makerName} copy, checked by the ${checkerName} copy`

  // Every error guard: true for its own kind, false for the others.
  for (const [kind, guards] of Object.entries(guardsOf(checker))) {
    for (const [name, guard] of Object.entries(guards)) {
      for (const [errorKind, error] of Object.entries(errors)) {
        assert.equal(guard(error), errorKind === kind, `${name}(${error._tag}) ${from}`)
      }
    }
  }

  await run(Effect.gen(function*() {
    // The guards of the other values.
    const breaker = yield* maker.CircuitBreaker.make({ name: "other", consecutiveFailures: 5 })
    const bulkhead = yield* maker.Bulkhead.make({ name: "other", maxConcurrent: 2 })
    const retry = yield* maker.Retry.make({ retries: 3, baseDelay: 1 })
    assert.ok(checker.CircuitBreaker.isCircuitBreaker(breaker), `isCircuitBreaker ${from}`)
    assert.ok(checker.Bulkhead.isBulkhead(bulkhead), `isBulkhead ${from}`)
    assert.ok(checker.Policy.isPolicy(retry), `isPolicy ${from}`)

    // A retry never retries a rejection: an open circuit or a full bulkhead.
    const checkerRetry = yield* checker.Retry.make({ retries: 3, baseDelay: 1 })
    for (const error of [errors.open, errors.full]) {
      const { effect, runs } = failingWith(error)
      const exit = yield* Effect.exit(effect.pipe(checker.Retry.retry(checkerRetry)))
      assert.ok(Exit.isFailure(exit), `retried ${error._tag} ${from}`)
      assert.equal(runs.count, 1, `the retry ran the call again after a ${error._tag} ${from}`)
    }

    // A hedge starts no other attempt after a rejection.
    const hedge = yield* checker.Hedge.make({ delay: 1, attempts: 3 })
    const hedged = failingWith(errors.open)
    yield* Effect.exit(hedged.effect.pipe(checker.Hedge.hedge(hedge)))
    assert.equal(hedged.runs.count, 1, `the hedge started another attempt after a CircuitOpenError ${from}`)

    // The default classifier ignores a bulkhead's rejection.
    assert.equal(checker.Classifier.defaultClassifier(Exit.fail(errors.full)), "ignored", `classifier ${from}`)

    // A breaker counts a timed-out call as slow, whatever slowCallDuration says.
    const slow = yield* checker.CircuitBreaker.make({ slowCallRate: 1, slowCallDuration: "1 hour", minimumCalls: 1 })
    yield* Effect.exit(slow.execute(Effect.fail(errors.timeout)))
    assert.equal(yield* slow.state, "Open", `a TimeoutError ${from} counted as a slow call`)

    // A fallback on tags catches the other copy's errors.
    const fallback = yield* checker.Fallback.make({ on: ["CircuitOpenError"], value: "queued" })
    assert.equal(yield* Effect.fail(errors.open).pipe(checker.Fallback.fallback(fallback)), "queued")

    // Breakers, bulkheads and policies of one copy guard calls in the other.
    assert.equal(yield* checker.withCircuitBreaker(Effect.succeed(1), breaker), 1)
    assert.equal((yield* breaker.snapshot).calls, 1, `a breaker ${from} recorded the call`)
    assert.equal(yield* checker.withBulkhead(Effect.succeed(2), bulkhead), 2)
    const policy = yield* checker.Policy.make({ breaker, retry })
    assert.equal(yield* Effect.succeed(3).pipe(checker.Policy.apply(policy)), 3)
    const viaService = yield* checker.withCircuitBreaker(Effect.succeed(4)).pipe(
      Effect.provide(maker.CircuitBreaker.layer({ name: "service" }))
    )
    assert.equal(viaService, 4, `the default breaker service ${from}`)
  }))
}

console.log("two copies (ESM and CJS) in one process: every guard and policy recognises the other's values")
