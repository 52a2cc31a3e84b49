/**
 * The demo service's own endpoints, each calling one upstream through the
 * toolkit:
 *
 * - `POST /checkout?sku=...`: reserves the item at the inventory (201);
 * - `GET /products/:id`: the product from the catalog, or from the
 *   last-known-good cache while the catalog fails (`x-served-from: cache`);
 * - `GET /search?q=...`: hits from the search upstream, hedged.
 *
 * The library's errors become problem responses (`HttpProblem.layer`): an
 * open circuit is 503 + `Retry-After`, a full bulkhead 503, a timeout 504.
 * An upstream's bad answer is a 502, a bad query a 400. The storefront
 * reads (product and search) share one load-shedding bulkhead, so a
 * saturated storefront sheds reads at once while checkout keeps its
 * capacity.
 */
import type { Schema as SchemaNs } from "effect"
import { Duration, Effect, Layer, Random, Schema } from "effect"
import type { Bulkhead, PolicyConfigError } from "effect-resilience"
import { HttpLoadShedding, HttpProblem } from "effect-resilience"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import type { Clients, UpstreamFailed } from "./clients.js"

/** The header that says where a product came from: `upstream` or `cache`. */
export const servedFromHeader = "x-served-from"

const Sku = Schema.String.check(Schema.isPattern(/^[a-z0-9-]{1,32}$/))
const ProductId = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9-]{1,32}$/))
const Query = Schema.String.check(Schema.isPattern(/^[a-z ]{1,64}$/))

const problem = (status: number, title: string, detail: string, members: Record<string, unknown> = {}) =>
  HttpServerResponse.jsonUnsafe(
    { type: "about:blank", title, status, detail, ...members },
    { status, contentType: "application/problem+json", headers: { "cache-control": "no-store" } }
  )

const badRequest = (error: SchemaNs.SchemaError) => Effect.succeed(problem(400, "Bad Request", error.message))

const badGateway = (error: UpstreamFailed) =>
  Effect.succeed(problem(502, "Bad Gateway", error.detail, { upstream: error.upstream }))

/** The three endpoints over `clients`; `storefront` sheds the reads while it is full. */
export const apiRoutes = (
  clients: Clients,
  storefront: Bulkhead.Bulkhead
): Layer.Layer<never, PolicyConfigError, HttpRouter.HttpRouter> => {
  const checkout = HttpRouter.add(
    "POST",
    "/checkout",
    Effect.gen(function*() {
      const { sku } = yield* HttpServerRequest.schemaSearchParams(Schema.Struct({ sku: Sku }))
      const orderId = `o-${(yield* Random.nextInt).toString(36)}`
      const { reservation } = yield* clients.reserve(sku, orderId)
      return HttpServerResponse.jsonUnsafe({ order: orderId, sku, reservation }, { status: 201 })
    }).pipe(Effect.catchTags({ SchemaError: badRequest, UpstreamFailed: badGateway }))
  )

  const product = HttpRouter.add(
    "GET",
    "/products/:id",
    Effect.gen(function*() {
      const { id } = yield* HttpRouter.schemaPathParams(Schema.Struct({ id: ProductId }))
      const served = yield* clients.product(id)
      return served._tag === "Fresh"
        ? HttpServerResponse.jsonUnsafe(served.value, { headers: { [servedFromHeader]: "upstream" } })
        : HttpServerResponse.jsonUnsafe(served.value, {
          headers: { [servedFromHeader]: "cache", age: String(Math.floor(Duration.toSeconds(served.age))) }
        })
    }).pipe(Effect.catchTags({ SchemaError: badRequest, UpstreamFailed: badGateway }))
  )

  const search = HttpRouter.add(
    "GET",
    "/search",
    Effect.gen(function*() {
      const { q } = yield* HttpServerRequest.schemaSearchParams(Schema.Struct({ q: Query }))
      return HttpServerResponse.jsonUnsafe(yield* clients.search(q))
    }).pipe(Effect.catchTags({ SchemaError: badRequest, UpstreamFailed: badGateway }))
  )

  return Layer.mergeAll(
    checkout,
    Layer.mergeAll(product, search).pipe(Layer.provide(HttpLoadShedding.layer(storefront)))
  ).pipe(Layer.provide(HttpProblem.layer()))
}
