/**
 * A real service for the browser suites: breakers, a registry and policies
 * behind the dashboard and the admin routes, on a localhost port of its own
 * (kept across a restart, as a redeployed service keeps its address).
 */
import { NodeHttpServer } from "@effect/platform-node"
import { ConfigProvider, Effect, Exit, Layer, Scope } from "effect"
import { HttpRouter } from "effect/http"
import { createServer } from "node:http"
import {
  AdaptiveLimit,
  Bulkhead,
  CircuitBreaker,
  CircuitBreakerRegistry,
  Dashboard,
  HttpAdmin,
  Retry
} from "../../src/index.js"

export const adminToken = "browser-test-admin-token-0123456789"

export interface ServiceOptions {
  readonly port: number
  /** Named breakers (each trips after three failures in a row). */
  readonly breakers: ReadonlyArray<string>
  /** Keys made in a registry at start. */
  readonly keys?: number
  /** Breakers failed once at start (so they are open). */
  readonly tripped?: ReadonlyArray<string>
  /** Calls every breaker every 50 ms (1 in 8 failing, a few ms each) until the service stops. */
  readonly traffic?: boolean
}

export interface Service {
  readonly url: string
  readonly stop: () => Promise<void>
}

/** Starts the service; resolves once it listens. */
export const startService = async (options: ServiceOptions): Promise<Service> => {
  const scope = Effect.runSync(Scope.make())
  const routes = Layer.unwrap(Effect.gen(function*() {
    const breakers = yield* Effect.forEach(options.breakers, (name) =>
      CircuitBreaker.make({
        name,
        consecutiveFailures: 3,
        openDuration: "1 minute",
        slowCallDuration: "1 second",
        logTransitions: false
      }))
    const registry = yield* CircuitBreakerRegistry.make({
      name: "tenants",
      config: (key) => ({ name: key, consecutiveFailures: 1, logTransitions: false }),
      maxBreakers: 2_000
    })
    for (let i = 0; i < (options.keys ?? 0); i++) {
      yield* registry.execute(Effect.succeed(i), `tenant-${String(i).padStart(4, "0")}`)
    }
    for (const breaker of breakers) {
      yield* breaker.execute(Effect.succeed("ok"))
      if (options.tripped?.includes(breaker.name)) {
        for (let i = 0; i < 3; i++) yield* Effect.exit(breaker.execute(Effect.fail("upstream down")))
      }
    }
    if (options.traffic === true) {
      let n = 0
      const call = (breaker: CircuitBreaker.CircuitBreaker) =>
        Effect.exit(breaker.execute(
          Effect.sleep(`${2 + (n++ % 7) * 3} millis`).pipe(
            Effect.andThen(n % 8 === 0 ? Effect.fail("timeout from upstream") : Effect.succeed("ok"))
          )
        ))
      yield* Effect.forEach(breakers, call, { concurrency: "unbounded", discard: true }).pipe(
        Effect.andThen(Effect.sleep("50 millis")), // real clock: traffic for screenshots
        Effect.forever,
        Effect.forkScoped
      )
    }
    const retry = yield* Retry.make({ name: breakers[0]?.name ?? "retry", retries: 2 })
    const bulkhead = yield* Bulkhead.make({ name: breakers[0]?.name ?? "bulkhead", maxConcurrent: 10 })
    const limit = yield* AdaptiveLimit.make({ name: breakers[0]?.name ?? "limit", initialLimit: 12, maxLimit: 50 })
    const sources = [...breakers, registry]
    return Layer.mergeAll(
      Dashboard.layer({
        sources,
        policies: breakers.length > 0 ? { [breakers[0]!.name]: [retry, bulkhead, limit] } : {},
        admin: { path: "/admin" },
        interval: "200 millis",
        history: "1 minute",
        maxCircuits: 2_000,
        title: "Browser test"
      }),
      HttpAdmin.layer({ sources, path: "/admin" })
    )
  }))
  const app = HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }).pipe(
    // A graceful shutdown waits for open requests, a dashboard's stream among them (20 s by default):
    // this service stops as a redeploy that does not wait for them.
    Layer.provide(
      NodeHttpServer.layer(createServer, {
        port: options.port,
        host: "127.0.0.1",
        gracefulShutdownTimeout: "100 millis"
      })
    ),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ RESILIENCE_ADMIN_TOKEN: adminToken })))
  )
  await Effect.runPromise(Layer.build(app).pipe(Scope.provide(scope)))
  return {
    url: `http://127.0.0.1:${options.port}`,
    stop: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
