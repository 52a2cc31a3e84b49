/**
 * The resilient HTTP client's overhead per request, next to the bare client
 * it wraps, against localhost `node:http` servers that answer at once: the
 * median latency of one request at a time, and the throughput of 64 at once.
 *
 * Two wrapped clients: the README's (a circuit per origin, retries, a
 * per-attempt timeout and a fallback, none of them needed: every request
 * succeeds, so the figure is the price every request pays), and the client's
 * defaults (a circuit per origin, nothing else).
 *
 * Why not the harness's interleaved rounds: a request costs about 250 µs,
 * the target is 3% of it, and this machine's speed drifts by more than that
 * over the seconds a round of each case takes (the same client, measured as
 * two cases, came out 0.97-1.14 apart). So the clients take turns in short
 * blocks — a quarter of a second or less — in an order that is reversed every
 * round, and
 * - one at a time, every request's latency is kept: the figure is the median
 *   over all of a client's requests (what the issue asks: median latency), so
 *   a collection or a hiccup of the machine in one block moves nothing;
 * - 64 at once, each block gives a time per request; the figure is the median
 *   over rounds of the wrapped client's block time over the bare client's in
 *   the same round.
 * No collection before a block: a full one leaves the next block cold (it put
 * a client 6% behind itself on blocks of 1,000 requests).
 */
import { Effect, Scope } from "effect"
import { FetchHttpClient, HttpClient, HttpClientResponse } from "effect/http"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { ResilientHttpClient } from "../src/index.js"

export const httpConcurrency = 64

/** What the measurement needs of a client: the bare one and the wrapped ones differ only in their error types. */
interface Getter {
  readonly get: (url: string) => Effect.Effect<HttpClientResponse.HttpClientResponse, unknown>
}

interface Client {
  readonly name: string
  readonly client: Getter
  /** Its own server: each client's connections are then its own pool (undici keeps one per origin). */
  readonly url: string
}

export interface HttpCheck {
  readonly what: string
  readonly value: number
  readonly target: string
  readonly ok: (v: number) => boolean
}

/** One client's figures. */
export interface HttpRow {
  readonly client: string
  /** Median latency of one request at a time, over every request measured (µs). */
  readonly medianLatencyMicros: number
  /** 99th percentile of the same (µs). */
  readonly p99LatencyMicros: number
  /** Requests per second, 64 at once: the median over rounds. */
  readonly requestsPerSecond: number
  /** Latency over the bare client's (medians); 1 for the bare client. */
  readonly latencyRatio: number
  /** Time per request 64 at once over the bare client's: the median over rounds of the ratio in a round. */
  readonly throughputRatio: number
}

export interface HttpFigures {
  readonly rows: ReadonlyArray<HttpRow>
  readonly checks: ReadonlyArray<HttpCheck>
  readonly method: {
    readonly latencyRounds: number
    readonly latencyBlock: number
    readonly throughputRounds: number
    readonly throughputBlock: number
  }
}

export interface HttpBench {
  readonly measure: () => Promise<HttpFigures>
  readonly method: HttpFigures["method"]
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

const median = (values: ReadonlyArray<number>): number => quantile(values, 0.5)

const quantile = (values: ReadonlyArray<number>, q: number): number => {
  const sorted = Float64Array.from(values).sort()
  const at = (sorted.length - 1) * q
  const below = Math.floor(at)
  const above = Math.min(sorted.length - 1, below + 1)
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (at - below)
}

// Each request reads its body, as a program does: the connection goes back to the pool only then.
const request = ({ client, url }: Client) => Effect.flatMap(client.get(url), (response) => response.text)

/** `count` requests one after another, each one's latency (ns) pushed to `into` when given. */
const oneAtATime = (target: Client, count: number, into?: Array<number>) =>
  Effect.runPromise(Effect.gen(function*() {
    const send = request(target)
    for (let i = 0; i < count; i++) {
      const start = process.hrtime.bigint()
      yield* send
      into?.push(Number(process.hrtime.bigint() - start))
    }
  }))

/** `count` requests, `httpConcurrency` at a time: nanoseconds per request. */
const manyAtOnce = async (target: Client, count: number): Promise<number> => {
  const start = process.hrtime.bigint()
  await Effect.runPromise(
    Effect.forEach(Array.from({ length: count }), () => request(target), {
      concurrency: httpConcurrency,
      discard: true
    })
  )
  return Number(process.hrtime.bigint() - start) / count
}

/** The clients in their order in even rounds, reversed in odd ones: none always runs right after another. */
const inTurn = <A>(clients: ReadonlyArray<A>, round: number): ReadonlyArray<A> =>
  round % 2 === 0 ? clients : [...clients].reverse()

const names = {
  bare: "bare client",
  readme: "resilient client, the README's (breaker, retry, timeout, fallback)",
  defaults: "resilient client, its defaults (a circuit per origin)"
}

/** Starts the servers and the clients in `scope`. */
export const httpBench = async (scope: Scope.Scope, quick: boolean): Promise<HttpBench> => {
  const urls = [await startServer(scope), await startServer(scope), await startServer(scope)]
  const clients: ReadonlyArray<Client> = await Effect.runPromise(Scope.provide(
    Effect.gen(function*() {
      const bare = yield* HttpClient.HttpClient
      const readme = yield* ResilientHttpClient.make(bare, {
        name: "readme",
        breaker: { consecutiveFailures: 5, openDuration: "30 seconds" },
        retry: { retries: 2 },
        timeout: "2 seconds",
        fallback: (_error, request) => Effect.succeed(HttpClientResponse.fromWeb(request, new Response("cached")))
      })
      const defaults = yield* ResilientHttpClient.make(bare, { name: "defaults" })
      return [
        { name: names.bare, client: bare, url: urls[0]! },
        { name: names.readme, client: readme, url: urls[1]! },
        { name: names.defaults, client: defaults, url: urls[2]! }
      ]
    }).pipe(Effect.provide(FetchHttpClient.layer)),
    scope
  ))
  const method = {
    latencyRounds: quick ? 6 : 40,
    latencyBlock: 250,
    throughputRounds: quick ? 5 : 30,
    throughputBlock: 1_000
  }

  const measure = async (): Promise<HttpFigures> => {
    // Warm: connections opened, code compiled, pools at their size.
    for (let round = 0; round < 3; round++) {
      for (const c of clients) {
        await oneAtATime(c, method.latencyBlock)
        await manyAtOnce(c, method.throughputBlock)
      }
    }
    const latencies = clients.map((): Array<number> => [])
    for (let round = 0; round < method.latencyRounds; round++) {
      for (const i of inTurn([0, 1, 2], round)) await oneAtATime(clients[i]!, method.latencyBlock, latencies[i])
    }
    const blockTimes = clients.map((): Array<number> => [])
    for (let round = 0; round < method.throughputRounds; round++) {
      for (const i of inTurn([0, 1, 2], round)) {
        blockTimes[i]!.push(await manyAtOnce(clients[i]!, method.throughputBlock))
      }
    }
    const bareLatency = median(latencies[0]!)
    const rows = clients.map((c, i): HttpRow => ({
      client: c.name,
      medianLatencyMicros: median(latencies[i]!) / 1000,
      p99LatencyMicros: quantile(latencies[i]!, 0.99) / 1000,
      requestsPerSecond: 1e9 / median(blockTimes[i]!),
      latencyRatio: median(latencies[i]!) / bareLatency,
      throughputRatio: median(blockTimes[i]!.map((time, round) => time / blockTimes[0]![round]!))
    }))
    const [bare, readme, defaults] = rows as [HttpRow, HttpRow, HttpRow]
    const within = (v: number) => v <= 1.03
    return {
      rows,
      method,
      checks: [
        {
          what: "resilient HTTP client (README's) / bare client, one request at a time: median latency",
          value: readme.latencyRatio,
          target: "<= 1.03",
          ok: within
        },
        {
          what: `resilient HTTP client (README's) / bare client, ${httpConcurrency} requests at once: time per request`,
          value: readme.throughputRatio,
          target: "<= 1.03",
          ok: within
        },
        {
          what: "resilient HTTP client (defaults) / bare client, one request at a time: median latency",
          value: defaults.latencyRatio,
          target: "reported",
          ok: () => true
        },
        {
          what: `resilient HTTP client (defaults) / bare client, ${httpConcurrency} requests at once: time per request`,
          value: defaults.throughputRatio,
          target: "reported",
          ok: () => true
        },
        {
          what: "bare HTTP client, one request at a time: median latency (µs)",
          value: bare.medianLatencyMicros,
          target: "reported",
          ok: () => true
        },
        {
          what: `bare HTTP client, ${httpConcurrency} requests at once: requests per second`,
          value: bare.requestsPerSecond,
          target: "reported",
          ok: () => true
        }
      ]
    }
  }
  return { measure, method }
}

/** The figures as a Markdown table. */
export const httpTable = (figures: HttpFigures): string =>
  [
    `| client | median latency (µs) | p99 latency (µs) | latency / bare | requests/s, ${httpConcurrency} at once | time per request / bare |`,
    "|---|---:|---:|---:|---:|---:|",
    ...figures.rows.map((row) =>
      `| ${row.client} | ${row.medianLatencyMicros.toFixed(1)} | ${row.p99LatencyMicros.toFixed(1)} | ${
        row.latencyRatio.toFixed(3)
      } | ${row.requestsPerSecond.toFixed(0)} | ${row.throughputRatio.toFixed(3)} |`
    )
  ].join("\n")
