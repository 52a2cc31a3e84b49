/**
 * Real time, for the few tests whose subject is a wait in real time: a
 * command timeout bounds how long a caller waits for a Redis that hangs,
 * which no `TestClock` moves. Everything else in the tests runs on the
 * `TestClock`.
 */
import { Effect } from "effect"

/** Waits `millis` of real time (a `setTimeout`, never the test clock). */
export const realDelay = (millis: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    // A real clock is needed: the waits these helpers serve are real I/O (a hung Redis), no TestClock moves them.
    const timer = setTimeout(() => resume(Effect.void), millis) // real clock, on purpose (see above)
    return Effect.sync(() => clearTimeout(timer))
  })

/** Runs `effect` and measures how long it took in real time (milliseconds). */
export const realDuration = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<number, never, R> =>
  Effect.suspend(() => {
    const start = performance.now()
    return Effect.map(Effect.exit(effect), () => performance.now() - start)
  })

/**
 * Runs `effect`, and dies when it has not completed within `millis` of real
 * time: a bound on a failing run, which a passing run never waits for.
 */
export const withinRealTime = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  millis: number,
  what: string
): Effect.Effect<A, E, R> =>
  Effect.raceFirst(effect, Effect.andThen(realDelay(millis), Effect.die(`${what}: not within ${millis} ms`)))
