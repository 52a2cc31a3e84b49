/**
 * One HTTP attempt as the client's policies see it, and how they judge it.
 *
 * Inside the policies a response classified as a failure travels as an
 * error (`FailedResponse`), so that the retry retries it and the breaker
 * counts it; outside them it is the response again (or, for a fallback, a
 * `StatusCodeError`). A stream body that was sent once cannot be sent
 * again: an attempt's failure after its body was pulled travels as
 * `Unreplayable`, which nothing retries.
 *
 * @internal
 */
import type { Clock, Exit } from "effect"
import { Cause, Duration, Effect, Option, Stream } from "effect"
import type { HttpClientResponse } from "effect/http"
import { HttpBody, HttpClientError, HttpClientRequest } from "effect/http"
import { isBulkheadFullError } from "../BulkheadFullError.js"
import type { Verdict } from "../Classifier.js"
import { failureWithOpenHint } from "../Classifier.js"
import { retryAfter } from "../HttpClassifier.js"
import { isTimeoutError } from "../TimeoutError.js"

/**
 * A response classified as a failure, with the wait its `Retry-After`
 * asked for (bounded).
 *
 * @internal
 */
export class FailedResponse {
  readonly _tag = "FailedResponse"
  constructor(
    readonly response: HttpClientResponse.HttpClientResponse,
    readonly retryAfter: Duration.Duration | undefined
  ) {}

  /** What a fallback is handed: the failed response as Effect's own `StatusCodeError`. */
  toStatusCodeError(): HttpClientError.HttpClientError {
    return new HttpClientError.HttpClientError({
      reason: new HttpClientError.StatusCodeError({ request: this.response.request, response: this.response })
    })
  }
}

/**
 * An attempt's error once its stream body was consumed: the request cannot
 * be sent again.
 *
 * @internal
 */
export class Unreplayable {
  readonly _tag = "Unreplayable"
  constructor(readonly error: unknown) {}
}

/**
 * How one client judges answers: which responses fail, the body hook, and
 * how much of a `Retry-After` it believes.
 *
 * @internal
 */
export interface Judge {
  readonly isFailure: (response: HttpClientResponse.HttpClientResponse) => boolean
  readonly classifyBody:
    | ((response: HttpClientResponse.HttpClientResponse) => Effect.Effect<boolean, HttpClientError.HttpClientError>)
    | undefined
  readonly maxRetryAfter: Duration.Duration
  readonly clock: Clock.Clock
}

/** The bounded `Retry-After` wait of a response, if it asks for one. @internal */
export const waitOf = (judge: Judge, response: HttpClientResponse.HttpClientResponse): Duration.Duration | undefined =>
  Option.getOrUndefined(retryAfter(response, judge.clock.currentTimeMillisUnsafe(), judge.maxRetryAfter))

const failed = (judge: Judge, response: HttpClientResponse.HttpClientResponse) =>
  Effect.fail(new FailedResponse(response, waitOf(judge, response)))

/**
 * The attempt `send` makes, with the responses `judge` calls failures
 * turned into `FailedResponse`.
 *
 * @internal
 */
export const judgedAttempt = <E, R>(
  judge: Judge,
  send: Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>
): Effect.Effect<HttpClientResponse.HttpClientResponse, E | FailedResponse | HttpClientError.HttpClientError, R> =>
  Effect.flatMap(send, (response) => {
    if (judge.isFailure(response)) return failed(judge, response)
    const classifyBody = judge.classifyBody
    if (classifyBody === undefined) return Effect.succeed(response)
    return Effect.flatMap(
      classifyBody(response),
      (degraded) => degraded ? failed(judge, response) : Effect.succeed(response)
    )
  })

/**
 * The `Retry-After` wait an error carries: a failed response's, or that of
 * the response of a `StatusCodeError` (a client with `filterStatusOk`).
 *
 * @internal
 */
export const errorWait = (judge: Judge, error: unknown): Duration.Duration | undefined => {
  if (error instanceof FailedResponse) return error.retryAfter
  if (HttpClientError.isHttpClientError(error) && error.reason._tag === "StatusCodeError") {
    return waitOf(judge, error.reason.response)
  }
  return undefined
}

/**
 * Whether an attempt's error is worth another attempt: a failed response
 * (unless its `Retry-After` asks for more than `maxWaitMillis`), a transport
 * error, a timeout. Never a full bulkhead, an open circuit, a request that
 * cannot be sent again, a 4xx other than 408/429, or an error the request
 * itself caused (encoding, URL).
 *
 * @internal
 */
export const isRetryableError = (judge: Judge, maxWaitMillis: number, error: unknown): boolean => {
  if (error instanceof FailedResponse) return waitFits(error.retryAfter, maxWaitMillis)
  if (HttpClientError.isHttpClientError(error)) {
    const reason = error.reason
    if (reason._tag === "TransportError") return true
    if (reason._tag !== "StatusCodeError" || !judge.isFailure(reason.response)) return false
    return waitFits(waitOf(judge, reason.response), maxWaitMillis)
  }
  return isTimeoutError(error) || Cause.isTimeoutError(error)
}

const waitFits = (wait: Duration.Duration | undefined, maxWaitMillis: number): boolean =>
  wait === undefined || Duration.toMillis(wait) <= maxWaitMillis

/**
 * What an attempt's error tells the circuit breaker: a failed response is
 * a failure (carrying its `Retry-After` as an open-duration hint); a
 * transport error or a timeout is a failure; a `StatusCodeError` counts as
 * its response would; a full bulkhead and the errors the request itself
 * caused (encode, invalid URL) or the body (decode, empty body) count as
 * nothing; any other typed error is a failure.
 *
 * @internal
 */
export const errorVerdict = (judge: Judge, error: unknown): Verdict => {
  if (error instanceof FailedResponse) return hinted(error.retryAfter)
  if (error instanceof Unreplayable) return errorVerdict(judge, error.error)
  if (HttpClientError.isHttpClientError(error)) {
    const reason = error.reason
    if (reason._tag === "TransportError") return "failure"
    if (reason._tag !== "StatusCodeError") return "ignored"
    return judge.isFailure(reason.response) ? hinted(waitOf(judge, reason.response)) : "success"
  }
  if (isBulkheadFullError(error)) return "ignored"
  return "failure"
}

const hinted = (wait: Duration.Duration | undefined): Verdict =>
  wait === undefined ? "failure" : failureWithOpenHint(wait)

/**
 * The breaker's classifier for one client: a response that got out of the
 * policies is a success (failures travel as errors); a failed call counts
 * as its first typed error that counts (a defect is a failure).
 *
 * @internal
 */
export const breakerClassifier = (judge: Judge) => (exit: Exit.Exit<unknown, unknown>): Verdict => {
  if (exit._tag === "Success") return "success"
  let verdict: Verdict = "ignored"
  for (const reason of exit.cause.reasons) {
    if (reason._tag === "Die") return "failure"
    if (reason._tag !== "Fail") continue
    const found = errorVerdict(judge, reason.error)
    if (found !== "ignored" && found !== "success") return found
    if (found === "success") verdict = "success"
  }
  return verdict
}

/**
 * A request whose body is a stream, with the stream wrapped to note when
 * it is first pulled.
 *
 * @internal
 */
export interface TrackedBody {
  readonly request: HttpClientRequest.HttpClientRequest
  readonly consumed: () => boolean
}

/** @internal */
export const trackBody = (request: HttpClientRequest.HttpClientRequest): TrackedBody | undefined => {
  const body = request.body
  if (body._tag !== "Stream") return undefined
  let pulled = false
  const stream = Stream.onStart(
    body.stream,
    Effect.sync(() => {
      pulled = true
    })
  )
  return {
    request: HttpClientRequest.setBody(request, HttpBody.stream(stream, body.contentType, body.contentLength)),
    consumed: () => pulled
  }
}
