import { describe, expectTypeOf, it } from "@effect/vitest"
import type { Cause } from "effect"
import { Data, Duration, Effect } from "effect"
import type { BulkheadFullError, CircuitOpenError, TimeoutError } from "../src/index.js"
import {
  Bulkhead,
  CircuitBreaker,
  Fallback,
  isTimeoutError,
  Policy,
  Retry,
  Timeout,
  withCircuitBreaker
} from "../src/index.js"
import type { NotFound } from "./helpers.js"
import { Boom } from "./helpers.js"

// Checked by `tsc` (part of `npm test`): a wrong type fails the type-check.
declare const call: Effect.Effect<number, Boom | NotFound, "Db">
declare const retry: Retry.Retry
declare const timeout: Timeout.Timeout
declare const bulkhead: Bulkhead.Bulkhead
declare const breaker: CircuitBreaker.CircuitBreaker
declare const onOpen: Fallback.Fallback<
  Fallback.Tagged<"CircuitOpenError">,
  never,
  never,
  string,
  Policy.Handler<"CircuitOpenError", CircuitOpenError>
>
declare const onTimeout: Fallback.Fallback<
  Fallback.Tagged<"TimeoutError">,
  never,
  never,
  string,
  Policy.Handler<"TimeoutError", Fallback.Tagged<"TimeoutError">>
>
declare const onAnything: Fallback.Fallback<unknown, never, never, string>
declare const onBoom: Fallback.Fallback<Boom, "Logged", "Cache", null>
class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
class PaymentsBulkhead extends Bulkhead.Service<PaymentsBulkhead>()("payments") {}

type Made<P> = P extends Effect.Effect<infer X, infer _E, infer _R> ? X : never

class InventoryError extends Data.TaggedError("InventoryError")<{ readonly status: number }> {}
// Another error with the same tag, but other fields.
class LegacyInventoryError extends Data.TaggedError("InventoryError")<{ readonly code: string }> {}
declare const reserve: Effect.Effect<number, InventoryError | NotFound>
interface Product {
  readonly sku: string
}
declare const fetchProduct: Effect.Effect<Product, InventoryError>
declare const timedOut: Effect.Effect<number, Cause.TimeoutError>

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
    const _wrapped = () => Policy.wrap(breaker, onTimeout, timeout)
    type P = Made<ReturnType<typeof _wrapped>>
    expectTypeOf(() => call.pipe(Policy.apply({} as P))).returns.toEqualTypeOf<
      Effect.Effect<number | string, Boom | NotFound | CircuitOpenError, "Db">
    >()
    const _openInside = () => Policy.wrap(breaker, onOpen, timeout)
    type Q = Made<ReturnType<typeof _openInside>>
    // @ts-expect-error: inside the breaker, the fallback can never see a CircuitOpenError
    const _dead = () => call.pipe(Policy.apply({} as Q))
    expectTypeOf(_dead).toBeFunction()
  })

  it("a fallback inside sees what the policies inside it add, minus what fallbacks inside it handle", () => {
    const _wrapped = () => Policy.wrap(onOpen, breaker, timeout)
    type P = Made<ReturnType<typeof _wrapped>>
    // The call cannot fail with CircuitOpenError, but the breaker inside the fallback adds it.
    expectTypeOf(() => call.pipe(Policy.apply({} as P))).returns.toEqualTypeOf<
      Effect.Effect<number | string, Boom | NotFound | TimeoutError, "Db">
    >()
    const _shadowed = () => Policy.wrap(onOpen, onOpen, breaker)
    type Shadowed = Made<ReturnType<typeof _shadowed>>
    // @ts-expect-error: the inner fallback handles every CircuitOpenError: the outer one would never answer
    const _dead = () => call.pipe(Policy.apply({} as Shadowed))
    expectTypeOf(_dead).toBeFunction()
  })
})

describe("typed tag lists", () => {
  const made = <A>(effect: Effect.Effect<A, unknown>): A => effect as never

  it("orElse receives the library's errors typed by their tag alone", () => {
    // Declared values only: the checks are for the type-checker, never run.
    const _types = () => {
      const _fallback = () =>
        Fallback.make({ on: ["CircuitOpenError", "TimeoutError"], orElse: (error) => Effect.succeed(error) })
      type F = Made<ReturnType<typeof _fallback>>
      type Handed = F extends Fallback.Fallback<infer _X, infer _E, infer _R, infer B, infer _H> ? B : never
      // Effect's own TimeoutError carries the tag too.
      expectTypeOf<Handed>().toEqualTypeOf<CircuitOpenError | TimeoutError | Cause.TimeoutError>()
      // Fields such as `retryAfter` are there.
      const _retryIn = () =>
        Fallback.make({ on: ["CircuitOpenError"], orElse: (error) => Effect.succeed(error.retryAfter) })
      expectTypeOf(_retryIn).toBeFunction()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("a tag the call cannot fail with does not compile where the fallback is applied", () => {
    // Declared values only: the checks are for the type-checker, never run.
    const _types = () => {
      const typo = made(Fallback.make({ on: ["CircuitOpenErorr"], value: 0 }))
      const onOpen = made(Fallback.make({ on: ["CircuitOpenError"], value: 0 }))
      const _checks = () => {
        // @ts-expect-error: "CircuitOpenErorr" is not a tag of CircuitOpenError | Boom | NotFound
        call.pipe(withCircuitBreaker(breaker), Fallback.fallback(typo))
        // @ts-expect-error: the same, data-first
        Fallback.fallback(withCircuitBreaker(call, breaker), typo)
        // @ts-expect-error: the call is not guarded: it cannot fail with CircuitOpenError
        call.pipe(Fallback.fallback(onOpen))
        // The guarded call can.
        call.pipe(withCircuitBreaker(breaker), Effect.map((n) => n + 1), Fallback.fallback(onOpen))
      }
      expectTypeOf(_checks).toBeFunction()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("Policy.apply checks the fallback against the call plus what the policies inside it add", () => {
    // Declared values only: the checks are for the type-checker, never run.
    const _types = () => {
      const policy = made(
        Policy.make({ fallback: made(Fallback.make({ on: ["CircuitOpenError"], value: 0 })), breaker })
      )
      const typo = made(Policy.make({ fallback: made(Fallback.make({ on: ["CircuitOpenErorr"], value: 0 })), breaker }))
      const onTimeout = made(
        Policy.make({ fallback: made(Fallback.make({ on: ["TimeoutError"], value: 0 })), breaker })
      )
      expectTypeOf(() => call.pipe(Policy.apply(policy))).returns.toEqualTypeOf<
        Effect.Effect<number, Boom | NotFound, "Db">
      >()
      expectTypeOf(() => Policy.apply(call, policy)).returns.toEqualTypeOf<
        Effect.Effect<number, Boom | NotFound, "Db">
      >()
      const _checks = () => {
        // @ts-expect-error: "CircuitOpenErorr" is none of the tags the fallback sees
        call.pipe(Policy.apply(typo))
        // @ts-expect-error: the same, data-first
        Policy.apply(call, typo)
        // @ts-expect-error: no timeout inside, and the call cannot time out: the fallback would never answer
        call.pipe(Policy.apply(onTimeout))
      }
      expectTypeOf(_checks).toBeFunction()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("an annotated orElse must name tags among `on`, and accept the errors it is handed", () => {
    // Declared values only: the checks are for the type-checker, never run.
    const _types = () => {
      const _typoInOn = () =>
        // @ts-expect-error: orElse takes InventoryError, whose tag is not "InventoryErorr"
        Fallback.make({ on: ["InventoryErorr"], orElse: (error: InventoryError) => Effect.succeed(error.status) })
      expectTypeOf(_typoInOn).toBeFunction()
      const status = made(
        Fallback.make({ on: ["InventoryError"], orElse: (error: InventoryError) => Effect.succeed(error.status) })
      )
      expectTypeOf(() => reserve.pipe(Fallback.fallback(status))).returns.toEqualTypeOf<
        Effect.Effect<number, NotFound>
      >()
      const legacy = made(
        Fallback.make({ on: ["InventoryError"], orElse: (error: LegacyInventoryError) => Effect.succeed(error.code) })
      )
      // Every error with the tag: orElse may be handed Boom or NotFound too.
      const anyOfThem = made(Fallback.make({ orElse: (error: InventoryError) => Effect.succeed(error.status) }))
      const _checks = () => {
        // @ts-expect-error: the call's InventoryError has no `code`: orElse would read a field that is not there
        reserve.pipe(Fallback.fallback(legacy))
        // @ts-expect-error: with no `on`, orElse is handed NotFound too
        reserve.pipe(Fallback.fallback(anyOfThem))
        fetchProduct.pipe(Fallback.fallback(anyOfThem))
      }
      expectTypeOf(_checks).toBeFunction()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("Effect's own Cause.TimeoutError shares the tag: narrow, or annotate orElse and the call is checked", () => {
    // Declared values only: the checks are for the type-checker, never run.
    const _types = () => {
      // @ts-expect-error: unannotated, the error may be Effect's TimeoutError, which has no `duration`
      Fallback.make({ on: ["TimeoutError"], orElse: (error) => Effect.succeed(error.duration) })
      const narrowed = made(Fallback.make({
        on: ["TimeoutError"],
        orElse: (error) => Effect.succeed(isTimeoutError(error) ? Duration.toMillis(error.duration) : 0)
      }))
      const ours = made(
        Fallback.make({ on: ["TimeoutError"], orElse: (error: TimeoutError) => Effect.succeed(error.duration) })
      )
      const theirs = made(
        Fallback.make({ on: ["TimeoutError"], orElse: (error: Cause.TimeoutError) => Effect.succeed(error.message) })
      )
      const _checks = () => {
        timedOut.pipe(Fallback.fallback(narrowed))
        call.pipe(Timeout.timeout(timeout), Fallback.fallback(narrowed))
        // @ts-expect-error: orElse reads `duration`, which Effect's TimeoutError does not have
        timedOut.pipe(Fallback.fallback(ours))
        timedOut.pipe(Fallback.fallback(theirs))
        call.pipe(Timeout.timeout(timeout), Fallback.fallback(ours))
        // @ts-expect-error: the library's TimeoutError is not Effect's
        call.pipe(Timeout.timeout(timeout), Fallback.fallback(theirs))
      }
      expectTypeOf(_checks).toBeFunction()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("lastKnownGood.serve checks its tags against the call", () => {
    // Declared values only: the checks are for the type-checker, never run.
    const _types = () => {
      const products = made(Fallback.lastKnownGood<Product>()({ on: ["CircuitOpenError", "InventoryError"] }))
      const typo = made(Fallback.lastKnownGood<Product>()({ on: ["CircuitOpenErorr"] }))
      const any = made(Fallback.lastKnownGood<Product>()())
      expectTypeOf(() => fetchProduct.pipe(withCircuitBreaker(breaker), products.serve("sku"))).returns
        .toEqualTypeOf<
          Effect.Effect<Fallback.Served<Product, InventoryError | CircuitOpenError>, InventoryError | CircuitOpenError>
        >()
      // Without tags, the data-last form stays generic.
      const serveAny = any.serve("sku")
      expectTypeOf(() => serveAny(fetchProduct)).returns.toEqualTypeOf<
        Effect.Effect<Fallback.Served<Product, InventoryError>, InventoryError>
      >()
      const _checks = () => {
        // @ts-expect-error: "CircuitOpenErorr" is not a tag of CircuitOpenError | InventoryError
        fetchProduct.pipe(withCircuitBreaker(breaker), typo.serve("sku"))
        // @ts-expect-error: the same, data-first
        typo.serve(withCircuitBreaker(fetchProduct, breaker), "sku")
        // @ts-expect-error: the call fails with Boom only: with neither tag of `on`
        products.serve(fetchProduct.pipe(Effect.mapError(() => new Boom({}))), "sku")
      }
      expectTypeOf(_checks).toBeFunction()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("data-first, the call may be written in place, overloaded calls included", () => {
    // Declared values only: the checks are for the type-checker, never run.
    const _types = () => {
      const onOpen = made(Fallback.make({ on: ["CircuitOpenError"], value: "open" }))
      const policy = made(Policy.make({ fallback: onOpen, breaker }))
      const products = made(Fallback.lastKnownGood<Product>()({ on: ["CircuitOpenError"] }))
      expectTypeOf(() => Fallback.fallback(withCircuitBreaker(call, breaker), onOpen)).returns.toEqualTypeOf<
        Effect.Effect<number | string, Boom | NotFound, "Db">
      >()
      expectTypeOf(() => Fallback.fallback(Effect.map(withCircuitBreaker(call, breaker), (n) => n > 0), onOpen))
        .returns.toEqualTypeOf<Effect.Effect<boolean | string, Boom | NotFound, "Db">>()
      expectTypeOf(() => Policy.apply(Effect.map(call, (n) => n > 0), policy)).returns.toEqualTypeOf<
        Effect.Effect<boolean | string, Boom | NotFound, "Db">
      >()
      expectTypeOf(() => products.serve(withCircuitBreaker(fetchProduct, breaker), "sku")).returns.toEqualTypeOf<
        Effect.Effect<Fallback.Served<Product, InventoryError | CircuitOpenError>, InventoryError | CircuitOpenError>
      >()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("data-last, a policy without fallbacks stays generic outside a pipe", () => {
    // Declared values only: the checks are for the type-checker, never run.
    const _types = () => {
      const limit = Policy.apply(timeout)
      expectTypeOf(() => limit(call)).returns.toEqualTypeOf<
        Effect.Effect<number, Boom | NotFound | TimeoutError, "Db">
      >()
      const answer = Fallback.fallback(onAnything)
      expectTypeOf(() => answer(call)).returns.toEqualTypeOf<Effect.Effect<number | string, never, "Db">>()
    }
    expectTypeOf(_types).toBeFunction()
  })
})

describe("per-call classification through Policy.apply", () => {
  const _made = () => Policy.make({ breaker: Payments, retry, timeout })
  const policy = {} as Made<ReturnType<typeof _made>>

  it("ignore and isFailure are typed by the errors the breaker sees", () => {
    expectTypeOf(() => Policy.apply(call, policy, { ignore: ["NotFound", "TimeoutError"] })).returns
      .toEqualTypeOf<Effect.Effect<number, Boom | NotFound | TimeoutError | CircuitOpenError, "Db" | Payments>>()
    expectTypeOf(() => call.pipe(Policy.apply(policy, { ignore: ["NotFound"] }))).returns
      .toEqualTypeOf<Effect.Effect<number, Boom | NotFound | TimeoutError | CircuitOpenError, "Db" | Payments>>()
    const _checks = () => {
      Policy.apply(call, policy, {
        isFailure: (error) => {
          expectTypeOf(error).toEqualTypeOf<Boom | NotFound | TimeoutError>()
          return error._tag !== "NotFound"
        }
      })
      call.pipe(Policy.apply(policy, {
        isFailure: (error) => {
          expectTypeOf(error).toEqualTypeOf<Boom | NotFound | TimeoutError>()
          return true
        },
        classify: (exit) => (exit._tag === "Success" && exit.value > 500 ? "failure" : "success")
      }))
      // @ts-expect-error: "NotFund" is not a tag the breaker sees
      Policy.apply(call, policy, { ignore: ["NotFund"] })
      // @ts-expect-error: the same, data-last
      call.pipe(Policy.apply(policy, { ignore: ["NotFund"] }))
      // @ts-expect-error: the breaker sees the call before the fallback: CircuitOpenError is its own rejection
      Policy.apply(call, policy, { ignore: ["CircuitOpenError"] })
      // @ts-expect-error: the predicate must accept every error the breaker sees
      Policy.apply(call, policy, { isFailure: (error: Boom) => error.n === 1 })
    }
    expectTypeOf(_checks).toBeFunction()
  })

  it("a policy without a breaker takes no classification options", () => {
    const _noBreaker = () => Policy.make({ retry, timeout })
    const noBreaker = {} as Made<ReturnType<typeof _noBreaker>>
    const _checks = () => {
      Policy.apply(call, noBreaker)
      // @ts-expect-error: no breaker inside to classify for
      Policy.apply(call, noBreaker, { ignore: ["NotFound"] })
      // @ts-expect-error: the same, data-last
      call.pipe(Policy.apply(noBreaker, { ignore: ["NotFound"] }))
      // @ts-expect-error: a bare timeout has no breaker either
      Policy.apply(call, timeout, { isFailure: () => true })
    }
    expectTypeOf(_checks).toBeFunction()
  })
})
