/**
 * The load generator: calls the service's endpoints at a steady rate, with
 * a bound on the requests in flight, and counts how each request ended (see
 * `Stats`). With several instances it spreads the requests over them in
 * turn, as a load balancer would.
 */
import type { Scope } from "effect"
import { Duration, Effect, FiberSet, Ref, Schedule, Schema, Semaphore } from "effect"
import type { HttpClientResponse } from "effect/http"
import { HttpClient, HttpClientRequest } from "effect/http"
import { servedFromHeader } from "./api.js"
import type { Endpoint, Outcome, Stats } from "./stats.js"

/** How hard to drive the service. */
export interface LoadOptions {
  /** The instances' base URLs, called in turn. */
  readonly targets: ReadonlyArray<string>
  /** Requests started per second. */
  readonly ratePerSecond: number
  /** Requests in flight at most; a tick that finds them all taken starts none. */
  readonly maxInFlight: number
  readonly stats: Stats
}

/** The endpoints in the order the ticks call them: half product, a quarter each checkout and search. */
const rotation: ReadonlyArray<Endpoint> = ["product", "checkout", "product", "search"]
const skus = ["sku-1", "sku-2", "sku-3", "sku-4", "sku-5"]
const products = ["p-1", "p-2", "p-3", "p-4", "p-5", "p-6", "p-7", "p-8"]
const queries = ["lamp", "chair", "desk", "sofa", "rug"]

const requestFor = (endpoint: Endpoint, base: string, n: number): HttpClientRequest.HttpClientRequest => {
  switch (endpoint) {
    case "checkout":
      return HttpClientRequest.post(`${base}/checkout`, { urlParams: { sku: skus[n % skus.length]! } })
    case "product":
      return HttpClientRequest.get(`${base}/products/${products[n % products.length]!}`)
    case "search":
      return HttpClientRequest.get(`${base}/search`, { urlParams: { q: queries[n % queries.length]! } })
  }
}

const ProblemMembers = Schema.Struct({
  breaker: Schema.optional(Schema.String),
  bulkhead: Schema.optional(Schema.String)
})

/** How a response ended, as the caller sees it. */
export const outcomeOf = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<Outcome> => {
  if (response.status >= 200 && response.status < 300) {
    return Effect.succeed(response.headers[servedFromHeader] === "cache" ? "fallback" : "success")
  }
  if (response.status !== 503) return Effect.succeed("error")
  // A 503 says in its problem document whether a circuit or a bulkhead answered.
  return response.json.pipe(
    Effect.flatMap(Schema.decodeUnknownEffect(ProblemMembers)),
    Effect.map((members): Outcome => members.bulkhead !== undefined ? "shed" : "open"),
    Effect.orElseSucceed((): Outcome => "open")
  )
}

/** Drives the service until interrupted; the requests in flight end with the scope. */
export const runLoad = (
  options: LoadOptions
): Effect.Effect<never, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const inFlight = yield* Semaphore.make(options.maxInFlight)
    const requests = yield* FiberSet.make<void, never>()
    const counter = yield* Ref.make(0)

    const call = (endpoint: Endpoint, request: HttpClientRequest.HttpClientRequest) =>
      client.execute(request).pipe(
        Effect.flatMap(outcomeOf),
        // No request of the generator may outlive a few seconds, whatever the service does.
        Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.succeed<Outcome>("error") }),
        Effect.orElseSucceed((): Outcome => "error"),
        Effect.flatMap((outcome) => options.stats.record(endpoint, outcome)),
        Effect.scoped
      )

    const tick = Effect.gen(function*() {
      const n = yield* Ref.getAndUpdate(counter, (k) => k + 1)
      const endpoint = rotation[n % rotation.length]!
      const target = options.targets[n % options.targets.length]!
      const taken = yield* Semaphore.takeIfAvailable(inFlight, 1)
      if (!taken) return
      yield* FiberSet.run(
        requests,
        call(endpoint, requestFor(endpoint, target, Math.floor(n / rotation.length))).pipe(
          Effect.ensuring(Semaphore.release(inFlight, 1))
        )
      )
    })

    const interval = Duration.millis(Math.max(1, Math.round(1000 / options.ratePerSecond)))
    return yield* Effect.repeat(tick, Schedule.fixed(interval)).pipe(Effect.andThen(Effect.never))
  })
