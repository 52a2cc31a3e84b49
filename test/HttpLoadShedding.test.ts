import { describe, expect, it } from "@effect/vitest"
import { Context, Data, Deferred, Duration, Effect, Exit, Fiber, Layer, Schema } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { TestClock } from "effect/testing"
import { AdaptiveLimit, Bulkhead, HttpLoadShedding, HttpProblem } from "../src/index.js"
import { get, send, serve } from "./httpServer.js"

/** A route whose handler counts its starts and waits for `release`; `started` is told of each start. */
const slowRoute = (
  path: `/${string}`,
  counter: { starts: number },
  started: Deferred.Deferred<void>,
  release: Deferred.Deferred<void>
) =>
  HttpRouter.add(
    "POST",
    path,
    Effect.gen(function*() {
      counter.starts++
      yield* Deferred.succeed(started, undefined)
      yield* Deferred.await(release)
      return HttpServerResponse.text("done")
    })
  )

class HandlerFailed extends Data.TaggedError("HandlerFailed") {}

describe("HttpLoadShedding", () => {
  it.effect("a full route group answers 503 + Retry-After at once, before its handler starts; a free slot lets the next in", () =>
    Effect.gen(function*() {
      const counter = { starts: 0 }
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const Group = Layer.mergeAll(
        slowRoute("/export", counter, started, release),
        slowRoute("/import", counter, started, release)
      ).pipe(Layer.provide(HttpLoadShedding.layer({ name: "batch", maxConcurrent: 1 })))
      yield* Effect.gen(function*() {
        const first = yield* Effect.forkChild(send("POST", "/export"))
        yield* Deferred.await(started)
        // The other route of the group shares the bulkhead: shed without running its handler.
        const shed = yield* send("POST", "/import")
        expect(shed.status).toBe(503)
        expect(shed.headers["retry-after"]).toBe("1")
        expect(shed.headers["content-type"]).toBe("application/problem+json")
        expect(Schema.decodeUnknownSync(HttpProblem.BulkheadFullProblem)(shed.body)).toMatchObject({
          bulkhead: "batch",
          reason: "QueueFull",
          retryAfter: 1
        })
        expect(counter.starts).toBe(1)
        yield* Deferred.succeed(release, undefined)
        expect((yield* Fiber.join(first)).status).toBe(200)
        expect((yield* send("POST", "/import")).status).toBe(200)
        expect(counter.starts).toBe(2)
      }).pipe(Effect.provide(serve(Group)))
    }))

  it.effect("a bulkhead service and status 429; a BulkheadFullError of the handler's own is not shed but passes on", () =>
    Effect.gen(function*() {
      class Checkout extends Bulkhead.Service<Checkout>()("checkout") {}
      const inner = new Bulkhead.BulkheadFullError({
        bulkhead: "ledger",
        reason: "QueueFull",
        maxConcurrent: 2,
        maxQueued: 0
      })
      const counter = { starts: 0 }
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const Routes = Layer.mergeAll(
        slowRoute("/pay", counter, started, release),
        HttpRouter.add("GET", "/ledger", Effect.fail(inner))
      ).pipe(
        Layer.provide(HttpLoadShedding.layer(Checkout, { status: 429, retryAfter: "1500 millis" })),
        Layer.provide(Checkout.layer({ maxConcurrent: 1 }))
      )
      yield* Effect.gen(function*() {
        // The handler's own BulkheadFullError is its business: without HttpProblem, the server's 500.
        expect((yield* get("/ledger")).status).toBe(500)
        const first = yield* Effect.forkChild(send("POST", "/pay"))
        yield* Deferred.await(started)
        const shed = yield* get("/ledger")
        expect(shed.status).toBe(429)
        expect(shed.headers["retry-after"]).toBe("2")
        expect(shed.body).toMatchObject({ title: "Too Many Requests", bulkhead: "checkout" })
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(first)
      }).pipe(Effect.provide(serve(Routes)))
    }))

  it.effect("bad options fail the layer with PolicyConfigError naming the field", () =>
    Effect.gen(function*() {
      const build = (layer: Layer.Layer<never, unknown>) =>
        Effect.exit(
          Layer.build(serve(HttpRouter.add("GET", "/", HttpServerResponse.empty()).pipe(Layer.provide(layer))))
        )
      const cases: ReadonlyArray<readonly [Layer.Layer<never, unknown>, string, RegExp]> = [
        [HttpLoadShedding.layer({ maxConcurrent: 0 }), "maxConcurrent", /between 1 and 100000/],
        [HttpLoadShedding.layer({}, { status: 500 as never }), "status", /503 \| 429/],
        [HttpLoadShedding.layer({}, { retryAfter: "soon" as never }), "retryAfter", /duration/],
        [HttpLoadShedding.layer(7 as never), "bulkhead", /must be a bulkhead.*\(got 7\)/]
      ]
      for (const [layer, field, rule] of cases) {
        const exit = yield* build(layer)
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isSuccess(exit)) continue
        const error = exit.cause.reasons[0]
        expect(error?._tag).toBe("Fail")
        const issues = (error as unknown as { error: { issues: ReadonlyArray<{ field: string; rule: string }> } }).error
          .issues
        expect(issues[0]?.field).toBe(field)
        expect(issues[0]?.rule).toMatch(rule)
      }
    }))

  it.live("a slot is given back when the handler fails, dies, or its client disconnects", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const Group = Layer.mergeAll(
        HttpRouter.add("GET", "/die", Effect.die("boom")),
        HttpRouter.add("GET", "/fail", Effect.fail(new HandlerFailed())),
        HttpRouter.add("GET", "/hang", Effect.andThen(Deferred.succeed(started, undefined), Effect.never)),
        HttpRouter.add("GET", "/ok", HttpServerResponse.text("ok"))
      ).pipe(Layer.provide(HttpLoadShedding.layer({ name: "group", maxConcurrent: 1 })))
      yield* Effect.gen(function*() {
        expect((yield* get("/die")).status).toBe(500)
        expect((yield* get("/fail")).status).toBe(500)
        expect((yield* get("/ok")).status).toBe(200)
        const hanging = yield* Effect.forkChild(get("/hang"))
        yield* Deferred.await(started)
        expect((yield* get("/ok")).status).toBe(503)
        yield* Fiber.interrupt(hanging)
        let status = 503
        for (let attempt = 0; attempt < 50 && status === 503; attempt++) {
          yield* Effect.sleep("10 millis") // real clock: the server hears of the hang-up through its socket
          status = (yield* get("/ok")).status
        }
        expect(status).toBe(200)
      }).pipe(Effect.provide(serve(Group)))
    }))

  it.effect("an adaptive limit sheds at once 503 + Retry-After from its hint, before the handler starts; a slot frees for the next", () =>
    Effect.gen(function*() {
      // A limit held at 1, so that the second request in flight is beyond it.
      const limit = yield* AdaptiveLimit.make({ name: "orders", initialLimit: 1, minLimit: 1, maxLimit: 1, window: 1 })
      const counter = { starts: 0 }
      let started = yield* Deferred.make<void>()
      let release = yield* Deferred.make<void>()
      const Routes = HttpRouter.add(
        "POST",
        "/orders",
        Effect.gen(function*() {
          counter.starts++
          yield* Deferred.succeed(started, undefined)
          yield* Deferred.await(release)
          return HttpServerResponse.text("done")
        })
      ).pipe(Layer.provide(HttpLoadShedding.layer(limit)))
      yield* Effect.gen(function*() {
        const first = yield* Effect.forkChild(send("POST", "/orders"))
        yield* Deferred.await(started)
        const shed = yield* send("POST", "/orders")
        expect(shed.status).toBe(503)
        // No round trip measured yet: the hint is one second.
        expect(shed.headers["retry-after"]).toBe("1")
        expect(shed.headers["content-type"]).toBe("application/problem+json")
        expect(Schema.decodeUnknownSync(HttpProblem.ConcurrencyLimitProblem)(shed.body)).toMatchObject({
          policy: "orders",
          limit: 1,
          inFlight: 1,
          retryAfter: 1
        })
        expect(counter.starts).toBe(1)
        // The first request takes 2.5 simulated seconds: the limit's hint becomes its round trip.
        yield* TestClock.adjust("2500 millis")
        yield* Deferred.succeed(release, undefined)
        expect((yield* Fiber.join(first)).status).toBe(200)
        started = yield* Deferred.make<void>()
        release = yield* Deferred.make<void>()
        const second = yield* Effect.forkChild(send("POST", "/orders"))
        yield* Deferred.await(started)
        const hinted = yield* send("POST", "/orders")
        expect(hinted.status).toBe(503)
        expect(hinted.headers["retry-after"]).toBe("3")
        expect(counter.starts).toBe(2)
        yield* Deferred.succeed(release, undefined)
        expect((yield* Fiber.join(second)).status).toBe(200)
        expect(yield* limit.snapshot).toMatchObject({ inFlight: 0, successes: 2, drops: 0, rejections: 2 })
      }).pipe(Effect.provide(serve(Routes)))
    }))

  it.live("with an adaptive limit a 5xx response, a failure or a defect is one drop, a 4xx a success, a disconnect nothing; each gives its slot back", () =>
    Effect.gen(function*() {
      const limit = yield* AdaptiveLimit.make({ name: "api", initialLimit: 1, minLimit: 1, maxLimit: 1 })
      const started = yield* Deferred.make<void>()
      const Routes = Layer.mergeAll(
        HttpRouter.add("GET", "/unavailable", HttpServerResponse.text("down", { status: 503 })),
        HttpRouter.add("GET", "/fail", Effect.fail(new HandlerFailed())),
        HttpRouter.add("GET", "/die", Effect.die("boom")),
        HttpRouter.add("GET", "/missing", HttpServerResponse.text("no such order", { status: 404 })),
        HttpRouter.add("GET", "/hang", Effect.andThen(Deferred.succeed(started, undefined), Effect.never)),
        HttpRouter.add("GET", "/ok", HttpServerResponse.text("ok"))
      ).pipe(Layer.provide(HttpLoadShedding.layer(limit)))
      yield* Effect.gen(function*() {
        const unavailable = yield* get("/unavailable")
        // The handler's own response reaches the client unchanged.
        expect(unavailable.status).toBe(503)
        expect(unavailable.body).toBe("down")
        expect(yield* limit.snapshot).toMatchObject({ drops: 1, successes: 0, inFlight: 0 })
        expect((yield* get("/fail")).status).toBe(500)
        expect((yield* get("/die")).status).toBe(500)
        expect(yield* limit.snapshot).toMatchObject({ drops: 3, successes: 0, inFlight: 0 })
        expect((yield* get("/missing")).status).toBe(404)
        expect((yield* get("/ok")).status).toBe(200)
        expect(yield* limit.snapshot).toMatchObject({ drops: 3, successes: 2, ignored: 0, inFlight: 0 })
        const hanging = yield* Effect.forkChild(get("/hang"))
        yield* Deferred.await(started)
        expect((yield* get("/ok")).status).toBe(503)
        yield* Fiber.interrupt(hanging)
        let snapshot = yield* limit.snapshot
        for (let attempt = 0; attempt < 50 && snapshot.inFlight > 0; attempt++) {
          yield* Effect.sleep("10 millis") // real clock: the server hears of the hang-up through its socket
          snapshot = yield* limit.snapshot
        }
        expect(snapshot).toMatchObject({ inFlight: 0, drops: 3, successes: 2, ignored: 1, rejections: 1 })
        expect((yield* get("/ok")).status).toBe(200)
      }).pipe(Effect.provide(serve(Routes)))
    }))

  it.effect("an adaptive limit by its service key; the handler's own limit rejection passes on; options it cannot honour fail the layer", () =>
    Effect.gen(function*() {
      class OrdersLimit extends Context.Service<OrdersLimit, AdaptiveLimit.AdaptiveLimit>()("test/OrdersLimit") {}
      const inner = new AdaptiveLimit.ConcurrencyLimitExceededError({
        policy: "inventory",
        limit: 4,
        inFlight: 4,
        retryAfter: Duration.seconds(2)
      })
      const Routes = HttpRouter.add("GET", "/stock", Effect.fail(inner)).pipe(
        Layer.provide(HttpLoadShedding.layer(OrdersLimit)),
        Layer.provide(AdaptiveLimit.layerAs(OrdersLimit, { name: "orders" }))
      )
      yield* Effect.gen(function*() {
        // Not this layer's rejection: without HttpProblem, the server's 500.
        expect((yield* get("/stock")).status).toBe(500)
      }).pipe(Effect.provide(serve(Routes)))

      const limit = yield* AdaptiveLimit.make({ name: "orders" })
      const cases = [
        [HttpLoadShedding.layer(limit, { status: 429 }), "status", /must be 503 with an adaptive limit/],
        [HttpLoadShedding.layer(limit, { retryAfter: "2 seconds" }), "retryAfter", /the limit's own hint/]
      ] as const
      for (const [layer, field, rule] of cases) {
        const exit = yield* Effect.exit(
          Layer.build(serve(HttpRouter.add("GET", "/", HttpServerResponse.empty()).pipe(Layer.provide(layer))))
        )
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isSuccess(exit)) continue
        const error = exit.cause.reasons[0] as unknown as {
          error: { issues: ReadonlyArray<{ field: string; rule: string }> }
        }
        expect(error.error.issues[0]?.field).toBe(field)
        expect(error.error.issues[0]?.rule).toMatch(rule)
      }
    }))
})
