/**
 * An in-memory `HttpClient` that answers from a script, for the client's logic under `TestClock`:
 * no socket, so every wait is the test clock's.
 */
import type { Duration } from "effect"
import { Effect, Stream } from "effect"
import { HttpClient, HttpClientError, HttpClientResponse } from "effect/http"

/** One scripted answer: a response, a transport error, or an answer that never comes. */
export type Step =
  | { readonly status: number; readonly headers?: Record<string, string>; readonly body?: string }
  | { readonly transport: true }
  | { readonly hang: true }
  | { readonly after: Duration.Input; readonly status: number }

export interface Scripted {
  readonly client: HttpClient.HttpClient
  /** Requests received, in order: method and URL. */
  readonly calls: Array<string>
  /** Replaces the script; the last step repeats once the script is used up. */
  readonly script: (...steps: ReadonlyArray<Step>) => void
}

/** A client answering from `steps`; a stream body is pulled before the answer (as a real client sends it). */
export const scripted = (...initial: ReadonlyArray<Step>): Scripted => {
  let steps = [...initial]
  const calls: Array<string> = []
  const client = HttpClient.make((request) =>
    Effect.gen(function*() {
      calls.push(`${request.method} ${request.url}`)
      const step = steps.length > 1 ? steps.shift()! : steps[0] ?? { status: 200 }
      if ("transport" in step) {
        return yield* new HttpClientError.HttpClientError({
          reason: new HttpClientError.TransportError({ request, description: "connection reset" })
        })
      }
      if ("hang" in step) return yield* Effect.never
      if (request.body._tag === "Stream") yield* Stream.runDrain(Stream.orDie(request.body.stream))
      if ("after" in step) yield* Effect.sleep(step.after)
      const headers = "headers" in step ? step.headers ?? {} : {}
      const body = "body" in step ? step.body ?? null : null
      return HttpClientResponse.fromWeb(request, new Response(body, { status: step.status, headers }))
    })
  )
  return { client, calls, script: (...next) => void (steps = [...next]) }
}
