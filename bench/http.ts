/**
 * The resilient HTTP client's overhead per request, next to the bare client
 * it wraps, against a localhost `node:http` server that answers at once:
 * one request at a time (latency) and 64 at once (throughput). The guarded
 * client has what the README's example has: a circuit per origin, retries,
 * a per-attempt timeout and a fallback, none of them needed (every request
 * succeeds), so the figure is the price every request pays.
 */
import { Effect, Scope } from "effect"
import { FetchHttpClient, HttpClient, HttpClientResponse } from "effect/http"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { ResilientHttpClient } from "../src/index.js"
import type { Case, Measurement } from "./harness.js"
import { pairedRatio } from "./harness.js"

export const httpConcurrency = 64

/** What the cases need of a client: the bare one and the wrapped one differ only in their error types. */
interface Getter {
  readonly get: (url: string) => Effect.Effect<HttpClientResponse.HttpClientResponse, unknown>
}

const names = {
  bareOne: "http: bare client, one request at a time",
  guardedOne: "http: resilient client, one request at a time",
  bareMany: `http: bare client, ${httpConcurrency} requests at once`,
  guardedMany: `http: resilient client, ${httpConcurrency} requests at once`
}

export interface HttpBench {
  readonly cases: ReadonlyArray<Case>
  readonly checks: (get: (name: string) => Measurement) => ReadonlyArray<{
    readonly what: string
    readonly value: number
    readonly target: string
    readonly ok: (v: number) => boolean
  }>
}

/** Starts a server that answers every request at once with `ok`, closed with `scope`; its URL. */
const startServer = async (scope: Scope.Scope): Promise<string> => {
  const server = createServer({ keepAlive: true }, (_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": "2" })
    res.end("ok")
  })
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening))
  await Effect.runPromise(Scope.addFinalizer(
    scope,
    Effect.promise(() =>
      new Promise<void>((closed) => {
        server.closeAllConnections()
        server.close(() => closed())
      })
    )
  ))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/stock/42`
}

/** Starts the servers and both clients in `scope`. */
export const httpBench = async (
  scope: Scope.Scope,
  ops: { readonly sequential: number; readonly concurrent: number }
): Promise<HttpBench> => {
  // A server of its own for each client: each client's connections are then its own pool (undici
  // keeps one per origin), so neither case finds the sockets the other left open or closing.
  const bareUrl = await startServer(scope)
  const guardedUrl = await startServer(scope)
  const { bare, guarded } = await Effect.runPromise(Scope.provide(
    Effect.gen(function*() {
      const bare = yield* HttpClient.HttpClient
      const guarded = yield* ResilientHttpClient.make(bare, {
        breaker: { consecutiveFailures: 5, openDuration: "30 seconds" },
        retry: { retries: 2 },
        timeout: "2 seconds",
        fallback: (_error, request) => Effect.succeed(HttpClientResponse.fromWeb(request, new Response("cached")))
      })
      return { bare, guarded }
    }).pipe(Effect.provide(FetchHttpClient.layer)),
    scope
  ))
  // Each request reads its body, as a program does: the connection goes back to the pool only then.
  const request = (client: Getter) =>
    Effect.flatMap(client.get(client === bare ? bareUrl : guardedUrl), (response) => response.text)
  const sequential = (name: string, client: Getter): Case => ({
    name,
    ops: ops.sequential,
    run: (n) =>
      Effect.runPromise(Effect.gen(function*() {
        for (let i = 0; i < n; i++) yield* request(client)
      }))
  })
  const concurrent = (name: string, client: Getter): Case => ({
    name,
    ops: ops.concurrent,
    run: (n) =>
      Effect.runPromise(
        Effect.forEach(Array.from({ length: n }), () => request(client), {
          concurrency: httpConcurrency,
          discard: true
        })
      )
  })
  return {
    cases: [
      sequential(names.bareOne, bare),
      sequential(names.guardedOne, guarded),
      concurrent(names.bareMany, bare),
      concurrent(names.guardedMany, guarded)
    ],
    checks: (get) => [
      {
        what: "resilient HTTP client / bare client, one request at a time (latency)",
        value: pairedRatio(get(names.guardedOne), get(names.bareOne)),
        target: "<= 1.03",
        ok: (v) => v <= 1.03
      },
      {
        what: `resilient HTTP client / bare client, ${httpConcurrency} requests at once (time per request)`,
        value: pairedRatio(get(names.guardedMany), get(names.bareMany)),
        target: "<= 1.03",
        ok: (v) => v <= 1.03
      },
      {
        what: "bare HTTP client, one request at a time: microseconds per request",
        value: get(names.bareOne).medianNs / 1000,
        target: "reported",
        ok: () => true
      },
      {
        what: `bare HTTP client, ${httpConcurrency} requests at once: requests per second`,
        value: 1e9 / get(names.bareMany).medianNs,
        target: "reported",
        ok: () => true
      }
    ]
  }
}
