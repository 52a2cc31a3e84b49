import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Exit, Layer, Queue, Schema, Scope, Stream } from "effect"
import { Sse } from "effect/encoding"
import { HttpClient, HttpClientRequest } from "effect/http"
import { TestClock } from "effect/testing"
import type { CircuitOpenError, PolicyConfigError } from "../src/index.js"
import {
  CircuitBreaker,
  CircuitBreakerRegistry,
  Health,
  HttpAdmin,
  HttpAdminEvent,
  ResilientHttpClient
} from "../src/index.js"
import { boom } from "./helpers.js"
import { scripted } from "./http/scripted.js"
import { get, send, serve } from "./httpServer.js"
import { failure } from "./policyHelpers.js"

const token = "s3cret-admin-token-0123456789"
const auth = { authorization: `Bearer ${token}` }
/** What a control route needs beside the token: the header a cross-site form cannot send. */
const controlAuth = { ...auth, "x-resilience-admin": "1" }

class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
class Duplicate extends CircuitBreaker.Service<Duplicate>()("acme") {}
const Tenants = CircuitBreakerRegistry.CircuitBreakerRegistry

const Breakers = Layer.mergeAll(
  Payments.layer({ consecutiveFailures: 1, openDuration: "30 seconds" }),
  CircuitBreakerRegistry.layer({ name: "tenants", config: (tenant) => ({ name: tenant, consecutiveFailures: 1 }) }),
  Duplicate.layer()
)

const withToken = (env: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromUnknown(env))

/** The admin routes over payments and the tenants registry, token from the configuration. */
const admin = (options: Partial<HttpAdmin.AdminOptions<ReadonlyArray<never>>> = {}) =>
  serve(HttpAdmin.layer({ sources: [Payments, Tenants], ...options })).pipe(
    Layer.provideMerge(Breakers),
    Layer.provide(withToken({ RESILIENCE_ADMIN_TOKEN: token }))
  )

const view = (body: unknown) => Schema.decodeUnknownSync(HttpAdminEvent.CircuitView)(body)

/** Opens the event stream; its SSE events arrive in `events`; `close` hangs up. */
const openStream = (path = "/admin/resilience/events", headers: Record<string, string> = auth) =>
  Effect.gen(function*() {
    // Scoped: closing the scope aborts the request, as a reader that goes does.
    const client = HttpClient.withScope(yield* HttpClient.HttpClient)
    const events = yield* Queue.unbounded<Sse.Event>()
    const connection = yield* Scope.make()
    const response = yield* client.execute(HttpClientRequest.get(path).pipe(HttpClientRequest.setHeaders(headers)))
      .pipe(
        Scope.provide(connection)
      )
    yield* response.stream.pipe(
      Stream.decodeText,
      Stream.pipeThroughChannel(Sse.decode()),
      Stream.runForEach((event) => Queue.offer(events, event)),
      Effect.forkIn(connection)
    )
    return { response, events, close: Scope.close(connection, Exit.void) }
  })

const decodeData = Schema.decodeUnknownSync(Schema.fromJsonString(HttpAdminEvent.StreamEvent))

/** The next event of `tag` (others skipped), decoded. */
const next = <Tag extends HttpAdminEvent.StreamEvent["_tag"]>(events: Queue.Queue<Sse.Event>, tag: Tag) =>
  Effect.gen(function*() {
    while (true) {
      const event = yield* Queue.take(events)
      if (event.event === tag) return decodeData(event.data) as Extract<HttpAdminEvent.StreamEvent, { _tag: Tag }>
    }
  })

describe("HttpAdmin: mounting", () => {
  const build = <A, E>(layer: Layer.Layer<A, E>) =>
    Effect.map(
      Effect.exit(Layer.build(layer)),
      (exit) => Exit.isFailure(exit) ? failure(exit) as PolicyConfigError : undefined
    )

  it.effect("refuses to mount without a token in the configuration, or with a weak one; auth: \"none\" mounts without", () =>
    Effect.gen(function*() {
      const routes = (env: Record<string, string>, auth?: HttpAdmin.Auth) =>
        serve(HttpAdmin.layer({ sources: [Payments], auth })).pipe(
          Layer.provide(Payments.layer()),
          Layer.provide(withToken(env))
        )
      const missing = yield* build(routes({}))
      expect(missing?.issues[0]?.field).toBe("auth.token")
      expect(missing?.message).toMatch(/RESILIENCE_ADMIN_TOKEN.*auth: "none"/)
      const short = yield* build(routes({ RESILIENCE_ADMIN_TOKEN: "short" }))
      expect(short?.issues[0]?.rule).toMatch(/at least 16 characters/)
      const spaces = yield* build(routes({ RESILIENCE_ADMIN_TOKEN: "has spaces in the admin token" }))
      expect(spaces?.issues[0]?.rule).toMatch(/RFC 6750/)
      const bad = yield* build(
        serve(
          HttpAdmin.layer({
            sources: [5 as never],
            auth: { token: "x" } as never,
            maxStreams: 0,
            heartbeat: "1 millis"
          })
        )
      )
      expect(bad?.issues.map((issue) => issue.field).sort()).toEqual(["auth", "heartbeat", "maxStreams", "sources.0"])
      // Explicitly unauthenticated: mounts, and answers without a token.
      yield* Effect.gen(function*() {
        expect((yield* get("/admin/resilience/circuits")).status).toBe(200)
      }).pipe(Effect.provide(routes({}, "none")))
    }))
})

describe("HttpAdmin: routes", () => {
  it.effect("a request without the right bearer token is refused with 401; the right one is served", () =>
    Effect.gen(function*() {
      const missing = yield* get("/admin/resilience/circuits")
      expect(missing.status).toBe(401)
      expect(missing.headers["www-authenticate"]).toBe(`Bearer realm="effect-resilience"`)
      expect(missing.headers["content-type"]).toBe("application/problem+json")
      const wrongTokens = [
        token.slice(0, -1) + "X", // same length, last character wrong
        token.slice(0, -1), // a prefix
        token + "0", // longer
        "x",
        "y".repeat(5000)
      ]
      for (const wrong of wrongTokens) {
        const answer = yield* get("/admin/resilience/circuits", { authorization: `Bearer ${wrong}` })
        expect(answer.status).toBe(401)
        expect(answer.headers["www-authenticate"]).toMatch(/error="invalid_token"/)
        expect(JSON.stringify(answer.body)).not.toContain(token)
      }
      expect((yield* get("/admin/resilience/circuits", { authorization: `Basic ${token}` })).status).toBe(401)
      expect((yield* send("POST", "/admin/resilience/circuits/payments/force-open")).status).toBe(401)
      expect(yield* (yield* Payments).state).toBe("Closed")
      expect((yield* get("/admin/resilience/events")).status).toBe(401)
      expect((yield* get("/admin/resilience/circuits", { authorization: `bearer ${token}` })).status).toBe(200)
    }).pipe(Effect.provide(admin())))

  it.effect("lists the circuits of breakers and registries with their snapshots", () =>
    Effect.gen(function*() {
      yield* Effect.exit((yield* Payments).execute(boom))
      yield* (yield* Tenants).execute(Effect.void, "acme-corp")
      const answer = yield* get("/admin/resilience/circuits", auth)
      expect(answer.status).toBe(200)
      expect(answer.headers["cache-control"]).toBe("no-store")
      const { circuits } = Schema.decodeUnknownSync(HttpAdminEvent.CircuitList)(answer.body)
      expect(circuits.map((c) => [c.breaker, c.state, c.retryAfterMillis])).toEqual([
        ["payments", "Open", 30_000],
        ["acme-corp", "Closed", 0]
      ])
      expect(circuits[0]?.openedBy?.tag).toBe("Boom")
    }).pipe(Effect.provide(admin())))

  it.effect("force-open, disable and reset a breaker by name (a registry's too), answering its view after", () =>
    Effect.gen(function*() {
      const payments = yield* Payments
      const forced = yield* send("POST", "/admin/resilience/circuits/payments/force-open", controlAuth)
      expect(forced.status).toBe(200)
      expect(view(forced.body)).toMatchObject({ breaker: "payments", state: "ForcedOpen", retryAfterMillis: null })
      expect(yield* payments.state).toBe("ForcedOpen")
      expect(view((yield* send("POST", "/admin/resilience/circuits/payments/disable", controlAuth)).body).state).toBe(
        "Disabled"
      )
      expect(yield* payments.state).toBe("Disabled")
      expect(view((yield* send("POST", "/admin/resilience/circuits/payments/reset", controlAuth)).body).state).toBe(
        "Closed"
      )
      expect(yield* payments.state).toBe("Closed")
      // A registry's breaker is found by its name, even one made from a URL.
      const tenants = yield* Tenants
      yield* tenants.execute(Effect.void, "https://api.example.com")
      const one = yield* send(
        "POST",
        `/admin/resilience/circuits/${encodeURIComponent("https://api.example.com")}/force-open`,
        controlAuth
      )
      expect(view(one.body).state).toBe("ForcedOpen")
      expect(yield* (yield* tenants.get("https://api.example.com")).state).toBe("ForcedOpen")
      expect(view((yield* get("/admin/resilience/circuits/payments", auth)).body).state).toBe("Closed")
    }).pipe(Effect.provide(admin())))

  it.effect("a control route without the X-Resilience-Admin header is refused with 403 and changes nothing", () =>
    Effect.gen(function*() {
      const payments = yield* Payments
      for (const action of ["force-open", "disable", "reset"]) {
        // With the token but not the header: refused (a proxy that adds the token to every request
        // would otherwise let a cross-site form through).
        const refused = yield* send("POST", `/admin/resilience/circuits/payments/${action}`, auth)
        expect(refused.status).toBe(403)
        expect(refused.headers["content-type"]).toBe("application/problem+json")
        expect(refused.body).toMatchObject({ status: 403, title: "Forbidden", header: "X-Resilience-Admin" })
        expect((refused.body as { detail: string }).detail).toMatch(/X-Resilience-Admin/)
        const empty = yield* send("POST", `/admin/resilience/circuits/payments/${action}`, {
          ...auth,
          "x-resilience-admin": ""
        })
        expect(empty.status).toBe(403)
      }
      expect(yield* payments.state).toBe("Closed")
      // Without the token it is still a 401 first: nothing is said to a caller who is not authenticated.
      expect((yield* send("POST", "/admin/resilience/circuits/payments/reset")).status).toBe(401)
      // Reading needs no header.
      expect((yield* get("/admin/resilience/circuits/payments", auth)).status).toBe(200)
    }).pipe(Effect.provide(admin())))

  it.effect("with auth: \"none\" a control route needs the X-Resilience-Admin header too", () =>
    Effect.gen(function*() {
      const refused = yield* send("POST", "/admin/resilience/circuits/payments/force-open")
      expect(refused.status).toBe(403)
      expect(yield* (yield* Payments).state).toBe("Closed")
      const done = yield* send("POST", "/admin/resilience/circuits/payments/force-open", { "x-resilience-admin": "1" })
      expect(done.status).toBe(200)
      expect(yield* (yield* Payments).state).toBe("ForcedOpen")
    }).pipe(Effect.provide(admin({ auth: "none" }))))

  it.effect("an unknown name is a 404, a bad name or action a 400, a shared name a 409: problem documents, never a crash", () =>
    Effect.gen(function*() {
      const unknown = yield* send("POST", "/admin/resilience/circuits/nope/reset", controlAuth)
      expect(unknown.status).toBe(404)
      expect(unknown.headers["content-type"]).toBe("application/problem+json")
      expect(unknown.body).toMatchObject({ status: 404, title: "Not Found", breaker: "nope" })
      expect((yield* get("/admin/resilience/circuits/nope", auth)).status).toBe(404)
      const action = yield* send("POST", "/admin/resilience/circuits/payments/explode", controlAuth)
      expect(action.status).toBe(400)
      expect(action.body).toMatchObject({ status: 400, issues: [{ field: "action" }] })
      const name = yield* get(`/admin/resilience/circuits/${encodeURIComponent("pay\nments")}`, auth)
      expect(name.status).toBe(400)
      expect(name.body).toMatchObject({
        issues: [{ field: "name", rule: expect.stringMatching(/control characters/) }]
      })
      expect((yield* get("/admin/resilience/circuits/%20", auth)).status).toBe(400)
      // A registry key and a breaker service both named "acme".
      yield* (yield* Tenants).execute(Effect.void, "acme")
      const shared = yield* send("POST", "/admin/resilience/circuits/acme/force-open", controlAuth)
      expect(shared.status).toBe(409)
      expect(shared.body).toMatchObject({ breaker: "acme" })
      expect(yield* (yield* Duplicate).state).toBe("Closed")
    }).pipe(Effect.provide(
      serve(HttpAdmin.layer({ sources: [Payments, Tenants, Duplicate] })).pipe(
        Layer.provideMerge(Breakers),
        Layer.provide(withToken({ RESILIENCE_ADMIN_TOKEN: token }))
      )
    )))
})

describe("HttpAdmin: event stream", () => {
  it.effect("text/event-stream: the circuits first, then the breakers' events as they happen, and a heartbeat", () =>
    Effect.gen(function*() {
      const { close, events, response } = yield* openStream()
      expect(response.status).toBe(200)
      expect(response.headers["content-type"]).toBe("text/event-stream")
      const first = yield* next(events, "Circuits")
      expect(first.circuits.map((c) => c.breaker)).toEqual(["payments"])
      yield* Effect.exit((yield* Payments).execute(boom))
      expect(yield* next(events, "StateChanged")).toMatchObject({ breaker: "payments", from: "Closed", to: "Open" })
      yield* Effect.exit((yield* Payments).execute(boom))
      expect(yield* next(events, "CallRejected")).toMatchObject({ breaker: "payments", retryAfterMillis: 30_000 })
      // A registry breaker made after the stream opened joins it at the next heartbeat.
      yield* (yield* Tenants).execute(Effect.void, "late")
      yield* TestClock.adjust("10 seconds")
      expect(yield* next(events, "Heartbeat")).toEqual({ _tag: "Heartbeat", at: 10_000 })
      yield* Effect.exit((yield* Tenants).execute(boom, "late"))
      expect(yield* next(events, "StateChanged")).toMatchObject({ breaker: "late", to: "Open" })
      yield* close
    }).pipe(Effect.scoped, Effect.provide(admin({ heartbeat: "10 seconds" }))))

  it.effect("events=... chooses the events sent; anything else is a 400", () =>
    Effect.gen(function*() {
      const bad = yield* get("/admin/resilience/events?events=StateChanged,Bogus", auth)
      expect(bad.status).toBe(400)
      expect(bad.body).toMatchObject({ issues: [{ field: "events" }] })
      const { close, events } = yield* openStream("/admin/resilience/events?events=StateChanged")
      yield* next(events, "Circuits")
      yield* Effect.exit((yield* Payments).execute(boom)) // recorded, then the transition
      yield* Effect.exit((yield* Payments).execute(boom)) // rejected
      yield* (yield* Payments).reset
      expect((yield* Queue.take(events)).event).toBe("StateChanged")
      const reset = decodeData((yield* Queue.take(events)).data)
      expect(reset).toMatchObject({ _tag: "StateChanged", reason: "Reset" })
      yield* close
    }).pipe(Effect.scoped, Effect.provide(admin())))

  it.effect("at most maxStreams streams at once: one more is a 503; a reader that goes gives its place back", () =>
    Effect.gen(function*() {
      const first = yield* openStream()
      yield* next(first.events, "Circuits")
      const refused = yield* get("/admin/resilience/events", auth)
      expect(refused.status).toBe(503)
      expect(refused.body).toMatchObject({ status: 503, maxStreams: 1 })
      yield* first.close
      // The server learns that the reader went through its socket's close event.
      let status = 503
      for (let attempt = 0; attempt < 100 && status === 503; attempt++) {
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10))) // real clock: socket close is an I/O event
        status = yield* openStreamStatus
      }
      expect(status).toBe(200)
    }).pipe(Effect.provide(admin({ maxStreams: 1 }))))
})

/** The status of a fresh stream request, hung up at once. */
const openStreamStatus = Effect.flatMap(HttpClient.HttpClient, (client) =>
  Effect.map(
    HttpClient.withScope(client).execute(
      HttpClientRequest.get("/admin/resilience/events").pipe(HttpClientRequest.setHeaders(auth))
    ),
    (response) => response.status
  )).pipe(Effect.scoped)

describe("HttpAdmin: names", () => {
  it.effect("registry circuits with odd names (/, %, ?, #, spaces, unicode, an origin) are addressed by their encoded name", () =>
    Effect.gen(function*() {
      const names = ["a/b", "50%off", "x?y=1", "frag#1", "with space", "ünï", "https://h.example:8443"]
      const registry = yield* CircuitBreakerRegistry.make({ name: "odd" })
      for (const name of names) yield* registry.execute(Effect.void, name)
      yield* Effect.gen(function*() {
        for (const name of names) {
          const answer = yield* send("POST", `/admin/resilience/circuits/${encodeURIComponent(name)}/force-open`, {
            "x-resilience-admin": "1"
          })
          expect([name, answer.status]).toEqual([name, 200])
          expect((answer.body as { breaker: string }).breaker).toBe(name)
        }
      }).pipe(Effect.provide(serve(HttpAdmin.layer({ sources: [registry], auth: "none" }))))
    }).pipe(Effect.scoped))
})

describe("HttpAdmin and Health: the overflow circuit of a resilient client", () => {
  class Upstreams extends Context.Service<Upstreams, CircuitBreakerRegistry.CircuitBreakerRegistry>()("Upstreams") {}
  const control = { "x-resilience-admin": "1" }

  it.effect("is listed by the registry it lives in, shown by Health, and reset through the admin routes", () =>
    Effect.gen(function*() {
      const upstream = scripted({ status: 503 })
      const client = yield* ResilientHttpClient.make(upstream.client, { breaker: yield* Upstreams })
      yield* Effect.exit(client.get("http://a.test/x")) // a's circuit opens: it may not be evicted
      yield* Effect.exit(client.get("http://b.test/x")) // no room for b: the overflow circuit opens
      const rejected = failure(yield* Effect.exit(client.get("http://c.test/x"))) as CircuitOpenError
      expect(rejected.breaker).toBe("upstreams/(overflow)")

      const listed = Schema.decodeUnknownSync(HttpAdminEvent.CircuitList)(
        (yield* get("/admin/resilience/circuits")).body
      )
      expect(listed.circuits.map((circuit) => [circuit.breaker, circuit.state])).toEqual([
        ["http://a.test", "Open"],
        ["upstreams/(overflow)", "Open"]
      ])
      const health = (yield* get("/health/circuits")).body as { circuits: ReadonlyArray<{ breaker: string }> }
      expect(health.circuits.map((circuit) => circuit.breaker)).toContain("upstreams/(overflow)")

      const reset = yield* send(
        "POST",
        `/admin/resilience/circuits/${encodeURIComponent(rejected.breaker)}/reset`,
        control
      )
      expect([reset.status, view(reset.body).state]).toEqual([200, "Closed"])
      upstream.script({ status: 200 })
      expect((yield* client.get("http://c.test/x")).status).toBe(200)
    }).pipe(
      Effect.scoped,
      Effect.provide(
        serve(Layer.mergeAll(
          HttpAdmin.layer({ sources: [Upstreams], auth: "none" }),
          Health.layerHttp({ sources: [Upstreams] })
        )).pipe(Layer.provideMerge(CircuitBreakerRegistry.layerAs(Upstreams, {
          name: "upstreams",
          config: { consecutiveFailures: 1, openDuration: "1 hour" },
          maxBreakers: 1
        })))
      )
    ))
})
