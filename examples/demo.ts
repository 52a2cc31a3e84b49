/**
 * `npm start`: a flaky inventory service called in a loop through a circuit
 * breaker, with a retry inside the breaker and a cached fallback outside it.
 *
 * The service answers for 3 seconds, fails for 7, then recovers. Watch the
 * breaker open once half the calls of the last 5 seconds have failed, reject
 * calls while open (the fallback serves the last known stock), probe with
 * exponential backoff, and close again once the service is back.
 * Runs for 15 seconds of real time.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Clock, Console, Data, Effect, Fiber, Ref, Schedule, Stream } from "effect"
import { CircuitBreaker, withCircuitBreaker } from "effect-resilience"

class InventoryUnavailable extends Data.TaggedError("InventoryUnavailable")<{ readonly status: number }> {}

const RUN_SECONDS = 15
const OUTAGE_FROM = 3_000
const OUTAGE_UNTIL = 10_000

interface Stats {
  readonly ok: number
  readonly failed: number
  readonly rejected: number
  readonly fallbacks: number
}
const zero: Stats = { ok: 0, failed: 0, rejected: 0, fallbacks: 0 }
const callsOf = (s: Stats) => s.ok + s.failed + s.rejected

const program = Effect.gen(function*() {
  const startedAt = yield* Clock.currentTimeMillis
  const elapsed = Effect.map(Clock.currentTimeMillis, (now) => now - startedAt)
  const seconds = (millis: number) => (millis / 1000).toFixed(1).padStart(5)

  // The simulated dependency: 10-30 ms answers, or fast 503s during the outage.
  const fetchStock = (sku: string) =>
    Effect.gen(function*() {
      const t = yield* elapsed
      if (t >= OUTAGE_FROM && t < OUTAGE_UNTIL) {
        yield* Effect.sleep("5 millis")
        return yield* new InventoryUnavailable({ status: 503 })
      }
      yield* Effect.sleep(10 + Math.floor(Math.random() * 20))
      return { sku, stock: 40 + Math.floor(Math.random() * 5) }
    })

  const breaker = yield* CircuitBreaker.CircuitBreaker
  const stats = yield* Ref.make(zero)
  const total = yield* Ref.make(zero)
  const lastKnown = yield* Ref.make({ sku: "sku-42", stock: 40 })
  const count = (f: (s: Stats) => Stats) => Effect.andThen(Ref.update(stats, f), Ref.update(total, f))

  yield* Console.log("effect-resilience demo: a flaky inventory service behind a circuit breaker")
  yield* Console.log(
    "  breaker: trips at >= 50% failures over the last 5s (min 10 calls); open 1s, 2s, 4s... (exponential); 2 probes"
  )
  yield* Console.log(
    `  service: healthy until ${OUTAGE_FROM / 1000}s, down until ${OUTAGE_UNTIL / 1000}s, then healthy again\n`
  )

  // Every state transition, as it happens.
  const transitions = yield* breaker.subscribe
  yield* transitions.pipe(
    Stream.filter((event) => event._tag === "StateChanged"),
    Stream.runForEach((event) =>
      Effect.flatMap(elapsed, (t) => Console.log(`  [t=${seconds(t)}s] ${event.from} -> ${event.to} (${event.reason})`))
    ),
    Effect.forkChild
  )

  // One logical call: retried inside the breaker (the breaker sees one outcome),
  // with the last known stock as the fallback outside it.
  const stockOf = (sku: string) =>
    fetchStock(sku).pipe(
      Effect.retry({ times: 1, schedule: Schedule.exponential("10 millis") }),
      withCircuitBreaker(),
      Effect.tap((value) => Effect.andThen(Ref.set(lastKnown, value), count((s) => ({ ...s, ok: s.ok + 1 })))),
      Effect.catchTags({
        InventoryUnavailable: () =>
          Effect.andThen(count((s) => ({ ...s, failed: s.failed + 1, fallbacks: s.fallbacks + 1 })), Ref.get(lastKnown)),
        CircuitOpenError: () =>
          Effect.andThen(count((s) => ({ ...s, rejected: s.rejected + 1, fallbacks: s.fallbacks + 1 })), Ref.get(lastKnown))
      })
    )

  const caller = yield* stockOf("sku-42").pipe(Effect.repeat(Schedule.spaced("40 millis")), Effect.forkChild)

  // A line per second.
  for (let second = 1; second <= RUN_SECONDS; second++) {
    yield* Effect.sleep("1 second")
    const s = yield* Ref.getAndSet(stats, zero)
    const state = yield* breaker.state
    yield* Console.log(
      `  t=${String(second).padStart(3)}s  ${state.padEnd(8)} calls=${String(callsOf(s)).padStart(3)}` +
        ` ok=${String(s.ok).padStart(3)} failed=${String(s.failed).padStart(3)}` +
        ` rejected=${String(s.rejected).padStart(3)} fallbacks=${String(s.fallbacks).padStart(3)}`
    )
  }
  yield* Fiber.interrupt(caller)
  const t = yield* Ref.get(total)
  const final = yield* breaker.snapshot
  yield* Console.log(
    `\nsummary: ${callsOf(t)} calls, ${t.ok} answered by the service, ${t.failed} failed after a retry, ` +
      `${t.rejected} rejected at once by the open circuit; every failure or rejection was served ` +
      `the last known stock (${t.fallbacks} fallbacks). Final state: ${final.state}.`
  )
}).pipe(
  Effect.scoped,
  Effect.provide(
    CircuitBreaker.layer({
      name: "inventory",
      failureRate: 0.5,
      minimumCalls: 10,
      window: CircuitBreaker.timeWindow("5 seconds", 5),
      openDuration: Schedule.exponential("1 second"),
      maxOpenDuration: "4 seconds",
      halfOpenPermits: 2
    })
  )
)

NodeRuntime.runMain(program)
