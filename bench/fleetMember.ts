/**
 * One member of a benchmark fleet, in a process of its own (see
 * `fleetProcesses.ts`): a Redis store and, on request, breakers that report
 * when they see their circuit open. Talks to its parent over IPC.
 */
import { Context, Effect, Layer, Scope, Stream } from "effect"
import { CircuitBreaker, RedisCircuitStore } from "../src/index.js"

type Request = { readonly make: string } | { readonly stop: true }

const url = process.env["FLEET_REDIS_URL"]!
const scope = Effect.runSync(Scope.make())
const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Effect.runPromise(Scope.provide(effect, scope))

const context = await run(Effect.gen(function*() {
  const context = yield* Layer.build(RedisCircuitStore.layer({ url, flushInterval: "100 millis" })).pipe(Effect.orDie)
  const store = Context.get(context, RedisCircuitStore.RedisCircuitStore)
  yield* store.connectedChanges.pipe(Stream.filter((up) => up), Stream.runHead)
  return context
}))

/** Wall-clock milliseconds comparable across the processes of one machine. */
const wallClock = () => performance.timeOrigin + performance.now()

process.on("message", (request: Request) => {
  if ("stop" in request) {
    void Effect.runPromise(Scope.close(scope, { _tag: "Success", value: undefined } as never)).then(() =>
      process.exit(0)
    )
    return
  }
  const name = request.make
  void run(Effect.gen(function*() {
    const breaker = yield* CircuitBreaker.make({
      name,
      consecutiveFailures: 1,
      openDuration: "1 hour",
      logTransitions: false
    }).pipe(Effect.provide(context), Effect.orDie)
    const events = yield* breaker.subscribe
    yield* Effect.forkIn(
      events.pipe(
        Stream.filter((event) => event._tag === "StateChanged" && event.to === "Open"),
        Stream.runHead,
        Effect.andThen(Effect.sync(() => process.send!({ open: name, at: wallClock() })))
      ),
      scope
    )
  })).then(() => process.send!({ made: name }))
})
process.send!({ ready: true })
