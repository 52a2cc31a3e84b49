/**
 * How long each opening of a circuit lasts.
 *
 * A fixed duration is a constant. A `Schedule` is stepped once per consecutive
 * opening: the n-th opening lasts the schedule's n-th delay, measured against a
 * simulated clock that advances by the delays themselves (so `upTo` and
 * `during` count time spent open). When the schedule ends, its last delay
 * repeats. The stepper is kept between openings and restarted when the circuit
 * closes, so every opening costs one step, however long the outage. A delay
 * is capped by `maxOpenDuration` and by `Limits.maxDuration` (what every
 * timer holds); a negative or `NaN` delay counts as zero.
 *
 * The circuit's state machine is synchronous, so the step runs synchronously
 * too, in the context the breaker was made in (its `Random`). A schedule that
 * cannot compute its delays synchronously is rejected when the breaker is made.
 *
 * @internal
 */
import type { Context, Pull } from "effect"
import { Duration, Effect, Exit, Schedule } from "effect"
import type { ResolvedConfig } from "../CircuitBreakerConfig.js"
import { maxDuration } from "../Limits.js"

/**
 * Computes how long the n-th consecutive opening lasts, in milliseconds.
 *
 * @internal
 */
export interface OpenDurations {
  next(openings: number, now: number): number
  /** What `next` would give for the `openings`-th opening of a fresh backoff, leaving this one as it is. */
  peek(openings: number, now: number): number
  reset(): void
  /** Restarts the backoff as if `openings` consecutive openings had happened (a restored circuit's). */
  resume(openings: number, now: number): void
}

/** Backoff schedules reach their cap long before this many openings. */
const maxPeekSteps = 64

type Step = (now: number, input: number) => Pull.Pull<[unknown, Duration.Duration], unknown, unknown>

const maxMillis = Duration.toMillis(maxDuration)

/** Whole milliseconds in [0, Limits.maxDuration]: a schedule may compute anything. */
const toWholeMillis = (duration: Duration.Duration): number => {
  const millis = Math.ceil(Duration.toMillis(duration))
  return millis > 0 ? Math.min(millis, maxMillis) : 0
}

/** @internal */
export const makeOpenDurations = (config: ResolvedConfig, context: Context.Context<never>): OpenDurations => {
  const cap = config.maxOpenDuration === undefined ? maxMillis : toWholeMillis(config.maxOpenDuration)
  const openDuration = config.openDuration
  if (!Schedule.isSchedule(openDuration)) {
    const millis = Math.min(toWholeMillis(openDuration), cap)
    return { next: () => millis, peek: () => millis, reset: () => {}, resume: () => {} }
  }
  const schedule = openDuration as Schedule.Schedule<unknown, number>
  let step: Step | undefined
  let simulatedNow = 0
  let last = 0
  const durations: OpenDurations = {
    next(openings, now) {
      const run = Effect.runSyncExitWith(context)
      if (step === undefined) {
        const made = run(Schedule.toStep(schedule))
        if (Exit.isFailure(made)) return Math.min(last, cap)
        step = made.value as Step
        simulatedNow = now
      }
      const stepped = run(step(simulatedNow, openings))
      if (Exit.isSuccess(stepped)) {
        last = toWholeMillis(stepped.value[1])
        simulatedNow += last
      }
      return Math.min(last, cap)
    },
    peek(openings, now) {
      // A fresh backoff stepped to the n-th opening: the fleet's count decides, not this instance's.
      const fresh = makeOpenDurations(config, context)
      let millis = 0
      for (let n = 1; n <= Math.min(openings, maxPeekSteps); n++) millis = fresh.next(n, now)
      return millis
    },
    reset() {
      step = undefined
    },
    resume(openings, now) {
      step = undefined
      for (let n = 1; n <= Math.min(openings, maxPeekSteps); n++) durations.next(n, now)
    }
  }
  return durations
}

/**
 * Checks at construction that an `openDuration` schedule yields a first delay
 * synchronously; returns a description of the problem, if any.
 *
 * @internal
 */
export const checkSchedule = (
  schedule: Schedule.Schedule<unknown, number>,
  context: Context.Context<never>
): string | undefined => {
  const exit = Effect.runSyncExitWith(context)(
    Effect.flatMap(Schedule.toStep(schedule), (step) => step(0, 1))
  )
  if (Exit.isSuccess(exit)) {
    const millis = Duration.toMillis(exit.value[1])
    return Number.isFinite(millis) && millis >= 0
      ? undefined
      : `must be a Schedule whose delays are finite and non-negative (first delay: ${Duration.format(exit.value[1])})`
  }
  return "must be a Schedule that yields at least one delay, computed synchronously (no async steps)"
}
