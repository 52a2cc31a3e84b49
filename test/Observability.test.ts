import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Fiber, Layer, Logger, Metric, References, Schema } from "effect"
import { HttpClient, HttpClientResponse, HttpRouter } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { TestClock } from "effect/testing"
import {
  Bulkhead,
  CircuitBreaker,
  CircuitBreakerRegistry,
  CircuitBreakerSnapshot,
  Fallback,
  Health,
  Hedge,
  Metrics,
  Retry,
  Timeout
} from "../src/index.js"
import type { PolicyConfigError } from "../src/index.js"
import { Boom, boom, ok, series } from "./helpers.js"
import { failure } from "./policyHelpers.js"

/** Every test gets a metric registry of its own. */
const isolated = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, Metric.MetricRegistry, new Map())

/** Metrics switched on for everything made in `effect`, in a registry of its own. */
const withMetrics = <A, E, R>(effect: Effect.Effect<A, E, R>) => isolated(Metrics.enable(effect))

describe("metrics", () => {
  it.effect("a Prometheus scrape shows each breaker's series after a scripted sequence of calls and transitions", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        name: "payments",
        consecutiveFailures: 2,
        openDuration: "10 seconds",
        slowCallRate: 1, // never trips on slow calls here, but times every call
        slowCallDuration: "1 second",
        minimumCalls: 100
      })
      // 2 successes (one slow), 2 failures -> Open; 3 rejections; 10 s open -> HalfOpen; a probe -> Closed.
      yield* breaker.execute(ok)
      const slow = yield* Effect.forkChild(breaker.execute(Effect.sleep("1500 millis").pipe(Effect.as("slow"))))
      yield* TestClock.adjust("1500 millis")
      yield* Fiber.join(slow)
      yield* Effect.exit(breaker.execute(boom))
      yield* Effect.exit(breaker.execute(boom))
      for (let i = 0; i < 3; i++) yield* Effect.exit(breaker.execute(ok))
      yield* TestClock.adjust("4 seconds")
      const whileOpen = yield* PrometheusMetrics.format()
      expect(series(whileOpen, "resilience_circuit_breaker_state", { breaker: "payments" })).toBe(
        Metrics.stateValue.Open
      )
      expect(series(whileOpen, "resilience_circuit_breaker_open_seconds_total", { breaker: "payments" })).toBe(4)
      yield* TestClock.adjust("6 seconds")
      yield* breaker.execute(ok)
      const text = yield* PrometheusMetrics.format()
      const b = { breaker: "payments" }
      expect(series(text, "resilience_circuit_breaker_state", b)).toBe(Metrics.stateValue.Closed)
      expect(series(text, "resilience_circuit_breaker_calls_total", { ...b, outcome: "success" })).toBe(3)
      expect(series(text, "resilience_circuit_breaker_calls_total", { ...b, outcome: "failure" })).toBe(2)
      expect(series(text, "resilience_circuit_breaker_calls_total", { ...b, outcome: "rejected" })).toBe(3)
      expect(series(text, "resilience_circuit_breaker_calls_total", { ...b, outcome: "ignored" })).toBe(0)
      expect(series(text, "resilience_circuit_breaker_slow_calls_total", { ...b, outcome: "success" })).toBe(1)
      expect(series(text, "resilience_circuit_breaker_transitions_total", { ...b, from: "Closed", to: "Open" })).toBe(1)
      expect(series(text, "resilience_circuit_breaker_transitions_total", { ...b, from: "Open", to: "HalfOpen" })).toBe(
        1
      )
      expect(series(text, "resilience_circuit_breaker_transitions_total", { ...b, from: "HalfOpen", to: "Closed" }))
        .toBe(1)
      expect(series(text, "resilience_circuit_breaker_open_seconds_total", b)).toBe(10)
      expect(series(text, "resilience_circuit_breaker_call_duration_seconds_count", b)).toBe(5)
      expect(series(text, "resilience_circuit_breaker_call_duration_seconds_sum", b)).toBe(1.5)
      expect(series(text, "resilience_circuit_breaker_call_duration_seconds_bucket", { ...b, le: "1" })).toBe(4)
      expect(series(text, "resilience_circuit_breaker_call_duration_seconds_bucket", { ...b, le: "2.5" })).toBe(5)
      expect(text).toMatch(/# TYPE resilience_circuit_breaker_calls_total counter/)
      expect(text).toMatch(/# HELP resilience_circuit_breaker_state /)
    }).pipe(Effect.scoped, withMetrics))

  it.effect("metrics are off unless switched on: by the context (Metrics.layer), or by the breaker's own option", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const quiet = yield* CircuitBreaker.make({ name: "quiet" })
        const loud = yield* CircuitBreaker.make({ name: "loud", metrics: true })
        const enabled = yield* CircuitBreaker.make({ name: "enabled" }).pipe(Effect.provide(Metrics.layer))
        const optedOut = yield* CircuitBreaker.make({ name: "opted-out", metrics: false }).pipe(Metrics.enable)
        for (const breaker of [quiet, loud, enabled, optedOut]) yield* breaker.execute(ok)
        const text = yield* PrometheusMetrics.format()
        expect(text).not.toMatch(/breaker="quiet"/)
        expect(text).not.toMatch(/breaker="opted-out"/)
        expect(series(text, "resilience_circuit_breaker_calls_total", { breaker: "loud", outcome: "success" })).toBe(1)
        expect(series(text, "resilience_circuit_breaker_calls_total", { breaker: "enabled", outcome: "success" })).toBe(
          1
        )
        // A count-window breaker does not time its calls unless asked: no duration histogram.
        expect(text).not.toMatch(/resilience_circuit_breaker_call_duration_seconds_count\{breaker="loud"\}/)
      }))
      // The series go with the breaker's scope.
      expect(yield* PrometheusMetrics.format()).not.toMatch(/breaker="loud"/)
    }).pipe(isolated))

  it.effect("callDurations times every call of a count-window breaker", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "timed", metrics: { callDurations: true } })
      const fiber = yield* Effect.forkChild(breaker.execute(Effect.sleep("30 millis")))
      yield* TestClock.adjust("30 millis")
      yield* Fiber.join(fiber)
      const text = yield* PrometheusMetrics.format()
      expect(series(text, "resilience_circuit_breaker_call_duration_seconds_count", { breaker: "timed" })).toBe(1)
      expect(series(text, "resilience_circuit_breaker_call_duration_seconds_bucket", { breaker: "timed", le: "0.025" }))
        .toBe(0)
      expect(series(text, "resilience_circuit_breaker_call_duration_seconds_bucket", { breaker: "timed", le: "0.05" }))
        .toBe(1)
    }).pipe(Effect.scoped, withMetrics))

  it.effect("policies count their events under their names", () =>
    Effect.gen(function*() {
      const retry = yield* Retry.make({ name: "orders", retries: 2, baseDelay: 10, jitter: false })
      const timeout = yield* Timeout.make({ name: "orders", duration: "1 second" })
      const bulkhead = yield* Bulkhead.make({ name: "orders", maxConcurrent: 1 })
      const fallback = yield* Fallback.make({ name: "orders", value: 0 })
      const hedge = yield* Hedge.make({ name: "orders", delay: "10 millis" })
      const retried = yield* Effect.forkChild(Effect.exit(Retry.retry(boom, retry)))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(retried)
      const timed = yield* Effect.forkChild(Effect.exit(Timeout.timeout(Effect.never, timeout)))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(timed)
      const holder = yield* Effect.forkChild(Bulkhead.withBulkhead(Effect.never, bulkhead), { startImmediately: true })
      yield* Effect.exit(Bulkhead.withBulkhead(ok, bulkhead))
      yield* Fallback.fallback(boom, fallback)
      const hedged = yield* Effect.forkChild(Hedge.hedge(Effect.sleep("50 millis"), hedge))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.join(hedged)
      const text = yield* PrometheusMetrics.format()
      const p = { policy: "orders" }
      expect(series(text, "resilience_retries_total", p)).toBe(2)
      expect(series(text, "resilience_retry_gave_up_total", { ...p, reason: "ScheduleExhausted" })).toBe(1)
      expect(series(text, "resilience_timeouts_total", p)).toBe(1)
      expect(series(text, "resilience_bulkhead_rejections_total", { ...p, reason: "QueueFull" })).toBe(1)
      expect(series(text, "resilience_bulkhead_running", p)).toBe(1)
      expect(series(text, "resilience_fallbacks_total", p)).toBe(1)
      expect(series(text, "resilience_hedges_total", p)).toBe(1)
      expect(series(text, "resilience_hedge_wins_total", { ...p, attempt: "first" })).toBe(1)
      yield* Fiber.interrupt(holder)
      const quiet = yield* Retry.make({ name: "quiet", metrics: false })
      yield* Effect.exit(Retry.retry(Effect.die("x"), quiet))
      expect(yield* PrometheusMetrics.format()).not.toMatch(/policy="quiet"/)
    }).pipe(withMetrics))
})

describe("tracing and logs", () => {
  it.effect("a guarded call annotates the current span with the breaker, the state at admission and the outcome", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "search", consecutiveFailures: 1 })
      const attributesOf = <A, E>(effect: Effect.Effect<A, E>) =>
        Effect.gen(function*() {
          yield* Effect.exit(effect)
          const span = yield* Effect.currentSpan
          return span
        }).pipe(Effect.withSpan("request"))
      const succeeded = yield* attributesOf(breaker.execute(ok))
      expect(Object.fromEntries(succeeded.attributes)).toMatchObject({
        "resilience.circuit_breaker.name": "search",
        "resilience.circuit_breaker.state": "Closed",
        "resilience.circuit_breaker.outcome": "success"
      })
      yield* attributesOf(breaker.execute(boom))
      const rejected = yield* attributesOf(breaker.execute(ok))
      expect(Object.fromEntries(rejected.attributes)).toMatchObject({
        "resilience.circuit_breaker.state": "Open",
        "resilience.circuit_breaker.outcome": "rejected"
      })
      const events =
        (rejected as unknown as { readonly events: ReadonlyArray<[string, bigint, Record<string, unknown>]> }).events
      expect(events.map(([name, , attributes]) => [name, attributes["resilience.circuit_breaker.state"]])).toEqual([
        ["resilience.circuit_breaker.rejected", "Open"]
      ])
    }).pipe(Effect.scoped, isolated))

  it.effect("the span's state is the state the call was admitted in, even when the circuit moved as it arrived", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "probe", consecutiveFailures: 1, openDuration: "1 second" })
      yield* Effect.exit(breaker.execute(boom))
      yield* TestClock.setTime(1000) // the open period is over, but nothing has read the circuit yet
      const span = yield* Effect.gen(function*() {
        yield* breaker.execute(ok)
        return yield* Effect.currentSpan
      }).pipe(Effect.withSpan("request"))
      expect(span.attributes.get("resilience.circuit_breaker.state")).toBe("HalfOpen")
      expect(span.attributes.get("resilience.circuit_breaker.outcome")).toBe("success")
    }).pipe(Effect.scoped, isolated))

  it.effect("two live breakers of one name: the second reports no metrics (and says so) instead of overwriting the first", () =>
    Effect.gen(function*() {
      const first = yield* CircuitBreaker.make({ name: "twin" })
      const second = yield* CircuitBreaker.make({ name: "twin" })
      yield* first.execute(ok)
      yield* second.execute(ok)
      yield* second.execute(ok)
      const text = yield* PrometheusMetrics.format()
      expect(series(text, "resilience_circuit_breaker_calls_total", { breaker: "twin", outcome: "success" })).toBe(1)
    }).pipe(Effect.scoped, withMetrics))

  it.effect("each transition is logged once: a warning when the circuit opens, info when it half-opens and closes", () =>
    Effect.gen(function*() {
      const logs: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
      const capture = Logger.make((options) => {
        logs.push({
          level: options.logLevel,
          message: options.message,
          annotations: { ...options.fiber.getRef(References.CurrentLogAnnotations) }
        })
      })
      yield* Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name: "inventory",
          consecutiveFailures: 1,
          openDuration: "5 seconds"
        })
        yield* Effect.exit(breaker.execute(boom))
        for (let i = 0; i < 5; i++) yield* Effect.exit(breaker.execute(ok)) // rejections log nothing
        yield* TestClock.adjust("5 seconds") // the timer half-opens the circuit
        yield* breaker.state
        yield* breaker.execute(ok)
        // Control calls, and a half-open period that does not decide in time.
        yield* breaker.forceOpen
        yield* breaker.disable
        yield* breaker.reset
        const waiting = yield* CircuitBreaker.make({
          name: "waiting",
          consecutiveFailures: 1,
          openDuration: "1 second",
          halfOpenMaxWait: "1 second"
        })
        yield* Effect.exit(waiting.execute(boom))
        yield* TestClock.adjust("1 second")
        // A probe that never answers: the wait counts from its admission.
        yield* Effect.forkChild(waiting.execute(Effect.never), { startImmediately: true })
        yield* TestClock.adjust("1 second")
        const quiet = yield* CircuitBreaker.make({ name: "quiet", consecutiveFailures: 1, logTransitions: false })
        yield* Effect.exit(quiet.execute(boom))
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([capture])))
      const transitions = logs.filter((log) => "circuit_breaker" in log.annotations)
      expect(transitions.map((log) => [log.level, log.annotations.circuit_breaker, log.annotations.to])).toEqual([
        ["Warn", "inventory", "Open"],
        ["Info", "inventory", "HalfOpen"],
        ["Info", "inventory", "Closed"],
        ["Warn", "inventory", "ForcedOpen"],
        ["Info", "inventory", "Disabled"],
        ["Info", "inventory", "Closed"],
        ["Warn", "waiting", "Open"],
        ["Info", "waiting", "HalfOpen"],
        ["Warn", "waiting", "Open"]
      ])
      expect(transitions.at(-1)!.annotations).toMatchObject({ reason: "HalfOpenMaxWait" })
      expect(transitions[0]!.annotations).toMatchObject({
        circuit_breaker: "inventory",
        reason: "ConsecutiveFailures",
        retry_after_ms: 5000
      })
      expect(String(transitions[0]!.message)).toMatch(
        /"inventory" opened \(ConsecutiveFailures\): calls are rejected for 5s/
      )
    }).pipe(isolated))
})

describe("health", () => {
  class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
  class Search extends CircuitBreaker.Service<Search>()("search") {}
  const breakers = Layer.mergeAll(
    Payments.layer({ consecutiveFailures: 1, openDuration: "30 seconds" }),
    Search.layer({ consecutiveFailures: 1, openDuration: "30 seconds" }),
    CircuitBreakerRegistry.layer({ config: { consecutiveFailures: 1, metrics: true } })
  ).pipe(Layer.provide(Metrics.layer))
  const serve = <E, R>(routes: Layer.Layer<never, E, R>) =>
    HttpRouter.serve(routes, { disableLogger: true }).pipe(
      Layer.provideMerge(NodeHttpServer.layerTest),
      Layer.provideMerge(breakers)
    )
  const getReport = (path = "/health/circuits") =>
    Effect.flatMap(HttpClient.HttpClient, (client) =>
      Effect.flatMap(client.get(path), (response) =>
        Effect.map(
          HttpClientResponse.schemaBodyJson(Health.HealthReport)(response),
          (report) => [response.status, report] as const
        )))
  const Server = serve(Layer.mergeAll(
    Health.layerHttp({ sources: [Payments, CircuitBreakerRegistry.CircuitBreakerRegistry] }),
    Health.layerHttp({ sources: [Payments, Search], failWhenDegraded: true, path: "/health/strict" }),
    Health.layerHttp({ sources: [Health.critical(Payments), Search], path: "/health/critical" }),
    Health.layerMetricsHttp()
  ))

  it.effect("GET /health/circuits answers 200 whatever the circuits' states, with the states in the body, as JSON its Schema decodes", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const payments = yield* Payments
      const tenants = yield* CircuitBreakerRegistry.CircuitBreakerRegistry
      yield* payments.execute(ok)
      yield* tenants.execute(ok, "acme")
      const [healthyStatus, healthy] = yield* getReport()
      expect(healthyStatus).toBe(200)
      expect(healthy.status).toBe("healthy")
      expect(healthy.circuits.map((c) => [c.breaker, c.state])).toEqual([["payments", "Closed"], ["acme", "Closed"]])
      yield* TestClock.adjust("5 seconds")
      yield* Effect.exit(payments.execute(Effect.fail(new Boom({ n: 7 }))))
      // One dependency down does not take this instance out of rotation.
      const [degradedStatus, degraded] = yield* getReport()
      expect(degradedStatus).toBe(200)
      expect(degraded.status).toBe("degraded")
      // Why and when it opened, when a probe is next let in, and the failure that opened it.
      expect(degraded.circuits[0]).toMatchObject({
        breaker: "payments",
        state: "Open",
        consecutiveOpenings: 1,
        retryAfterMillis: 30_000,
        nextProbeAt: 35_000,
        openedAt: 5_000,
        openReason: "ConsecutiveFailures",
        openedBy: { at: 5_000, tag: "Boom" },
        lastFailure: { at: 5_000, tag: "Boom" },
        critical: false
      })
      yield* TestClock.adjust("30 seconds")
      const [halfOpenStatus, halfOpen] = yield* getReport()
      expect(halfOpenStatus).toBe(200)
      expect(halfOpen.circuits[0]).toMatchObject({ state: "HalfOpen", nextProbeAt: 35_000, openedAt: 5_000 })
      yield* payments.forceOpen
      const [, forced] = yield* getReport()
      expect(forced.circuits[0]).toMatchObject({
        retryAfterMillis: null,
        nextProbeAt: null,
        openReason: "ForceOpen",
        openedBy: null,
        lastFailure: { tag: "Boom" }
      })
      yield* payments.reset
      const [, reset] = yield* getReport()
      // A reset forgets every measurement, the last failure included.
      expect(reset.circuits[0]).toMatchObject({
        state: "Closed",
        openedAt: null,
        openReason: null,
        nextProbeAt: null,
        lastFailure: null
      })
      // The metrics route serves the same process's series.
      yield* payments.forceOpen
      const metrics = yield* Effect.flatMap(client.get("/metrics"), (response) => response.text)
      expect(series(metrics, "resilience_circuit_breaker_state", { breaker: "payments" })).toBe(
        Metrics.stateValue.ForcedOpen
      )
      expect(series(metrics, "resilience_circuit_breaker_calls_total", { breaker: "acme", outcome: "success" })).toBe(1)
    }).pipe(Effect.provide(Server), isolated))

  it.effect("503 only when asked: for every circuit (failWhenDegraded) or for the sources marked critical", () =>
    Effect.gen(function*() {
      const payments = yield* Payments
      const search = yield* Search
      for (const path of ["/health/strict", "/health/critical"]) {
        const [status, report] = yield* getReport(path)
        expect([path, status, report.status]).toEqual([path, 200, "healthy"])
      }
      // Search, which is not critical, goes down.
      yield* Effect.exit(search.execute(boom))
      expect((yield* getReport("/health/strict"))[0]).toBe(503)
      const [criticalStatus, critical] = yield* getReport("/health/critical")
      expect([criticalStatus, critical.status]).toEqual([200, "degraded"])
      expect(critical.circuits.map((c) => [c.breaker, c.critical])).toEqual([["payments", true], ["search", false]])
      // Payments, which is, goes down too: half-open is not letting calls through yet either.
      yield* Effect.exit(payments.execute(boom))
      const [status, report] = yield* getReport("/health/critical")
      expect([status, report.status]).toEqual([503, "unhealthy"])
      yield* TestClock.adjust("30 seconds")
      expect((yield* getReport("/health/critical"))[0]).toBe(503)
      yield* payments.disable // disabled: every call runs
      expect((yield* getReport("/health/critical"))[0]).toBe(200)
    }).pipe(Effect.provide(Server), isolated))

  it("the report's JSON decodes back with its own Schema", () => {
    const failure = new CircuitBreakerSnapshot.FailureSummary({ at: 1000, tag: "Boom", message: "boom" })
    const report = new Health.HealthReport({
      status: "degraded",
      circuits: [
        new Health.CircuitHealth({
          breaker: "b",
          state: "Open",
          calls: 0,
          failures: 0,
          slowCalls: 0,
          failureRate: 0,
          slowCallRate: 0,
          consecutiveFailures: 0,
          consecutiveOpenings: 1,
          probesInFlight: 0,
          retryAfterMillis: 1000,
          nextProbeAt: 2000,
          openedAt: 1000,
          openReason: "ConsecutiveFailures",
          openedBy: failure,
          lastFailure: failure,
          fleet: new CircuitBreakerSnapshot.FleetSnapshot({
            state: "Open",
            calls: 0,
            failures: 0,
            slowCalls: 0,
            failureRate: 0,
            slowCallRate: 0,
            consecutiveFailures: 0,
            consecutiveOpenings: 1,
            readAt: 1000
          }),
          critical: false
        })
      ]
    })
    const json = JSON.parse(JSON.stringify(Health.toJson(report)))
    expect(Schema.decodeUnknownSync(Health.HealthReport)(json)).toEqual(report)
    expect(() => Schema.decodeUnknownSync(Health.HealthReport)({ status: "fine", circuits: [] })).toThrow()
  })
})

describe("health sources are checked when the route is built", () => {
  class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
  class NotABreaker extends Context.Service<NotABreaker, { readonly snapshot: number }>()("app/NotABreaker") {}

  /** Builds the route with `sources`, and answers one GET (a hang fails the test by its timeout). */
  const build = (sources: ReadonlyArray<unknown>) =>
    Effect.gen(function*() {
      const built = yield* Effect.exit(Layer.build(
        HttpRouter.serve(Health.layerHttp({ sources: sources as unknown as [] }), {
          disableLogger: true
        }).pipe(Layer.provideMerge(NodeHttpServer.layerTest))
      ))
      if (Exit.isFailure(built)) return { error: failure(built) as PolicyConfigError }
      const status = yield* Effect.flatMap(HttpClient.HttpClient, (client) => client.get("/health/circuits")).pipe(
        Effect.map((response) => response.status),
        Effect.provideContext(built.value)
      )
      return { status }
    }).pipe(
      Effect.provide(Layer.mergeAll(
        Payments.layer({ consecutiveFailures: 1 }),
        Layer.succeed(NotABreaker, { snapshot: 5 })
      ))
    )

  it.effect("a source that is no breaker, registry, service key of one or critical(...) of one fails the layer with PolicyConfigError naming it", () =>
    Effect.gen(function*() {
      const unyielded = CircuitBreakerRegistry.make({ name: "tenants" })
      const cases: ReadonlyArray<readonly [unknown, RegExp]> = [
        [5, /must be a circuit breaker, a circuit breaker registry.*\(got 5\)/],
        [null, /must be a circuit breaker.*\(got null\)/],
        [{}, /must be a circuit breaker.*\(got object\)/],
        [Health.critical(5 as never), /must be a circuit breaker.*\(got 5\)/],
        [unyielded, /an Effect: yield it/],
        [NotABreaker, /service "app\/NotABreaker".*neither a circuit breaker nor a registry/]
      ]
      for (const [source, rule] of cases) {
        const { error } = yield* build([Payments, source])
        expect(error?._tag, String(source)).toBe("PolicyConfigError")
        expect(error!.issues.map((issue) => issue.field)).toEqual(["sources.1"])
        expect(error!.issues[0]!.rule).toMatch(rule)
      }
      // Every bad source is listed at once.
      const { error } = yield* build([5, Payments, null])
      expect(error!.issues.map((issue) => issue.field)).toEqual(["sources.0", "sources.2"])
    }).pipe(Effect.scoped, isolated))

  it.effect("breakers, registries, their service keys and critical(...) of each build and answer", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "inline" })
      const registry = yield* CircuitBreakerRegistry.make({ name: "tenants" })
      const built = yield* build([breaker, registry, Payments, Health.critical(registry), Health.critical(Payments)])
      expect(built).toEqual({ status: 200 })
    }).pipe(Effect.scoped, isolated))

  it.effect("Health.report dies naming the source when given one the types forbid", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Health.report([5] as never))
      expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
      const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      expect(String(defect)).toMatch(/Health\.report: sources\.0 must be a circuit breaker.*\(got 5\)/)
    }))
})
