/**
 * The whole demo as one Effect: the upstreams and their fault script, the
 * service's instances, the load generator, the banner, the status lines and
 * transitions, and the summary — printed when the run ends, after its time
 * or on Ctrl-C (interruption), before anything is closed.
 */
import { NodeHttpClient } from "@effect/platform-node"
import type { Scope } from "effect"
import type { Duration } from "effect"
import { Effect, Layer, Redacted, Ref, Schedule, Stream } from "effect"
import type { CircuitBreaker, CircuitState } from "effect-resilience"
import type { FaultScript } from "./faultScript.js"
import * as ScriptClock from "./faultScript.js"
import type { Store } from "./fleet.js"
import { hidePassword, startFleet } from "./fleet.js"
import type { Instance } from "./instance.js"
import { runLoad } from "./load.js"
import type { AdminToken } from "./operator.js"
import * as Report from "./report.js"
import type { CircuitCounts, Window } from "./stats.js"
import * as Stats from "./stats.js"
import { startUpstreams } from "./upstreams.js"
import type { Upstreams } from "./upstreams.js"

/** How to run the demo. */
export interface DemoConfig {
  readonly script: FaultScript
  /** Scales the story's times (open durations, windows) with the script's; 1 for the default script. */
  readonly pace: number
  /** Run this long, then end with the summary; `undefined`: until interrupted. */
  readonly forMillis: number | undefined
  readonly port: number
  readonly store: Store
  readonly admin: AdminToken
  readonly ratePerSecond: number
  readonly maxInFlight: number
  readonly statusEvery: Duration.Input
  /** Where the lines go (the console, or a test's list). */
  readonly print: (line: string) => Effect.Effect<void>
}

/** The figures of a finished run: what the summary printed. */
export interface DemoResult {
  readonly total: Window
  readonly circuits: ReadonlyArray<{ readonly name: string; readonly counts: CircuitCounts }>
}

/** A running demo, for callers that look at it while it runs (the end-to-end test). */
export interface Running {
  readonly instances: ReadonlyArray<Instance>
  readonly upstreams: Upstreams
  readonly adminToken: string
}

/** Counts each circuit's trips from its events, and prints its transitions, for the current scope. */
const watchCircuits = (
  breakers: ReadonlyArray<CircuitBreaker.CircuitBreaker>,
  elapsed: Effect.Effect<number>,
  print: (line: string) => Effect.Effect<void>
): Effect.Effect<Ref.Ref<ReadonlyMap<string, number>>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const trips = yield* Ref.make<ReadonlyMap<string, number>>(new Map(breakers.map((b) => [b.name, 0])))
    for (const breaker of breakers) {
      const events = yield* breaker.subscribe
      yield* events.pipe(
        Stream.runForEach((event) =>
          event._tag !== "StateChanged" ? Effect.void : Effect.gen(function*() {
            if (event.to === "Open") {
              yield* Ref.update(trips, (m) => new Map(m).set(event.breaker, (m.get(event.breaker) ?? 0) + 1))
            }
            yield* print(Report.transitionLine(yield* elapsed, event))
          })
        ),
        Effect.forkScoped
      )
    }
    return trips
  })

const statesOf = (breakers: ReadonlyArray<CircuitBreaker.CircuitBreaker>) =>
  Effect.forEach(
    breakers,
    (breaker) =>
      Effect.map(breaker.state, (state): { readonly name: string; readonly state: CircuitState.State } => ({
        name: breaker.name,
        state
      }))
  )

/**
 * Runs the demo: prints the banner, then status lines, until `forMillis`
 * passed or the fiber is interrupted, and prints the summary. `onStart`
 * sees the running demo once everything listens.
 */
export const runDemo = (
  config: DemoConfig,
  onStart: (running: Running) => Effect.Effect<void> = () => Effect.void
) =>
  Effect.gen(function*() {
    const clock = yield* ScriptClock.make(config.script)
    const upstreams = yield* startUpstreams(clock)
    const instances = yield* startFleet({
      store: config.store,
      upstreams,
      port: config.port,
      pace: config.pace,
      admin: config.admin
    })
    const first = instances[0]!
    const stats = yield* Stats.make
    const trips = yield* watchCircuits(first.clients.breakers, clock.elapsed, config.print)

    const adminToken = Redacted.value(config.admin.token)
    for (
      const line of Report.banner({
        store: config.store._tag === "Memory" ? "memory" : hidePassword(config.store.url),
        instances: instances.map((instance) => ({ url: instance.url, routes: instance.operatorRoutes })),
        adminToken: { value: adminToken, generated: config.admin.generated },
        upstreams: Object.values(upstreams).map((u) => ({ name: u.name, url: u.url })),
        ratePerSecond: config.ratePerSecond,
        maxInFlight: config.maxInFlight,
        script: config.script,
        forMillis: config.forMillis
      })
    ) yield* config.print(line)

    const loadClient = yield* Layer.build(NodeHttpClient.layerUndici)
    yield* runLoad({
      targets: instances.map((instance) => instance.url),
      ratePerSecond: config.ratePerSecond,
      maxInFlight: config.maxInFlight,
      stats
    }).pipe(Effect.provideContext(loadClient), Effect.forkScoped)

    yield* Effect.gen(function*() {
      const interval = yield* stats.interval
      const states = yield* statesOf(first.clients.breakers)
      yield* config.print(Report.statusLine(yield* clock.elapsed, interval, states, yield* clock.activePhases))
    }).pipe(Effect.repeat(Schedule.spaced(config.statusEvery)), Effect.delay(config.statusEvery), Effect.forkScoped)

    yield* onStart({ instances, upstreams, adminToken })

    const result = Effect.gen(function*() {
      const total = yield* stats.total
      const counted = yield* Ref.get(trips)
      const circuits = yield* Effect.forEach(first.clients.breakers, (breaker, i) =>
        Effect.gen(function*() {
          // Every instance makes the same breakers in the same order.
          const others = yield* Effect.forEach(instances.slice(1), (instance) => instance.clients.breakers[i]!.state)
          return {
            name: breaker.name,
            counts: { trips: counted.get(breaker.name) ?? 0, state: yield* breaker.state },
            otherStates: others
          }
        }))
      const upstreamRequests = yield* Effect.forEach(Object.values(upstreams), (u) =>
        Effect.map(u.requests, (requests) => ({ name: u.name, requests })))
      yield* config.print("")
      for (const line of Report.summary({ total, circuits, upstreamRequests })) {
        yield* config.print(line)
      }
      return { total, circuits } satisfies DemoResult
    })

    // On Ctrl-C the summary is printed while the interruption unwinds, before the scope closes.
    const waiting = config.forMillis === undefined ? Effect.never : Effect.sleep(config.forMillis)
    return yield* waiting.pipe(
      Effect.onInterrupt(() =>
        Effect.asVoid(result)
      ),
      Effect.andThen(result)
    )
  }).pipe(Effect.scoped)
