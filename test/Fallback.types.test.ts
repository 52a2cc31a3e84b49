import { describe, expectTypeOf, it } from "@effect/vitest"
import type { Duration } from "effect"
import { Data, Effect } from "effect"
import type { CircuitOpenError, PolicyConfigError } from "../src/index.js"
import { CircuitBreaker, Fallback, Policy, withCircuitBreaker } from "../src/index.js"
import type { Boom, NotFound } from "./helpers.js"

// Checked by `tsc` (part of `npm test`): a wrong type fails the type-check. The values are only
// declared, so every expression sits in a thunk the type-checker reads and the test never runs.
class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
class InventoryError extends Data.TaggedError("InventoryError")<{ readonly status: number }> {}

// The README's call shape: an error type with no literal tag.
declare const charge: Effect.Effect<string, Error>
declare const anything: Effect.Effect<string, unknown>
declare const mixed: Effect.Effect<number, InventoryError | Error>
declare const call: Effect.Effect<number, Boom | NotFound, "Db">

const made = <A>(effect: Effect.Effect<A, unknown>): A => effect as never

describe("fallbacks on calls whose errors carry no literal tag (Error, unknown)", () => {
  it("a fallback on a tag the breaker adds applies, with orElse handed the error itself, as with catchTag", () => {
    const _types = () => {
      const queued = made(Fallback.make({ on: ["CircuitOpenError"], orElse: () => Effect.succeed("queued") }))
      const later = made(Fallback.make({
        on: ["CircuitOpenError"],
        orElse: (error) => {
          expectTypeOf(error).toEqualTypeOf<CircuitOpenError>()
          return Effect.succeed(error.retryAfter)
        }
      }))
      const value = made(Fallback.make({ on: ["CircuitOpenError"], value: "queued" }))
      expectTypeOf(() => charge.pipe(withCircuitBreaker(Payments), Fallback.fallback(queued))).returns
        .toEqualTypeOf<Effect.Effect<string, Error, Payments>>()
      expectTypeOf(() => charge.pipe(withCircuitBreaker(Payments), Fallback.fallback(later))).returns
        .toEqualTypeOf<Effect.Effect<string | Duration.Duration, Error, Payments>>()
      expectTypeOf(() => Fallback.fallback(withCircuitBreaker(charge, Payments), later)).returns
        .toEqualTypeOf<Effect.Effect<string | Duration.Duration, Error, Payments>>()
      expectTypeOf(() => charge.pipe(withCircuitBreaker(Payments), Fallback.fallback(value))).returns
        .toEqualTypeOf<Effect.Effect<string, Error, Payments>>()
      // The same fallback inside a policy, the breaker adding the error.
      const policy = made(Policy.make({ fallback: later, breaker: Payments }))
      expectTypeOf(() => charge.pipe(Policy.apply(policy))).returns
        .toEqualTypeOf<Effect.Effect<string | Duration.Duration, Error, Payments>>()
      expectTypeOf(() => Policy.apply(charge, policy)).returns
        .toEqualTypeOf<Effect.Effect<string | Duration.Duration, Error, Payments>>()
      // Effect's own catchTag on the same call, for comparison.
      expectTypeOf(() =>
        charge.pipe(
          withCircuitBreaker(Payments),
          Effect.catchTag("CircuitOpenError", (error) => Effect.succeed(error.retryAfter))
        )
      ).returns.toEqualTypeOf<Effect.Effect<string | Duration.Duration, Error, Payments>>()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("a tag no member of the call carries does not compile: Error and unknown carry none, as with catchTag", () => {
    const _types = () => {
      const typo = made(Fallback.make({ on: ["CircuitOpenErorr"], value: "x" }))
      const onOpen = made(Fallback.make({ on: ["CircuitOpenError"], value: "x" }))
      const cache = made(Fallback.lastKnownGood<string>()({ on: ["CircuitOpenErorr"] }))
      const typoInPolicy = made(Policy.make({ fallback: typo, breaker: Payments }))
      const _checks = () => {
        // @ts-expect-error: "CircuitOpenErorr" is not a tag of Error | CircuitOpenError
        charge.pipe(withCircuitBreaker(Payments), Fallback.fallback(typo))
        // @ts-expect-error: the same, data-first
        Fallback.fallback(withCircuitBreaker(charge, Payments), typo)
        // @ts-expect-error: the same, through a policy
        charge.pipe(Policy.apply(typoInPolicy))
        // @ts-expect-error: the same, through a policy, data-first
        Policy.apply(charge, typoInPolicy)
        // @ts-expect-error: the same, for a last-known-good cache
        charge.pipe(withCircuitBreaker(Payments), cache.serve("k"))
        // @ts-expect-error: the same, data-first
        cache.serve(withCircuitBreaker(charge, Payments), "k")
        // @ts-expect-error: `unknown | CircuitOpenError` is `unknown`, which carries no tag (catchTag rejects it too)
        anything.pipe(withCircuitBreaker(Payments), Fallback.fallback(onOpen))
        // @ts-expect-error: unguarded, an Error-typed call has no tag at all: the fallback would never answer
        charge.pipe(Fallback.fallback(onOpen))
      }
      expectTypeOf(_checks).toBeFunction()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("an annotated orElse is handed only the members with the tag", () => {
    const _types = () => {
      const status = made(
        Fallback.make({ on: ["InventoryError"], orElse: (error: InventoryError) => Effect.succeed(error.status) })
      )
      expectTypeOf(() => mixed.pipe(Fallback.fallback(status))).returns.toEqualTypeOf<Effect.Effect<number, Error>>()
    }
    expectTypeOf(_types).toBeFunction()
  })
})

describe("data-first, an overloaded call written in place", () => {
  it("is inferred before the check, which then holds as for a call in a variable", () => {
    const _types = () => {
      const later = made(
        Fallback.make({ on: ["CircuitOpenError"], orElse: (error) => Effect.succeed(error.retryAfter) })
      )
      const typo = made(Fallback.make({ on: ["CircuitOpenErorr"], value: 0 }))
      const policy = made(Policy.make({ fallback: later, breaker: Payments }))
      const typoInPolicy = made(Policy.make({ fallback: typo, breaker: Payments }))
      const cache = made(Fallback.lastKnownGood<number>()({ on: ["CircuitOpenErorr"] }))
      expectTypeOf(() => Fallback.fallback(Effect.map(withCircuitBreaker(charge, Payments), (s) => s.length), later))
        .returns.toEqualTypeOf<Effect.Effect<number | Duration.Duration, Error, Payments>>()
      expectTypeOf(() => Policy.apply(Effect.map(charge, (s) => s.length), policy)).returns
        .toEqualTypeOf<Effect.Effect<number | Duration.Duration, Error, Payments>>()
      // Per-call options too.
      expectTypeOf(() => Policy.apply(Effect.map(call, (n) => n > 0), policy, { ignore: ["NotFound"] })).returns
        .toEqualTypeOf<Effect.Effect<boolean | Duration.Duration, Boom | NotFound, "Db" | Payments>>()
      const _checks = () => {
        // @ts-expect-error: "CircuitOpenErorr" is not a tag of Error | CircuitOpenError
        Fallback.fallback(Effect.map(withCircuitBreaker(charge, Payments), (s) => s.length), typo)
        // @ts-expect-error: the same, through a policy
        Policy.apply(Effect.map(charge, (s) => s.length), typoInPolicy)
        // @ts-expect-error: the same, for a last-known-good cache
        cache.serve(Effect.map(withCircuitBreaker(charge, Payments), (s) => s.length), "k")
        // @ts-expect-error: "NotFund" is not a tag the breaker sees
        Policy.apply(Effect.map(call, (n) => n > 0), policy, { ignore: ["NotFund"] })
      }
      expectTypeOf(_checks).toBeFunction()
    }
    expectTypeOf(_types).toBeFunction()
  })
})

// "Wrap any call in my standard policy": helpers generic in the call's error type.
const viaPipe = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const queued = yield* Fallback.make({ on: ["CircuitOpenError"], value: "queued" as const })
    return yield* self.pipe(withCircuitBreaker(Payments), Fallback.fallback(queued))
  })
const viaDataFirst = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const later = yield* Fallback.make({
      on: ["CircuitOpenError"],
      orElse: (error) => Effect.succeed(error.retryAfter)
    })
    return yield* Fallback.fallback(withCircuitBreaker(self, Payments), later)
  })
const viaPolicy = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const policy = yield* Policy.make({
      fallback: yield* Fallback.make({ on: ["CircuitOpenError"], value: "queued" as const }),
      breaker: Payments
    })
    return yield* self.pipe(Policy.apply(policy))
  })
const viaPolicyDataFirst = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const policy = yield* Policy.make({
      fallback: yield* Fallback.make({ on: ["CircuitOpenError"], orElse: () => Effect.succeed("queued" as const) }),
      breaker: Payments
    })
    return yield* Policy.apply(self, policy)
  })
const viaCache = <E, R>(self: Effect.Effect<number, E, R>) =>
  Effect.gen(function*() {
    const cache = yield* Fallback.lastKnownGood<number>()({ on: ["CircuitOpenError"] })
    const piped = yield* self.pipe(withCircuitBreaker(Payments), cache.serve("k"))
    const dataFirst = yield* cache.serve(withCircuitBreaker(self, Payments), "k")
    return [piped, dataFirst] as const
  })

describe("fallbacks in helpers generic in the call's error type", () => {
  it("a fallback on a tag a layer adds applies, as Effect.catchTag does in the same helper", () => {
    // Called with a concrete call, each helper gives the type the same code gives written out.
    expectTypeOf(() => viaPipe(call)).returns.toEqualTypeOf<
      Effect.Effect<number | "queued", PolicyConfigError | Boom | NotFound, "Db" | Payments>
    >()
    expectTypeOf(() => viaDataFirst(call)).returns.toEqualTypeOf<
      Effect.Effect<number | Duration.Duration, PolicyConfigError | Boom | NotFound, "Db" | Payments>
    >()
    expectTypeOf(() => viaPolicy(call)).returns.toEqualTypeOf<
      Effect.Effect<number | "queued", PolicyConfigError | Boom | NotFound, "Db" | Payments>
    >()
    expectTypeOf(() => viaPolicyDataFirst(call)).returns.toEqualTypeOf<
      Effect.Effect<number | "queued", PolicyConfigError | Boom | NotFound, "Db" | Payments>
    >()
    expectTypeOf(() => viaCache(call)).returns.toEqualTypeOf<
      Effect.Effect<
        readonly [
          Fallback.Served<number, Boom | NotFound | CircuitOpenError>,
          Fallback.Served<number, Boom | NotFound | CircuitOpenError>
        ],
        PolicyConfigError | Boom | NotFound | CircuitOpenError,
        "Db" | Payments
      >
    >()
    // Effect's own catchTag in the same helper, for comparison.
    const viaCatchTag = <A, E, R>(self: Effect.Effect<A, E, R>) =>
      self.pipe(
        withCircuitBreaker(Payments),
        Effect.catchTag("CircuitOpenError", () => Effect.succeed("queued" as const))
      )
    expectTypeOf(() => viaCatchTag(call)).returns.toEqualTypeOf<
      Effect.Effect<number | "queued", Boom | NotFound, "Db" | Payments>
    >()
  })

  it("a typo still does not compile", () => {
    const _helper = <A, E, R>(self: Effect.Effect<A, E, R>) =>
      Effect.gen(function*() {
        const typo = yield* Fallback.make({ on: ["CircuitOpenErorr"], value: "queued" as const })
        // @ts-expect-error: "CircuitOpenErorr" is not a tag of E | CircuitOpenError
        return yield* self.pipe(withCircuitBreaker(Payments), Fallback.fallback(typo))
      })
    expectTypeOf(_helper).toBeFunction()
  })
})
