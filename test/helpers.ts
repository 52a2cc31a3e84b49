import { expect } from "@effect/vitest"
import type { Exit } from "effect"
import { Cause, Data, Duration, Effect, Option } from "effect"
import type { CircuitBreaker } from "../src/index.js"
import { CircuitOpenError } from "../src/index.js"

export class Boom extends Data.TaggedError("Boom")<{ readonly n?: number }> {}
export class NotFound extends Data.TaggedError("NotFound") {}
export class Invalid extends Data.TaggedError("Invalid") {}

export const boom: Effect.Effect<never, Boom> = Effect.fail(new Boom({}))
export const ok: Effect.Effect<string> = Effect.succeed("ok")

/** Runs `effect` through `breaker` and returns its exit. */
export const attempt = <A, E>(breaker: CircuitBreaker.CircuitBreaker, effect: Effect.Effect<A, E>) =>
  Effect.exit(breaker.execute(effect))

/** Runs `n` failing calls through `breaker`. */
export const failTimes = (breaker: CircuitBreaker.CircuitBreaker, n: number) =>
  Effect.repeat(Effect.exit(breaker.execute(boom)), { times: n - 1 }).pipe(Effect.asVoid)

/** Runs `n` successful calls through `breaker`. */
export const succeedTimes = (breaker: CircuitBreaker.CircuitBreaker, n: number) =>
  Effect.repeat(Effect.exit(breaker.execute(ok)), { times: n - 1 }).pipe(Effect.asVoid)

/** The `CircuitOpenError` an exit failed with, or a test failure. */
export const rejection = (exit: Exit.Exit<unknown, unknown>): CircuitOpenError => {
  expect(exit._tag).toBe("Failure")
  if (exit._tag !== "Failure") throw new Error("unreachable")
  const error = Option.getOrUndefined(Cause.findErrorOption(exit.cause))
  expect(error).toBeInstanceOf(CircuitOpenError)
  return error as CircuitOpenError
}

/** Asserts that an exit is a rejection in `state` with `retryAfter` (millis). */
export const expectRejected = (
  exit: Exit.Exit<unknown, unknown>,
  state: CircuitOpenError["state"],
  retryAfterMillis?: number
) => {
  const error = rejection(exit)
  expect(error.state).toBe(state)
  if (retryAfterMillis !== undefined) expect(Duration.toMillis(error.retryAfter)).toBe(retryAfterMillis)
  return error
}

/** The value of one Prometheus series in `text`, or undefined. */
export const series = (text: string, name: string, labels: Record<string, string>): number | undefined => {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && line !== name && !line.startsWith(name + " ")) continue
    const match = /^([^{ ]+)(?:\{([^}]*)\})? (\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const found = Object.fromEntries(
      (match[2] ?? "").split(",").filter((p) => p.length > 0).map((pair) => {
        const [key, value] = pair.split("=")
        return [key!, JSON.parse(value!)]
      })
    )
    if (
      Object.entries(labels).every(([key, value]) => found[key] === value) &&
      Object.keys(found).length === Object.keys(labels).length
    ) {
      return Number(match[3])
    }
  }
  return undefined
}
