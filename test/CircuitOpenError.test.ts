import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Schema } from "effect"
import { isCircuitOpenError } from "../src/CircuitOpenError.js"
import { CircuitOpenError } from "../src/index.js"

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
