/**
 * A live dashboard of circuits, served by the library on your `HttpRouter`:
 * one self-contained page (its script and styles, with uPlot for the charts,
 * are in the package: nothing is fetched from elsewhere) and the Server-Sent
 * Events stream that feeds it.
 *
 * | Route | Answer |
 * | --- | --- |
 * | `GET {path}` | the page (`text/html`) |
 * | `GET {path}/assets/{name}` | its script and stylesheet (names carry a hash of their content: cached for good) |
 * | `GET {path}/stream` | `text/event-stream` of `DashboardEvent` |
 *
 * Per circuit the page shows the state and the time in it; the window's
 * calls, failure and slow-call rates; latency percentiles; rejections;
 * probes in flight and the time until the next probe; the last failure; a
 * sparkline of the last minutes and the state timeline; the fleet's view of
 * a circuit shared through Redis (with `fleet`, every circuit of the fleet,
 * its totals and live instances); and the policies you list beside it.
 * Circuits are sorted by severity (open first) and filtered by name. With
 * `admin` (where `HttpAdmin.layer` is mounted), the page offers force open,
 * disable and reset, sending the operator's bearer token.
 *
 * One sampler per dashboard reads every circuit each `interval` and sends
 * one encoded event to every reader; a transition goes out at once. It reads
 * snapshots and observes the breakers (`CircuitBreaker.observe`) without
 * timing their calls (unless `timeCalls`), so the guarded calls do not wait
 * for it. At most `maxStreams` streams run at once (as Hystrix's 5); one
 * more is answered 503.
 *
 * ```ts
 * import { Layer } from "effect"
 * import { CircuitBreaker, CircuitBreakerRegistry, Dashboard, HttpAdmin } from "effect-resilience"
 *
 * class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
 *
 * const Routes = Layer.mergeAll(
 *   // GET /dashboard, with actions through the admin routes (bearer token from RESILIENCE_ADMIN_TOKEN)
 *   Dashboard.layer({
 *     sources: [Payments, CircuitBreakerRegistry.CircuitBreakerRegistry],
 *     admin: { path: "/admin/resilience" }
 *   }),
 *   HttpAdmin.layer({ sources: [Payments, CircuitBreakerRegistry.CircuitBreakerRegistry] })
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { Layer } from "effect"
import { Context, Duration, Effect, Result, Schema } from "effect"
import { HttpRouter, HttpServerResponse, ProblemDetails } from "effect/http"
import { ConfigIssue } from "./ConfigIssue.js"
import type { Circuits, Services } from "./Health.js"
import type { CircuitSource } from "./internal/circuitSources.js"
import { describeSource, resolveSources } from "./internal/circuitSources.js"
import { assets, pageTemplate } from "./internal/dashboardAssets.js"
import { Feed } from "./internal/dashboardFeed.js"
import type { WatchedPolicy } from "./internal/dashboardPolicies.js"
import { isWatchedPolicy, PolicyWatch } from "./internal/dashboardPolicies.js"
import { decodeOptions, nameProblem, unreadable } from "./internal/options.js"
import { durationInput, IntBetween, PathPrefix } from "./internal/schemas.js"
import { maxNameLength } from "./Limits.js"
import { PolicyConfigError } from "./PolicyConfigError.js"
import * as RedisCircuitStore from "./RedisCircuitStore.js"

/**
 * A policy the dashboard can show beside a circuit: a retry, a retry
 * budget, a timeout, a bulkhead, a fallback, a last-known-good cache, a
 * hedge or an adaptive limit (the instances their `make` returns).
 *
 * @category models
 * @since 0.1.0
 */
export type ShownPolicy = WatchedPolicy

/**
 * Where the dashboard lists the fleet's circuits: the Redis store's service
 * key (the store then comes from the layer's context) or the service itself.
 *
 * @category models
 * @since 0.1.0
 */
export type FleetSource = typeof RedisCircuitStore.RedisCircuitStore | RedisCircuitStore.RedisCircuitStore["Service"]

/**
 * The service a `fleet` option needs from the context: the Redis store when
 * given by its key, nothing when given as the service.
 *
 * @category models
 * @since 0.1.0
 */
export type FleetServices<Fleet> = [Fleet] extends [typeof RedisCircuitStore.RedisCircuitStore]
  ? RedisCircuitStore.RedisCircuitStore
  : never

/**
 * The options of `layer`, with their defaults and ranges.
 *
 * @category models
 * @since 0.1.0
 */
export interface DashboardOptions<Sources extends ReadonlyArray<Circuits>> {
  /** The breakers and registries to show (instances or service keys). */
  readonly sources: Sources
  /**
   * Policies shown beside circuits, by circuit name: at most 100 names, 100
   * policies each, 1,000 in all. A name no circuit has still shows its policies.
   */
  readonly policies?: Readonly<Record<string, ReadonlyArray<ShownPolicy>>> | undefined
  /**
   * Where the page lives: a path starting with `/`, without a trailing `/`,
   * `:`, `*` or spaces, of at most 256 characters. Default `"/dashboard"`.
   */
  readonly path?: `/${string}` | undefined
  /**
   * Where `HttpAdmin.layer` is mounted (its `path`, same rules). The page
   * offers force open, disable and reset only with it. Default: no actions.
   */
  readonly admin?: { readonly path: `/${string}` } | undefined
  /** Streams open at once: an integer from 1 to 100. Default 5 (as Hystrix). */
  readonly maxStreams?: number | undefined
  /** How often circuits are sampled and the page updated: 100 milliseconds to 1 minute. Default 1 second. */
  readonly interval?: Duration.Input | undefined
  /**
   * How much history the sparklines show: 10 seconds to 1 hour, and at most
   * 600 intervals. Default 5 minutes.
   */
  readonly history?: Duration.Input | undefined
  /**
   * Time every call of every circuit shown, for latency percentiles (two
   * clock reads per call). Default `false`: latency shows for the breakers
   * that time their calls anyway (a time window, a slow-call rule, or
   * `metrics: { callDurations: true }`).
   */
  readonly timeCalls?: boolean | undefined
  /** Circuits shown at most (a registry's beyond are counted, not shown): 1 to 10,000. Default 1,000. */
  readonly maxCircuits?: number | undefined
  /** The page's title: a non-blank string of at most 100 characters. Default `"Circuits"`. */
  readonly title?: string | undefined
  /** This instance's name, shown beside the fleet's figures: at most 256 characters. Default `"this instance"`. */
  readonly instance?: string | undefined
  /**
   * The Redis store whose fleet the page shows (its service key, or the
   * service): the circuits only other instances have, as rows marked
   * "fleet", and the fleet's totals and live instances in the header. Read
   * with `fleetCircuits` (at most `maxCircuits`) every 5 seconds, or every
   * `interval` when longer, by one poller whatever the number of streams.
   * Default: this instance's circuits only.
   */
  readonly fleet?: FleetSource | undefined
}

/**
 * The defaults of `layer`.
 *
 * @example
 * ```ts
 * import { Dashboard } from "effect-resilience"
 *
 * Dashboard.dashboardDefaults.maxStreams // => 5
 * ```
 *
 * @category defaults
 * @since 0.1.0
 */
export const dashboardDefaults: {
  readonly path: `/${string}`
  readonly maxStreams: number
  readonly interval: Duration.Input
  readonly history: Duration.Input
  readonly maxCircuits: number
  readonly title: string
  readonly instance: string
} = {
  path: "/dashboard",
  maxStreams: 5,
  interval: "1 second",
  history: "5 minutes",
  maxCircuits: 1000,
  title: "Circuits",
  instance: "this instance"
}

/** The most points of history a circuit keeps. */
const maxHistoryPoints = 600

const durationBetween = (minimum: Duration.Duration, maximum: Duration.Duration, rule: string) =>
  durationInput({ allowZero: false }).check(Schema.makeFilter(
    (duration: Duration.Duration) => Duration.between(duration, { minimum, maximum }) || rule
  ))

const textOf = (max: number) => Schema.String.check(Schema.makeFilter((text: string) => nameProblem(text, max) ?? true))

const OptionsSchema = Schema.Struct({
  sources: Schema.Array(Schema.Unknown), // each checked by resolveSource
  policies: Schema.optional(Schema.Unknown), // checked below
  path: Schema.optional(PathPrefix),
  admin: Schema.optional(Schema.Struct({ path: PathPrefix })),
  maxStreams: Schema.optional(IntBetween(1, 100)),
  interval: Schema.optional(
    durationBetween(Duration.millis(100), Duration.minutes(1), "must be between 100 milliseconds and 1 minute")
  ),
  history: Schema.optional(
    durationBetween(Duration.seconds(10), Duration.hours(1), "must be between 10 seconds and 1 hour")
  ),
  timeCalls: Schema.optional(Schema.Boolean),
  maxCircuits: Schema.optional(IntBetween(1, 10_000)),
  title: Schema.optional(textOf(100)),
  instance: Schema.optional(textOf(maxNameLength)),
  fleet: Schema.optional(Schema.Unknown) // checked by fleetOf
})

/** How often the fleet is listed at least: every 5 seconds, or every interval when longer. */
const fleetPeriodMillis = 5000

const fleetRule = "must be the RedisCircuitStore service or its key (RedisCircuitStore.RedisCircuitStore)"

/** The fleet option: the store's service, or the rule it breaks. */
const fleetOf = (
  input: unknown,
  context: Context.Context<never>
): { readonly store: RedisCircuitStore.RedisCircuitStore["Service"] } | { readonly rule: string } | undefined => {
  if (input === undefined) return undefined
  if (input === RedisCircuitStore.RedisCircuitStore) {
    const found = Context.getOption(context, RedisCircuitStore.RedisCircuitStore)
    return found._tag === "Some"
      ? { store: found.value }
      : { rule: "names the RedisCircuitStore service, which the layer's context does not provide" }
  }
  if (
    typeof input === "object" && input !== null && "fleetCircuits" in input &&
    typeof input.fleetCircuits === "function"
  ) return { store: input as RedisCircuitStore.RedisCircuitStore["Service"] }
  return { rule: `${fleetRule} (got ${describeSource(input)})` }
}

const sourceRule = "must be a circuit breaker, a circuit breaker registry, or the service key of one"
const policyRule = "must be a retry, retry budget, timeout, bulkhead, fallback, last-known-good cache or hedge"

/** The policies option: every policy to watch, or the rules it breaks. */
const policiesOf = (input: unknown): { readonly watches: Array<PolicyWatch>; readonly issues: Array<ConfigIssue> } => {
  const watches: Array<PolicyWatch> = []
  const issues: Array<ConfigIssue> = []
  if (input === undefined) return { watches, issues }
  try {
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      issues.push(new ConfigIssue({ field: "policies", rule: "must be a record of policy lists by circuit name" }))
      return { watches, issues }
    }
    const entries = Object.entries(input)
    if (entries.length > 100) {
      issues.push(
        new ConfigIssue({ field: "policies", rule: `must name at most 100 circuits (got ${entries.length})` })
      )
      return { watches, issues }
    }
    for (const [circuit, list] of entries) {
      const field = `policies.${circuit.slice(0, 64)}`
      const nameIssue = nameProblem(circuit, maxNameLength)
      if (nameIssue !== undefined) issues.push(new ConfigIssue({ field, rule: `its name ${nameIssue}` }))
      if (!Array.isArray(list) || list.length > 100) {
        issues.push(new ConfigIssue({ field, rule: "must be an array of at most 100 policies" }))
        continue
      }
      list.forEach((policy: unknown, i) => {
        if (isWatchedPolicy(policy)) watches.push(new PolicyWatch(circuit, policy))
        else {issues.push(
            new ConfigIssue({ field: `${field}.${i}`, rule: `${policyRule} (got ${describeSource(policy)})` })
          )}
      })
    }
    if (watches.length > 1000) {
      issues.push(
        new ConfigIssue({ field: "policies", rule: `must list at most 1000 policies (got ${watches.length})` })
      )
    }
  } catch (thrown) {
    issues.push(new ConfigIssue({ field: "policies", rule: unreadable(thrown) }))
  }
  return { watches, issues }
}

/** Resolves the options, or fails with every broken rule. */
const settingsOf = (options: unknown, context: Context.Context<never>) => {
  const sources: Array<CircuitSource> = []
  let policies: Array<PolicyWatch> = []
  let fleet = undefined as RedisCircuitStore.RedisCircuitStore["Service"] | undefined
  const decoded = decodeOptions(OptionsSchema, options, "dashboard option", "(options)", (valid, invalid) => {
    const found: Array<ConfigIssue> = []
    if (!invalid.has("sources") && valid.sources !== undefined) {
      found.push(...resolveSources(valid.sources, context, sourceRule, sources))
    }
    if (!invalid.has("policies")) {
      const checked = policiesOf(valid.policies)
      policies = checked.watches
      found.push(...checked.issues)
    }
    if (!invalid.has("fleet")) {
      try {
        const checked = fleetOf(valid.fleet, context)
        if (checked !== undefined && "rule" in checked) {
          found.push(new ConfigIssue({ field: "fleet", rule: checked.rule }))
        } else fleet = checked?.store
      } catch (thrown) {
        found.push(new ConfigIssue({ field: "fleet", rule: unreadable(thrown) }))
      }
    }
    if (!invalid.has("interval") && !invalid.has("history")) {
      const interval = valid.interval ?? Duration.fromInputUnsafe(dashboardDefaults.interval)
      const history = valid.history ?? Duration.fromInputUnsafe(dashboardDefaults.history)
      const points = Math.ceil(Duration.toMillis(history) / Duration.toMillis(interval))
      if (points > maxHistoryPoints) {
        found.push(
          new ConfigIssue({
            field: "history",
            rule: `must be at most ${maxHistoryPoints} intervals (got ${points}): shorten it or lengthen the interval`
          })
        )
      }
    }
    return found
  })
  if (Result.isFailure(decoded)) {
    return Effect.fail(
      new PolicyConfigError({
        kind: "Dashboard",
        policy: "dashboard",
        issues: decoded.failure as [ConfigIssue, ...Array<ConfigIssue>]
      })
    )
  }
  const valid = decoded.success
  const interval = valid.interval ?? Duration.fromInputUnsafe(dashboardDefaults.interval)
  const history = valid.history ?? Duration.fromInputUnsafe(dashboardDefaults.history)
  return Effect.succeed({
    sources,
    policies,
    path: valid.path ?? dashboardDefaults.path,
    adminPath: valid.admin?.path ?? null,
    maxStreams: valid.maxStreams ?? dashboardDefaults.maxStreams,
    interval,
    historyPoints: Math.ceil(Duration.toMillis(history) / Duration.toMillis(interval)),
    timeCalls: valid.timeCalls ?? false,
    maxCircuits: valid.maxCircuits ?? dashboardDefaults.maxCircuits,
    title: valid.title ?? dashboardDefaults.title,
    instance: valid.instance ?? dashboardDefaults.instance,
    fleet
  })
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const problem = (status: number, title: string, detail: string, members: Readonly<Record<string, unknown>> = {}) =>
  HttpServerResponse.jsonUnsafe({ type: ProblemDetails.blankType, title, status, detail, ...members }, {
    status,
    contentType: ProblemDetails.contentType,
    headers: { "cache-control": "no-store" }
  })

/** The page may load its own script and styles, and talk to its own origin: nothing else. */
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/**
 * The dashboard's routes over `sources`. Bad options — a source that is no
 * breaker or registry, a policy of a kind the dashboard cannot show, an
 * option out of its range — fail the layer with `PolicyConfigError` (kind
 * `"Dashboard"`) naming every field. The sampler starts with the layer and
 * ends with it.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Bulkhead, CircuitBreaker, Dashboard, Retry } from "effect-resilience"
 *
 * class Inventory extends CircuitBreaker.Service<Inventory>()("inventory") {}
 *
 * const Page = Layer.unwrap(Effect.gen(function*() {
 *   const retry = yield* Retry.make({ name: "inventory" })
 *   const bulkhead = yield* Bulkhead.make({ name: "inventory", maxConcurrent: 10 })
 *   return Dashboard.layer({
 *     sources: [Inventory],
 *     policies: { inventory: [retry, bulkhead] },
 *     path: "/ops/dashboard",
 *     interval: "2 seconds",
 *     history: "10 minutes"
 *   })
 * }))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = <
  const Sources extends ReadonlyArray<Circuits>,
  const Fleet extends FleetSource | undefined = undefined
>(
  options: DashboardOptions<Sources> & { readonly fleet?: Fleet }
): Layer.Layer<
  never,
  PolicyConfigError,
  HttpRouter.HttpRouter | Services<Sources[number]> | FleetServices<Fleet>
> =>
  HttpRouter.use((router) =>
    Effect.gen(function*() {
      const settings = yield* settingsOf(options, yield* Effect.context<never>())
      const { maxStreams, path } = settings
      const feed = yield* Feed.start({
        sources: settings.sources,
        policies: settings.policies,
        interval: settings.interval,
        historyPoints: settings.historyPoints,
        timeCalls: settings.timeCalls,
        maxCircuits: settings.maxCircuits,
        fleet: settings.fleet === undefined ? undefined : {
          list: settings.fleet.fleetCircuits({ maxCircuits: settings.maxCircuits }),
          period: Duration.max(settings.interval, Duration.millis(fleetPeriodMillis))
        },
        page: {
          intervalMillis: Duration.toMillis(settings.interval),
          historyPoints: settings.historyPoints,
          adminPath: settings.adminPath,
          title: settings.title,
          instance: settings.instance,
          maxCircuits: settings.maxCircuits
        }
      })
      let streams = 0

      const files = new Map(assets.map((asset) => [asset.name, asset]))
      const html = pageTemplate
        .replaceAll("{{title}}", escapeHtml(settings.title))
        .replaceAll("{{base}}", escapeHtml(path))
      const page = HttpServerResponse.text(html, {
        contentType: "text/html; charset=utf-8",
        headers: {
          "cache-control": "no-store",
          "content-security-policy": contentSecurityPolicy,
          "x-content-type-options": "nosniff",
          "referrer-policy": "no-referrer"
        }
      })

      const asset = Effect.map(HttpRouter.params, (params) => {
        const file = files.get(params["name"] ?? "")
        if (file === undefined) return problem(404, "Not Found", "No such dashboard asset.")
        return HttpServerResponse.text(file.body, {
          contentType: file.contentType,
          headers: { "cache-control": "public, max-age=31536000, immutable", "x-content-type-options": "nosniff" }
        })
      })

      const stream = Effect.suspend(() => {
        if (streams >= maxStreams) {
          return Effect.succeed(
            problem(503, "Service Unavailable", `At most ${maxStreams} dashboard streams are served at once.`, {
              maxStreams
            })
          )
        }
        // Held until the request's scope closes: when the reader goes.
        return Effect.acquireRelease(Effect.sync(() => streams++), () => Effect.sync(() => streams--)).pipe(
          Effect.as(HttpServerResponse.stream(feed.stream, {
            contentType: "text/event-stream",
            headers: { "cache-control": "no-store", "x-accel-buffering": "no" }
          }))
        )
      })

      yield* router.add("GET", path as HttpRouter.PathInput, Effect.succeed(page))
      yield* router.add("GET", `${path}/assets/:name` as HttpRouter.PathInput, asset)
      yield* router.add("GET", `${path}/stream` as HttpRouter.PathInput, stream)
    })
  ) as Layer.Layer<
    never,
    PolicyConfigError,
    HttpRouter.HttpRouter | Services<Sources[number]> | FleetServices<Fleet>
  >
