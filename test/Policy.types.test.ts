import { describe, expectTypeOf, it } from "@effect/vitest"
import type { Effect } from "effect"
import type { BulkheadFullError, CircuitOpenError, TimeoutError } from "../src/index.js"
import { Bulkhead, CircuitBreaker, Fallback, Policy, Retry, Timeout } from "../src/index.js"
import type { Boom, NotFound } from "./helpers.js"

// Checked by `tsc` (part of `npm test`): a wrong type fails the type-check.
declare const call: Effect.Effect<number, Boom | NotFound, "Db">
declare const retry: Retry.Retry
declare const timeout: Timeout.Timeout
declare const bulkhead: Bulkhead.Bulkhead
declare const breaker: CircuitBreaker.CircuitBreaker
declare const onOpen: Fallback.Fallback<Fallback.Tagged<"CircuitOpenError">, never, never, string>
declare const onAnything: Fallback.Fallback<unknown, never, never, string>
declare const onBoom: Fallback.Fallback<Boom, "Logged", "Cache", null>
class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
class PaymentsBulkhead extends Bulkhead.Service<PaymentsBulkhead>()("payments") {}

type Made<P> = P extends Effect.Effect<infer X, infer _E, infer _R> ? X : never

describe("policy types", () => {
  it("each policy adds exactly its own error", () => {
    expectTypeOf(() => call.pipe(Timeout.timeout(timeout))).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | TimeoutError, "Db">
    >()
    expectTypeOf(() => call.pipe(Retry.retry(retry))).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound, "Db">
    >()
    expectTypeOf(() => call.pipe(Bulkhead.withBulkhead(bulkhead))).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | BulkheadFullError, "Db">
    >()
    expectTypeOf(() => call.pipe(Bulkhead.withBulkhead(PaymentsBulkhead))).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | BulkheadFullError, "Db" | PaymentsBulkhead>
    >()
    expectTypeOf(() => call.pipe(Bulkhead.withBulkhead())).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | BulkheadFullError, "Db" | Bulkhead.Bulkhead>
    >()
  })

  it("a fallback removes what it handles and adds its value", () => {
    expectTypeOf(() => call.pipe(Fallback.fallback(onBoom))).returns.toEqualTypeOf<
      Effect.Effect<number | null, NotFound | "Logged", "Db" | "Cache">
    >()
    expectTypeOf(() => call.pipe(Fallback.fallback(onAnything))).returns.toEqualTypeOf<
      Effect.Effect<number | string, never, "Db">
    >()
  })

  it("Policy.make nests in the documented order and lists exactly the errors still possible", () => {
    const _made = () => Policy.make({ fallback: onOpen, breaker: Payments, retry, bulkhead: PaymentsBulkhead, timeout })
    type P = Made<ReturnType<typeof _made>>
    const applied = () => call.pipe(Policy.apply({} as P))
    expectTypeOf(applied).returns.toEqualTypeOf<
      Effect.Effect<
        number | string,
        Boom | NotFound | TimeoutError | BulkheadFullError,
        "Db" | Payments | PaymentsBulkhead
      >
    >()
  })

  it("a fallback outside removes errors added by the policies inside it", () => {
    const _wrapped = () => Policy.wrap(onAnything, breaker, retry, timeout)
    type P = Made<ReturnType<typeof _wrapped>>
    expectTypeOf(() => call.pipe(Policy.apply({} as P))).returns.toEqualTypeOf<
      Effect.Effect<number | string, never, "Db">
    >()
  })

  it("a fallback on tags known only as string removes nothing from the type", () => {
    const tags: Array<string> = ["Boom"]
    const _loose = () => Fallback.make({ on: tags, value: 0 })
    type F = Made<ReturnType<typeof _loose>>
    expectTypeOf(() => call.pipe(Fallback.fallback({} as F))).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound, "Db">
    >()
  })

  it("wrapping an array of policies keeps every error they add", () => {
    const timeouts: Array<Timeout.Timeout> = []
    const _wrapped = () => Policy.wrap(...timeouts)
    type P = Made<ReturnType<typeof _wrapped>>
    expectTypeOf(() => call.pipe(Policy.apply({} as P))).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | TimeoutError, "Db">
    >()
  })

  it("Policy.make takes each layer only in its own place", () => {
    // @ts-expect-error: a timeout is not a retry
    const _wrong = () => Policy.make({ retry: timeout })
    expectTypeOf(_wrong).toBeFunction()
  })

  it("a fallback inside does not see errors added outside it", () => {
    const _wrapped = () => Policy.wrap(breaker, onOpen, timeout)
    type P = Made<ReturnType<typeof _wrapped>>
    expectTypeOf(() => call.pipe(Policy.apply({} as P))).returns.toEqualTypeOf<
      Effect.Effect<number | string, Boom | NotFound | TimeoutError | CircuitOpenError, "Db">
    >()
  })
})
