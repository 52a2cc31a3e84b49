/**
 * What five open dashboards cost the guarded calls: a breaker shown on a
 * dashboard with five browsers' worth of streams attached (read to the end
 * by five `fetch` readers in this process), next to the same breaker shown
 * nowhere. The dashboard observes its breakers without timing their calls,
 * and one sampler serves every stream, so the target is 1.1x.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer, Scope } from "effect"
import { HttpRouter } from "effect/http"
import { createServer } from "node:http"
import { CircuitBreaker, Dashboard } from "../src/index.js"
import type { Case, Measurement } from "./harness.js"
import { pairedRatio } from "./harness.js"

export const dashboardStreams = 5

const names = {
  watched: `dashboard: guarded async call, shown on a dashboard with ${dashboardStreams} streams open`,
  unwatched: "dashboard: guarded async call, the same breaker shown nowhere"
}

/** Starts the breakers, the dashboard and its readers in `scope`. */
export const dashboardBench = async (scope: Scope.Scope, ops: number) => {
  const make = (name: string) =>
    Effect.runSync(Scope.provide(CircuitBreaker.make({ name, consecutiveFailures: 5 }), scope))
  const watched = make("dashboard-watched")
  const unwatched = make("dashboard-unwatched")
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })
  const app = HttpRouter.serve(Dashboard.layer({ sources: [watched], maxStreams: dashboardStreams }), {
    disableLogger: true,
    disableListenLog: true
  }).pipe(
    Layer.provide(NodeHttpServer.layer(createServer, { port, host: "127.0.0.1", gracefulShutdownTimeout: "10 millis" }))
  )
  await Effect.runPromise(Scope.provide(Layer.build(app), scope))
  const readers = new AbortController()
  let received = 0
  for (let i = 0; i < dashboardStreams; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/dashboard/stream`, { signal: readers.signal })
    void (async () => {
      try {
        for await (const chunk of response.body!) received += (chunk as Uint8Array).length
      } catch {
        // aborted at the end of the run
      }
    })()
  }
  const counter = { n: 0 }
  const call = () => Effect.promise(() => Promise.resolve(counter.n++))
  const inFiber = (name: string, breaker: CircuitBreaker.CircuitBreaker): Case => ({
    name,
    ops,
    run: (n) =>
      Effect.runPromise(Effect.gen(function*() {
        for (let i = 0; i < n; i++) yield* breaker.execute(call())
      }))
  })
  return {
    cases: [inFiber(names.watched, watched), inFiber(names.unwatched, unwatched)],
    stop: () => readers.abort(),
    checks: (get: (name: string) => Measurement) => [
      {
        what: `guarded async call on a breaker shown on a dashboard with ${dashboardStreams} streams open / ` +
          `the same call on a breaker shown nowhere (the readers received ${(received / 1e6).toFixed(1)} MB)`,
        value: pairedRatio(get(names.watched), get(names.unwatched)),
        target: "<= 1.1",
        ok: (v: number) => v <= 1.1
      }
    ]
  }
}
