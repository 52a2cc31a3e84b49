import { describe, expect, it } from "@effect/vitest"
import { Cause, Data, Duration, Effect, Exit, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { isCircuitOpenError } from "../src/CircuitOpenError.js"
import { CircuitBreaker, CircuitOpenError } from "../src/index.js"

describe("CircuitOpenError", () => {
  const open = new CircuitOpenError({ breaker: "payments", state: "Open", retryAfter: Duration.millis(12_300) })

  it("has a message a person can act on, for each state", () => {
    expect(open.message).toBe(
      "Circuit breaker \"payments\" is open: the call was rejected without running. " +
        "A probe call will be admitted in 12s 300ms; serve a fallback or retry after that."
    )
    const halfOpen = new CircuitOpenError({ breaker: "payments", state: "HalfOpen", retryAfter: Duration.zero })
    expect(halfOpen.message).toMatch(/half-open and every probe permit is taken.*Retry shortly with a backoff/)
    const forced = new CircuitOpenError({ breaker: "payments", state: "ForcedOpen", retryAfter: Duration.infinity })
    expect(forced.message).toMatch(/forced open by an operator.*until it is reset/)
  })

  it("is a tagged, yieldable error that Effect.catchTag handles", () =>
    Effect.runPromise(
      Effect.gen(function*() {
        return yield* open
      }).pipe(Effect.catchTag("CircuitOpenError", (error) => Effect.succeed(error.breaker)))
    ).then((breaker) => expect(breaker).toBe("payments")))

  it("encodes to JSON and decodes back, infinite retryAfter included", () => {
    const codec = Schema.toCodecJson(CircuitOpenError)
    const forced = new CircuitOpenError({ breaker: "db", state: "ForcedOpen", retryAfter: Duration.infinity })
    for (const error of [open, forced]) {
      const json = JSON.parse(JSON.stringify(Schema.encodeSync(codec)(error)))
      const decoded = Schema.decodeUnknownSync(codec)(json)
      expect(decoded).toBeInstanceOf(CircuitOpenError)
      expect(decoded.state).toBe(error.state)
      expect(Duration.equals(decoded.retryAfter, error.retryAfter)).toBe(true)
    }
  })

  it("rejects data read back that is not a circuit-open error", () => {
    const codec = Schema.toCodecJson(CircuitOpenError)
    expect(() => Schema.decodeUnknownSync(codec)({ _tag: "CircuitOpenError", breaker: "db", state: "Closed" }))
      .toThrow()
    expect(isCircuitOpenError(open)).toBe(true)
    expect(isCircuitOpenError(new Error("x"))).toBe(false)
  })
})

describe("CircuitOpenError.lastFailure: the failure that opened the circuit", () => {
  class InventoryError extends Data.TaggedError("InventoryError")<{ readonly status: number }> {}
  const rejectionOf = (exit: Exit.Exit<unknown, unknown>) => {
    const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
    expect(error).toBeInstanceOf(CircuitOpenError)
    return error as CircuitOpenError
  }

  it.effect("rejections in Open and HalfOpen carry the error of the call that tripped the circuit", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2, openDuration: "10 seconds" })
      yield* Effect.exit(breaker.execute(Effect.fail(new InventoryError({ status: 500 }))))
      yield* Effect.exit(breaker.execute(Effect.fail(new InventoryError({ status: 503 }))))
      const open = rejectionOf(yield* Effect.exit(breaker.execute(Effect.void)))
      expect(open.state).toBe("Open")
      expect(open.lastFailure).toEqual(new InventoryError({ status: 503 }))
      // Half-open with the one permit taken: the same failure is why.
      yield* TestClock.adjust("10 seconds")
      const probe = yield* Effect.forkChild(breaker.execute(Effect.never), { startImmediately: true })
      yield* Effect.yieldNow
      const halfOpen = rejectionOf(yield* Effect.exit(breaker.execute(Effect.void)))
      expect(halfOpen.state).toBe("HalfOpen")
      expect((halfOpen.lastFailure as InventoryError).status).toBe(503)
      yield* Fiber.interrupt(probe)
      // A probe that fails with a defect reopens the circuit: the defect is the new reason.
      yield* Effect.exit(breaker.execute(Effect.die("database on fire")))
      expect(rejectionOf(yield* Effect.exit(breaker.execute(Effect.void))).lastFailure).toBe("database on fire")
    }))

  it.effect("is absent when no failure opened the circuit: an operator's forceOpen", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
      yield* Effect.exit(breaker.execute(Effect.fail(new InventoryError({ status: 500 }))))
      yield* breaker.reset
      yield* breaker.forceOpen
      expect(rejectionOf(yield* Effect.exit(breaker.execute(Effect.void))).lastFailure).toBeUndefined()
    }))

  it.effect("is never serialised: not in the encoded error, not in JSON, not enumerable", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
      yield* Effect.exit(breaker.execute(Effect.fail(new InventoryError({ status: 500 }))))
      const rejection = rejectionOf(yield* Effect.exit(breaker.execute(Effect.void)))
      expect(rejection.lastFailure).toBeInstanceOf(InventoryError)
      expect(Object.keys(rejection)).not.toContain("lastFailure")
      expect(JSON.stringify(rejection)).not.toContain("InventoryError")
      const encoded = Schema.encodeSync(Schema.toCodecJson(CircuitOpenError))(rejection)
      expect(JSON.stringify(encoded)).not.toContain("InventoryError")
    }))
})
