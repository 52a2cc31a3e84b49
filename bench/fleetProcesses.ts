/**
 * How long a trip on one instance takes to reach a fleet of instances that
 * each run in a process of their own (`fleetMember.ts`), all sharing one
 * `redis-server`: what an operator's fleet sees, with no shared event loop
 * to flatter it.
 */
import { Context, Effect, Layer, Scope, Stream } from "effect"
import type { ChildProcess } from "node:child_process"
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import { CircuitBreaker, RedisCircuitStore } from "../src/index.js"

type Message = { readonly ready: true } | { readonly made: string } | { readonly open: string; readonly at: number }

const memberFile = fileURLToPath(new URL("./fleetMember.ts", import.meta.url))

/** Starts `members` processes, and returns what measures a trip's latency across them. */
export const processFleet = async (url: string, members: number, scope: Scope.Scope) => {
  const children: Array<ChildProcess> = []
  const listeners = new Set<(message: Message) => void>()
  const ready = await Promise.all(Array.from({ length: members }, () =>
    new Promise<void>((resolve, reject) => {
      const child = fork(memberFile, [], {
        execArgv: ["--import", "tsx"],
        env: { ...process.env, FLEET_REDIS_URL: url },
        stdio: ["ignore", "ignore", "inherit", "ipc"]
      })
      children.push(child)
      child.on("message", (message: Message) => {
        if ("ready" in message) resolve()
        for (const listener of listeners) listener(message)
      })
      child.once("exit", (code) => reject(new Error(`fleet member exited (${code}) before it was ready`)))
    })))
  void ready
  const stop = () =>
    Promise.all(children.map((child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once("exit", () => resolve())
        child.send({ stop: true })
        setTimeout(() => child.kill("SIGKILL"), 5_000).unref()
      })
    ))
  await Effect.runPromise(Scope.addFinalizer(scope, Effect.promise(stop)))

  // The instance that trips, in this process.
  const tripper = await Effect.runPromise(Scope.provide(
    Effect.gen(function*() {
      const context = yield* Layer.build(RedisCircuitStore.layer({ url, flushInterval: "100 millis" })).pipe(
        Effect.orDie
      )
      yield* Context.get(context, RedisCircuitStore.RedisCircuitStore).connectedChanges.pipe(
        Stream.filter((up) => up),
        Stream.runHead
      )
      return context
    }),
    scope
  ))

  let sample = 0
  /** Milliseconds from a tripping call until every member saw its circuit open, per sample. */
  const tripLatencies = async (samples: number): Promise<ReadonlyArray<number>> => {
    const latencies: Array<number> = []
    for (let s = 0; s < samples; s++) {
      const name = `fleet-trip-${sample++}`
      const made = new Set<number>()
      const openAt: Array<number> = []
      let onAllMade: () => void = () => {}
      let onAllOpen: () => void = () => {}
      const allMade = new Promise<void>((resolve) => (onAllMade = resolve))
      const allOpen = new Promise<void>((resolve) => (onAllOpen = resolve))
      const listener = (message: Message) => {
        if ("made" in message && message.made === name) {
          made.add(made.size)
          if (made.size === members) onAllMade()
        } else if ("open" in message && message.open === name) {
          openAt.push(message.at)
          if (openAt.length === members) onAllOpen()
        }
      }
      listeners.add(listener)
      for (const child of children) child.send({ make: name })
      await allMade
      const latency = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          name,
          consecutiveFailures: 1,
          openDuration: "1 hour",
          logTransitions: false
        }).pipe(Effect.provide(tripper), Effect.orDie)
        // Trips land anywhere in the flush cycle, as they do in production.
        yield* Effect.sleep(Math.floor(Math.random() * 100))
        const start = performance.timeOrigin + performance.now()
        yield* Effect.exit(breaker.execute(Effect.fail("down")))
        yield* Effect.promise(() => allOpen)
        return Math.max(...openAt) - start
      })))
      listeners.delete(listener)
      latencies.push(latency)
    }
    return latencies
  }
  return { tripLatencies }
}
