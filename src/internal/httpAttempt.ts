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
import { HttpBody, HttpClientError, HttpClientRequest, HttpClientResponse } from "effect/http"
import type { Classifier, Verdict } from "../Classifier.js"
import { failureAs, failureWithOpenHint } from "../Classifier.js"
import { retryAfter } from "../HttpClassifier.js"
import { isTimeoutError } from "../TimeoutError.js"
import { isLocalRejection } from "./localRejection.js"

/**
 * A response classified as a failure: Effect's own `HttpClientError` with a
 * `StatusCodeError` reason, whose message reads `HTTP 503 (GET
 * https://origin/path)` (no query string, no fragment: they may carry
 * secrets), so the breaker's snapshots, health reports and
 * `CircuitOpenError.lastFailure` say what happened;
 * with the wait its `Retry-After` asked for (`requested`, as the server
 * said it) and the open-duration hint drawn from it (`retryAfter`, capped
 * by `maxRetryAfter`).
 *
 * @internal
 */
export class FailedResponse extends HttpClientError.HttpClientError {
  constructor(
    response: HttpClientResponse.HttpClientResponse,
    readonly requested: Duration.Duration | undefined,
    readonly retryAfter: Duration.Duration | undefined,
    description?: string
  ) {
    super({
      reason: new HttpClientError.StatusCodeError({
        request: response.request,
        response,
        ...(description === undefined ? {} : { description })
      })
    })
  }

  override get message(): string {
    const { description, request, response } = this.reason as HttpClientError.StatusCodeError
    const what = `HTTP ${response.status} (${request.method} ${withoutQuery(request)})`
    return description === undefined ? what : `${what}: ${description}`
  }

  /** The response that was classified as a failure. */
  override get response(): HttpClientResponse.HttpClientResponse {
    return (this.reason as HttpClientError.StatusCodeError).response
  }
}

/** A request's URL without its query string and fragment. */
const withoutQuery = (request: HttpClientRequest.HttpClientRequest): string =>
  Option.match(HttpClientRequest.toUrl(request), {
    onNone: () => request.url.split(/[?#]/, 1)[0] ?? "",
    onSome: (url) => `${url.origin}${url.pathname}`
  })

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
  /** The most bytes of a body `classifyBody` reads into memory. */
  readonly classifyBodyLimit: number
  readonly maxRetryAfter: Duration.Duration
  readonly clock: Clock.Clock
}

/** The `Retry-After` wait a response asks for, as the server said it (uncapped). @internal */
export const requestedWait = (
  judge: Judge,
  response: HttpClientResponse.HttpClientResponse
): Duration.Duration | undefined =>
  Option.getOrUndefined(retryAfter(response, judge.clock.currentTimeMillisUnsafe(), Duration.infinity))

/** The open-duration hint of a wait: capped by `maxRetryAfter`. */
const hintOf = (judge: Judge, wait: Duration.Duration | undefined): Duration.Duration | undefined =>
  wait === undefined ? undefined : Duration.min(wait, judge.maxRetryAfter)

/**
 * The responses of the request an error came from, by the error: an
 * attempt that failed with a response notes it here, so that the retry,
 * made once per client, releases that request's responses when it decides
 * to send it again (see `supersedeAttempts`). Only errors made for one
 * request are noted (a failed response, a client's `StatusCodeError`),
 * never a value shared by calls.
 */
const owners = new WeakMap<object, AttemptResponses>()

const failed = (
  judge: Judge,
  response: HttpClientResponse.HttpClientResponse,
  attempts: AttemptResponses,
  description?: string
) => {
  const requested = requestedWait(judge, response)
  const error = new FailedResponse(response, requested, hintOf(judge, requested), description)
  owners.set(error, attempts)
  return Effect.fail(error)
}

/** How much of a superseded response's body is read to release its connection: 256 KiB, in 100 ms. */
const drainBytes = 256 * 1024
const drainTime = Duration.millis(100)

/**
 * Releases a response nobody will read: its body is drained — at most
 * `drainBytes`, for at most `drainTime` — so that a keep-alive pool reuses
 * its connection, or else its stream is cancelled, which closes the
 * connection (Effect's clients abort the request when its body stream ends
 * early). A body already read, or none, is left as it is; whatever happens
 * is swallowed: releasing is housekeeping.
 */
const release = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void> =>
  Effect.suspend(() => {
    let drained = 0
    return Stream.runForEach(response.stream, (chunk) => {
      drained += chunk.length
      return drained > drainBytes ? Effect.fail("too large" as const) : Effect.void
    })
  }).pipe(Effect.timeoutOption(drainTime), Effect.exit, Effect.asVoid)

/**
 * The responses the attempts of one request received, so that the ones
 * superseded are released (see `release`) rather than holding their
 * connections until they are garbage collected: when the retry decides to
 * send the request again, every response so far is superseded; when a
 * hedged call ends, or the fallback has answered, every response but those
 * the caller can still reach (its answer, or the response an error carries)
 * is (a hedge's loser, a failed response the fallback replaced). Without a
 * hedge or a fallback nothing else is left behind: a call's last response
 * is the caller's, or its error's.
 *
 * @internal
 */
export class AttemptResponses {
  private held: Array<HttpClientResponse.HttpClientResponse> = []

  add(response: HttpClientResponse.HttpClientResponse): void {
    this.held.push(response)
  }

  /** Releases every response received so far: the retry's next attempt supersedes them. */
  get supersede(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.held.length === 0) return Effect.void
      const superseded = this.held
      this.held = []
      return Effect.forEach(superseded, release, { discard: true })
    })
  }

  /**
   * What releases every response the call's `exit` does not hand to the
   * caller, or `undefined` when there is none (the common case: no effect to
   * run, nothing to fork).
   */
  settle(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> | undefined {
    const held = this.held
    if (held.length === 0 || (held.length === 1 && exit._tag === "Success" && exit.value === held[0])) {
      return undefined
    }
    this.held = []
    const kept = reachable(exit)
    const left = held.filter((response) => !kept.has(response))
    return left.length === 0 ? undefined : Effect.forEach(left, release, { discard: true })
  }
}

/**
 * The responses of a client that never leaves one behind (no retry, no
 * hedge, no fallback: a call's one response is the caller's, or its
 * error's): nothing is kept, and one instance serves every request.
 *
 * @internal
 */
export const untracked: AttemptResponses = new (class Untracked extends AttemptResponses {
  override add(): void {}
})()

/** The responses a call's exit hands to the caller: its value, and those its typed errors carry. */
const reachable = (exit: Exit.Exit<unknown, unknown>): Set<unknown> => {
  if (exit._tag === "Success") return new Set([exit.value])
  const kept = new Set<unknown>()
  for (const reason of exit.cause.reasons) {
    if (reason._tag === "Fail" && HttpClientError.isHttpClientError(reason.error)) {
      kept.add(reason.error.response)
    }
  }
  return kept
}

/** The response an attempt's error carries (a client with `filterStatusOk`), if any. */
const carried = (error: unknown): HttpClientResponse.HttpClientResponse | undefined =>
  HttpClientError.isHttpClientError(error) ? error.response : undefined

/**
 * The attempt `send` makes, with the responses `judge` calls failures
 * turned into `FailedResponse`; the responses it receives are noted in
 * `attempts` (see `AttemptResponses`). One `matchEffect` for both: every
 * request pays for this wrapper.
 *
 * @internal
 */
export const judgedAttempt = <E, R>(
  judge: Judge,
  send: Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>,
  attempts: AttemptResponses
): Effect.Effect<HttpClientResponse.HttpClientResponse, E | FailedResponse | HttpClientError.HttpClientError, R> =>
  Effect.matchEffect(send, {
    onFailure: (error) => {
      const response = carried(error)
      if (response !== undefined) {
        attempts.add(response)
        owners.set(error as object, attempts)
      }
      return Effect.fail(error)
    },
    onSuccess: (response) => {
      attempts.add(response)
      return judged(judge, response, attempts)
    }
  })

/**
 * Releases the responses of the request an attempt failed for: its retry
 * calls this with the attempt's error once it decided to send the request
 * again, before the wait, so that their connections serve others
 * meanwhile. An error that carries no response leaves nothing to release
 * that the end of the call would not (see `AttemptResponses.settle`).
 *
 * @internal
 */
export const supersedeAttempts = (error: unknown): Effect.Effect<void> => {
  const attempts = typeof error === "object" && error !== null ? owners.get(error) : undefined
  return attempts === undefined ? Effect.void : attempts.supersede
}

const judged = (
  judge: Judge,
  response: HttpClientResponse.HttpClientResponse,
  attempts: AttemptResponses
): Effect.Effect<HttpClientResponse.HttpClientResponse, FailedResponse | HttpClientError.HttpClientError> => {
  if (judge.isFailure(response)) return failed(judge, response, attempts)
  const classifyBody = judge.classifyBody
  if (classifyBody === undefined) return Effect.succeed(response)
  // Read once into memory: the hook and the caller each get a response of their own over the
  // bytes, so the caller reads it as any response, its stream included. (A status no Web
  // response can carry, outside 200-599, is classified as it came.)
  const status = response.status
  if (status < 200 || status > 599) return classified(judge, classifyBody, response, () => response, attempts)
  return Effect.flatMap(
    bufferBody(response, judge.classifyBodyLimit),
    (copy) => classified(judge, classifyBody, copy(), copy, attempts)
  )
}

const classified = (
  judge: Judge,
  classifyBody: (
    response: HttpClientResponse.HttpClientResponse
  ) => Effect.Effect<boolean, HttpClientError.HttpClientError>,
  read: HttpClientResponse.HttpClientResponse,
  handOn: () => HttpClientResponse.HttpClientResponse,
  attempts: AttemptResponses
) =>
  Effect.flatMap(classifyBody(read), (degraded) => {
    const response = handOn()
    return degraded
      ? failed(judge, response, attempts, "the body was classified as degraded")
      : Effect.succeed(response)
  })

/** Statuses whose responses have no body (the Fetch standard's null body statuses). */
const nullBodyStatuses = new Set([101, 103, 204, 205, 304])

/**
 * Reads a response's body into memory, at most `limit` bytes, and gives
 * what makes fresh copies of the response: the upstream's status and
 * headers (its own `Headers` when it is a Web response, so every
 * `Set-Cookie` stays) and the bytes, each copy readable once as any
 * response (`stream`, or `text`/`json`/`arrayBuffer` as often as asked).
 * A larger body (announced by `Content-Length`, or found while reading)
 * fails with a `DecodeError` naming the limit; the stream read so far is
 * cancelled, which releases the connection.
 */
const bufferBody = (
  response: HttpClientResponse.HttpClientResponse,
  limit: number
): Effect.Effect<() => HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =>
  Effect.suspend(() => {
    const tooLarge = (size: string) =>
      new HttpClientError.HttpClientError({
        reason: new HttpClientError.DecodeError({
          request: response.request,
          response,
          description: `the body (${size}) is larger than classifyBodyLimit (${limit} bytes): not classified`
        })
      })
    const announced = Number(response.headers["content-length"])
    const chunks: Array<Uint8Array> = []
    let size = 0
    // A body announced too large fails at its first chunk: the stream is started and cancelled, which
    // releases the connection (a body never read would hold it until garbage collected).
    const read = Stream.runForEach(response.stream, (chunk) => {
      if (announced > limit) return Effect.fail(tooLarge(`${announced} bytes`))
      size += chunk.length
      if (size > limit) return Effect.fail(tooLarge(`more than ${limit} bytes`))
      chunks.push(chunk)
      return Effect.void
    })
    return Effect.map(
      // No body at all (a HEAD, a 204) reads as an empty one.
      Effect.catchIf(read, (error) => error.reason._tag === "EmptyBodyError", () => Effect.void),
      () => {
        const body = new Uint8Array(size)
        let offset = 0
        for (const chunk of chunks) {
          body.set(chunk, offset)
          offset += chunk.length
        }
        const status = response.status
        const headers = Option.match(HttpClientResponse.toWeb(response), {
          onNone: () => new globalThis.Headers(Object.entries(response.headers)),
          onSome: (web) => web.headers
        })
        return () =>
          HttpClientResponse.fromWeb(
            response.request,
            new Response(nullBodyStatuses.has(status) ? null : body, { status, headers })
          )
      }
    )
  })

/**
 * The `Retry-After` wait an error carries: a failed response's, or that of
 * the response of a `StatusCodeError` (a client with `filterStatusOk`).
 *
 * @internal
 */
export const errorWait = (judge: Judge, error: unknown): Duration.Duration | undefined => {
  if (error instanceof FailedResponse) return error.requested
  if (HttpClientError.isHttpClientError(error) && error.reason._tag === "StatusCodeError") {
    return requestedWait(judge, error.reason.response)
  }
  return undefined
}

/**
 * Whether an attempt's error is worth another attempt: a failed response
 * (unless its `Retry-After`, as the server said it, asks for more than
 * `maxWaitMillis`), a transport
 * error, a timeout. Never a full bulkhead, an open circuit, a request that
 * cannot be sent again, a 4xx other than 408/429 (whatever `isFailure`
 * says of it), or an error the request itself caused (encoding, URL).
 *
 * @internal
 */
export const isRetryableError = (judge: Judge, maxWaitMillis: number, error: unknown): boolean => {
  if (error instanceof FailedResponse) {
    return isRetryableStatus(error.response.status) && waitFits(error.requested, maxWaitMillis)
  }
  if (HttpClientError.isHttpClientError(error)) {
    const reason = error.reason
    if (reason._tag === "TransportError") return true
    if (reason._tag !== "StatusCodeError" || !judge.isFailure(reason.response)) return false
    return isRetryableStatus(reason.response.status) && waitFits(requestedWait(judge, reason.response), maxWaitMillis)
  }
  return isTimeoutError(error) || Cause.isTimeoutError(error)
}

/**
 * A 4xx other than 408 and 429 is the request's own fault: sent again, it fails again. Never
 * retried, even when `isFailure` makes it a failure for the breaker.
 */
const isRetryableStatus = (status: number): boolean => status < 400 || status > 499 || status === 408 || status === 429

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
    return judge.isFailure(reason.response) ? hinted(hintOf(judge, requestedWait(judge, reason.response))) : "success"
  }
  if (isLocalRejection(error)) return "ignored"
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
 * The breaker's classifier for a client whose policies never need a failed
 * response as an error (no retry, hedge, fallback, adaptive limit or body
 * classifier) and whose status rule is its own (no `isFailure`: see
 * `passing` in `makeClient`): its attempts are not judged on the
 * way (no `FailedResponse` raised, nothing to turn back into the response
 * at the end); the response is judged here, as it passes the breaker, and a
 * failure is recorded as the `FailedResponse` the other clients raise, so
 * snapshots and rejections say the same. Errors are judged as
 * `breakerClassifier` judges them.
 *
 * @internal
 */
export const passingClassifier = (judge: Judge): Classifier => {
  const ofErrors = breakerClassifier(judge)
  return (exit) => {
    if (exit._tag !== "Success") return ofErrors(exit)
    const response = exit.value as HttpClientResponse.HttpClientResponse
    if (!judge.isFailure(response)) return "success"
    const requested = requestedWait(judge, response)
    const openFor = hintOf(judge, requested)
    return failureAs(new FailedResponse(response, requested, openFor), { openFor })
  }
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
