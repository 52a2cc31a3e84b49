/**
 * The demo service end to end: the real upstreams, instances and load generator on free localhost
 * ports, for a few seconds of real time. The run follows a quick fault script (a 500 burst at the
 * inventory and a hanging catalog from 1 s to 2.2 s), with the story's times scaled to a quarter.
 * Real time is needed: the upstreams and the service answer on real sockets, which no TestClock moves;
 * each wait is marked where it is.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Schedule } from "effect"
import type { CircuitBreaker, CircuitState } from "effect-resilience"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "effect/http"
import { spawn } from "node:child_process"
import type { Running } from "../../examples/service/demo.js"
import { runDemo } from "../../examples/service/demo.js"
import { quickConfig } from "./quickScript.js"

/** Polls `breaker`'s state until `wanted` holds, for at most `seconds`. */
const waitForState = (breaker: CircuitBreaker.CircuitBreaker, wanted: CircuitState.State, seconds: number) =>
  breaker.state.pipe(
    Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (state) => state === wanted }), // real clock: polls a live circuit
    Effect.timeout(`${seconds} seconds`) // real clock: the fault script runs in real time
  )

/** Sends `request` until `accept` holds for its response, for at most `seconds`. */
const until = (
  request: HttpClientRequest.HttpClientRequest,
  accept: (status: number, headers: Readonly<Record<string, string>>) => boolean,
  seconds: number
) =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    client.execute(request).pipe(
      Effect.map((response) => ({ status: response.status, headers: response.headers, body: response.json })),
      Effect.repeat({
        schedule: Schedule.spaced("25 millis"), // real clock: a request every 25 ms against a live service
        until: (answer) => accept(answer.status, answer.headers)
      }),
      Effect.timeout(`${seconds} seconds`) // real clock: the fault script runs in real time
    ))

/** Runs the demo in this process, handing the running demo to `look` once it listens. */
const withDemo = <A, E>(lines: Array<string>, look: (running: Running) => Effect.Effect<A, E, HttpClient.HttpClient>) =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<Running>()
    const fiber = yield* runDemo(
      quickConfig(lines),
      (running) => Deferred.succeed(started, running).pipe(Effect.asVoid)
    )
      .pipe(Effect.forkChild)
    const seen = yield* look(yield* Deferred.await(started))
    return { seen, result: yield* Fiber.join(fiber) }
  }).pipe(Effect.provide(FetchHttpClient.layer))

describe("the demo service, end to end", () => {
  it.live(
    "answers, trips during the 5xx burst with 503 + Retry-After, serves products from cache, recovers",
    () =>
      Effect.gen(function*() {
        const lines: Array<string> = []
        const { result, seen } = yield* withDemo(lines, (running) =>
          Effect.gen(function*() {
            const [instance] = running.instances
            const url = instance!.url
            const [inventory, catalog] = instance!.clients.breakers
            const client = yield* HttpClient.HttpClient

            // Healthy at first: every endpoint answers from its upstream.
            const product = yield* client.get(`${url}/products/p-1`)
            expect(product.status).toBe(200)
            expect(product.headers["x-served-from"]).toBe("upstream")
            expect(yield* product.json).toMatchObject({ id: "p-1", name: "Product p-1" })
            expect((yield* client.get(`${url}/search?q=lamp`)).status).toBe(200)
            expect((yield* client.execute(HttpClientRequest.post(`${url}/checkout?sku=sku-1`))).status).toBe(201)
            expect((yield* client.get(`${url}/search?q=DROP%20TABLE`)).status).toBe(400)

            const health = yield* Effect.flatMap(client.get(`${url}/health/circuits`), (r) => r.json)
            const names = (health as { circuits: ReadonlyArray<{ breaker: string }> }).circuits.map((c) => c.breaker)
            expect(names).toEqual(["inventory", "catalog", "search"])

            // The burst trips the inventory's circuit; checkout then answers 503 with Retry-After. After the
            // burst, the probes succeed and the circuit closes.
            const inventoryStory = Effect.gen(function*() {
              yield* waitForState(inventory!, "Open", 3)
              const rejected = yield* until(
                HttpClientRequest.post(`${url}/checkout?sku=sku-1`),
                (status, headers) => status === 503 && headers["retry-after"] !== undefined,
                1.5
              )
              expect(Number(rejected.headers["retry-after"])).toBeGreaterThanOrEqual(1)
              expect(yield* rejected.body).toMatchObject({ status: 503, breaker: "inventory" })
              yield* waitForState(inventory!, "Closed", 3)
            })

            // Meanwhile the hanging catalog trips its circuit; products come from the last-known-good cache.
            const catalogStory = Effect.gen(function*() {
              yield* waitForState(catalog!, "Open", 3)
              const cached = yield* until(
                HttpClientRequest.get(`${url}/products/p-1`),
                (status, headers) => status === 200 && headers["x-served-from"] === "cache",
                1.5
              )
              expect(yield* cached.body).toMatchObject({ id: "p-1", name: "Product p-1" })
            })

            yield* Effect.all([inventoryStory, catalogStory], { concurrency: 2 })
            return { upstreamRequests: yield* running.upstreams.inventory.requests }
          }))

        expect(seen.upstreamRequests).toBeGreaterThan(0)
        const inventory = result.circuits.find((c) => c.name === "inventory")!
        expect(inventory.counts.trips).toBeGreaterThanOrEqual(1)
        expect(inventory.counts.state).toBe("Closed")
        expect(result.circuits.find((c) => c.name === "catalog")!.counts.trips).toBeGreaterThanOrEqual(1)
        const { checkout, product } = result.total.tally
        expect(checkout.open).toBeGreaterThan(0) // the load generator met the open circuit too
        expect(product.fallback).toBeGreaterThan(0)
        expect(product.requests).toBe(product.success + product.fallback + product.open + product.shed + product.error)

        expect(lines.some((line) => line.includes("circuit inventory: Closed -> Open"))).toBe(true)
        expect(lines.some((line) => line.includes("circuit inventory: HalfOpen -> Closed"))).toBe(true)
        // The run's own clock: 4.5 s and the few milliseconds the machine took to start it.
        expect(lines.some((line) => /^Summary after 4\.[5-9]s:$/.test(line))).toBe(true)
      }),
    20_000
  )
})

/** Runs `npm start`'s program as a child process; resolves with its exit code and output. */
const runMain = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.callback<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resume) => {
    const child = spawn("node_modules/.bin/tsx", ["examples/service/main.ts", ...args], {
      env: { ...process.env, RESILIENCE_ADMIN_TOKEN: "", REDIS_URL: "", DEMO_FOR: "", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => void (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => void (stderr += chunk.toString()))
    child.once("exit", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    return Effect.sync(() => void child.kill("SIGKILL"))
  })

describe("npm start as a process", () => {
  it.live(
    "--for runs that long, prints the banner and the summary, and exits 0 by itself",
    () =>
      Effect.gen(function*() {
        const { code, stderr, stdout } = yield* runMain(["--for", "2s", "--port", "0"]).pipe(
          Effect.timeout("30 seconds") // real clock: a process that left a handle open would never exit
        )
        expect(stderr).toBe("")
        expect(code).toBe(0)
        expect(stdout).toMatch(/service\s+http:\/\/127\.0\.0\.1:\d+/)
        expect(stdout).toMatch(/health\s+http:\/\/127\.0\.0\.1:\d+\/health\/circuits/)
        expect(stdout).toMatch(/admin token\s+\S{32}\s+\(generated/)
        expect(stdout).toContain("Fault script (from the start, repeating every 30.0s):")
        expect(stdout).toMatch(/^Summary after 2\.\ds:$/m)
        expect(stdout).toMatch(/inventory\s+0\s+Closed/)
      }),
    40_000
  )

  it.live("a bad --for is one line naming the flag and the rule, and exit code 2", () =>
    Effect.gen(function*() {
      const { code, stderr, stdout } = yield* runMain(["--for", "forever"]).pipe(
        Effect.timeout("30 seconds") // real clock: the process starts and exits
      )
      expect(code).toBe(2)
      expect(stdout).toBe("")
      expect(stderr.trim()).toBe(
        `demo: --for must be a duration from 1s to 24h written as a number and a unit (ms, s, m or h), ` +
          `such as 20s, 5m or 1h (got "forever")`
      )
    }), 40_000)
})
