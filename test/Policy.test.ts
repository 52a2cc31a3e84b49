import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import {
  Bulkhead,
  BulkheadFullError,
  CircuitBreaker,
  CircuitOpenError,
  Fallback,
  Hedge,
  Policy,
  Retry,
  Timeout,
  TimeoutError
} from "../src/index.js"
import { Boom, boom, NotFound } from "./helpers.js"
import { expectConfigIssue, failure, policyConfigError } from "./policyHelpers.js"

describe("Policy", () => {
  it.effect("make nests fallback( breaker( retry( timeout( call )))): a timing-out dependency is retried, trips the breaker once per logical call, then is answered by the fallback", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: "inventory",
        consecutiveFailures: 2,
        openDuration: "1 minute"
      })
      const policy = yield* Policy.make({
        fallback: yield* Fallback.make({ on: ["CircuitOpenError"], value: -1 }),
        breaker,
        retry: yield* Retry.make({ retries: 2, baseDelay: 100, jitter: false }),
        timeout: yield* Timeout.make({ duration: "1 second" })
      })
      let runs = 0
      const call = Effect.suspend(() => {
        runs++
        return Effect.never
      })
      // A logical call: 3 attempts of 1 s, with 100 ms and 200 ms between them.
      const first = yield* Effect.forkChild(Effect.exit(Policy.apply(call, policy)))
      yield* TestClock.adjust("3300 millis")
      expect(failure(yield* Fiber.join(first))).toBeInstanceOf(TimeoutError)
      expect(runs).toBe(3)
      expect(yield* breaker.snapshot).toMatchObject({ state: "Closed", consecutiveFailures: 1 })
      const second = yield* Effect.forkChild(Effect.exit(Policy.apply(call, policy)))
      yield* TestClock.adjust("3300 millis")
      expect(failure(yield* Fiber.join(second))).toBeInstanceOf(TimeoutError)
      expect(yield* breaker.state).toBe("Open")
      // The circuit is open: the fallback answers at once, and the call does not run.
      expect(yield* Policy.apply(call, policy)).toBe(-1)
      expect(runs).toBe(6)
    }))

  it.effect("wrap allows other orders: retry outside the breaker stops retrying once the circuit opens", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2, openDuration: "1 minute" })
      const policy = yield* Policy.wrap(yield* Retry.make({ retries: 5, baseDelay: 10, jitter: false }), breaker)
      let runs = 0
      const fiber = yield* Effect.forkChild(Effect.exit(
        Effect.suspend(() => {
          runs++
          return boom
        }).pipe(Policy.apply(policy))
      ))
      yield* TestClock.adjust("1 second")
      expect(failure(yield* Fiber.join(fiber))).toBeInstanceOf(CircuitOpenError)
      expect(runs).toBe(2)
    }))

  it.effect("inside a policy a full bulkhead is not held against the dependency", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1 })
      const policy = yield* Policy.make({ breaker, bulkhead })
      const holder = yield* Effect.forkChild(Effect.never.pipe(Policy.apply(policy)), { startImmediately: true })
      const rejected = yield* Effect.exit(Effect.void.pipe(Policy.apply(policy)))
      expect(failure(rejected)).toBeInstanceOf(BulkheadFullError)
      expect(yield* breaker.snapshot).toMatchObject({ state: "Closed", failures: 0 })
      yield* Fiber.interrupt(holder)
      // A real failure still counts.
      yield* Effect.exit(boom.pipe(Policy.apply(policy)))
      expect(yield* breaker.state).toBe("Open")
    }))

  it.effect("breakers and bulkheads take part as service keys, resolved from the context", () => {
    class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
    class PaymentsBulkhead extends Bulkhead.Service<PaymentsBulkhead>()("payments") {}
    return Effect.gen(function*() {
      const policy = yield* Policy.make({
        fallback: yield* Fallback.make({ on: ["CircuitOpenError", "BulkheadFullError"], value: "later" }),
        breaker: Payments,
        bulkhead: PaymentsBulkhead
      })
      expect(yield* Effect.succeed("charged").pipe(Policy.apply(policy))).toBe("charged")
      yield* Effect.exit(boom.pipe(Policy.apply(policy)))
      expect(yield* Effect.flatMap(Payments, (b) => b.state)).toBe("Open")
      expect(yield* Effect.succeed("charged").pipe(Policy.apply(policy))).toBe("later")
    }).pipe(Effect.provide(Layer.mergeAll(
      Payments.layer({ consecutiveFailures: 1 }),
      PaymentsBulkhead.layer({ maxConcurrent: 2 })
    )))
  })

  it.effect("hedge and bulkhead: every hedged attempt needs a permit of its own", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2 })
      const policy = yield* Policy.make({
        hedge: yield* Hedge.make({ delay: "10 millis", attempts: 3 }),
        bulkhead
      })
      let started = 0
      const fiber = yield* Effect.forkChild(
        Effect.suspend(() => {
          started++
          return Effect.sleep("1 second").pipe(Effect.as(started))
        }).pipe(Policy.apply(policy))
      )
      yield* TestClock.adjust("30 millis")
      // Two attempts hold both permits; the third was turned away by the bulkhead.
      expect(started).toBe(2)
      expect(yield* bulkhead.snapshot).toMatchObject({ running: 2 })
      yield* TestClock.adjust("1 second")
      // The first attempt answers first (at 1 s); the second is stopped and gives its permit back.
      expect(yield* Fiber.join(fiber)).toBe(1)
      expect(yield* bulkhead.snapshot).toMatchObject({ running: 0 })
    }))

  describe("per-call classification options, for the breaker inside", () => {
    /** A call that fails with `error`, or times out when `error` is "slow". */
    const lookup = (error: Boom | NotFound | "slow"): Effect.Effect<number, Boom | NotFound> =>
      error === "slow" ? Effect.never : Effect.fail(error)

    it.effect("an ignored tag does not trip the breaker, data-first and data-last", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2 })
        const policy = yield* Policy.make({ breaker, timeout: yield* Timeout.make({ duration: "1 second" }) })
        for (let i = 0; i < 3; i++) {
          expect(failure(yield* Effect.exit(Policy.apply(lookup(new NotFound()), policy, { ignore: ["NotFound"] }))))
            .toBeInstanceOf(NotFound)
        }
        const ignoreNotFound = Policy.apply(policy, { ignore: ["NotFound"] })
        for (let i = 0; i < 3; i++) yield* Effect.exit(lookup(new NotFound()).pipe(ignoreNotFound))
        expect(yield* breaker.snapshot).toMatchObject({ state: "Closed", calls: 0, consecutiveFailures: 0 })
        // The tags the policies inside the breaker add can be ignored too: a timeout, for one.
        const slow = yield* Effect.forkChild(
          Effect.exit(Policy.apply(lookup("slow"), policy, { ignore: ["TimeoutError"] }))
        )
        yield* TestClock.adjust("1 second")
        expect(failure(yield* Fiber.join(slow))).toBeInstanceOf(TimeoutError)
        expect(yield* breaker.snapshot).toMatchObject({ state: "Closed", calls: 0 })
        // Without the option, the same failures trip it.
        yield* Effect.exit(Policy.apply(lookup(new NotFound()), policy))
        yield* Effect.exit(lookup(new NotFound()).pipe(Policy.apply(policy)))
        expect(yield* breaker.state).toBe("Open")
      }))

    it.effect("isFailure returning false counts as a success: it resets the streak", () =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2 })
        const policy = yield* Policy.make({ breaker })
        const options = { isFailure: (error: Boom | NotFound) => error._tag !== "NotFound" }
        yield* Effect.exit(Policy.apply(lookup(new Boom({})), policy, options))
        expect(yield* breaker.snapshot).toMatchObject({ consecutiveFailures: 1 })
        expect(failure(yield* Effect.exit(lookup(new NotFound()).pipe(Policy.apply(policy, options)))))
          .toBeInstanceOf(NotFound)
        // The dependency answered: a success, so the streak starts again.
        expect(yield* breaker.snapshot).toMatchObject({
          state: "Closed",
          calls: 2,
          failures: 1,
          consecutiveFailures: 0
        })
        yield* Effect.exit(Policy.apply(lookup(new Boom({})), policy, options))
        expect(yield* breaker.state).toBe("Closed")
        // Without the option, NotFound is a failure like any other.
        yield* Effect.exit(Policy.apply(lookup(new NotFound()), policy))
        expect(yield* breaker.state).toBe("Open")
      }))

    it.effect("reach a breaker given as a service key, and one inside a nested policy", () => {
      class Inventory extends CircuitBreaker.Service<Inventory>()("inventory") {}
      return Effect.gen(function*() {
        const inner = yield* Policy.make({ breaker: Inventory })
        const outer = yield* Policy.wrap(yield* Retry.make({ retries: 1, baseDelay: 1, jitter: false }), inner)
        const ignoreNotFound = { ignore: ["NotFound"] } as const
        yield* Effect.exit(Policy.apply(lookup(new NotFound()), inner, ignoreNotFound))
        const retried = yield* Effect.forkChild(
          Effect.exit(Policy.apply(lookup(new NotFound()), outer, ignoreNotFound))
        )
        yield* TestClock.adjust("1 second")
        expect(failure(yield* Fiber.join(retried))).toBeInstanceOf(NotFound)
        expect(yield* Effect.flatMap(Inventory, (b) => b.snapshot)).toMatchObject({ state: "Closed", calls: 0 })
        yield* Effect.exit(Policy.apply(lookup(new NotFound()), inner))
        expect(yield* Effect.flatMap(Inventory, (b) => b.state)).toBe("Open")
      }).pipe(Effect.provide(Inventory.layer({ consecutiveFailures: 1 })))
    })

    it.effect("a policy without a breaker has none to classify for: untyped options are a defect", () =>
      Effect.gen(function*() {
        const policy = yield* Policy.make({ name: "no-breaker", timeout: yield* Timeout.make({ duration: 10 }) })
        const timeout = yield* Timeout.make({ name: "bare", duration: 10 })
        for (const [subject, name] of [[policy, "no-breaker"], [timeout, "bare"]] as const) {
          const exit = yield* Effect.exit(Policy.apply(boom, subject, { ignore: ["Boom"] } as never))
          expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
          if (Exit.isFailure(exit)) {
            expect(String(Cause.squash(exit.cause))).toContain(`Policy "${name}"`)
            expect(String(Cause.squash(exit.cause))).toContain("no circuit breaker")
          }
        }
        // Options that ask for nothing change nothing.
        expect(failure(yield* Effect.exit(Policy.apply(boom, policy, {} as never)))).toBeInstanceOf(Boom)
      }))
  })

  it.effect("a policy is a Policy, and the empty policy changes nothing", () =>
    Effect.gen(function*() {
      const empty = yield* Policy.make({})
      expect(Policy.isPolicy(empty)).toBe(true)
      expect(empty.kind).toBe("Wrap")
      expect(yield* Effect.succeed(1).pipe(Policy.apply(empty))).toBe(1)
      expect(failure(yield* Effect.exit(boom.pipe(Policy.apply(empty))))).toBeInstanceOf(Boom)
    }))

  describe("bad input fails with PolicyConfigError naming the field", () => {
    it.effect("a layer in the wrong place", () =>
      Effect.gen(function*() {
        const timeout = yield* Timeout.make({ duration: 10 })
        yield* expectConfigIssue(Policy.make({ retry: timeout as never }), "retry", /Retry policy.*got object/)
        yield* expectConfigIssue(Policy.make({ breaker: timeout as never }), "breaker", /circuit breaker/)
      }))

    it.effect("an unknown option, a bad name, a value that is no policy", () =>
      Effect.gen(function*() {
        yield* expectConfigIssue(Policy.make({ retyr: 1 } as never), "retyr", /not a policy option/)
        yield* expectConfigIssue(Policy.make({ name: "" }), "name", /non-empty/)
        yield* expectConfigIssue(Policy.wrap(42 as never), "[0]", /policy, a circuit breaker, a bulkhead.*got 42/)
        const error = yield* policyConfigError(Policy.make(null as never))
        expect(error.issues[0]!.field).toBe("(options)")
      }))
  })
})
