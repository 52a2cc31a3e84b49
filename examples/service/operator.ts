/**
 * The routes for operators, mounted on every instance beside the API: the
 * live dashboard (`/dashboard`), the circuits' health (`/health/circuits`),
 * the metrics in Prometheus text (`/metrics`) and the admin routes behind a
 * bearer token (`/admin/resilience/...`).
 *
 * Each is one entry of `operatorRoutes`, which both mounts it and names it
 * in the start banner: another operator page is one more entry here.
 */
import { Config, Layer, Redacted } from "effect"
import type { CircuitBreaker, PolicyConfigError, RedisCircuitStore } from "effect-resilience"
import { Dashboard, Health, HttpAdmin } from "effect-resilience"
import type { HttpRouter } from "effect/http"

/** Where the admin routes live. */
export const adminPath = "/admin/resilience"

/** The admin routes' bearer token, and where it came from. */
export interface AdminToken {
  readonly token: Redacted.Redacted<string>
  /** Whether the demo made it up (it prints those), or read it from `RESILIENCE_ADMIN_TOKEN`. */
  readonly generated: boolean
}

/** An operator route: its layer, and the path the banner prints. */
export interface OperatorRoute {
  readonly label: string
  readonly path: string
  readonly layer: Layer.Layer<never, PolicyConfigError, HttpRouter.HttpRouter>
}

/**
 * What the operator routes show of one instance: its breakers, and its
 * policies with state of their own by the circuit they stand beside (the
 * dashboard shows them there).
 */
export interface Observed {
  readonly breakers: ReadonlyArray<CircuitBreaker.CircuitBreaker>
  readonly policies: Readonly<Record<string, ReadonlyArray<Dashboard.ShownPolicy>>>
  /** The Redis store the circuits are shared through, if any: the dashboard shows its whole fleet. */
  readonly fleet?: RedisCircuitStore.RedisCircuitStore["Service"] | undefined
}

/** The operator routes of an instance whose circuits and policies are `observed`. */
export const operatorRoutes = (observed: Observed, admin: AdminToken): ReadonlyArray<OperatorRoute> => {
  const sources = observed.breakers
  return [
    {
      label: "dashboard",
      path: "/dashboard",
      layer: Dashboard.layer({
        sources,
        policies: observed.policies,
        admin: { path: adminPath },
        title: "effect-resilience demo",
        fleet: observed.fleet
      })
    },
    { label: "health", path: "/health/circuits", layer: Health.layerHttp({ sources }) },
    { label: "metrics", path: "/metrics", layer: Health.layerMetricsHttp() },
    {
      label: "admin",
      path: `${adminPath}/circuits`,
      layer: HttpAdmin.layer({ sources, path: adminPath, auth: { token: Config.succeed(admin.token) } })
    }
  ]
}

/** Every operator route, as one router layer. */
export const operatorLayer = (
  routes: ReadonlyArray<OperatorRoute>
): Layer.Layer<never, PolicyConfigError, HttpRouter.HttpRouter> =>
  routes.reduce<Layer.Layer<never, PolicyConfigError, HttpRouter.HttpRouter>>(
    (all, route) => Layer.merge(all, route.layer),
    Layer.empty
  )

/** The token of `RESILIENCE_ADMIN_TOKEN` when it is set (the admin layer validates it), or a new random one. */
export const adminTokenFrom = (variable: string | undefined, random: () => string): AdminToken =>
  variable !== undefined && variable !== ""
    ? { token: Redacted.make(variable), generated: false }
    : { token: Redacted.make(random()), generated: true }
