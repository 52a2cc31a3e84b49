/**
 * The admin routes of an operator's timed transitions: open a circuit for a
 * while (`?for=`, `?until=`, or a JSON body) and half-open it now, validated,
 * behind the same token and header as every control route.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Schema } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { CircuitBreaker, HttpAdmin, HttpAdminEvent } from "../src/index.js"
import { send, serve } from "./httpServer.js"

const token = "s3cret-admin-token-0123456789"
const auth = { authorization: `Bearer ${token}` }
const controlAuth = { ...auth, "x-resilience-admin": "1" }

class Payments extends CircuitBreaker.Service<Payments>()("payments") {}

const admin = serve(HttpAdmin.layer({ sources: [Payments] })).pipe(
  Layer.provideMerge(Payments.layer({ consecutiveFailures: 1, openDuration: "30 seconds" })),
  Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ RESILIENCE_ADMIN_TOKEN: token })))
)

const view = (body: unknown) => Schema.decodeUnknownSync(HttpAdminEvent.CircuitView)(body)

/** `POST path` with a body (sent as JSON unless told otherwise). */
const post = (path: string, body: string, headers: Record<string, string> = controlAuth) =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    client.execute(
      HttpClientRequest.post(path).pipe(
        HttpClientRequest.setHeaders(headers),
        HttpClientRequest.bodyText(body, "application/json")
      )
    ).pipe(
      Effect.flatMap((response) =>
        Effect.map(response.text, (text) => ({ status: response.status, body: JSON.parse(text) as unknown }))
      ),
      Effect.scoped
    ))

const path = "/admin/resilience/circuits/payments"

describe("HttpAdmin: timed transitions", () => {
  it.effect("open?for= opens for the duration; the view shows the time left and the reason", () =>
    Effect.gen(function*() {
      const payments = yield* Payments
      const opened = yield* send("POST", `${path}/open?for=90s`, controlAuth)
      expect(opened.status).toBe(200)
      expect(view(opened.body)).toMatchObject({ state: "Open", retryAfterMillis: 90_000, openReason: "ManualOpen" })
      expect(yield* payments.state).toBe("Open")
      const halfOpen = yield* send("POST", `${path}/half-open`, controlAuth)
      expect(view(halfOpen.body)).toMatchObject({ state: "HalfOpen" })
      const until = yield* send("POST", `${path}/open?until=${new Date(60_000).toISOString()}`, controlAuth)
      expect(view(until.body)).toMatchObject({ state: "Open", retryAfterMillis: 60_000 })
      const millis = yield* send("POST", `${path}/open?until=1500`, controlAuth)
      expect(view(millis.body)).toMatchObject({ state: "Open", retryAfterMillis: 1500 })
    }).pipe(Effect.provide(admin)))

  it.effect("a JSON body says it too: { for } or { until }", () =>
    Effect.gen(function*() {
      const payments = yield* Payments
      expect(view((yield* post(`${path}/open`, JSON.stringify({ for: "2 minutes" }))).body)).toMatchObject({
        state: "Open",
        retryAfterMillis: 120_000
      })
      expect(view((yield* post(`${path}/open`, JSON.stringify({ for: 500 }))).body).retryAfterMillis).toBe(500)
      expect(view((yield* post(`${path}/open`, JSON.stringify({ until: 7000 }))).body).retryAfterMillis).toBe(7000)
      expect(yield* payments.state).toBe("Open")
    }).pipe(Effect.provide(admin)))

  it.effect("a missing, doubled, unknown or out-of-range opening is a 400 naming the field, and changes nothing", () =>
    Effect.gen(function*() {
      const payments = yield* Payments
      const cases: ReadonlyArray<
        readonly [Effect.Effect<{ status: number; body: unknown }, unknown, HttpClient.HttpClient>, string, RegExp]
      > = [
        [send("POST", `${path}/open`, controlAuth), "for", /exactly one of for/],
        [send("POST", `${path}/open?for=30s&until=5000`, controlAuth), "for", /exactly one of for/],
        [send("POST", `${path}/open?for=30s&for=40s`, controlAuth), "for", /given once/],
        [send("POST", `${path}/open?for=0s`, controlAuth), "for", /at least 1 millisecond/],
        [send("POST", `${path}/open?for=soon`, controlAuth), "for", /duration such as/],
        [send("POST", `${path}/open?for=30d`, controlAuth), "for", /at most 2147483647 milliseconds/],
        [send("POST", `${path}/open?until=0`, controlAuth), "until", /must be in the future/],
        [send("POST", `${path}/open?until=tomorrow`, controlAuth), "until", /ISO 8601/],
        [post(`${path}/open?for=30s`, JSON.stringify({ for: "30s" })), "for", /given once/],
        [post(`${path}/open`, JSON.stringify({ fro: "30s" })), "fro", /not a field of an opening/],
        [post(`${path}/open`, "[1, 2]"), "(body)", /JSON object/],
        [post(`${path}/open`, "{ not json"), "(body)", /JSON object/],
        [post(`${path}/open`, JSON.stringify({ for: "x".repeat(5000) })), "(body)", /at most 4096 bytes/]
      ]
      for (const [request, field, rule] of cases) {
        const answer = yield* request
        expect(answer.status).toBe(400)
        const issues = (answer.body as { issues: ReadonlyArray<{ field: string; rule: string }> }).issues
        expect(issues.map((issue) => issue.field)).toContain(field)
        expect(issues.find((issue) => issue.field === field)!.rule).toMatch(rule)
        expect(yield* payments.state).toBe("Closed")
      }
    }).pipe(Effect.provide(admin)))

  it.effect("open and half-open need the token and the X-Resilience-Admin header, like every control route", () =>
    Effect.gen(function*() {
      const payments = yield* Payments
      expect((yield* send("POST", `${path}/open?for=30s`)).status).toBe(401)
      expect((yield* send("POST", `${path}/open?for=30s`, auth)).status).toBe(403)
      expect((yield* send("POST", `${path}/half-open`, auth)).status).toBe(403)
      expect(yield* payments.state).toBe("Closed")
    }).pipe(Effect.provide(admin)))
})
