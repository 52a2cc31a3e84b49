import { NodeRedis } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Layer, Metric, Option, Stream } from "effect"
import { HttpClientError, HttpClientRequest, HttpClientResponse } from "effect/http"
import { RateLimiter } from "effect/persistence"
import { TestClock } from "effect/testing"
import {
  CircuitBreaker,
  HttpProblem,
  Metrics,
  PolicyConfigError,
  RateLimit,
  RateLimitExceededError,
  Retry,
  withCircuitBreaker
} from "../src/index.js"
import { capturingLogs } from "./redis/logs.js"
import { redisAvailable, redisServer } from "./redis/server.js"

// Rate limits over Effect's own RateLimiter, under TestClock (its memory store reads the clock).

const MemoryLimiter = RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory))

const failure = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

/** A call that counts its runs. */
const counted = () => {
  const runs = { count: 0 }
  return { runs, call: Effect.sync(() => ++runs.count) }
}

describe("RateLimit", () => {
  it.effect("lets `limit` calls through per window and turns the next away without running it", () =>
    Effect.gen(function*() {
      const limit = yield* RateLimit.make({ name: "sms", limit: 2, window: "1 second" })
      const { call, runs } = counted()
      yield* call.pipe(RateLimit.rateLimit(limit))
      yield* call.pipe(RateLimit.rateLimit(limit))
      const error = failure(yield* Effect.exit(call.pipe(RateLimit.rateLimit(limit))))
      expect(error).toBeInstanceOf(RateLimitExceededError)
      expect(runs.count).toBe(2)
      const rejected = error as RateLimitExceededError
      expect({ policy: rejected.policy, key: rejected.key, limit: rejected.limit }).toEqual({
        policy: "sms",
        key: "sms",
        limit: 2
      })
      // A token bucket of 2 refills one token every 500 ms.
      expect(Duration.toMillis(rejected.retryAfter)).toBe(500)
      yield* TestClock.adjust("500 millis")
      yield* call.pipe(RateLimit.rateLimit(limit))
      expect(runs.count).toBe(3)
    }).pipe(Effect.provide(MemoryLimiter)))

  it.effect("a fixed window lets the whole limit through again once the window has passed", () =>
    Effect.gen(function*() {
      const limit = yield* RateLimit.make({ limit: 3, window: "1 minute", algorithm: "fixed-window" })
      const { call, runs } = counted()
      for (let i = 0; i < 3; i++) yield* call.pipe(RateLimit.rateLimit(limit))
      expect(failure(yield* Effect.exit(call.pipe(RateLimit.rateLimit(limit))))).toBeInstanceOf(
        RateLimitExceededError
      )
      yield* TestClock.adjust("1 minute")
      for (let i = 0; i < 3; i++) yield* call.pipe(RateLimit.rateLimit(limit))
      expect(runs.count).toBe(6)
    }).pipe(Effect.provide(MemoryLimiter)))

  it.effect("onExceeded: delay waits its turn, and a wait longer than maxDelay fails at once", () =>
    Effect.gen(function*() {
      const limit = yield* RateLimit.make({
        limit: 1,
        window: "1 second",
        onExceeded: "delay",
        maxDelay: "1500 millis"
      })
      const { call, runs } = counted()
      yield* call.pipe(RateLimit.rateLimit(limit))
      const second = yield* Effect.forkChild(call.pipe(RateLimit.rateLimit(limit)))
      const third = yield* Effect.forkChild(call.pipe(RateLimit.rateLimit(limit)))
      // The third would wait 2 seconds: more than maxDelay.
      expect(failure(yield* Fiber.await(third))).toBeInstanceOf(RateLimitExceededError)
      yield* TestClock.adjust("999 millis")
      expect(runs.count).toBe(1)
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(second)
      expect(runs.count).toBe(2)
    }).pipe(Effect.provide(MemoryLimiter)))

  it.effect("policies sharing a key share its limit; other keys count apart", () =>
    Effect.gen(function*() {
      const a = yield* RateLimit.make({ name: "a", key: "partner", limit: 2, window: "1 minute" })
      const b = yield* RateLimit.make({ name: "b", key: "partner", limit: 2, window: "1 minute" })
      yield* Effect.void.pipe(RateLimit.rateLimit(a))
      yield* Effect.void.pipe(RateLimit.rateLimit(b))
      expect(failure(yield* Effect.exit(Effect.void.pipe(RateLimit.rateLimit(a))))).toBeInstanceOf(
        RateLimitExceededError
      )
      // `acquire` counts under another key: its own tokens.
      const permit = yield* a.acquire("https://other.example")
      expect(permit.key).toBe("https://other.example")
    }).pipe(Effect.provide(MemoryLimiter)))

  it.effect("a key that breaks the rules counts under the policy's own key", () =>
    Effect.gen(function*() {
      const limit = yield* RateLimit.make({ name: "api", limit: 1, window: "1 minute" })
      expect((yield* limit.acquire("bad\nkey")).key).toBe("api")
      expect(failure(yield* Effect.exit(limit.acquire()))).toBeInstanceOf(RateLimitExceededError)
    }).pipe(Effect.provide(MemoryLimiter)))

  it.effect("bad options fail with PolicyConfigError naming each field and its rule", () =>
    Effect.gen(function*() {
      const error = failure(
        yield* Effect.exit(
          RateLimit.make({
            limit: 0,
            window: "0 millis",
            key: "a\u0000b",
            algorithm: "leaky" as never,
            limiter: {} as never
          })
        )
      ) as PolicyConfigError
      expect(error).toBeInstanceOf(PolicyConfigError)
      expect(error.kind).toBe("RateLimit")
      expect(error.issues.map((issue) => issue.field).sort()).toEqual([
        "algorithm",
        "key",
        "limit",
        "limiter",
        "window"
      ])
      const related = failure(
        yield* Effect.exit(RateLimit.make({ limit: 2, window: "1 second", tokens: 3, maxDelay: "1 second" }))
      ) as PolicyConfigError
      expect(related.issues.map((issue) => [issue.field, issue.rule])).toEqual([
        ["tokens", "must be at most `limit` (2): such a call could never run"],
        ["maxDelay", "applies only with `onExceeded: \"delay\"`: a failing limit never waits"]
      ])
    }).pipe(Effect.provide(MemoryLimiter)))

  it.effect("publishes a RateLimited event and counts the rejection in its metrics", () =>
    Effect.gen(function*() {
      const limit = yield* RateLimit.make({ name: "reports", limit: 1, window: "1 minute", metrics: true })
      const events = yield* limit.subscribe
      yield* Effect.void.pipe(RateLimit.rateLimit(limit))
      yield* Effect.exit(Effect.void.pipe(RateLimit.rateLimit(limit)))
      const [event] = yield* Stream.runCollect(Stream.take(events, 1))
      expect(event).toMatchObject({ _tag: "RateLimited", policy: "reports", key: "reports", reason: "Exceeded" })
      const rejected = yield* Metric.value(
        Metric.withAttributes(Metrics.policies.rateLimited, { policy: "reports", reason: "Exceeded" })
      )
      expect(rejected.count).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(MemoryLimiter)))
})

describe("RateLimit beside the other policies", () => {
  it.effect("inside a breaker its rejections count as nothing; a retry does not repeat them", () =>
    Effect.gen(function*() {
      const limit = yield* RateLimit.make({ limit: 1, window: "1 minute" })
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1 })
      const retry = yield* Retry.make({ retries: 3, baseDelay: 0 })
      const { call, runs } = counted()
      const guarded = call.pipe(RateLimit.rateLimit(limit), withCircuitBreaker(breaker), Retry.retry(retry))
      yield* guarded
      expect(failure(yield* Effect.exit(guarded))).toBeInstanceOf(RateLimitExceededError)
      expect(runs.count).toBe(1)
      expect(yield* breaker.state).toBe("Closed")
      expect((yield* breaker.snapshot).calls).toBe(1)
    }).pipe(Effect.provide(MemoryLimiter)))
})

describe("RateLimit when its store fails", () => {
  const storeError = new RateLimiter.RateLimiterError({
    reason: new RateLimiter.RateLimitStoreError({ message: "connection refused" })
  })
  const broken: RateLimiter.RateLimiter = {
    [RateLimiter.TypeId]: RateLimiter.TypeId,
    consume: () => Effect.fail(storeError),
    adaptiveConsume: () => Effect.fail(storeError),
    adaptiveFeedback: () => Effect.fail(storeError)
  }

  it.effect("lets calls through by default, with one warning for many failures", () => {
    const logs = capturingLogs()
    return Effect.gen(function*() {
      const limit = yield* RateLimit.make({ name: "sms", limit: 1, window: "1 second", limiter: broken })
      const { call, runs } = counted()
      for (let i = 0; i < 5; i++) yield* call.pipe(RateLimit.rateLimit(limit))
      expect(runs.count).toBe(5)
      expect(logs.matching((line) => line.message.includes("its store failed"))).toHaveLength(1)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a store that never answers has failed after storeTimeout: the call goes through, never hangs", () => {
    const logs = capturingLogs()
    const hung: RateLimiter.RateLimiter = {
      [RateLimiter.TypeId]: RateLimiter.TypeId,
      consume: () => Effect.never,
      adaptiveConsume: () => Effect.never,
      adaptiveFeedback: () => Effect.never
    }
    return Effect.gen(function*() {
      const limit = yield* RateLimit.make({ name: "sms", limit: 1, window: "1 second", limiter: hung, adaptive: true })
      const { call, runs } = counted()
      const waiting = yield* Effect.forkChild(call.pipe(RateLimit.rateLimit(limit)))
      yield* TestClock.adjust("999 millis")
      expect(runs.count).toBe(0)
      yield* TestClock.adjust("1 millis") // the default storeTimeout, 1 second
      expect(yield* Fiber.join(waiting)).toBe(1)
      expect(logs.matching((line) => line.message.includes("no answer within 1s"))).toHaveLength(1)
      const strict = yield* RateLimit.make({
        limit: 1,
        window: "1 second",
        limiter: hung,
        onStoreError: "fail",
        storeTimeout: "50 millis"
      })
      const failed = yield* Effect.forkChild(Effect.exit(call.pipe(RateLimit.rateLimit(strict))))
      yield* TestClock.adjust("50 millis")
      const error = failure(yield* Fiber.join(failed))
      expect(error).toBeInstanceOf(RateLimiter.RateLimiterError)
      expect(runs.count).toBe(1)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("with onStoreError: fail, fails the call with Effect's RateLimiterError", () =>
    Effect.gen(function*() {
      const limit = yield* RateLimit.make({ limit: 1, window: "1 second", limiter: broken, onStoreError: "fail" })
      const { call, runs } = counted()
      // Effect<number, RateLimitExceededError | RateLimiterError>
      const exit = yield* Effect.exit(call.pipe(RateLimit.rateLimit(limit)))
      expect(failure(exit)).toBe(storeError)
      expect(runs.count).toBe(0)
    }))
})

describe("RateLimit, adaptive", () => {
  const tooMany = (retryAfter: string) => {
    const request = HttpClientRequest.get("https://partner.example/orders")
    const response = HttpClientResponse.fromWeb(
      request,
      new Response(null, { status: 429, headers: { "retry-after": retryAfter } })
    )
    return new HttpClientError.HttpClientError({
      reason: new HttpClientError.StatusCodeError({ request, response })
    })
  }

  it.effect("a 429 + Retry-After cools the key down for that long, then lets calls through again", () =>
    Effect.gen(function*() {
      const limit = yield* RateLimit.make({ name: "partner", limit: 100, window: "1 second", adaptive: true })
      yield* Effect.exit(Effect.fail(tooMany("10")).pipe(RateLimit.rateLimit(limit)))
      const { call, runs } = counted()
      const error = failure(yield* Effect.exit(call.pipe(RateLimit.rateLimit(limit)))) as RateLimitExceededError
      expect(error).toBeInstanceOf(RateLimitExceededError)
      expect(Duration.toSeconds(error.retryAfter)).toBe(10)
      expect(runs.count).toBe(0)
      yield* TestClock.adjust("10 seconds")
      yield* call.pipe(RateLimit.rateLimit(limit))
      expect(runs.count).toBe(1)
    }).pipe(Effect.provide(MemoryLimiter)))

  it.effect("without adaptive, a 429 teaches the limit nothing", () =>
    Effect.gen(function*() {
      const limit = yield* RateLimit.make({ name: "partner", limit: 100, window: "1 second" })
      yield* Effect.exit(Effect.fail(tooMany("10")).pipe(RateLimit.rateLimit(limit)))
      yield* Effect.void.pipe(RateLimit.rateLimit(limit))
    }).pipe(Effect.provide(MemoryLimiter)))

  it.effect("with delay, a cool-down is waited out when it fits maxDelay", () =>
    Effect.gen(function*() {
      const limit = yield* RateLimit.make({
        limit: 100,
        window: "1 second",
        adaptive: true,
        onExceeded: "delay",
        maxDelay: "5 seconds"
      })
      yield* Effect.exit(Effect.fail(tooMany("3")).pipe(RateLimit.rateLimit(limit)))
      const { call, runs } = counted()
      const waiting = yield* Effect.forkChild(call.pipe(RateLimit.rateLimit(limit)))
      yield* TestClock.adjust("2999 millis")
      expect(runs.count).toBe(0)
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(waiting)
      expect(runs.count).toBe(1)
    }).pipe(Effect.provide(MemoryLimiter)))
})

describe("HttpProblem and RateLimitExceededError", () => {
  it("answers 429 with Retry-After in whole seconds, rounded up", () => {
    const response = HttpProblem.toResponse(
      new RateLimitExceededError({ policy: "api", key: "client-7", limit: 10, retryAfter: Duration.millis(1_200) })
    )
    expect(response.status).toBe(429)
    expect(response.headers["retry-after"]).toBe("2")
  })
})

describe.skipIf(!redisAvailable)("RateLimit over Effect's Redis store", () => {
  it.effect("two instances, each with its own connection, share one limit", () =>
    Effect.gen(function*() {
      const server = yield* redisServer
      const limiterOf = Effect.gen(function*() {
        const context = yield* Layer.build(
          RateLimiter.layer.pipe(
            Layer.provide(RateLimiter.layerStoreRedis({ prefix: "test-rate:" })),
            Layer.provide(NodeRedis.layer({ url: server.url }))
          )
        )
        return yield* RateLimit.make({ name: "partner", limit: 3, window: "1 minute" }).pipe(
          Effect.provide(context)
        )
      })
      const one = yield* limiterOf
      const two = yield* limiterOf
      yield* Effect.void.pipe(RateLimit.rateLimit(one))
      yield* Effect.void.pipe(RateLimit.rateLimit(two))
      yield* Effect.void.pipe(RateLimit.rateLimit(one))
      expect(failure(yield* Effect.exit(Effect.void.pipe(RateLimit.rateLimit(two))))).toBeInstanceOf(
        RateLimitExceededError
      )
    }).pipe(Effect.scoped), 20_000)
})
