import { describe, expectTypeOf, it } from "@effect/vitest"
import type { Effect } from "effect"
import type { RateLimiter } from "effect/persistence"
import type { PolicyConfigError, RateLimitExceededError } from "../src/index.js"
import { RateLimit } from "../src/index.js"
import type { NotFound } from "./helpers.js"
import type { Boom } from "./helpers.js"

// Checked by `tsc` (part of `npm test`): the values are only declared, each expression sits in a
// thunk the type-checker reads and the test never runs.
declare const call: Effect.Effect<number, Boom | NotFound, "Db">
declare const limit: RateLimit.RateLimit
declare const failing: RateLimit.RateLimit<RateLimiter.RateLimiterError>
declare const limiter: RateLimiter.RateLimiter

describe("RateLimit types", () => {
  it("adds RateLimitExceededError; Effect's RateLimiterError only with onStoreError: fail", () => {
    expectTypeOf(() => call.pipe(RateLimit.rateLimit(limit))).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | RateLimitExceededError, "Db">
    >()
    expectTypeOf(() => RateLimit.rateLimit(call, failing)).returns.toEqualTypeOf<
      Effect.Effect<number, Boom | NotFound | RateLimitExceededError | RateLimiter.RateLimiterError, "Db">
    >()
  })

  it("make requires the RateLimiter service unless a limiter is given, and types the store error", () => {
    expectTypeOf(() => RateLimit.make({ limit: 1, window: "1 second" })).returns.toEqualTypeOf<
      Effect.Effect<RateLimit.RateLimit<never>, PolicyConfigError, RateLimiter.RateLimiter>
    >()
    expectTypeOf(() => RateLimit.make({ limit: 1, window: "1 second", limiter, onStoreError: "fail" })).returns
      .toEqualTypeOf<
        Effect.Effect<RateLimit.RateLimit<RateLimiter.RateLimiterError>, PolicyConfigError, never>
      >()
  })
})
