/**
 * A flaky upstream on a free localhost port (`node:http`), answering from a script: status bursts,
 * hangs, slow bodies, `Retry-After` headers, connection resets. Every request is recorded.
 */
import type { Scope } from "effect"
import { Effect } from "effect"
import { createServer } from "node:http"
import type { AddressInfo, Socket } from "node:net"

/** One scripted answer. */
export type Answer =
  | {
    readonly status: number
    readonly headers?: Record<string, string>
    readonly body?: string
    /** Headers go out at once, the body this many milliseconds later. */
    readonly bodyDelayMillis?: number
  }
  | { readonly reset: true }
  | { readonly hang: true }

export interface Upstream {
  readonly url: string
  /** Requests received: method, path and the body's length. */
  readonly requests: Array<{ readonly method: string; readonly path: string; readonly bodyBytes: number }>
  /** Replaces the script; the last answer repeats once the script is used up. */
  readonly script: (...answers: ReadonlyArray<Answer>) => void
  /** Connections accepted so far: a client that reuses its connection opens one. */
  readonly connections: () => number
  /** Connections open now. */
  readonly openConnections: () => number
}

/** Starts an upstream for the current scope; it closes, hanging connections included, with the scope. */
export const upstream = (...initial: ReadonlyArray<Answer>): Effect.Effect<Upstream, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ readonly upstream: Upstream; readonly close: () => Promise<void> }>((resume) => {
      let answers = [...initial]
      const requests: Upstream["requests"] = []
      const sockets = new Set<Socket>()
      let accepted = 0
      const timers = new Set<ReturnType<typeof setTimeout>>()
      const server = createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          requests.push({ method: req.method ?? "", path: req.url ?? "", bodyBytes: Buffer.concat(chunks).length })
          const answer = answers.length > 1 ? answers.shift()! : answers[0] ?? { status: 200 }
          if ("reset" in answer) return void req.socket.destroy()
          if ("hang" in answer) return
          res.writeHead(answer.status, { "content-type": "text/plain", ...answer.headers })
          if (answer.bodyDelayMillis === undefined) return void res.end(answer.body ?? "")
          res.flushHeaders()
          const timer = setTimeout(() => res.end(answer.body ?? ""), answer.bodyDelayMillis) // real clock: a real server's slow body
          timers.add(timer)
        })
      })
      server.on("connection", (socket) => {
        sockets.add(socket)
        accepted++
        socket.on("close", () => sockets.delete(socket))
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({
          upstream: {
            url: `http://127.0.0.1:${port}`,
            requests,
            script: (...next) => void (answers = [...next]),
            connections: () => accepted,
            openConnections: () => sockets.size
          },
          close: () =>
            new Promise<void>((done) => {
              for (const timer of timers) clearTimeout(timer)
              for (const socket of sockets) socket.destroy()
              server.close(() => done())
            })
        }))
      })
    }),
    ({ close }) => Effect.promise(close)
  ).pipe(Effect.map(({ upstream }) => upstream))
