/**
 * `npm run demo:terminal`: a flaky inventory service called in a loop through a policy:
 * a circuit breaker, with a retry and a timeout inside it, and a
 * last-known-good cache outside it.
 *
 * The service answers for 3 seconds, fails for 7, then recovers. Watch the
 * breaker open once half the calls of the last 5 seconds have failed, reject
 * calls while open (the cache serves the last known stock, marked stale),
 * probe with exponential backoff, and close again once the service is back.
 * Runs for 15 seconds of real time.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Clock, Console, Data, Effect, Fiber, Ref, Schedule, Stream } from "effect"
import { CircuitBreaker, Fallback, Policy, Retry, Timeout } from "effect-resilience"

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
  // The breaker sees one outcome per logical call: a retry and a timeout run inside it.
  const policy = yield* Policy.make({
    breaker,
    retry: yield* Retry.make({ name: "inventory", retries: 1, baseDelay: "10 millis" }),
    timeout: yield* Timeout.make({ name: "inventory", duration: "250 millis" })
  })
  // Outside it, the last stock the service gave, served while the service fails.
  const lastKnownStock = yield* Fallback.lastKnownGood<{ readonly sku: string; readonly stock: number }>()({
    name: "stock",
    ttl: "1 minute"
  })
  const stats = yield* Ref.make(zero)
  const total = yield* Ref.make(zero)
  const count = (f: (s: Stats) => Stats) => Effect.andThen(Ref.update(stats, f), Ref.update(total, f))

  yield* Console.log("effect-resilience demo: a flaky inventory service behind a circuit breaker")
  yield* Console.log(
    "  breaker: trips at >= 50% failures over the last 5s (min 10 calls); open 1s, 2s, 4s... (exponential); 2 probes"
  )
  yield* Console.log("  inside the breaker: 1 retry after 10 ms, a 250 ms timeout; outside it: the last known stock")
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

  // One logical call: through the policy, then the last-known-good cache.
  const stockOf = (sku: string) =>
    fetchStock(sku).pipe(
      Policy.apply(policy),
      Effect.tapError((error) =>
        count((s) =>
          error._tag === "CircuitOpenError" ? { ...s, rejected: s.rejected + 1 } : { ...s, failed: s.failed + 1 }
        )
      ),
      lastKnownStock.serve(sku),
      Effect.tap((served) =>
        count((s) => served._tag === "Fresh" ? { ...s, ok: s.ok + 1 } : { ...s, fallbacks: s.fallbacks + 1 })
      ),
      Effect.ignore
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
      `${t.rejected} rejected at once by the open circuit; ${t.fallbacks} failures and rejections were served ` +
      `the last known stock, marked stale. Final state: ${final.state}.`
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
      halfOpenPermits: 2,
      // The demo prints each transition itself, with the time since it started.
      logTransitions: false
    })
  )
)

NodeRuntime.runMain(program)
