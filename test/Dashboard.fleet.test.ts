/**
 * The dashboard's fleet view (`fleet` option): circuits that only other
 * instances sharing the Redis store's prefix have are listed from the
 * store, with the fleet's figures, and the header's totals cover every
 * circuit of the fleet.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Logger, Queue, Schema, Scope, Stream } from "effect"
import { Sse } from "effect/encoding"
import { HttpClient, HttpClientRequest } from "effect/http"
import { TestClock } from "effect/testing"
import type { CircuitBreaker, PolicyConfigError } from "../src/index.js"
import { Dashboard, DashboardEvent, RedisCircuitStore } from "../src/index.js"
import { serve } from "./httpServer.js"
import { failure } from "./policyHelpers.js"
import { failing, instance, send } from "./redis/fleet.js"
import { redisAvailable, redisServer } from "./redis/server.js"

const decodeData = Schema.decodeUnknownSync(Schema.fromJsonString(DashboardEvent.DashboardEvent))

/** The stream's events, decoded, as they come. */
const openStream = Effect.gen(function*() {
  const client = HttpClient.withScope(yield* HttpClient.HttpClient)
  const events = yield* Queue.unbounded<DashboardEvent.DashboardEvent>()
  const connection = yield* Scope.make()
  const response = yield* client.execute(HttpClientRequest.get("/dashboard/stream")).pipe(Scope.provide(connection))
  yield* response.stream.pipe(
    Stream.decodeText,
    Stream.pipeThroughChannel(Sse.decode()),
    Stream.runForEach((event) => Queue.offer(events, decodeData(event.data))),
    Effect.forkIn(connection)
  )
  return { events, close: Scope.close(connection, Exit.void) }
})

describe("Dashboard: the fleet option", () => {
  it.effect("is checked: neither a store nor its key, or a key the context does not provide, names the field", () =>
    Effect.gen(function*() {
      const wrong = failure(
        yield* Effect.exit(
          Layer.build(serve(Dashboard.layer({ sources: [], fleet: 5 as unknown as Dashboard.FleetSource })))
        )
      ) as PolicyConfigError
      expect(wrong.issues.map((issue) => [issue.field, issue.rule])).toEqual([
        ["fleet", expect.stringMatching(/must be the RedisCircuitStore service or its key/)]
      ])
      // Given as its key, with no store in the context (the type says it is needed: cast away here).
      const withoutStore = serve(Dashboard.layer({ sources: [], fleet: RedisCircuitStore.RedisCircuitStore }))
      const missing = failure(
        yield* Effect.exit(Layer.build(withoutStore as unknown as Layer.Layer<never, PolicyConfigError>))
      ) as PolicyConfigError
      expect(missing.issues[0]).toMatchObject({ field: "fleet", rule: expect.stringMatching(/does not provide/) })
    }))

  it.effect.skipIf(!redisAvailable)(
    "lists the circuits only other instances have, with the fleet's figures, and totals over the whole fleet",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const here = yield* instance(server.url, { name: "alpha", minimumCalls: 100 })
        const there = yield* instance(server.url, { name: "beta", minimumCalls: 100 })
        yield* here.breaker.execute(Effect.void)
        for (let n = 0; n < 3; n++) yield* there.breaker.execute(Effect.void)
        yield* Effect.exit(there.breaker.execute(failing))
        yield* TestClock.adjust("100 millis")
        yield* here.store.sync
        yield* there.store.sync
        // Another program's key under the prefix: skipped, counted.
        yield* send(server.url, "SET", "effect-resilience:circuit:{junk}", "x")

        yield* Layer.build(
          serve(Dashboard.layer({ sources: [here.breaker], fleet: RedisCircuitStore.RedisCircuitStore })).pipe(
            Layer.provide(Layer.succeedContext(here.context))
          )
        ).pipe(
          Effect.flatMap((context) => openStream.pipe(Effect.provide(context))),
          Effect.flatMap(({ close, events }) =>
            Effect.gen(function*() {
              let listing: DashboardEvent.FleetListing | null = null
              for (let n = 0; n < 20 && listing === null; n++) {
                const event = yield* Queue.take(events)
                if (event._tag === "Init" || event._tag === "Tick") listing = event.fleet
                if (listing === null && event._tag !== "Changed") yield* TestClock.adjust("1 second")
              }
              expect(listing).not.toBeNull()
              expect(listing!.circuits).toEqual([{
                name: "beta",
                state: "Closed",
                calls: 4,
                failures: 1,
                slowCalls: 0,
                failureRate: 0.25,
                slowCallRate: 0,
                consecutiveOpenings: 0
              }])
              expect(listing!.totals).toEqual({ circuits: 2, notClosed: 0, calls: 5, failures: 1, slowCalls: 0 })
              expect(listing!).toMatchObject({ instances: 2, skipped: 1, complete: true, error: null })
            }).pipe(Effect.ensuring(close))
          )
        )
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )
})

// A type-level check: given as the key, the dashboard needs the store from its context.
export const needsTheStore: Layer.Layer<never, unknown, RedisCircuitStore.RedisCircuitStore | unknown> = Dashboard
  .layer({ sources: [] as ReadonlyArray<CircuitBreaker.CircuitBreaker>, fleet: RedisCircuitStore.RedisCircuitStore })
