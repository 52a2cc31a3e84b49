/**
 * The resilient HTTP client's overhead per request, next to the bare client
 * it wraps, against a localhost `node:http` server that answers at once: the
 * median latency of one request at a time, and the throughput of 64 at once.
 *
 * The client middleware with its defaults (a circuit per origin, nothing
 * else) is held to the target: within 3% of the bare client. Reported next
 * to it: the README's client (a circuit per origin, retries, a per-attempt
 * timeout and a fallback, none of them needed: every request succeeds, so
 * the figure is the price every request pays for the policies it chose —
 * each has its own row in the in-fiber benchmarks); Effect's own
 * `HttpClient.withCircuitBreaker` (a circuit per origin, on the
 * `effect/persistence` breaker and its memory store), the peer of the
 * defaults; and the bare client a second time, as a control: its ratio to
 * itself is what the method cannot tell apart.
 *
 * Why not the harness's interleaved rounds: a request costs about 250 µs,
 * the target is 3% of it, and this machine's speed drifts by more than that
 * over the seconds a round of each case takes (the same client, measured as
 * two cases, came out 0.97-1.14 apart). So the clients take turns in short
 * blocks — a tenth of a second or so — in an order shuffled every round, and
 * a client's figure is paired with the bare client's in the same round:
 * - one at a time, the median latency of each block; the ratio is the median
 *   over rounds of a client's block median over the bare client's (a
 *   collection or a hiccup of the machine moves a block's median little and
 *   the median over rounds not at all);
 * - 64 at once, each block's time per request; the ratio is the median over
 *   rounds of a client's over the bare client's.
 * No collection before a block: a full one leaves the next block cold (it put
 * a client 6% behind itself on blocks of 1,000 requests).
 *
 * And in fresh processes, several, each figure the median over them: one
 * process carries its own luck — how the JIT compiled the code, where the
 * heap put things — and the same wrapped client's ratio moved by up to 3.5
 * points from one process to the next (0.996-1.033 at 64 at once, identical
 * code), more than rounds within a process can average out, and more than
 * the control shows (it runs the bare client's own code, so it shares that
 * luck). A process of its own also keeps the figures clear of what the
 * other benchmarks leave in theirs (100,000 breakers in the heap, dashboard
 * streams and Redis connections ticking). Every process's ratios are kept in
 * `bench/results.json`, and the table shows their range.
 */
import { Effect, Scope } from "effect"
import { FetchHttpClient, HttpClient, HttpClientResponse } from "effect/http"
import { CircuitBreaker as EffectCircuitBreaker } from "effect/persistence"
import { fork } from "node:child_process"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { ResilientHttpClient } from "../src/index.js"

export const httpConcurrency = 64

/** What the measurement needs of a client: the bare one and the wrapped ones differ only in their error types. */
interface Getter {
  readonly get: (url: string) => Effect.Effect<HttpClientResponse.HttpClientResponse, unknown>
}

interface Client {
  readonly name: string
  readonly client: Getter
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
  /** Latency over the bare client's: the median over rounds of the ratio of their blocks' medians in a round. */
  readonly latencyRatio: number
  /** Time per request 64 at once over the bare client's: the median over rounds of the ratio in a round. */
  readonly throughputRatio: number
}

/** How the clients are measured (see the module's comment). */
export interface HttpMethod {
  /** Fresh processes measured one after another; each figure is the median over them. */
  readonly processes: number
  readonly latencyRounds: number
  readonly latencyBlock: number
  readonly throughputRounds: number
  readonly throughputBlock: number
}

export interface HttpFigures {
  /** Each client's figures: the median over processes of each. */
  readonly rows: ReadonlyArray<HttpRow>
  /** Each process's rows, in the order they ran. */
  readonly runs: ReadonlyArray<ReadonlyArray<HttpRow>>
  readonly checks: ReadonlyArray<HttpCheck>
  readonly method: HttpMethod
}

/** The method of a full run, or of a quick one (a smoke test of the instrument, not a figure). */
export const httpMethod = (quick: boolean): HttpMethod => ({
  processes: quick ? 1 : 5,
  latencyRounds: quick ? 6 : 30,
  latencyBlock: 250,
  throughputRounds: quick ? 5 : 100,
  throughputBlock: 500
})

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

/**
 * The clients' order in a round: shuffled anew each round (by a seeded
 * generator, so a run can be repeated), so that no client keeps a place —
 * first after the warm-up, or right after another.
 */
const shuffler = (seed: number) => {
  let state = seed >>> 0
  // mulberry32: a small generator, plenty for an order of a few clients.
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return (count: number): Array<number> => {
    const order = Array.from({ length: count }, (_, i) => i)
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1))
      ;[order[i], order[j]] = [order[j]!, order[i]!]
    }
    return order
  }
}

const names = {
  bare: "bare client",
  control: "bare client again (the control: what the method cannot tell apart)",
  readme: "resilient client, the README's (breaker, retry, timeout, fallback)",
  defaults: "resilient client, its defaults (a circuit per origin)",
  effect: "Effect's HttpClient.withCircuitBreaker (a circuit per origin, effect/persistence memory store)"
}

/**
 * Starts the server and the clients in `scope`, and measures them in this
 * process, in orders drawn from `seed`: one row per client.
 */
export const measureClients = async (
  scope: Scope.Scope,
  method: HttpMethod,
  seed: number
): Promise<ReadonlyArray<HttpRow>> => {
  // One server for every client, so they share the same connections (undici keeps a pool per origin):
  // with a server each, a client's figure carried its own connections' luck — the same bare client,
  // measured against two servers in turns, came out up to 8% apart, and not the same way in every run.
  const url = await startServer(scope)
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
      const effectBreaker = yield* EffectCircuitBreaker.make({
        tripPolicy: EffectCircuitBreaker.consecutive(5),
        openDuration: "30 seconds"
      })
      const effect = HttpClient.withCircuitBreaker(bare, { breaker: effectBreaker })
      return [
        { name: names.bare, client: bare, url },
        { name: names.control, client: bare, url },
        { name: names.readme, client: readme, url },
        { name: names.defaults, client: defaults, url },
        { name: names.effect, client: effect, url }
      ]
    }).pipe(Effect.provide([FetchHttpClient.layer, EffectCircuitBreaker.layerStoreMemory()])),
    scope
  ))
  {
    // Warm: connections opened, code compiled, pools at their size.
    for (let round = 0; round < 3; round++) {
      for (const c of clients) {
        await oneAtATime(c, method.latencyBlock)
        await manyAtOnce(c, method.throughputBlock)
      }
    }
    const order = shuffler(seed)
    // Latency: every request's, by client, and each block's median, by round.
    const latencies = clients.map((): Array<number> => [])
    const blockMedians = clients.map((): Array<number> => [])
    for (let round = 0; round < method.latencyRounds; round++) {
      for (const i of order(clients.length)) {
        const block: Array<number> = []
        await oneAtATime(clients[i]!, method.latencyBlock, block)
        latencies[i]!.push(...block)
        blockMedians[i]!.push(median(block))
      }
    }
    const blockTimes = clients.map((): Array<number> => [])
    for (let round = 0; round < method.throughputRounds; round++) {
      for (const i of order(clients.length)) blockTimes[i]!.push(await manyAtOnce(clients[i]!, method.throughputBlock))
    }
    // A client next to the bare one in the same round, whose blocks ran within a second of each other:
    // the median over rounds of that ratio cancels the machine's drift, which pooled figures keep.
    const pairedTo = (samples: ReadonlyArray<number>, bare: ReadonlyArray<number>) =>
      median(samples.map((value, round) => value / bare[round]!))
    return clients.map((c, i): HttpRow => ({
      client: c.name,
      medianLatencyMicros: median(latencies[i]!) / 1000,
      p99LatencyMicros: quantile(latencies[i]!, 0.99) / 1000,
      requestsPerSecond: 1e9 / median(blockTimes[i]!),
      latencyRatio: pairedTo(blockMedians[i]!, blockMedians[0]!),
      throughputRatio: pairedTo(blockTimes[i]!, blockTimes[0]!)
    }))
  }
}

/** The process that measures the clients: `httpProcess.ts`, bundled next to the benchmarks' bundle. */
const processFile = fileURLToPath(new URL("./.http.mjs", import.meta.url))

/** The longest a process may take: a full one takes about a minute. */
const processTimeoutMillis = 10 * 60_000

/**
 * Measures the clients in a fresh process, in orders drawn from `seed`; its
 * rows. Settled once the process is gone and its channel closed (its last
 * message read), or failed when it sent no figures or outlived
 * `processTimeoutMillis` (it is killed).
 */
const measureInProcess = (method: HttpMethod, seed: number): Promise<ReadonlyArray<HttpRow>> =>
  new Promise((resolve, reject) => {
    const child = fork(processFile, [JSON.stringify(method), String(seed)], {
      execArgv: ["--expose-gc", "--enable-source-maps"],
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    let rows: ReadonlyArray<HttpRow> | undefined
    const timer = setTimeout(() => child.kill("SIGKILL"), processTimeoutMillis)
    child.once("message", (message) => {
      rows = message as ReadonlyArray<HttpRow>
    })
    child.once("error", reject)
    child.once("close", (code, signal) => {
      clearTimeout(timer)
      if (rows !== undefined) resolve(rows)
      else reject(new Error(`the HTTP benchmark process ended (${signal ?? code}) with no figures`))
    })
  })

/** Measures the clients in `method.processes` fresh processes, one after another, and sums them up. */
export const measureHttp = async (method: HttpMethod): Promise<HttpFigures> => {
  const runs: Array<ReadonlyArray<HttpRow>> = []
  // Each process its own orders: a bias of a client's place in them does not repeat in every process.
  for (let i = 0; i < method.processes; i++) runs.push(await measureInProcess(method, 20261130 + i))
  const rows = runs[0]!.map((row, i): HttpRow => {
    const each = (figure: (row: HttpRow) => number) => median(runs.map((run) => figure(run[i]!)))
    return {
      client: row.client,
      medianLatencyMicros: each((r) => r.medianLatencyMicros),
      p99LatencyMicros: each((r) => r.p99LatencyMicros),
      requestsPerSecond: each((r) => r.requestsPerSecond),
      latencyRatio: each((r) => r.latencyRatio),
      throughputRatio: each((r) => r.throughputRatio)
    }
  })
  return { rows, runs, method, checks: httpChecks(rows) }
}

/** The targets and reported figures of the HTTP clients. */
const httpChecks = (rows: ReadonlyArray<HttpRow>): ReadonlyArray<HttpCheck> => {
  const [bare, control, readme, defaults, effect] = rows as [HttpRow, HttpRow, HttpRow, HttpRow, HttpRow]
  const within = (v: number) => v <= 1.03
  const reported = { target: "reported", ok: () => true }
  return [
    {
      what: "resilient HTTP client (defaults) / bare client, one request at a time: median latency",
      value: defaults.latencyRatio,
      target: "<= 1.03",
      ok: within
    },
    {
      what: `resilient HTTP client (defaults) / bare client, ${httpConcurrency} requests at once: time per request`,
      value: defaults.throughputRatio,
      target: "<= 1.03",
      ok: within
    },
    {
      what: "resilient HTTP client (README's: + retry, timeout, fallback) / bare client, one at a time: median latency",
      value: readme.latencyRatio,
      ...reported
    },
    {
      what: `resilient HTTP client (README's) / bare client, ${httpConcurrency} requests at once: time per request`,
      value: readme.throughputRatio,
      ...reported
    },
    {
      what: "Effect's HttpClient.withCircuitBreaker / bare client, one request at a time: median latency",
      value: effect.latencyRatio,
      ...reported
    },
    {
      what:
        `Effect's HttpClient.withCircuitBreaker / bare client, ${httpConcurrency} requests at once: time per request`,
      value: effect.throughputRatio,
      ...reported
    },
    {
      what: "bare HTTP client / itself, measured as another client (the method's resolution): median latency",
      value: control.latencyRatio,
      ...reported
    },
    {
      what: `bare HTTP client / itself, measured as another client, ${httpConcurrency} requests at once`,
      value: control.throughputRatio,
      ...reported
    },
    {
      what: "bare HTTP client, one request at a time: median latency (µs)",
      value: bare.medianLatencyMicros,
      ...reported
    },
    {
      what: `bare HTTP client, ${httpConcurrency} requests at once: requests per second`,
      value: bare.requestsPerSecond,
      ...reported
    }
  ]
}

/** The figures as a Markdown table: medians over the processes, each ratio with its range over them. */
export const httpTable = (figures: HttpFigures): string => {
  const range = (i: number, figure: (row: HttpRow) => number) => {
    const values = figures.runs.map((run) => figure(run[i]!))
    return values.length < 2 ? "" : ` (${Math.min(...values).toFixed(3)}-${Math.max(...values).toFixed(3)})`
  }
  return [
    `| client | median latency (µs) | p99 latency (µs) | latency / bare | requests/s, ${httpConcurrency} at once | time per request / bare |`,
    "|---|---:|---:|---:|---:|---:|",
    ...figures.rows.map((row, i) =>
      `| ${row.client} | ${row.medianLatencyMicros.toFixed(1)} | ${row.p99LatencyMicros.toFixed(1)} | ${
        row.latencyRatio.toFixed(3)
      }${range(i, (r) => r.latencyRatio)} | ${row.requestsPerSecond.toFixed(0)} | ${row.throughputRatio.toFixed(3)}${
        range(i, (r) => r.throughputRatio)
      } |`
    )
  ].join("\n")
}
