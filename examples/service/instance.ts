/**
 * One instance of the demo service: its clients (breakers and policies,
 * under the context's circuit store), its API and operator routes, served
 * by Effect's `NodeHttpServer` on localhost — on the port asked for, or on a
 * free one when that port is taken.
 */
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import type { Scope } from "effect"
import { Effect, Layer, Metric, Option } from "effect"
import type { CircuitBreakerConfigError, PolicyConfigError } from "effect-resilience"
import { Bulkhead, Metrics, RedisCircuitStore } from "effect-resilience"
import { HttpRouter, HttpServer } from "effect/http"
import type { HttpServerError } from "effect/http"
import { createServer } from "node:http"
import { apiRoutes } from "./api.js"
import type { Clients } from "./clients.js"
import { makeClients } from "./clients.js"
import type { AdminToken, OperatorRoute } from "./operator.js"
import { operatorLayer, operatorRoutes } from "./operator.js"
import type { Upstreams } from "./upstreams.js"

/** A running instance. */
export interface Instance {
  /** 1, 2, 3...: the order the instances were started in. */
  readonly index: number
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly clients: Clients
  /** The storefront's load-shedding bulkhead (product and search). */
  readonly storefront: Bulkhead.Bulkhead
  readonly operatorRoutes: ReadonlyArray<OperatorRoute>
}

/** How to start an instance. */
export interface InstanceOptions {
  readonly index: number
  readonly upstreams: Upstreams
  /** The port to try first; 0 for any free port. */
  readonly port: number
  /** Scales the story's times (see `makeClients`). */
  readonly pace: number
  readonly admin: AdminToken
}

const isAddressInUse = (error: HttpServerError.ServeError): boolean =>
  typeof error.cause === "object" && error.cause !== null && "code" in error.cause &&
  error.cause.code === "EADDRINUSE"

/** A server listening on `port` on localhost, or on a free port when `port` is taken. */
const listen = (port: number) => {
  const make = (at: number) =>
    NodeHttpServer.make(() => createServer(), {
      port: at,
      host: "127.0.0.1",
      // Callers still waiting at shutdown are cut after this long: a demo should stop at once.
      gracefulShutdownTimeout: "1 second"
    })
  return make(port).pipe(
    Effect.catchTag("ServeError", (error) => port !== 0 && isAddressInUse(error) ? make(0) : Effect.fail(error))
  )
}

/**
 * Starts an instance for the current scope. Its breakers share circuits
 * through the context's circuit store; its metrics go to a registry of its
 * own, so that each instance's `/metrics` is its own.
 */
export const startInstance = (
  options: InstanceOptions
): Effect.Effect<
  Instance,
  PolicyConfigError | CircuitBreakerConfigError | HttpServerError.ServeError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const httpClient = yield* Layer.build(NodeHttpClient.layerUndici)
    const clients = yield* makeClients(options.upstreams, options.pace).pipe(Effect.provideContext(httpClient))
    const storefront = yield* Bulkhead.make({ name: "storefront", maxConcurrent: 16 })
    const { inventoryBudget, productCache, searchBulkhead } = clients.policies
    const routes = operatorRoutes({
      breakers: clients.breakers,
      policies: {
        inventory: [inventoryBudget],
        catalog: [productCache],
        search: [searchBulkhead],
        storefront: [storefront]
      },
      // With REDIS_URL, the dashboard lists the fleet's circuits through the instance's store.
      fleet: Option.getOrUndefined(yield* Effect.serviceOption(RedisCircuitStore.RedisCircuitStore))
    }, options.admin)
    const server = yield* listen(options.port)
    yield* Layer.build(
      HttpRouter.serve(Layer.mergeAll(apiRoutes(clients, storefront), operatorLayer(routes)), {
        disableLogger: true,
        disableListenLog: true
      }).pipe(Layer.provide(Layer.succeed(HttpServer.HttpServer, server)))
    )
    return {
      index: options.index,
      url: HttpServer.formatAddress(server.address),
      clients,
      storefront,
      operatorRoutes: routes
    }
  }).pipe(
    // Every breaker and policy reports its metrics (to this instance's registry).
    Effect.provide(Metrics.layer),
    Effect.provideService(Metric.MetricRegistry, new Map())
  )
