import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Option } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Timeout } from "../src/index.js"

// Under the live clock a timeout policy keeps every call's deadline on one native timer of its own
// (src/internal/deadlines.ts) rather than a sleeping fiber per call: these tests run on the real
// clock, with durations of tens of milliseconds, because that timer is what they test.

const failureOf = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

describe("Timeout under the live clock", () => {
  it.live("a call that outlasts its duration is interrupted, then fails with the policy's TimeoutError", () =>
    Effect.gen(function*() {
      const timeout = yield* Timeout.make({ name: "live", duration: "30 millis" }) // real clock: the policy's own timer
      let interrupted = false
      const exit = yield* Effect.exit(
        Timeout.timeout(Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted = true))), timeout)
      )
      expect(Timeout.isTimeoutError(failureOf(exit))).toBe(true)
      expect(interrupted).toBe(true)
    }))

  it.live("only the calls still running at their deadline time out, each after its own duration", () =>
    Effect.gen(function*() {
      const timeout = yield* Timeout.make({ name: "queue", duration: "60 millis" }) // real clock: the policy's own timer
      const release = yield* Deferred.make<void>()
      const started = performance.now()
      const finished: Record<string, number> = {}
      const call = (name: string, work: Effect.Effect<void>) =>
        Effect.forkChild(
          Effect.exit(Timeout.timeout(work, timeout)).pipe(
            Effect.tap(() => Effect.sync(() => finished[name] = performance.now() - started))
          )
        )
      // "quick" ends before any deadline; "hung" never ends; "late" starts 20 ms after it and is
      // released 40 ms later, after the deadline the timer was first armed for has gone with "quick".
      const quick = yield* call("quick", Effect.void.pipe(Effect.delay("5 millis"))) // real clock: ends before its deadline
      const hung = yield* call("hung", Effect.never)
      yield* Effect.sleep("20 millis") // real clock: the next call starts later, so its deadline is later
      const late = yield* call("late", Deferred.await(release))
      yield* Effect.sleep("40 millis") // real clock: "hung" is due 60 ms after it started
      yield* Deferred.succeed(release, undefined)
      expect(Exit.isSuccess(yield* Fiber.join(quick))).toBe(true)
      expect(Timeout.isTimeoutError(failureOf(yield* Fiber.join(hung)))).toBe(true)
      expect(Exit.isSuccess(yield* Fiber.join(late))).toBe(true)
      expect(finished.hung).toBeGreaterThanOrEqual(59)
    }))

  it.live("a hundred calls that end in time leave no deadline behind to time out a later call early", () =>
    Effect.gen(function*() {
      const timeout = yield* Timeout.make({ name: "many", duration: "50 millis" }) // real clock: the policy's own timer
      for (let i = 0; i < 100; i++) expect(yield* Timeout.timeout(Effect.succeed(i), timeout)).toBe(i)
      const started = performance.now()
      const exit = yield* Effect.exit(Timeout.timeout(Effect.never, timeout))
      expect(Timeout.isTimeoutError(failureOf(exit))).toBe(true)
      expect(performance.now() - started).toBeGreaterThanOrEqual(49)
    }))
})

/** Runs a script with the project's TypeScript loader; resolves with its output and how long it ran. */
const runScript = (source: string) =>
  new Promise<{ readonly output: string; readonly millis: number }>((resolve, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", source], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      stdio: ["ignore", "pipe", "inherit"]
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => output += chunk.toString())
    child.on("error", reject)
    child.on("exit", () => resolve({ output, millis: performance.now() - started }))
  })

describe("Timeout's timer and the process", () => {
  it("a call in flight keeps the process alive until its deadline, as a timer of its own would", async () => {
    // A call that ended first leaves the timer unreferenced: the hung call must reference it again.
    const { output } = await runScript(`
      import { Effect } from "effect"
      import { Timeout } from "./src/index.ts"
      const timeout = await Effect.runPromise(Timeout.make({ duration: "200 millis" }))
      await Effect.runPromise(Timeout.timeout(Effect.promise(() => Promise.resolve(1)), timeout))
      const exit = await Effect.runPromise(Effect.exit(Timeout.timeout(Effect.never, timeout)))
      console.log(exit._tag, exit.cause?.reasons?.[0]?.error?._tag)
    `)
    expect(output.trim()).toBe("Failure TimeoutError")
  }, 30_000)

  it("once every call has ended, the timer no longer holds the process open", async () => {
    const { millis, output } = await runScript(`
      import { Effect } from "effect"
      import { Timeout } from "./src/index.ts"
      const timeout = await Effect.runPromise(Timeout.make({ duration: "20 seconds" }))
      const value = await Effect.runPromise(Timeout.timeout(Effect.promise(() => Promise.resolve(42)), timeout))
      console.log(value)
    `)
    expect(output.trim()).toBe("42")
    // A timer still referenced would hold the process for the call's full 20 seconds.
    expect(millis).toBeLessThan(10_000)
  }, 30_000)
})
