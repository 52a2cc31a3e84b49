/**
 * The demo with REDIS_URL: three instances, each with a RedisCircuitStore of its own, sharing every
 * circuit through a real redis-server (skipped with a notice where the binary is missing, unless CI
 * is set). Real time: the instances and Redis talk over real sockets, which no TestClock moves; each
 * wait is marked where it is.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Redacted, Schedule } from "effect"
import type { CircuitBreaker, CircuitState } from "effect-resilience"
import { FetchHttpClient, HttpClient, HttpClientRequest } from "effect/http"
import type { DemoConfig, Running } from "../../examples/service/demo.js"
import { runDemo } from "../../examples/service/demo.js"
import { RedisUnreachable } from "../../examples/service/fleet.js"
import { freePort, redisAvailable, redisServer } from "../redis/server.js"

const token = "fleet-admin-token-0123456789"

const config = (url: string, lines: Array<string>): DemoConfig => ({
  script: { cycleMillis: 60_000, phases: [] },
  pace: 0.25,
  forMillis: 3_000, // real clock: the run's length
  port: 0,
  store: { _tag: "Redis", url, instances: 3, prefix: "demo-test:" },
  admin: { token: Redacted.make(token), generated: false },
  ratePerSecond: 60,
  maxInFlight: 32,
  statusEvery: "1 second", // real clock: a status line a second
  print: (line) => Effect.sync(() => void lines.push(line))
})

const waitForState = (breaker: CircuitBreaker.CircuitBreaker, wanted: CircuitState.State) =>
  breaker.state.pipe(
    Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (state) => state === wanted }), // real clock: polls a live circuit
    Effect.timeout("2 seconds") // real clock: a transition reaches the other instances through Redis pub/sub
  )

const admin = (url: string, name: string, action: "force-open" | "reset") =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    client.execute(
      HttpClientRequest.post(`${url}/admin/resilience/circuits/${name}/${action}`).pipe(
        HttpClientRequest.bearerToken(token),
        HttpClientRequest.setHeader("X-Resilience-Admin", "1")
      )
    ))

describe.skipIf(!redisAvailable)("the demo with REDIS_URL", () => {
  it.live(
    "starts 3 instances sharing circuits: an operator's force-open on one reaches the others",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const lines: Array<string> = []
        const started = yield* Deferred.make<Running>()
        const fiber = yield* runDemo(config(server.url, lines), (running) => Deferred.succeed(started, running))
          .pipe(Effect.forkChild)
        const { instances } = yield* Deferred.await(started)
        expect(instances).toHaveLength(3)
        expect(new Set(instances.map((instance) => instance.url)).size).toBe(3)
        const searchOf = (i: number) => instances[i]!.clients.breakers.find((b) => b.name === "search")!

        expect((yield* admin(instances[0]!.url, "search", "force-open")).status).toBe(200)
        yield* waitForState(searchOf(2), "ForcedOpen")
        const client = yield* HttpClient.HttpClient
        const rejected = yield* client.get(`${instances[2]!.url}/search?q=lamp`)
        expect(rejected.status).toBe(503)
        expect(yield* rejected.json).toMatchObject({ breaker: "search", state: "ForcedOpen" })

        // A reset on another instance closes it for the fleet.
        expect((yield* admin(instances[1]!.url, "search", "reset")).status).toBe(200)
        yield* waitForState(searchOf(0), "Closed")
        yield* waitForState(searchOf(2), "Closed")

        const health = yield* Effect.flatMap(client.get(`${instances[1]!.url}/health/circuits`), (r) => r.json)
        const circuits = (health as { circuits: ReadonlyArray<{ breaker: string; fleet: unknown }> }).circuits
        expect(circuits.map((c) => c.breaker)).toEqual(["inventory", "catalog", "search"])
        // Each circuit carries the fleet's view, read from Redis.
        for (const circuit of circuits) expect(circuit.fleet).not.toBeNull()

        const result = yield* Fiber.join(fiber)
        expect(result.total.tally.search.requests).toBeGreaterThan(0)
        expect(lines[0]).toBe(`effect-resilience demo service: 3 instances sharing circuits through ${server.url}`)
        expect(lines.some((line) => line.includes("circuit search: Closed -> ForcedOpen"))).toBe(true)
        expect(lines.some((line) => line.includes("(other instances)"))).toBe(true)
      }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer)),
    30_000
  )

  it.live(
    "without Redis at REDIS_URL, the demo fails with a clear error that hides the password",
    () =>
      Effect.gen(function*() {
        const port = yield* Effect.promise(freePort)
        const exit = yield* Effect.exit(runDemo(config(`redis://demo:s3cret@127.0.0.1:${port}`, [])))
        expect(Exit.isFailure(exit)).toBe(true)
        const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        expect(error).toBeInstanceOf(RedisUnreachable)
        const message = (error as RedisUnreachable).message
        expect(message).toContain(`redis://demo:***@127.0.0.1:${port}`)
        expect(message).not.toContain("s3cret")
        expect(message).toContain("unset REDIS_URL to keep the circuits in memory")
      }),
    30_000
  )
})
