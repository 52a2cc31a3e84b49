import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { parseCli, parseDuration, UsageError } from "../../examples/service/cli.js"

const failure = (exit: Exit.Exit<unknown, UsageError>) =>
  Exit.isFailure(exit) ? exit.cause.reasons.flatMap((r) => r._tag === "Fail" ? [r.error] : [])[0] : undefined

describe("demo command line", () => {
  it.effect("--for and DEMO_FOR give the run's length; the flag wins; the default runs until Ctrl-C", () =>
    Effect.gen(function*() {
      expect((yield* parseCli([], {})).forMillis).toBeUndefined()
      expect((yield* parseCli(["--for", "20s"], {})).forMillis).toBe(20_000)
      expect((yield* parseCli(["--for=1.5m"], {})).forMillis).toBe(90_000)
      expect((yield* parseCli([], { DEMO_FOR: "1h" })).forMillis).toBe(3_600_000)
      expect((yield* parseCli(["--for", "2s"], { DEMO_FOR: "1h" })).forMillis).toBe(2_000)
      expect((yield* parseCli([], {})).port).toBe(8080)
      expect(yield* parseCli(["--port", "0"], { REDIS_URL: "redis://r:6379" })).toMatchObject({
        port: 0,
        redisUrl: "redis://r:6379"
      })
    }))

  it("durations are bounded: 1 s to 24 h, a number and a unit", () => {
    expect(parseDuration("1s")).toBe(1_000)
    expect(parseDuration("24h")).toBe(86_400_000)
    expect(parseDuration("999ms")).toBeUndefined()
    expect(parseDuration("25h")).toBeUndefined()
    expect(parseDuration("20")).toBeUndefined()
    expect(parseDuration("-5s")).toBeUndefined()
    expect(parseDuration("1e3s")).toBeUndefined()
    expect(parseDuration("9".repeat(400) + "s")).toBeUndefined()
  })

  it.effect("a bad value is a UsageError naming the flag or variable and the rule, with exit code 2", () =>
    Effect.gen(function*() {
      const badFor = failure(yield* Effect.exit(parseCli(["--for", "soon"], {})))
      expect(badFor).toBeInstanceOf(UsageError)
      expect(badFor?.message).toMatch(/^--for must be a duration from 1s to 24h .* \(got "soon"\)$/)
      expect(badFor?.["~effect/Runtime/errorExitCode"]).toBe(2)
      expect(failure(yield* Effect.exit(parseCli([], { DEMO_FOR: "0s" })))?.message).toMatch(/^DEMO_FOR must be/)
      expect(failure(yield* Effect.exit(parseCli(["--for"], {})))?.message).toBe("--for needs a value")
      expect(failure(yield* Effect.exit(parseCli(["--port", "70000"], {})))?.message).toMatch(/^--port must be a port/)
      expect(failure(yield* Effect.exit(parseCli(["--fast"], {})))?.message).toBe(
        "--fast is not an option of the demo (see --help)"
      )
    }))
})
