import { describe, expectTypeOf, it } from "@effect/vitest"
import type { Scope } from "effect"
import { Effect } from "effect"
import type { HttpClient, HttpClientError, HttpClientResponse } from "effect/http"
import type { RateLimiter } from "effect/persistence"
import type {
  AdaptiveLimit,
  BulkheadFullError,
  CircuitBreakerConfigError,
  CircuitOpenError,
  ConcurrencyLimitExceededError,
  PolicyConfigError,
  RateLimit,
  RateLimitExceededError,
  TimeoutError
} from "../src/index.js"
import { ResilientHttpClient } from "../src/index.js"

// Checked by `tsc` (part of `npm test`): the client's error type is the wrapped client's plus exactly
// the errors its policies can add. The values are only declared, so every expression sits in a thunk
// the type-checker reads and the test never runs.
declare const client: HttpClient.HttpClient
declare const fallbackResponse: HttpClientResponse.HttpClientResponse
declare const rateLimit: RateLimit.RateLimit
declare const limit: AdaptiveLimit.AdaptiveLimit
declare const strictRateLimit: RateLimit.RateLimit<RateLimiter.RateLimiterError>
declare const maybe: boolean
declare class Unavailable {
  readonly _tag: "Unavailable"
}
declare class Cache {
  readonly _tag: "Cache"
}

/** What a fallback is handed beside the wrapped client's errors: whatever any policy may add. */
type Handed =
  | HttpClientError.HttpClientError
  | CircuitOpenError
  | TimeoutError
  | BulkheadFullError
  | ConcurrencyLimitExceededError
  | RateLimitExceededError
  | RateLimiter.RateLimiterError

type Made<E, R = never> = Effect.Effect<
  HttpClient.HttpClient.With<E, R>,
  PolicyConfigError | CircuitBreakerConfigError,
  Scope.Scope
>

describe("the error type of a resilient client", () => {
  it("a breaker only: HttpClientError | CircuitOpenError", () => {
    const _types = () => {
      expectTypeOf(ResilientHttpClient.make(client)).toEqualTypeOf<
        Made<HttpClientError.HttpClientError | CircuitOpenError>
      >()
      expectTypeOf(ResilientHttpClient.make(client, { retry: { retries: 2 }, hedge: { delay: "100 millis" } }))
        .toEqualTypeOf<Made<HttpClientError.HttpClientError | CircuitOpenError>>()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("a timeout or a deadline adds TimeoutError", () => {
    const _types = () => {
      expectTypeOf(ResilientHttpClient.make(client, { timeout: "1 second" })).toEqualTypeOf<
        Made<HttpClientError.HttpClientError | CircuitOpenError | TimeoutError>
      >()
      expectTypeOf(ResilientHttpClient.make(client, { deadline: "5 seconds", retry: {} })).toEqualTypeOf<
        Made<HttpClientError.HttpClientError | CircuitOpenError | TimeoutError>
      >()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("a bulkhead adds BulkheadFullError", () => {
    const _types = () => {
      expectTypeOf(ResilientHttpClient.make(client, { bulkhead: { maxConcurrent: 4 }, timeout: 100 })).toEqualTypeOf<
        Made<HttpClientError.HttpClientError | CircuitOpenError | TimeoutError | BulkheadFullError>
      >()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("a rate limit adds RateLimitExceededError, and its store error when it fails on one", () => {
    const _types = () => {
      expectTypeOf(ResilientHttpClient.make(client, { rateLimit })).toEqualTypeOf<
        Made<HttpClientError.HttpClientError | CircuitOpenError | RateLimitExceededError>
      >()
      expectTypeOf(ResilientHttpClient.make(client, { rateLimit: strictRateLimit })).toEqualTypeOf<
        Made<HttpClientError.HttpClientError | CircuitOpenError | RateLimitExceededError | RateLimiter.RateLimiterError>
      >()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("an adaptive limit adds ConcurrencyLimitExceededError", () => {
    const _types = () => {
      expectTypeOf(ResilientHttpClient.make(client, { limit })).toEqualTypeOf<
        Made<HttpClientError.HttpClientError | CircuitOpenError | ConcurrencyLimitExceededError>
      >()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("a fallback is handed every error a policy may add, and its own errors replace them", () => {
    const _types = () => {
      const handled = ResilientHttpClient.make(client, {
        timeout: "1 second",
        fallback: (error) => {
          expectTypeOf(error).toEqualTypeOf<Handed>()
          return Effect.succeed(fallbackResponse)
        }
      })
      expectTypeOf(handled).toEqualTypeOf<Made<never>>()
      const partly = ResilientHttpClient.make(client, {
        fallback: (error) => error._tag === "CircuitOpenError" ? Effect.succeed(fallbackResponse) : Effect.fail(error)
      })
      expectTypeOf(partly).toEqualTypeOf<Made<Exclude<Handed, CircuitOpenError>>>()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("a rate limit or a fallback that may be absent keeps the errors (and services) it may bring", () => {
    const _types = () => {
      expectTypeOf(ResilientHttpClient.make(client, { rateLimit: maybe ? rateLimit : undefined })).toEqualTypeOf<
        Made<HttpClientError.HttpClientError | CircuitOpenError | RateLimitExceededError>
      >()
      // Absent, the policies' errors get out; present, the fallback's own (and its services) may.
      const fallback = (): Effect.Effect<HttpClientResponse.HttpClientResponse, Unavailable, Cache> =>
        Effect.fail(new Unavailable())
      expectTypeOf(ResilientHttpClient.make(client, { timeout: "1 second", fallback: maybe ? fallback : undefined }))
        .toEqualTypeOf<
          Made<HttpClientError.HttpClientError | CircuitOpenError | TimeoutError | Unavailable, Cache>
        >()
      expectTypeOf(
        ResilientHttpClient.make(client, { fallback: maybe ? () => Effect.succeed(fallbackResponse) : undefined })
      )
        .toEqualTypeOf<Made<HttpClientError.HttpClientError | CircuitOpenError>>()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("the layer's service holds every error the policies may add", () => {
    const _types = () => {
      expectTypeOf<ResilientHttpClient.ResilientHttpClient["Service"]>().toEqualTypeOf<
        HttpClient.HttpClient.With<Handed>
      >()
    }
    expectTypeOf(_types).toBeFunction()
  })

  it("callbacks are typed from the options", () => {
    const _types = () => {
      ResilientHttpClient.make(client, {
        isFailure: (response) => {
          expectTypeOf(response).toEqualTypeOf<HttpClientResponse.HttpClientResponse>()
          return response.status >= 500
        },
        key: (request) => request.url
      })
    }
    expectTypeOf(_types).toBeFunction()
  })
})
