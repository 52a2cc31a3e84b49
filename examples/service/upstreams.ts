/**
 * The three simulated upstreams: `node:http` servers on free localhost ports,
 * answering as the fault script says at the moment each request arrives
 * (latency spikes, 5xx bursts, hangs, 503 + `Retry-After`, recovery).
 *
 * - inventory: `POST /reservations` answers `201 { reservation }`;
 * - catalog: `GET /products/:id` answers `{ id, name, priceCents }`;
 * - search: `GET /search?q=...` answers `{ q, hits }`.
 *
 * Every answer carries `x-fault`, the fault it was given under. Closing the
 * scope closes the servers, hanging requests included.
 */
import type { Scope } from "effect"
import { Effect, FiberSet, Random } from "effect"
import type { IncomingMessage, ServerResponse } from "node:http"
import { createServer } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import type { Fault, ScriptClock, Upstream } from "./faultScript.js"
import { describeFault } from "./faultScript.js"

/** A running upstream. */
export interface UpstreamServer {
  readonly name: Upstream
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** Requests received so far (retries and hedged attempts included). */
  readonly requests: Effect.Effect<number>
}

/** The three upstreams, by name. */
export type Upstreams = { readonly [U in Upstream]: UpstreamServer }

const send = (res: ServerResponse, status: number, body: unknown, fault: Fault, headers?: Record<string, string>) => {
  if (res.writableEnded || res.destroyed) return
  res.writeHead(status, {
    "content-type": "application/json",
    "x-fault": describeFault(fault),
    ...headers
  })
  res.end(JSON.stringify(body))
}

const words = ["lamp", "chair", "desk", "shelf", "rug", "mirror", "sofa", "stool"]

/** The answer of a healthy upstream to `path`. */
const bodyOf = (name: Upstream, path: string, n: number): { readonly status: number; readonly body: unknown } => {
  const url = new URL(path, "http://upstream")
  switch (name) {
    case "inventory":
      return { status: 201, body: { reservation: `r-${n}` } }
    case "catalog": {
      const id = url.pathname.split("/").pop() ?? ""
      return { status: 200, body: { id, name: `Product ${id}`, priceCents: 1000 + (id.length * 137) % 5000 } }
    }
    case "search": {
      const q = url.searchParams.get("q") ?? ""
      return { status: 200, body: { q, hits: words.filter((word) => word.includes(q.slice(0, 1))).slice(0, 3) } }
    }
  }
}

/** Milliseconds of a healthy answer. */
const healthyLatency = Random.nextIntBetween(10, 30)

/** Answers one request as `fault` says. */
const answer = (name: Upstream, fault: Fault, req: IncomingMessage, res: ServerResponse, n: number) =>
  Effect.gen(function*() {
    let latency = yield* healthyLatency
    switch (fault._tag) {
      case "Hanging":
        // No answer: the caller's timeout ends it (the fiber is interrupted when it hangs up).
        return yield* Effect.never
      case "Unavailable":
        yield* Effect.sleep("5 millis")
        return send(res, 503, { error: "maintenance" }, fault, { "retry-after": String(fault.retryAfterSeconds) })
      case "Failing":
        if ((yield* Random.next) < fault.share) {
          yield* Effect.sleep("5 millis")
          return send(res, fault.status, { error: "internal error" }, fault)
        }
        break
      case "Slow":
        if ((yield* Random.next) < fault.share) latency = yield* Random.nextIntBetween(fault.minMillis, fault.maxMillis)
        break
      case "Healthy":
        break
    }
    yield* Effect.sleep(latency)
    const { body, status } = bodyOf(name, req.url ?? "/", n)
    send(res, status, body, fault)
  })

/** Starts the upstream `name` on a free port, for the current scope. */
const start = (
  name: Upstream,
  clock: ScriptClock,
  run: (effect: Effect.Effect<void>) => { readonly interruptUnsafe: () => void }
): Effect.Effect<UpstreamServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: UpstreamServer; readonly close: () => Promise<void> }>((resume) => {
      let received = 0
      const sockets = new Set<Socket>()
      const server = createServer((req, res) => {
        const n = ++received
        // Drain the request body, then answer from the fault the script says now.
        req.resume()
        const fiber = run(Effect.flatMap(clock.faultOf(name), (fault) => answer(name, fault, req, res, n)))
        res.on("close", () => fiber.interruptUnsafe())
      })
      server.on("connection", (socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({
          server: { name, url: `http://127.0.0.1:${port}`, requests: Effect.sync(() => received) },
          close: () =>
            new Promise<void>((done) => {
              for (const socket of sockets) socket.destroy()
              server.close(() => done())
            })
        }))
      })
    }),
    ({ close }) => Effect.promise(close)
  ).pipe(Effect.map(({ server }) => server))

/** Starts the three upstreams, each answering as `clock`'s script says, for the current scope. */
export const startUpstreams = (clock: ScriptClock): Effect.Effect<Upstreams, never, Scope.Scope> =>
  Effect.gen(function*() {
    // Requests in flight are fibers of this set: interrupted when the scope closes, after the servers.
    const run = yield* FiberSet.makeRuntime<never, void, never>()
    const [inventory, catalog, search] = yield* Effect.all([
      start("inventory", clock, run),
      start("catalog", clock, run),
      start("search", clock, run)
    ])
    return { inventory, catalog, search }
  })
