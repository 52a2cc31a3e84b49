import { describe, expect, it, layer } from "@effect/vitest"
import { Context, Effect, Exit, Layer } from "effect"
import { CircuitBreaker, CircuitBreakerConfigError, withCircuitBreaker } from "../src/index.js"
import { Boom, boom, expectRejected, NotFound, ok } from "./helpers.js"

class PaymentsBreaker extends CircuitBreaker.Service<PaymentsBreaker>()("payments") {}
class InventoryBreaker extends CircuitBreaker.Service<InventoryBreaker>()("inventory") {}
class SearchBreaker extends Context.Service<SearchBreaker, CircuitBreaker.CircuitBreaker>()("app/SearchBreaker") {}

const Breakers = Layer.mergeAll(
  PaymentsBreaker.layer({ consecutiveFailures: 1 }),
  InventoryBreaker.layer({ consecutiveFailures: 3 }),
  CircuitBreaker.layerAs(SearchBreaker, { name: "search", consecutiveFailures: 1 }),
  CircuitBreaker.layer({ name: "default", consecutiveFailures: 1 })
)

layer(Breakers)("named breakers", (it) => {
  it.effect("live side by side with separate state and config", () =>
    Effect.gen(function*() {
      yield* Effect.exit(boom.pipe(withCircuitBreaker(PaymentsBreaker)))
      yield* Effect.exit(withCircuitBreaker(boom, InventoryBreaker))
      const payments = yield* PaymentsBreaker
      const inventory = yield* InventoryBreaker
      expect(payments.name).toBe("payments")
      expect(inventory.name).toBe("inventory")
      expect(yield* payments.state).toBe("Open")
      expect(yield* inventory.state).toBe("Closed")
      expect((yield* inventory.snapshot).failures).toBe(1)
      const rejected = yield* Effect.exit(withCircuitBreaker(ok, PaymentsBreaker))
      expect(expectRejected(rejected, "Open").breaker).toBe("payments")
      expect(yield* withCircuitBreaker(ok, InventoryBreaker)).toBe("ok")
    }))

  it.effect("a plain Context.Service key works too, and the default service is separate", () =>
    Effect.gen(function*() {
      yield* Effect.exit(withCircuitBreaker(boom, SearchBreaker))
      expect(yield* (yield* SearchBreaker).state).toBe("Open")
      expect(yield* withCircuitBreaker(ok)).toBe("ok")
      expect(yield* (yield* CircuitBreaker.CircuitBreaker).state).toBe("Closed")
    }))
})

describe("withCircuitBreaker forms", () => {
  it.effect("data-first and data-last, with the default service, a key, or an instance, with options", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2 })
      const provide = Effect.provideService(CircuitBreaker.CircuitBreaker, breaker)
      const ignoreBoom = { ignore: ["Boom"] as const }
      // Every form below goes through the same breaker; the ignored ones record nothing.
      yield* Effect.exit(withCircuitBreaker(boom, ignoreBoom)).pipe(provide)
      yield* Effect.exit(boom.pipe(withCircuitBreaker(ignoreBoom))).pipe(provide)
      yield* Effect.exit(withCircuitBreaker(boom, breaker, ignoreBoom))
      yield* Effect.exit(boom.pipe(withCircuitBreaker(breaker, ignoreBoom)))
      yield* Effect.exit(boom.pipe(withCircuitBreaker(CircuitBreaker.CircuitBreaker, ignoreBoom))).pipe(provide)
      expect((yield* breaker.snapshot).calls).toBe(0)
      yield* Effect.exit(boom.pipe(withCircuitBreaker())).pipe(provide)
      yield* Effect.exit(withCircuitBreaker(boom)).pipe(provide)
      expect(yield* breaker.state).toBe("Open")
      const rejected = yield* Effect.exit(withCircuitBreaker(ok, breaker))
      expectRejected(rejected, "Open")
      expect(Exit.isFailure(yield* Effect.exit(breaker.execute()(ok)))).toBe(true)
    }))

  it.effect("a data-last guard can be built once and reused for many calls", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 3 })
      const guard = withCircuitBreaker(breaker, { ignore: ["NotFound"] })
      const lookup = (missing: boolean): Effect.Effect<never, Boom | NotFound> =>
        missing ? Effect.fail(new NotFound()) : Effect.fail(new Boom({}))
      // Ignored: a missing entry says nothing of the dependency's health.
      for (let i = 0; i < 3; i++) yield* Effect.exit(guard(lookup(true)))
      expect(yield* breaker.state).toBe("Closed")
      for (let i = 0; i < 3; i++) yield* Effect.exit(guard(lookup(false)))
      expect(yield* breaker.state).toBe("Open")
    }))
})

describe("layers", () => {
  it.effect("an invalid config fails the layer with CircuitBreakerConfigError", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Layer.build(CircuitBreaker.layer({ name: "bad", failureRate: 2 }))
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const error = exit.cause.reasons[0]
        expect(error?._tag).toBe("Fail")
        if (error?._tag === "Fail") {
          expect(error.error).toBeInstanceOf(CircuitBreakerConfigError)
          expect(error.error.issues[0]?.field).toBe("failureRate")
        }
      }
    }))

  it.effect("a named service is named after its key unless the config names it", () =>
    Effect.gen(function*() {
      const name = (self: typeof PaymentsBreaker) => Effect.map(self, (breaker) => breaker.name)
      expect(yield* Effect.provide(name(PaymentsBreaker), PaymentsBreaker.layer({ name: "stripe" }))).toBe("stripe")
      expect(yield* Effect.provide(name(PaymentsBreaker), PaymentsBreaker.layer())).toBe("payments")
    }))
})
