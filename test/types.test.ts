import { describe, expectTypeOf, it } from "@effect/vitest"
import type { Context, Layer, Scope } from "effect"
import { Effect } from "effect"
import type { CircuitBreakerConfigError, CircuitOpenError } from "../src/index.js"
import { CircuitBreaker, CircuitBreakerRegistry, withCircuitBreaker } from "../src/index.js"
import type { NotFound } from "./helpers.js"
import { Boom } from "./helpers.js"

// These assertions are checked by `tsc` (part of `npm test`): a wrong type fails the
// type-check. The values are only declared, so every expression sits in a thunk that
// the type-checker reads and the test never runs.
declare const call: Effect.Effect<number, Boom | NotFound, "Db">
declare const instance: CircuitBreaker.CircuitBreaker
declare const registry: CircuitBreakerRegistry.CircuitBreakerRegistry
class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
declare const PlainKey: Context.Key<"PlainKey", CircuitBreaker.CircuitBreaker>

type Default = CircuitBreaker.CircuitBreaker

describe("types", () => {
  it("the default service adds CircuitOpenError and the CircuitBreaker requirement", () => {
    expectTypeOf(() => withCircuitBreaker(call)).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | CircuitOpenError, "Db" | Default>
    >()
    expectTypeOf(() => call.pipe(withCircuitBreaker())).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | CircuitOpenError, "Db" | Default>
    >()
    expectTypeOf(() => withCircuitBreaker(call, { ignore: ["NotFound"] })).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | CircuitOpenError, "Db" | Default>
    >()
    expectTypeOf(() => call.pipe(withCircuitBreaker({ ignore: ["NotFound"] }))).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | CircuitOpenError, "Db" | Default>
    >()
  })

  it("a named service or key adds its own requirement; an instance adds none", () => {
    expectTypeOf(() => withCircuitBreaker(call, Payments)).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | CircuitOpenError, "Db" | Payments>
    >()
    expectTypeOf(() => call.pipe(withCircuitBreaker(Payments))).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | CircuitOpenError, "Db" | Payments>
    >()
    expectTypeOf(() => call.pipe(withCircuitBreaker(PlainKey, { ignore: ["Boom"] }))).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | CircuitOpenError, "Db" | "PlainKey">
    >()
    expectTypeOf(() => withCircuitBreaker(call, instance)).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | CircuitOpenError, "Db">
    >()
    expectTypeOf(() => call.pipe(withCircuitBreaker(instance))).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | CircuitOpenError, "Db">
    >()
    expectTypeOf(() => instance.execute(call)).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | CircuitOpenError, "Db">
    >()
    expectTypeOf(() => call.pipe(instance.execute())).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | CircuitOpenError, "Db">
    >()
  })

  it("catchTag(\"CircuitOpenError\") removes it from the error channel", () => {
    const recovered = () => withCircuitBreaker(call).pipe(Effect.catchTag("CircuitOpenError", () => Effect.succeed(0)))
    expectTypeOf(recovered).returns.toEqualTypeOf<Effect.Effect<number, Boom | NotFound, "Db" | Default>>()
  })

  it("options are typed against the guarded effect", () => {
    // Never called: the calls exist for the type-checker.
    const _typed = () => {
      withCircuitBreaker(call, { isFailure: (error) => error._tag === "Boom" })
      withCircuitBreaker(call, {
        classify: (exit) => (exit._tag === "Success" && exit.value > 500 ? "failure" : "success")
      })
      // @ts-expect-error: "Nope" is not a tag of Boom | NotFound
      withCircuitBreaker(call, { ignore: ["Nope"] })
      // @ts-expect-error: the predicate must accept the effect's errors
      call.pipe(withCircuitBreaker({ isFailure: (error: { readonly code: number }) => error.code > 500 }))
    }
    expectTypeOf(_typed).toBeFunction()
  })

  it("data-last, ignore is checked against the call the guard is applied to", () => {
    // Never called: the calls exist for the type-checker.
    const _typed = () => {
      call.pipe(withCircuitBreaker({ ignore: ["NotFound"] }))
      call.pipe(withCircuitBreaker(Payments, { ignore: ["NotFound"] }))
      call.pipe(instance.execute({ ignore: ["Boom"] }))
      call.pipe(registry.execute("tenant", { ignore: ["NotFound"] }))
      call.pipe(CircuitBreakerRegistry.withCircuitBreaker("tenant", { ignore: ["NotFound"] }))
      // @ts-expect-error: "NotFond" is not a tag of Boom | NotFound
      call.pipe(withCircuitBreaker({ ignore: ["NotFond"] }))
      // @ts-expect-error: the same, with a named breaker
      call.pipe(withCircuitBreaker(Payments, { ignore: ["NotFond"] }))
      // @ts-expect-error: the same, with an instance
      call.pipe(withCircuitBreaker(instance, { ignore: ["NotFond"] }))
      // @ts-expect-error: the same, through the instance's execute
      call.pipe(instance.execute({ ignore: ["NotFond"] }))
      // @ts-expect-error: the same, through a registry
      call.pipe(registry.execute("tenant", { ignore: ["NotFond"] }))
      // @ts-expect-error: the same, through the default registry
      call.pipe(CircuitBreakerRegistry.withCircuitBreaker("tenant", { ignore: ["NotFond"] }))
    }
    expectTypeOf(_typed).toBeFunction()
  })

  it("a guard built once keeps the types of each call, and checks ignore against each", () => {
    const guard = withCircuitBreaker(Payments, { ignore: ["NotFound"] })
    expectTypeOf(() => guard(call)).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | CircuitOpenError, "Db" | Payments>
    >()
    const _typed = () => {
      // @ts-expect-error: this call cannot fail with NotFound
      guard(Effect.fail(new Boom({})))
    }
    expectTypeOf(_typed).toBeFunction()
  })

  it("make and layer have the documented types", () => {
    expectTypeOf(() => CircuitBreaker.make({})).returns.toEqualTypeOf<
      Effect.Effect<CircuitBreaker.CircuitBreaker, CircuitBreakerConfigError, Scope.Scope>
    >()
    expectTypeOf(() => Payments.layer()).returns.toEqualTypeOf<
      Layer.Layer<Payments, CircuitBreakerConfigError>
    >()
  })
})
