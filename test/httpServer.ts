/**
 * Real localhost servers for the HTTP server tests: `NodeHttpServer.layerTest` listens on a free
 * port and provides an `HttpClient` whose base URL is that server.
 */
import { NodeHttpServer } from "@effect/platform-node"
import type { Layer } from "effect"
import { Effect, Layer as L } from "effect"
import type { HttpClientResponse } from "effect/http"
import { HttpClient, HttpClientRequest, HttpRouter } from "effect/http"

/** Serves `routes` on a free localhost port, with an `HttpClient` aimed at it. */
export const serve = <E, R>(routes: Layer.Layer<never, E, R>) =>
  HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }).pipe(
    L.provideMerge(NodeHttpServer.layerTest)
  )

/** What a test reads of a response: status, headers and the body as JSON (or text when it is not JSON). */
export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly body: unknown
}

const read = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(response.text, (text): Answer => {
    let body: unknown = text
    try {
      body = JSON.parse(text)
    } catch {
      // not JSON: the text itself
    }
    return { status: response.status, headers: response.headers, body }
  })

/** Sends `method path` (with `headers`) to the test server and reads the answer. */
export const send = (
  method: "GET" | "POST",
  path: string,
  headers: Readonly<Record<string, string>> = {}
) =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    client.execute(
      HttpClientRequest.make(method)(path).pipe(HttpClientRequest.setHeaders(headers))
    ).pipe(Effect.flatMap(read), Effect.scoped))

/** `GET path`. */
export const get = (path: string, headers?: Readonly<Record<string, string>>) => send("GET", path, headers)
