import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { FetchHttpClient, HttpClient, HttpClientResponse } from "effect/http"
import { ResilientHttpClient } from "../src/index.js"
import type { Answer } from "./http/upstream.js"
import { upstream } from "./http/upstream.js"

// The body of a response the client supersedes (a failed attempt that is retried, an answer the
// fallback replaces) is released: drained, so that its pooled connection serves the next request, or,
// when it is large, cancelled, so that its connection closes. Counted on a real localhost upstream
// (`node:http`) through Effect's fetch client, whose keep-alive pool reuses a connection only once the
// body on it was read. Real clock: real sockets; the backoff is 1 ms.

const setup = (...answers: ReadonlyArray<Answer>) =>
  Effect.gen(function*() {
    const server = yield* upstream(...answers)
    const client = yield* HttpClient.HttpClient
    return { server, client }
  }).pipe(Effect.provide(FetchHttpClient.layer))

const quickRetry = { retries: 3, baseDelay: "1 millis", jitter: false } as const // real clock: 1 ms

/** Polls `read` until it is at most `most` (the server hears a close a moment after the client). */
const settlesAtMost = (read: () => number, most: number) =>
  Effect.suspend(() => read() <= most ? Effect.succeed(read()) : Effect.fail(read())).pipe(
    Effect.retry(Schedule.spaced("5 millis").pipe(Schedule.upTo({ times: 200 }))), // real clock: up to 1 s
    Effect.catch((last) => Effect.succeed(last))
  )

describe("a resilient client releases the bodies of the responses it supersedes", () => {
  // 100 KB: more than the fetch client buffers, so an unread body holds its connection.
  it.live("a retried 503's body is drained: every attempt reuses the one connection", () =>
    Effect.gen(function*() {
      const busy = { status: 503, body: JSON.stringify({ error: "busy", detail: "x".repeat(100_000) }) }
      const { client, server } = yield* setup(busy, busy, busy, { status: 200, body: "in stock" })
      const guarded = yield* ResilientHttpClient.make(client, { retry: quickRetry })
      expect(yield* (yield* guarded.get(`${server.url}/stock/42`)).text).toBe("in stock")
      expect(server.requests).toHaveLength(4)
      expect(server.connections()).toBe(1)
    }).pipe(Effect.scoped))

  it.live("a retried 503 with a body too large to drain is cancelled: its connection closes, none is held", () =>
    Effect.gen(function*() {
      const large = { status: 503, body: "x".repeat(4 * 1024 * 1024) }
      const { client, server } = yield* setup(large, large, { status: 200, body: "ok" })
      const guarded = yield* ResilientHttpClient.make(client, { retry: quickRetry })
      expect(yield* (yield* guarded.get(`${server.url}/x`)).text).toBe("ok")
      expect(server.requests).toHaveLength(3)
      // The two superseded connections closed; the last one, read to its end, stays in the pool.
      expect(yield* settlesAtMost(server.openConnections, 1)).toBeLessThanOrEqual(1)
    }).pipe(Effect.scoped))

  it.live("a body over classifyBodyLimit announced by its Content-Length is cancelled: its connection closes", () =>
    Effect.gen(function*() {
      const size = 4 * 1024 * 1024
      const large = { status: 200, headers: { "content-length": String(size) }, body: "x".repeat(size) }
      const { client, server } = yield* setup(large)
      const guarded = yield* ResilientHttpClient.make(client, {
        classifyBody: (response) => Effect.map(response.text, (text) => text === "degraded")
      })
      for (let i = 0; i < 3; i++) {
        const error = yield* Effect.flip(guarded.get(`${server.url}/x`))
        expect(error._tag === "HttpClientError" && error.reason._tag).toBe("DecodeError")
      }
      expect(server.requests).toHaveLength(3)
      // Never read, never cancelled, each body would hold its connection until garbage collected.
      expect(yield* settlesAtMost(server.openConnections, 0)).toBe(0)
    }).pipe(Effect.scoped))

  it.live("a failed response the fallback replaces is drained: the next request reuses its connection", () =>
    Effect.gen(function*() {
      const { client, server } = yield* setup({ status: 503, body: "x".repeat(100_000) }, { status: 200, body: "up" })
      const guarded = yield* ResilientHttpClient.make(client, {
        fallback: (_error, request) => Effect.succeed(HttpClientResponse.fromWeb(request, new Response("cached")))
      })
      expect(yield* (yield* guarded.get(`${server.url}/x`)).text).toBe("cached")
      yield* Effect.sleep("10 millis") // real clock: the pool takes a drained connection back on a later turn
      expect(yield* (yield* guarded.get(`${server.url}/x`)).text).toBe("up")
      expect(server.connections()).toBe(1)
    }).pipe(Effect.scoped))

  it.live("the response handed back after the retries keeps its body: the caller reads it", () =>
    Effect.gen(function*() {
      const { client, server } = yield* setup({ status: 503, body: "first" }, { status: 503, body: "last" })
      const guarded = yield* ResilientHttpClient.make(client, { retry: { ...quickRetry, retries: 1 } })
      const response = yield* guarded.get(`${server.url}/x`)
      expect([response.status, yield* response.text]).toEqual([503, "last"])
      expect(server.connections()).toBe(1)
    }).pipe(Effect.scoped))
})
