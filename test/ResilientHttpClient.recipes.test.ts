import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Schema } from "effect"
import { HttpClient, HttpClientRequest, HttpClientResponse } from "effect/http"
import { TestClock } from "effect/testing"
import { LastKnownGood, ResilientHttpClient } from "../src/index.js"
import { scripted } from "./http/scripted.js"

// The recipes of docs/http.md, run as written (the context's HttpClient is an in-memory one answering
// from a script, under TestClock).

describe("docs/http.md: a payment gateway with a cached fallback", () => {
  // As in docs/http.md, but for returning the two functions instead of calling them.
  const PaymentMethods = Schema.Struct({ cards: Schema.Array(Schema.String) })
  type PaymentMethods = typeof PaymentMethods.Type

  const recipe = Effect.gen(function*() {
    const gateway = yield* ResilientHttpClient.make(yield* HttpClient.HttpClient, {
      breaker: { failureRate: 0.5, minimumCalls: 20, openDuration: "30 seconds", maxOpenDuration: "5 minutes" },
      retry: { retries: 2, baseDelay: "200 millis" },
      timeout: "3 seconds",
      deadline: "8 seconds"
    })
    const saved = yield* LastKnownGood.make<PaymentMethods>()({
      name: "payment-methods",
      ttl: "1 hour",
      on: ["CircuitOpenError", "TimeoutError", "HttpClientError"]
    })

    const paymentMethods = (customer: string) =>
      gateway.get(`https://payments.example.com/customers/${customer}/methods`).pipe(
        Effect.flatMap(HttpClientResponse.filterStatusOk),
        Effect.flatMap(HttpClientResponse.schemaBodyJson(PaymentMethods)),
        Effect.catchTag("SchemaError", Effect.die),
        saved.serve(customer) // Fresh, or Stale with its age while the gateway is down
      )

    const charge = (orderId: string, cents: number) =>
      HttpClientRequest.post("https://payments.example.com/charges").pipe(
        HttpClientRequest.setHeader("Idempotency-Key", `charge-${orderId}`),
        HttpClientRequest.bodyJsonUnsafe({ orderId, cents }),
        gateway.execute
      )
    return { paymentMethods, charge }
  })

  it.effect("a 503 with a JSON error body serves the cached methods (Stale), not a defect", () =>
    Effect.gen(function*() {
      const gatewayUpstream = scripted({ status: 200, body: `{"cards":["visa"]}` })
      const { paymentMethods } = yield* recipe.pipe(
        Effect.provideService(HttpClient.HttpClient, gatewayUpstream.client)
      )
      expect((yield* paymentMethods("c-42"))._tag).toBe("Fresh")
      gatewayUpstream.script({ status: 503, body: `{"error":"gateway unavailable"}` })
      const fiber = yield* Effect.forkChild(Effect.exit(paymentMethods("c-42")))
      yield* TestClock.adjust("2 seconds") // the two retries' backoff
      const exit = yield* Fiber.join(fiber)
      expect(Exit.isSuccess(exit) ? exit.value : Cause.pretty((exit as Exit.Failure<unknown, unknown>).cause))
        .toMatchObject({ _tag: "Stale", value: { cards: ["visa"] } })
      expect(gatewayUpstream.calls).toHaveLength(4) // one fresh read, then an attempt and two retries
    }).pipe(Effect.scoped))

  it.effect("a charge carries its Idempotency-Key and is retried through a 503", () =>
    Effect.gen(function*() {
      const gatewayUpstream = scripted({ status: 503 }, { status: 201 })
      const { charge } = yield* recipe.pipe(Effect.provideService(HttpClient.HttpClient, gatewayUpstream.client))
      const fiber = yield* Effect.forkChild(charge("o-1", 1999))
      yield* TestClock.adjust("2 seconds")
      expect((yield* Fiber.join(fiber)).status).toBe(201)
      expect(gatewayUpstream.calls).toEqual([
        "POST https://payments.example.com/charges",
        "POST https://payments.example.com/charges"
      ])
    }).pipe(Effect.scoped))
})
