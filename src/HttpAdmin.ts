/**
 * Admin routes for operators, opt-in: list the circuits of given breakers
 * and registries, force-open, disable or reset one by name, and follow
 * their events as a Server-Sent Events stream (the feed of a dashboard).
 *
 * | Route | Answer |
 * | --- | --- |
 * | `GET {path}/circuits` | `{ circuits: [CircuitView, ...] }` |
 * | `GET {path}/circuits/:name` | `CircuitView` |
 * | `POST {path}/circuits/:name/force-open` (`disable`, `reset`, `half-open`), with `X-Resilience-Admin: 1` | the `CircuitView` after the change |
 * | `POST {path}/circuits/:name/open?for=30s` (or `?until=<epoch millis or ISO date>`, or a JSON body `{ "for": "30s" }` / `{ "until": ... }`), with the header | the `CircuitView` after the change |
 * | `GET {path}/events?events=StateChanged,CallRejected` | `text/event-stream` of `HttpAdminEvent.StreamEvent` |
 *
 * The routes refuse to mount without a bearer token read from `Config`
 * (`RESILIENCE_ADMIN_TOKEN` by default) unless you say `auth: "none"`.
 * Every request then needs `Authorization: Bearer <token>`, compared in
 * constant time; without it the answer is 401.
 *
 * **Control routes need a header.** Every `POST` (force-open, disable,
 * reset, half-open, open) must carry `X-Resilience-Admin` with a non-empty value (send
 * `X-Resilience-Admin: 1`; the name is `HttpAdmin.controlHeader`), with a
 * token or with `auth: "none"`; without it the answer is 403 with a
 * problem document naming the header, and nothing changes. A cross-site
 * form cannot send the header, and a cross-origin `fetch` that sets it
 * needs a CORS preflight the routes do not answer: so a page on another
 * site cannot trigger a control route (CSRF). A dashboard calls them with
 * `fetch(url, { method: "POST", headers: { "X-Resilience-Admin": "1",
 * authorization: "Bearer ..." } })`. Reading (`GET`) needs no header.
 *
 * Every input is validated
 * with a Schema: a bad breaker name or action, an unknown event tag, or an
 * opening's `for` / `until` that is missing, given twice or out of range
 * (as `openFor` / `openUntil` check it; a body of at most 4 KiB), is a
 * 400; an unknown breaker a 404; a name two breakers share a 409 — each
 * with an RFC 9457 problem document. At most `maxStreams` event streams run
 * at once (Hystrix's default, 5); one more is answered 503.
 *
 * ```ts
 * import { Layer } from "effect"
 * import { CircuitBreaker, CircuitBreakerRegistry, Health, HttpAdmin } from "effect-resilience"
 *
 * class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
 *
 * const Routes = Layer.mergeAll(
 *   Health.layerHttp({ sources: [Payments] }), // GET /health/circuits
 *   // GET /admin/resilience/circuits, ...: bearer token from RESILIENCE_ADMIN_TOKEN
 *   HttpAdmin.layer({ sources: [Payments, CircuitBreakerRegistry.CircuitBreakerRegistry] })
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { Context, Layer } from "effect"
import { Config, Duration, Effect, Redacted, Result, Schema, SchemaIssue } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse, ProblemDetails } from "effect/http"
import type { CircuitBreaker } from "./CircuitBreaker.js"
import { ConfigIssue } from "./ConfigIssue.js"
import type { Circuits, Services } from "./Health.js"
import { CircuitList, CircuitView, fromSnapshot } from "./HttpAdminEvent.js"
import { openRequest } from "./internal/adminOpen.js"
import type { BreakerEventTag } from "./internal/adminStream.js"
import { eventStream } from "./internal/adminStream.js"
import { bearerCheck, tokenProblem } from "./internal/bearerToken.js"
import type { Verdict } from "./internal/bearerToken.js"
import type { CircuitSource } from "./internal/circuitSources.js"
import { breakersOf, resolveSources, snapshotsOf } from "./internal/circuitSources.js"
import { decodeOptions, fieldValue, nameProblem } from "./internal/options.js"
import { durationInput, IntBetween, PathPrefix } from "./internal/schemas.js"
import { maxNameLength } from "./Limits.js"
import { PolicyConfigError } from "./PolicyConfigError.js"

/**
 * How requests prove they may use the routes: a bearer token read from
 * `Config` when the layer is built (a `Redacted` or a string: 16 to 4,096
 * characters of RFC 6750's token syntax), or `"none"` — no check at all,
 * for routes only a trusted network reaches.
 *
 * @category models
 * @since 0.1.0
 */
export type Auth = { readonly token: Config.Config<Redacted.Redacted<string> | string> } | "none"

/**
 * The options of `layer`.
 *
 * @category models
 * @since 0.1.0
 */
export interface AdminOptions<Sources extends ReadonlyArray<Circuits>> {
  /** The breakers and registries to administer (instances or service keys). */
  readonly sources: Sources
  /** Default `{ token: Config.Redacted("RESILIENCE_ADMIN_TOKEN") }`: the layer fails when it is not set. */
  readonly auth?: Auth | undefined
  /**
   * Where the routes live: a path starting with `/`, without a trailing `/`,
   * `:` or `*`, of at most 256 characters. Default `"/admin/resilience"`.
   */
  readonly path?: `/${string}` | undefined
  /** The interval of the stream's `Heartbeat`: from 1 second to 1 hour. Default 15 seconds. */
  readonly heartbeat?: Duration.Input | undefined
  /** Event streams open at once: an integer from 1 to 1,000. Default 5 (as Hystrix). */
  readonly maxStreams?: number | undefined
}

/**
 * The default variable of the admin token.
 *
 * @example
 * ```ts
 * import { HttpAdmin } from "effect-resilience"
 *
 * HttpAdmin.defaultTokenVariable // => "RESILIENCE_ADMIN_TOKEN"
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultTokenVariable = "RESILIENCE_ADMIN_TOKEN"

const AdminOptionsSchema = Schema.Struct({
  sources: Schema.Array(Schema.Unknown), // each checked by resolveSource
  auth: Schema.optional(Schema.Unknown), // checked below: "none" or { token: Config }
  path: Schema.optional(PathPrefix),
  heartbeat: Schema.optional(
    durationInput({ allowZero: false }).check(Schema.makeFilter(
      (duration: Duration.Duration) =>
        Duration.between(duration, { minimum: Duration.seconds(1), maximum: Duration.hours(1) }) ||
        "must be between 1 second and 1 hour"
    ))
  ),
  maxStreams: Schema.optional(IntBetween(1, 1000))
})

const sourceRule = "must be a circuit breaker, a circuit breaker registry, or the service key of one"

const BreakerName = Schema.String.check(Schema.makeFilter((name: string) => nameProblem(name, maxNameLength) ?? true))
const NameParams = Schema.Struct({ name: BreakerName })
const ControlParams = Schema.Struct({
  name: BreakerName,
  action: Schema.Literals(["force-open", "disable", "reset", "half-open", "open"])
})
const eventTags: ReadonlyArray<BreakerEventTag> = ["StateChanged", "CallRecorded", "CallRejected"]
const EventsQuery = Schema.Struct({
  events: Schema.optional(
    Schema.String.check(
      Schema.makeFilter((list: string) =>
        (list.length <= 100 && list.split(",").every((tag) => (eventTags as ReadonlyArray<string>).includes(tag))) ||
        `must be a comma-separated list of ${eventTags.join(", ")}`
      )
    )
  )
})

const decodeParams = <A>(schema: Schema.Codec<A, unknown>) => Schema.decodeUnknownResult(schema)
const decodeName = decodeParams(NameParams as Schema.Codec<typeof NameParams.Type, unknown>)
const decodeControl = decodeParams(ControlParams as Schema.Codec<typeof ControlParams.Type, unknown>)
const decodeEvents = decodeParams(EventsQuery as Schema.Codec<typeof EventsQuery.Type, unknown>)
const encodeList = Schema.encodeSync(Schema.toCodecJson(CircuitList))
const encodeView = Schema.encodeSync(Schema.toCodecJson(CircuitView))

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const problem = (
  status: number,
  title: string,
  detail: string,
  members: Readonly<Record<string, unknown>> = {},
  headers: Readonly<Record<string, string>> = {}
) =>
  HttpServerResponse.jsonUnsafe({ type: ProblemDetails.blankType, title, status, detail, ...members }, {
    status,
    contentType: ProblemDetails.contentType,
    headers: { "cache-control": "no-store", ...headers }
  })

const badRequest = (issue: SchemaIssue.Issue) => {
  const issues = formatter(issue).issues.map(({ message, path }) => ({
    field: (path ?? []).map(String).join("."),
    rule: message
  }))
  return problem(400, "Bad Request", issues.map(({ field, rule }) => `${field}: ${rule}`).join("; "), { issues })
}

/** A 400 answer listing broken rules, each with its field (as `badRequest` does for a schema issue). */
const issuesResponse = (issues: ReadonlyArray<ConfigIssue>) =>
  problem(400, "Bad Request", issues.map(({ field, rule }) => `${field}: ${rule}`).join("; "), {
    issues: issues.map(({ field, rule }) => ({ field, rule }))
  })

/**
 * The header a control route (force-open, disable, reset) needs, with a
 * non-empty value. A cross-site form or a simple request cannot carry it,
 * and a cross-origin `fetch` that sets it needs a CORS preflight, which the
 * admin routes do not answer: a page on another site cannot trigger a
 * control route, with or without a token.
 *
 * @example
 * ```ts
 * import { HttpAdmin } from "effect-resilience"
 *
 * // From a dashboard page on the same origin:
 * const reset = (name: string, token: string) =>
 *   fetch(`/admin/resilience/circuits/${encodeURIComponent(name)}/reset`, {
 *     method: "POST",
 *     headers: { authorization: `Bearer ${token}`, [HttpAdmin.controlHeader]: "1" }
 *   })
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const controlHeader = "X-Resilience-Admin"

const controlHeaderKey = controlHeader.toLowerCase()

const forbidden = problem(
  403,
  "Forbidden",
  `A control route needs the header ${controlHeader} (a non-empty value, e.g. "${controlHeader}: 1"): ` +
    `a cross-site form cannot send it.`,
  { header: controlHeader }
)

const json = (body: unknown) => HttpServerResponse.jsonUnsafe(body, { headers: { "cache-control": "no-store" } })

const unauthorized = (verdict: Exclude<Verdict, "ok">) =>
  problem(
    401,
    "Unauthorized",
    verdict === "missing" ? "A bearer token is required." : "The bearer token is not valid.",
    {},
    {
      "www-authenticate": verdict === "missing"
        ? `Bearer realm="effect-resilience"`
        : `Bearer realm="effect-resilience", error="invalid_token"`
    }
  )

/** Resolves the options into the routes' settings, or every broken rule. */
const settingsOf = (options: unknown, context: Context.Context<never>) =>
  Effect.gen(function*() {
    const sources: Array<CircuitSource> = []
    const issues: Array<ConfigIssue> = []
    const decoded = decodeOptions(AdminOptionsSchema, options, "admin route option", "(options)", (valid, invalid) => {
      if (invalid.has("sources") || valid.sources === undefined) return []
      return resolveSources(valid.sources, context, sourceRule, sources)
    })
    if (Result.isFailure(decoded)) issues.push(...decoded.failure)
    // Checked whatever the other options are: every broken rule is reported at once.
    const auth = fieldValue(options, ["auth"])
    let check: ((authorization: string | undefined) => Verdict) | undefined
    if (!issues.some((issue) => issue.field === "auth" || issue.field === "(options)") && auth !== "none") {
      const token = auth === undefined ? Config.Redacted(defaultTokenVariable) : tokenConfigOf(auth)
      if (token === undefined) {
        issues.push(
          new ConfigIssue({ field: "auth", rule: `must be "none" or { token: Config } (a Config of the token)` })
        )
      } else {
        const read = yield* Effect.result(token)
        const value = Result.isSuccess(read)
          ? (Redacted.isRedacted(read.success) ? Redacted.value(read.success) : read.success)
          : undefined
        const rule = Result.isFailure(read)
          ? `could not be read (${read.failure.message}); set it, or say auth: "none" to serve the routes unauthenticated`
          : typeof value !== "string"
          ? "must be a string"
          : tokenProblem(value)
        if (rule !== undefined) issues.push(new ConfigIssue({ field: "auth.token", rule }))
        else check = bearerCheck(value as string)
      }
    }
    if (issues.length > 0 || Result.isFailure(decoded)) {
      return yield* new PolicyConfigError({
        kind: "HttpAdmin",
        policy: "admin",
        issues: issues as [ConfigIssue, ...Array<ConfigIssue>]
      })
    }
    return {
      sources,
      check,
      path: decoded.success.path ?? "/admin/resilience",
      heartbeat: decoded.success.heartbeat ?? Duration.seconds(15),
      maxStreams: decoded.success.maxStreams ?? 5
    }
  })

const tokenConfigOf = (auth: unknown): Config.Config<unknown> | undefined => {
  if (typeof auth !== "object" || auth === null) return undefined
  const token = (auth as { readonly token?: unknown }).token
  return Config.isConfig(token) ? token : undefined
}

/**
 * The admin routes over `sources`. Bad options — a source that is no breaker
 * or registry, a token that is not set or too short, an option out of its
 * range — fail the layer with `PolicyConfigError` (kind `"HttpAdmin"`)
 * naming every field.
 *
 * @example
 * ```ts
 * import { Config, Layer } from "effect"
 * import { CircuitBreakerRegistry, HttpAdmin } from "effect-resilience"
 *
 * const Admin = HttpAdmin.layer({
 *   sources: [CircuitBreakerRegistry.CircuitBreakerRegistry],
 *   auth: { token: Config.Redacted("OPS_TOKEN") },
 *   path: "/ops",
 *   heartbeat: "10 seconds",
 *   maxStreams: 2
 * })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = <const Sources extends ReadonlyArray<Circuits>>(
  options: AdminOptions<Sources>
): Layer.Layer<never, PolicyConfigError, HttpRouter.HttpRouter | Services<Sources[number]>> =>
  HttpRouter.use((router) =>
    Effect.gen(function*() {
      const settings = yield* settingsOf(options, yield* Effect.context<never>())
      const { check, heartbeat, maxStreams, path, sources } = settings
      let streams = 0

      const guarded = (handler: Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpRouter.Provided>) =>
        check === undefined ? handler : Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
          const verdict = check(request.headers["authorization"])
          return verdict === "ok" ? handler : Effect.succeed(unauthorized(verdict))
        })

      /** A control route: authenticated first (401), then the header only a script can set (403). */
      const controlled = (handler: Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpRouter.Provided>) =>
        guarded(Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
          const marker = request.headers[controlHeaderKey]
          return marker === undefined || marker === "" ? Effect.succeed(forbidden) : handler
        }))

      const breakersNamed = (name: string) =>
        Effect.map(Effect.forEach(sources, breakersOf), (lists) => [
          ...new Set(lists.flat().filter((breaker) => breaker.name === name))
        ])

      const withBreaker = (
        name: string,
        use: (breaker: CircuitBreaker) => Effect.Effect<HttpServerResponse.HttpServerResponse>
      ) =>
        Effect.flatMap(breakersNamed(name), (found) =>
          found.length === 1
            ? use(found[0]!)
            : found.length === 0
            ? Effect.succeed(problem(404, "Not Found", `No circuit breaker is named "${name}".`, { breaker: name }))
            : Effect.succeed(problem(
              409,
              "Conflict",
              `${found.length} circuit breakers are named "${name}": give them distinct names to control them.`,
              { breaker: name }
            )))

      const list = Effect.map(
        Effect.forEach(sources, snapshotsOf),
        (lists) => json(encodeList({ circuits: lists.flat().map(fromSnapshot) }))
      )

      const one = Effect.flatMap(HttpRouter.params, (params) => {
        const decoded = decodeName(params)
        if (Result.isFailure(decoded)) return Effect.succeed(badRequest(decoded.failure.issue))
        return withBreaker(decoded.success.name, (breaker) =>
          Effect.map(breaker.snapshot, (snapshot) => json(encodeView(fromSnapshot(snapshot)))))
      })

      const control = Effect.flatMap(HttpRouter.params, (params) => {
        const decoded = decodeControl(params)
        if (Result.isFailure(decoded)) {
          return Effect.succeed(badRequest(decoded.failure.issue))
        }
        const { action, name } = decoded.success
        const after = (breaker: CircuitBreaker) =>
          Effect.map(breaker.snapshot, (snapshot) =>
            json(encodeView(fromSnapshot(snapshot))))
        if (action === "open") {
          return Effect.flatMap(openRequest, (request) =>
            "issues" in request ?
              Effect.succeed(issuesResponse(request.issues)) :
              withBreaker(name, (breaker) =>
                (request.for !== undefined ? breaker.openFor(request.for) : breaker.openUntil(request.until)).pipe(
                  Effect.andThen(after(breaker)),
                  Effect.catchTag("CircuitControlError", (error) =>
                    Effect.succeed(issuesResponse(error.issues.map((issue) =>
                      issue.field === "duration" ? new ConfigIssue({ field: "for", rule: issue.rule }) : issue
                    ))))
                )))
        }
        return withBreaker(name, (breaker) =>
          (action === "force-open"
            ? breaker.forceOpen
            : action === "disable"
            ? breaker.disable
            : action === "half-open"
            ? breaker.halfOpen
            : breaker.reset).pipe(Effect.andThen(after(breaker))))
      })

      const events = Effect.flatMap(HttpServerRequest.ParsedSearchParams, (query) => {
        const decoded = decodeEvents(query)
        if (Result.isFailure(decoded)) {
          return Effect.succeed(badRequest(decoded.failure.issue))
        }
        const tags = new Set(
          (decoded.success.events?.split(",") ?? eventTags) as ReadonlyArray<BreakerEventTag>
        )
        return Effect.suspend(() => {
          if (streams >= maxStreams) {
            return Effect.succeed(problem(
              503,
              "Service Unavailable",
              `At most ${maxStreams} event streams are served at once.`,
              { maxStreams }
            ))
          }
          // Held until the request's scope closes: when the stream ends or its reader goes.
          return Effect.acquireRelease(
            Effect.sync(() => streams++),
            () => Effect.sync(() => streams--)
          ).pipe(
            Effect.as(HttpServerResponse.stream(eventStream(sources, heartbeat, tags), {
              contentType: "text/event-stream",
              headers: { "cache-control": "no-store", "x-accel-buffering": "no" }
            }))
          )
        })
      })

      yield* router.add("GET", `${path}/circuits` as HttpRouter.PathInput, guarded(list))
      yield* router.add("GET", `${path}/circuits/:name` as HttpRouter.PathInput, guarded(one))
      yield* router.add("POST", `${path}/circuits/:name/:action` as HttpRouter.PathInput, controlled(control))
      yield* router.add("GET", `${path}/events` as HttpRouter.PathInput, guarded(events))
    })
  ) as Layer.Layer<never, PolicyConfigError, HttpRouter.HttpRouter | Services<Sources[number]>>
