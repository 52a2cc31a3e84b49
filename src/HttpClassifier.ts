/**
 * How the resilient HTTP client (`ResilientHttpClient`) reads HTTP answers:
 * which statuses are failures, which requests are safe to send again, and
 * what a `Retry-After` header asks for.
 *
 * The defaults, each overridable per client:
 *
 * | answer | breaker | retried |
 * |---|---|---|
 * | 5xx except 501 | failure | yes |
 * | 408, 429 | failure | yes |
 * | other 4xx, 1xx-3xx, 501 | success (the dependency answered) | no |
 * | transport error, timeout | failure | yes |
 * | encode, invalid URL, decode, empty body errors | nothing | no |
 * | full bulkhead | nothing | no |
 *
 * A `Retry-After` header is read on 429 and 503 only (RFC 9110 §10.2.3), as
 * delta-seconds (`120`) or an HTTP date, and parsed strictly: anything else
 * (a fraction, a sign, a date in another format, more than 64 characters)
 * is ignored. The wait it asks for is bounded by the caller (see
 * `retryAfter`).
 *
 * @since 0.1.0
 */
import { Duration, Option, Result } from "effect"
import type { HttpClientRequest, HttpClientResponse } from "effect/http"
import { Headers } from "effect/http"

/**
 * Whether a status counts as a failure of the dependency: every 5xx but 501
 * (Not Implemented is an answer, not an outage), 408 (Request Timeout) and
 * 429 (Too Many Requests). Every other status is an answer the dependency
 * gave: a success for the circuit breaker, and not retried.
 *
 * @example
 * ```ts
 * import { HttpClassifier } from "effect-resilience"
 *
 * HttpClassifier.isFailureStatus(503) // => true
 * HttpClassifier.isFailureStatus(501) // => false
 * HttpClassifier.isFailureStatus(404) // => false
 * ```
 *
 * @category classifiers
 * @since 0.1.0
 */
export const isFailureStatus = (status: number): boolean =>
  (status >= 500 && status <= 599 && status !== 501) || status === 408 || status === 429

/**
 * The methods safe to send again by default (RFC 9110 §9.2.2): `GET`,
 * `HEAD`, `OPTIONS`, `PUT` and `DELETE`.
 *
 * @example
 * ```ts
 * import { HttpClassifier } from "effect-resilience"
 *
 * HttpClassifier.idempotentMethods.has("PUT") // => true
 * HttpClassifier.idempotentMethods.has("POST") // => false
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const idempotentMethods: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])

/**
 * The methods that only read, and may be hedged: `GET`, `HEAD`, `OPTIONS`.
 *
 * @example
 * ```ts
 * import { HttpClassifier } from "effect-resilience"
 *
 * HttpClassifier.readMethods.has("GET") // => true
 * HttpClassifier.readMethods.has("PUT") // => false
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const readMethods: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"])

/**
 * The header that makes a `POST` or `PATCH` safe to retry: the server
 * deduplicates requests carrying the same key.
 *
 * @example
 * ```ts
 * import { HttpClassifier } from "effect-resilience"
 *
 * HttpClassifier.idempotencyKeyHeader // => "idempotency-key"
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const idempotencyKeyHeader = "idempotency-key"

/**
 * Whether a request may be sent again: its method is idempotent, or it is
 * a `POST`/`PATCH` carrying an `Idempotency-Key` header, or
 * `nonIdempotent` says every method may be.
 *
 * @example
 * ```ts
 * import { HttpClientRequest } from "effect/http"
 * import { HttpClassifier } from "effect-resilience"
 *
 * const keyed = HttpClientRequest.post("https://example.com").pipe(HttpClientRequest.setHeader("Idempotency-Key", "o-1"))
 *
 * HttpClassifier.isRetryable(HttpClientRequest.get("https://example.com")) // => true
 * HttpClassifier.isRetryable(HttpClientRequest.post("https://example.com")) // => false
 * HttpClassifier.isRetryable(keyed) // => true
 * ```
 *
 * @category classifiers
 * @since 0.1.0
 */
export const isRetryable = (request: HttpClientRequest.HttpClientRequest, nonIdempotent = false): boolean =>
  nonIdempotent || idempotentMethods.has(request.method) ||
  ((request.method === "POST" || request.method === "PATCH") && request.headers[idempotencyKeyHeader] !== undefined)

/** Longer header values are not read at all: a valid one is at most 29 characters. */
const maxHeaderLength = 64

/**
 * The wait a response's `Retry-After` header asks for, measured from
 * `nowMillis` (epoch milliseconds), or `None`: the status is not 429 or 503,
 * there is no header, or it does not parse (delta-seconds or an HTTP date,
 * at most 64 characters; RFC 9110 says to ignore a value that does not
 * parse). A date in the past asks for no wait. The wait is capped at `max`:
 * the header is untrusted input.
 *
 * @example
 * ```ts
 * import { Duration, Option } from "effect"
 * import { HttpClientRequest, HttpClientResponse } from "effect/http"
 * import { HttpClassifier } from "effect-resilience"
 *
 * const request = HttpClientRequest.get("https://example.com")
 * const busy = HttpClientResponse.fromWeb(request, new Response(null, { status: 503, headers: { "retry-after": "7" } }))
 * const wait = HttpClassifier.retryAfter(busy, 0, Duration.minutes(1))
 * Option.map(wait, Duration.toMillis) // => Option.some(7000)
 * ```
 *
 * @category Retry-After
 * @since 0.1.0
 */
export const retryAfter = (
  response: HttpClientResponse.HttpClientResponse,
  nowMillis: number,
  max: Duration.Duration
): Option.Option<Duration.Duration> => {
  if (response.status !== 429 && response.status !== 503) return Option.none()
  const value = response.headers["retry-after"]
  if (value === undefined || value.length > maxHeaderLength) return Option.none()
  const parsed = Headers.parseRetryAfter(value)
  if (Result.isFailure(parsed)) return Option.none()
  return Option.some(Duration.min(Headers.retryAfterDelay(parsed.success, nowMillis), max))
}
