import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Queue, Schema, Scope, Stream } from "effect"
import { Sse } from "effect/encoding"
import { HttpClient, HttpClientRequest } from "effect/http"
import { TestClock } from "effect/testing"
import type { PolicyConfigError } from "../src/index.js"
import {
  AdaptiveLimit,
  Bulkhead,
  CircuitBreaker,
  CircuitBreakerRegistry,
  Dashboard,
  DashboardEvent,
  Retry
} from "../src/index.js"
import { assets } from "../src/internal/dashboardAssets.js"
import { boom } from "./helpers.js"
import { get, serve } from "./httpServer.js"
import { failure } from "./policyHelpers.js"

class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
class Search extends CircuitBreaker.Service<Search>()("search") {}
const Tenants = CircuitBreakerRegistry.CircuitBreakerRegistry

const Breakers = Layer.mergeAll(
  Payments.layer({ consecutiveFailures: 1, openDuration: "30 seconds" }),
  // A slow-call rule: this breaker times its calls, so its latency shows without `timeCalls`.
  Search.layer({ consecutiveFailures: 5, slowCallDuration: "1 second", slowCallRate: 0.9 }),
  CircuitBreakerRegistry.layer({ name: "tenants", config: (tenant) => ({ name: tenant, consecutiveFailures: 1 }) })
)

const dashboard = (options: Partial<Dashboard.DashboardOptions<ReadonlyArray<never>>> = {}) =>
  serve(Dashboard.layer({ sources: [Payments, Search, Tenants], ...options })).pipe(Layer.provideMerge(Breakers))

const decodeData = Schema.decodeUnknownSync(Schema.fromJsonString(DashboardEvent.DashboardEvent))

/** Opens the stream; its events arrive decoded in `events`; `close` hangs up. */
const openStream = (path = "/dashboard/stream") =>
  Effect.gen(function*() {
    const client = HttpClient.withScope(yield* HttpClient.HttpClient)
    const events = yield* Queue.unbounded<DashboardEvent.DashboardEvent>()
    const connection = yield* Scope.make()
    const response = yield* client.execute(HttpClientRequest.get(path)).pipe(Scope.provide(connection))
    if (response.status === 200) {
      yield* response.stream.pipe(
        Stream.decodeText,
        Stream.pipeThroughChannel(Sse.decode()),
        Stream.runForEach((event) => Queue.offer(events, decodeData(event.data))),
        Effect.forkIn(connection)
      )
    }
    return { response, events, close: Scope.close(connection, Exit.void) }
  })

const next = <Tag extends DashboardEvent.DashboardEvent["_tag"]>(
  events: Queue.Queue<DashboardEvent.DashboardEvent>,
  tag: Tag
) =>
  Effect.gen(function*() {
    while (true) {
      const event = yield* Queue.take(events)
      if (event._tag === tag) return event as Extract<DashboardEvent.DashboardEvent, { _tag: Tag }>
    }
  })

describe("Dashboard: mounting", () => {
  it.effect("refuses bad options, naming every field and rule", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Layer.build(serve(Dashboard.layer({
        sources: [5 as never],
        policies: { payments: [{ kind: "Retry" } as never] },
        path: "dashboard" as never,
        admin: { path: "/admin/" as never },
        maxStreams: 0,
        interval: "10 millis",
        maxCircuits: 20_000,
        title: " "
      }))))
      const error = failure(exit) as PolicyConfigError
      expect(error.kind).toBe("Dashboard")
      expect(error.issues.map((issue) => issue.field).sort()).toEqual([
        "admin.path",
        "interval",
        "maxCircuits",
        "maxStreams",
        "path",
        "policies.payments.0",
        "sources.0",
        "title"
      ])
      const history = failure(
        yield* Effect.exit(
          Layer.build(serve(Dashboard.layer({ sources: [], interval: "1 second", history: "1 hour" })))
        )
      ) as PolicyConfigError
      expect(history.issues[0]?.field).toBe("history")
      expect(history.issues[0]?.rule).toMatch(/at most 600 intervals \(got 3600\)/)
    }))

  it.effect("serves the page, its assets (for good, by hashed name) and a 404 for anything else", () =>
    Effect.gen(function*() {
      const page = yield* get("/ops/dashboard")
      expect(page.status).toBe(200)
      expect(page.headers["content-type"]).toBe("text/html; charset=utf-8")
      expect(page.headers["content-security-policy"]).toMatch(/default-src 'none'; script-src 'self'/)
      const html = String(page.body)
      expect(html).toContain(`<title>Ops &#60;live&#62;</title>`)
      for (const asset of assets) {
        expect(html).toContain(`/ops/dashboard/assets/${asset.name}`)
        const served = yield* get(`/ops/dashboard/assets/${asset.name}`)
        expect(served.status).toBe(200)
        expect(served.headers["cache-control"]).toBe("public, max-age=31536000, immutable")
        expect(served.headers["content-type"]).toBe(asset.contentType)
      }
      expect((yield* get("/ops/dashboard/assets/nothing.js")).status).toBe(404)
    }).pipe(Effect.provide(dashboard({ path: "/ops/dashboard", title: "Ops <live>" }))))
})

describe("Dashboard: the stream", () => {
  it.effect("starts with every circuit, ticks every interval with what the calls did, and sends transitions at once", () =>
    Effect.gen(function*() {
      const payments = yield* Payments
      const search = yield* Search
      yield* (yield* Tenants).execute(Effect.void, "acme")
      const stream = yield* openStream()
      expect(stream.response.headers["content-type"]).toBe("text/event-stream")
      const init = yield* next(stream.events, "Init")
      expect(init.settings).toMatchObject({ intervalMillis: 1000, historyPoints: 300, adminPath: null })
      // The registry's key is found at the next tick (a registry is scanned every interval).
      expect(init.circuits.map((c) => c.name).sort()).toEqual(["payments", "search"])

      yield* payments.execute(Effect.void)
      yield* payments.execute(Effect.void)
      yield* search.execute(Effect.sleep("20 millis")).pipe(Effect.forkChild({ startImmediately: true }))
      yield* TestClock.adjust("1 second")
      const tick = yield* next(stream.events, "Tick")
      const names = new Map(tick.circuits.map((c) => [c.name, c]))
      expect([...names.keys()].sort()).toEqual(["acme", "payments", "search"])
      expect(tick.points[String(names.get("payments")!.id)]).toEqual([2, 0, 0, 0, -1, -1])
      // search timed its call (slow-call rule): 20 ms; payments does not time its calls: no latency.
      expect(tick.points[String(names.get("search")!.id)]!.slice(4)).toEqual([20, 20])
      expect(names.get("search")!.latency).toMatchObject({ p50: 20, p99: 20, samples: 1 })
      expect(names.get("payments")!.latency).toBeNull()

      // A trip is sent at once, without waiting for the next tick.
      yield* Effect.exit(payments.execute(boom))
      const changed = yield* next(stream.events, "Changed")
      expect(changed.transitions).toMatchObject([{ from: "Closed", to: "Open", reason: "ConsecutiveFailures" }])
      expect(changed.circuits[0]).toMatchObject({ name: "payments", state: "Open", sinceExact: true })
      expect(changed.circuits[0]!.nextProbeAt).toBe(changed.circuits[0]!.since + 30_000)
      expect(changed.circuits[0]!.lastFailure?.tag).toBe("Boom")
      yield* Effect.exit(payments.execute(Effect.void)) // rejected
      yield* TestClock.adjust("1 second")
      const after = yield* next(stream.events, "Tick")
      const paymentsNow = after.circuits.find((c) => c.name === "payments")!
      expect(after.points[String(paymentsNow.id)]).toEqual([1, 1, 0, 1, -1, -1])
      expect(paymentsNow.rejected).toBe(1)
      yield* stream.close
    }).pipe(Effect.provide(dashboard())))

  it.effect("a new reader gets the history (bounded) and the timeline at once", () =>
    Effect.gen(function*() {
      const payments = yield* Payments
      for (let i = 0; i < 15; i++) {
        yield* payments.execute(Effect.void)
        yield* TestClock.adjust("1 second")
      }
      yield* Effect.exit(payments.execute(boom))
      const stream = yield* openStream()
      const init = yield* next(stream.events, "Init")
      const id = init.circuits.find((c) => c.name === "payments")!.id
      // 10 seconds of history at 1 second: the 10 last points, each with its one call.
      expect(init.history[String(id)]).toHaveLength(10)
      expect(init.history[String(id)]!.every((point) => point[0] === 1)).toBe(true)
      expect(init.timelines[String(id)]).toMatchObject([{ from: "Closed", to: "Open" }])
      yield* stream.close
    }).pipe(Effect.provide(dashboard({ history: "10 seconds" }))))

  it.effect("serves at most maxStreams streams at once: one more is a 503 problem document", () =>
    Effect.gen(function*() {
      const first = yield* openStream()
      yield* next(first.events, "Init")
      const second = yield* openStream()
      yield* next(second.events, "Init")
      const third = yield* openStream()
      expect(third.response.status).toBe(503)
      expect(third.response.headers["content-type"]).toBe("application/problem+json")
      yield* third.close
      yield* first.close
      // The server hears the hang-up through its socket.
      let again = yield* openStream()
      for (let i = 0; i < 50 && again.response.status !== 200; i++) {
        yield* again.close
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10))) // real clock: socket close is an I/O event
        again = yield* openStream()
      }
      expect(again.response.status).toBe(200)
      yield* again.close
      yield* second.close
    }).pipe(Effect.provide(dashboard({ maxStreams: 2 }))))

  it.effect("shows the policies beside their circuit: retries, bulkhead occupancy and rejections, an adaptive limit", () =>
    Effect.gen(function*() {
      const retry = yield* Retry.make({ name: "payments", retries: 2, baseDelay: "10 millis", jitter: false })
      const bulkhead = yield* Bulkhead.make({ name: "payments", maxConcurrent: 1 })
      const limit = yield* AdaptiveLimit.make({ name: "payments", initialLimit: 1, minLimit: 1, maxLimit: 4 })
      const body = Effect.gen(function*() {
        const stream = yield* openStream()
        yield* next(stream.events, "Init")
        const failing = yield* Effect.exit(Retry.retry(Effect.fail("nope"), retry)).pipe(Effect.forkChild)
        yield* TestClock.adjust("100 millis")
        yield* Fiber.join(failing)
        const held = yield* Bulkhead.withBulkhead(Effect.never, bulkhead).pipe(
          Effect.forkChild({ startImmediately: true })
        )
        yield* Effect.exit(Bulkhead.withBulkhead(Effect.void, bulkhead))
        // The limit: a 40 ms good call, a drop, then one call held while another is rejected.
        yield* AdaptiveLimit.withLimit(Effect.sleep("40 millis"), limit).pipe(
          Effect.forkChild({ startImmediately: true })
        )
        yield* TestClock.adjust("40 millis")
        yield* Effect.exit(AdaptiveLimit.withLimit(Effect.fail("down"), limit))
        const limited = yield* AdaptiveLimit.withLimit(Effect.never, limit).pipe(
          Effect.forkChild({ startImmediately: true })
        )
        yield* Effect.exit(AdaptiveLimit.withLimit(Effect.void, limit))
        yield* TestClock.adjust("1 second")
        const tick = yield* next(stream.events, "Tick")
        const shown = new Map(tick.policies.map((p) => [p.kind, p]))
        expect(shown.get("Retry")).toMatchObject({ circuit: "payments", figures: { retries: 2, gaveUp: 1 } })
        expect(shown.get("Bulkhead")?.figures).toMatchObject({ running: 1, maxConcurrent: 1, rejected: 1 })
        expect(shown.get("AdaptiveLimit")).toMatchObject({
          circuit: "payments",
          name: "payments",
          figures: {
            limit: 1,
            inFlight: 1,
            minLimit: 1,
            maxLimit: 4,
            drops: 1,
            dropsTotal: 1,
            rejected: 1,
            rejectedTotal: 1,
            successesTotal: 1,
            recentRttMillis: 40
          }
        })
        // The next interval counts afresh; the totals stay.
        yield* Effect.exit(AdaptiveLimit.withLimit(Effect.void, limit))
        yield* TestClock.adjust("1 second")
        const later = yield* next(stream.events, "Tick")
        expect(later.policies.find((p) => p.kind === "AdaptiveLimit")?.figures).toMatchObject({
          drops: 0,
          dropsTotal: 1,
          rejected: 1,
          rejectedTotal: 2
        })
        yield* Fiber.interrupt(held)
        yield* Fiber.interrupt(limited)
        yield* stream.close
      })
      yield* body.pipe(Effect.provide(dashboard({ policies: { payments: [retry, bulkhead, limit] } })))
    }))

  it.effect("timeCalls: every watched breaker times its calls, so latency shows for all", () =>
    Effect.gen(function*() {
      const stream = yield* openStream()
      yield* next(stream.events, "Init")
      yield* (yield* Payments).execute(Effect.sleep("7 millis")).pipe(Effect.forkChild({ startImmediately: true }))
      yield* TestClock.adjust("1 second")
      const tick = yield* next(stream.events, "Tick")
      expect(tick.circuits.find((c) => c.name === "payments")!.latency).toMatchObject({ p50: 7, samples: 1 })
      yield* stream.close
    }).pipe(Effect.provide(dashboard({ timeCalls: true }))))
})
