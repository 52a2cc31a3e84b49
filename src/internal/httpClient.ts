/**
 * The resilient HTTP client: options checked, policies made once, and the
 * per-request chain `fallback( deadline( retry( rateLimit[key]( limit(
 * breaker[key]( hedge( bulkhead( timeout( attempt )))))))))` built from them. A failed response
 * crosses the hedge as a value, so it ends the hedge like any answer.
 *
 * @internal
 */
import type { Scope } from "effect"
import { Cause, Context, Duration, Effect, Schedule, Schema } from "effect"
import type { HttpClientError } from "effect/http"
import type { HttpClientRequest, HttpClientResponse } from "effect/http"
import { HttpClient } from "effect/http"
import type { AdaptiveLimit } from "../AdaptiveLimit.js"
import type { Bulkhead } from "../Bulkhead.js"
import { isBulkhead, make as makeBulkhead } from "../Bulkhead.js"
import { isCircuitBreaker } from "../CircuitBreaker.js"
import type { CircuitBreakerConfigError } from "../CircuitBreakerConfig.js"
import { isCircuitBreakerRegistry } from "../CircuitBreakerRegistry.js"
import type { Classifier } from "../Classifier.js"
import { ConfigIssue } from "../ConfigIssue.js"
import * as Fallback from "../Fallback.js"
import { make as makeHedge } from "../Hedge.js"
import { isFailureStatus, isRetryable, readMethods } from "../HttpClassifier.js"
import { Enabled } from "../Metrics.js"
import type { Policy } from "../Policy.js"
import { PolicyConfigError } from "../PolicyConfigError.js"
import type { Permit, RateLimit } from "../RateLimit.js"
import type { Options, RetryOptions } from "../ResilientHttpClient.js"
import * as Retry from "../Retry.js"
import { make as makeTimeout } from "../Timeout.js"
import type { Judge } from "./httpAttempt.js"
import {
  AttemptResponses,
  breakerClassifier,
  errorWait,
  FailedResponse,
  isRetryableError,
  judgedAttempt,
  passingClassifier,
  requestedWait,
  supersedeAttempts,
  trackBody,
  Unreplayable,
  untracked
} from "./httpAttempt.js"
import { CircuitOpened, makeBreakers, makeOriginOf } from "./httpBreakers.js"
import { claimName } from "./metrics.js"
import { decodeOptions, Name, nameOf } from "./options.js"
import { isPolicy } from "./policy.js"
import { durationInput, FunctionValue, InstanceValue, IntBetween } from "./schemas.js"

type Response = HttpClientResponse.HttpClientResponse
type Request = HttpClientRequest.HttpClientRequest
type AnyPolicy = Policy.Any
type UserFallback = (error: unknown, request: Request) => Effect.Effect<Response, unknown, unknown>

const defaults = {
  name: "http",
  classifyBodyLimit: 1024 * 1024,
  maxRetryAfter: Duration.minutes(5),
  maxRetryAfterWait: Duration.seconds(30)
}

/** The largest `classifyBodyLimit`: 64 MiB. */
const maxClassifyBodyLimit = 64 * 1024 * 1024

/** The options of one policy (or, for `bulkhead`, a bulkhead): an object, checked by the policy's own `make`. */
const PolicyOptions = Schema.declare(
  (u: unknown): u is object => typeof u === "object" && u !== null && !Array.isArray(u),
  { expected: "an object of options" }
)

const OptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  breaker: Schema.optional(Schema.Unknown),
  key: Schema.optional(FunctionValue<(request: Request) => string>("a function (request) => string")),
  maxBreakers: Schema.optional(Schema.Unknown),
  idleTimeToLive: Schema.optional(Schema.Unknown),
  retry: Schema.optional(PolicyOptions),
  timeout: Schema.optional(Schema.Unknown),
  deadline: Schema.optional(Schema.Unknown),
  bulkhead: Schema.optional(PolicyOptions),
  hedge: Schema.optional(PolicyOptions),
  rateLimit: Schema.optional(InstanceValue(isRateLimit, "a RateLimit (from RateLimit.make)")),
  limit: Schema.optional(InstanceValue(isAdaptiveLimit, "an AdaptiveLimit (from AdaptiveLimit.make)")),
  isFailure: Schema.optional(FunctionValue<(response: Response) => boolean>("a function (response) => boolean")),
  classifyBody: Schema.optional(
    FunctionValue<(response: Response) => Effect.Effect<boolean, HttpClientError.HttpClientError>>(
      "a function (response) => Effect<boolean>"
    )
  ),
  classifyBodyLimit: Schema.optional(IntBetween(1, maxClassifyBodyLimit)),
  maxRetryAfter: Schema.optional(durationInput({ allowZero: true })),
  fallback: Schema.optional(FunctionValue<UserFallback>("a function (error, request) => Effect<HttpClientResponse>")),
  metrics: Schema.optional(Schema.Boolean)
})

type Decoded = typeof OptionsSchema.Type

const RetryExtras = Schema.Struct({
  maxRetryAfterWait: Schema.optional(durationInput({ allowZero: true })),
  nonIdempotent: Schema.optional(Schema.Boolean)
})

const configError = (name: string, issues: ReadonlyArray<ConfigIssue>) =>
  new PolicyConfigError({ kind: "HttpClient", policy: name, issues: issues as [ConfigIssue, ...Array<ConfigIssue>] })

/**
 * The options that cannot apply with the circuits given: a breaker of your
 * own guards every request alone (no registry, no key); a registry of your
 * own keeps its own bounds.
 */
const inapplicable = (options: Options<unknown>): Array<ConfigIssue> => {
  const given = options.breaker
  const fields = isCircuitBreaker(given)
    ? (["maxBreakers", "idleTimeToLive", "key"] as const)
    : isCircuitBreakerRegistry(given)
    ? (["maxBreakers", "idleTimeToLive"] as const)
    : []
  const what = isCircuitBreaker(given) ? "a CircuitBreaker" : "a CircuitBreakerRegistry"
  const refused = fields.filter((field) => options[field] !== undefined).map((field) =>
    new ConfigIssue({ field, rule: `cannot apply when \`breaker\` is ${what} of your own: leave it out` })
  )
  if (options.classifyBodyLimit !== undefined && options.classifyBody === undefined) {
    refused.push(
      new ConfigIssue({
        field: "classifyBodyLimit",
        rule: "applies only with classifyBody: leave it out, or give classifyBody"
      })
    )
  }
  return refused
}

/**
 * The retry of a client: the backoff of `options`, each wait at least what
 * the failed attempt's `Retry-After` asked for, and only the errors worth
 * another attempt.
 */
const makeRetry = (name: string, judge: Judge, options: RetryOptions, metrics: boolean | undefined) =>
  Effect.gen(function*() {
    const { budget, maxRetryAfterWait: _w, metrics: retryMetrics, nonIdempotent: _n, ...backoff } = options
    const extras = decodeOptions(
      RetryExtras,
      { maxRetryAfterWait: options.maxRetryAfterWait, nonIdempotent: options.nonIdempotent },
      "retry option"
    )
    if (extras._tag === "Failure") {
      return yield* configError(
        name,
        extras.failure.map((issue) => new ConfigIssue({ field: `retry.${issue.field}`, rule: issue.rule }))
      )
    }
    const maxWaitMillis = Duration.toMillis(extras.success.maxRetryAfterWait ?? defaults.maxRetryAfterWait)
    // The backoff's own errors, named as the client's other retry options are: retry.<field>.
    const backoffSchedule = yield* Effect.mapError(Retry.backoff({ ...backoff }), (error) =>
      configError(
        name,
        error.issues.map((issue) => new ConfigIssue({ field: `retry.${issue.field}`, rule: issue.rule }))
      ))
    const schedule = backoffSchedule.pipe(
      Schedule.modifyDelay(({ duration, input }) => {
        const wait = errorWait(judge, input)
        return Effect.succeed(wait === undefined ? duration : Duration.max(duration, wait))
      })
    )
    const retry = yield* Retry.make({
      name,
      schedule,
      retryOn: (error) => isRetryableError(judge, maxWaitMillis, error),
      onRetry: supersedeAttempts,
      ...(budget === undefined ? {} : { budget }),
      ...(retryMetrics ?? metrics) === undefined ? {} : { metrics: retryMetrics ?? metrics }
    })
    return { retry, nonIdempotent: extras.success.nonIdempotent ?? false }
  })

/** Makes a client's policies from its options: each fails as its own module's `make` would. */
const makePolicies = (name: string, decoded: Decoded, options: Options<unknown>, judge: Judge) =>
  Effect.gen(function*() {
    const metrics = decoded.metrics === undefined ? {} : { metrics: decoded.metrics }
    const timeout = options.timeout === undefined
      ? undefined
      : yield* makeTimeout({ name: `${name}/timeout`, duration: options.timeout, ...metrics })
    const deadline = options.deadline === undefined
      ? undefined
      : yield* makeTimeout({ name: `${name}/deadline`, duration: options.deadline, ...metrics })
    const given = options.bulkhead
    const bulkhead: Bulkhead | undefined = given === undefined
      ? undefined
      : isBulkhead(given)
      ? given
      : yield* makeBulkhead({ name, ...metrics, ...given })
    const hedge = options.hedge === undefined ? undefined : yield* makeHedge({ name, ...metrics, ...options.hedge })
    const retry = options.retry === undefined
      ? undefined
      : yield* makeRetry(name, judge, options.retry, decoded.metrics)
    const fallback = decoded.fallback === undefined ? undefined : yield* makeFallback(name, decoded.fallback, metrics)
    return { timeout, deadline, bulkhead, hedge, retry, fallback }
  })

/**
 * The request a fallback answers for: provided to the fallback policy
 * (made once per client) when a call failed, and only then.
 */
const CurrentRequest = Context.Reference<Request | undefined>("effect-resilience/ResilientHttpClient/CurrentRequest", {
  defaultValue: () => undefined
})

/** The fallback: the `Fallback` module's, handed the request through `CurrentRequest`. */
const makeFallback = (name: string, fallback: UserFallback, metrics: { readonly metrics?: boolean }) =>
  Fallback.make({
    name,
    ...metrics,
    orElse: (error: unknown) =>
      Effect.flatMap(
        CurrentRequest,
        (request) => fallback(error, request as Request)
      )
  }) as Effect.Effect<AnyPolicy, PolicyConfigError>

/**
 * Makes the resilient client: the implementation of
 * `ResilientHttpClient.make`, whose types it does not repeat.
 *
 * @internal
 */
export const makeClient = <E, R>(
  client: HttpClient.HttpClient.With<E, R>,
  options?: Options<unknown>
): Effect.Effect<
  HttpClient.HttpClient.With<unknown, unknown>,
  PolicyConfigError | CircuitBreakerConfigError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const name = nameOf(options, defaults.name)
    const decodedResult = decodeOptions(OptionsSchema, options, "resilient HTTP client option")
    if (decodedResult._tag === "Failure") return yield* configError(name, decodedResult.failure)
    const decoded = decodedResult.success
    const given = options ?? {}
    const refused = inapplicable(given)
    if (refused.length > 0) return yield* configError(name, refused)
    const isFailure = decoded.isFailure ?? ((response: Response) => isFailureStatus(response.status))
    const judge: Judge = {
      isFailure,
      classifyBody: decoded.classifyBody,
      classifyBodyLimit: decoded.classifyBodyLimit ?? defaults.classifyBodyLimit,
      maxRetryAfter: decoded.maxRetryAfter ?? defaults.maxRetryAfter,
      clock: yield* Effect.clockWith(Effect.succeed)
    }
    const policies = yield* makePolicies(name, decoded, given, judge)
    const { bulkhead, deadline, fallback, hedge, retry, timeout } = policies
    const rateLimit = decoded.rateLimit
    const limit = decoded.limit
    // No policy here needs a failed response as an error (to retry it, hedge past it, replace it, or
    // learn from it), and none reads bodies: responses pass the policies as they came, and the
    // breaker judges each as it passes — what every request of such a client saves is a judging
    // step and the step that turns a failed response back into the response at the end. Only with
    // the status rule of its own: an `isFailure` of the user's may throw, which inside the attempt
    // is the call's defect (a failure), but inside the breaker's classifier a classifier bug (nothing).
    const passing = retry === undefined && hedge === undefined && fallback === undefined && limit === undefined &&
      decoded.classifyBody === undefined && decoded.isFailure === undefined
    const classify: Classifier = passing ? passingClassifier(judge) : breakerClassifier(judge)
    const keyOf = given.key ?? makeOriginOf()
    const breakers = yield* makeBreakers(name, given, classify, keyOf)
    yield* claimClientName(name, decoded.metrics)
    const scope = yield* Effect.scope

    const guard = (request: Request, attempts: AttemptResponses): Effect.Effect<Response, unknown, unknown> => {
      const tracked = trackBody(request)
      const sent = tracked === undefined ? request : tracked.request
      let call: Effect.Effect<Response, unknown, unknown> = judgedAttempt(
        judge,
        client.postprocess(Effect.succeed(sent)),
        attempts
      )
      if (timeout !== undefined) call = timeout.apply(call)
      if (bulkhead !== undefined) call = bulkhead.apply(call)
      if (tracked !== undefined) {
        // Once its body was pulled, the request cannot be sent again: its failure goes unretried.
        call = Effect.mapError(call, (error) => tracked.consumed() ? new Unreplayable(error) : error)
      } else if (hedge !== undefined && readMethods.has(request.method)) {
        // A failed response is an answer, not a slow attempt: it wins the hedge as a value (no other
        // attempt starts at once against a dependency that said 503 or 429) and fails again outside.
        call = Effect.flatMap(
          hedge.apply(Effect.catchIf(call, isFailedResponse, Effect.succeed)),
          (answer) => answer instanceof FailedResponse ? Effect.fail(answer) : Effect.succeed(answer)
        )
      }
      // Every attempt is a call of the breaker (Resilience4j's and Polly's order): an open circuit
      // refuses a retry like any call, and an attempt that leaves it open ends the retries at once.
      const retried = retry !== undefined && isRetryable(request, retry.nonIdempotent)
      call = breakers.guard(request, call, retried)
      if (limit !== undefined) call = limit.apply(call)
      if (rateLimit !== undefined) call = rateLimited(judge, rateLimit, keyOf(request), call)
      if (retried) call = Effect.mapError(retry.retry.apply(call), unwrapCircuitOpened)
      if (tracked !== undefined) call = Effect.mapError(call, unwrapUnreplayable)
      if (deadline !== undefined) call = deadline.apply(call)
      if (fallback === undefined) return Effect.catchIf(call, isFailedResponse, toResponse)
      // A fallback replaces failures only: the request reaches it through the context on that
      // path alone, and a call that succeeds pays for no context of its own. The responses it
      // replaces are released once it has answered (unless it answered with one of them); with a
      // hedge, the whole call's end releases them (see `execute` below).
      return Effect.catchCause(call, (cause) => {
        const answered = Effect.provideService(
          fallback.apply(Effect.failCause(cause)) as typeof call,
          CurrentRequest,
          request
        )
        return hedge === undefined ? settledBy(attempts, answered, scope) : answered
      })
    }
    const pass = (request: Request): Effect.Effect<Response, unknown, unknown> => {
      let call: Effect.Effect<Response, unknown, unknown> = client.postprocess(Effect.succeed(request))
      if (timeout !== undefined) call = timeout.apply(call)
      if (bulkhead !== undefined) call = bulkhead.apply(call)
      call = breakers.guard(request, call, false)
      if (rateLimit !== undefined) call = rateLimited(judge, rateLimit, keyOf(request), call)
      if (deadline !== undefined) call = deadline.apply(call)
      return call
    }
    // Only a hedge leaves responses behind on a call's every path (the loser's): without one, the
    // retry releases what it supersedes and the fallback what it replaces, and a request that
    // succeeds pays for no exit handler of its own.
    const execute = passing
      ? pass
      : hedge === undefined
      ? retry === undefined && fallback === undefined
        ? (sent: Request) => guard(sent, untracked)
        : (sent: Request) => guard(sent, new AttemptResponses())
      : (sent: Request) => {
        const attempts = new AttemptResponses()
        return settledBy(attempts, guard(sent, attempts), scope)
      }
    return HttpClient.makeWith(
      (request: Effect.Effect<Request, E, R>) => Effect.flatMap(request, execute),
      client.preprocess
    ) as HttpClient.HttpClient.With<unknown, unknown>
  })

/**
 * Claims the client's name for its series, while its metrics are on: two
 * live clients of one name would report into the same series (their
 * policies' counters added up, a bulkhead's gauges overwritten), so the
 * second is refused, naming the field. Released when the client's scope
 * closes.
 */
const claimClientName = (name: string, metrics: boolean | undefined) =>
  Effect.gen(function*() {
    const context = yield* Effect.context<never>()
    if (!(metrics ?? Context.get(context, Enabled))) return
    const release = claimName(context, "ResilientHttpClient", name)
    if (release === undefined) {
      return yield* configError(name, [
        new ConfigIssue({
          field: "name",
          rule: `is taken: another live resilient HTTP client reports metrics as "${name}" in this metric registry; ` +
            `give each client a name of its own (e.g. name: "payments")`
        })
      ])
    }
    yield* Effect.addFinalizer(() => Effect.sync(release))
  })

/**
 * `call`, with the responses its attempts received (`attempts`) that its
 * exit does not hand on released when it ends — in the background, in the
 * client's scope: the caller gets its answer (a fallback's, say) without
 * waiting up to the drain's 100 ms for a response it will never read.
 */
const settledBy = (
  attempts: AttemptResponses,
  call: Effect.Effect<Response, unknown, unknown>,
  scope: Scope.Scope
): Effect.Effect<Response, unknown, unknown> =>
  Effect.onExit(call, (exit) => {
    const release = attempts.settle(exit)
    return release === undefined ? Effect.void : Effect.asVoid(Effect.forkIn(release, scope))
  })

const isFailedResponse = (error: unknown): error is FailedResponse => error instanceof FailedResponse

function isRateLimit(u: unknown): u is RateLimit<unknown> {
  return isPolicy(u) && u.kind === "RateLimit"
}

function isAdaptiveLimit(u: unknown): u is AdaptiveLimit {
  return isPolicy(u) && u.kind === "AdaptiveLimit"
}

/**
 * One attempt under a rate limit: a permit for the request's key first, and
 * a `429` answer (with its `Retry-After`) handed to the permit, for an
 * adaptive limit to learn from.
 */
const rateLimited = (
  judge: Judge,
  rateLimit: RateLimit<unknown>,
  key: string,
  call: Effect.Effect<Response, unknown, unknown>
): Effect.Effect<Response, unknown, unknown> =>
  Effect.flatMap(rateLimit.acquire(key), (permit) =>
    Effect.onExit(call, (exit) => {
      const answer = exit._tag === "Success" ? exit.value : failedResponseOf(exit.cause)
      return answer === undefined || answer.status !== 429 ? Effect.void : feedback(judge, permit, answer)
    }))

const failedResponseOf = (cause: Cause.Cause<unknown>): Response | undefined => {
  const error = Cause.findErrorOption(cause)
  if (error._tag === "None") return undefined
  // The answer that opened its circuit (or failed while it was open), or that of a request that
  // cannot be sent again, comes marked: it counts too.
  const answer = unwrapUnreplayable(unwrapCircuitOpened(error.value))
  return answer instanceof FailedResponse ? answer.response : undefined
}

const feedback = (judge: Judge, permit: Permit, response: Response): Effect.Effect<void> =>
  permit.feedback({ status: response.status, retryAfter: requestedWait(judge, response) })

const toResponse = (failed: FailedResponse): Effect.Effect<Response> => Effect.succeed(failed.response)

const unwrapCircuitOpened = (error: unknown): unknown => error instanceof CircuitOpened ? error.error : error

const unwrapUnreplayable = (error: unknown): unknown => error instanceof Unreplayable ? error.error : error
