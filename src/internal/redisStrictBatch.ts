/**
 * Strict mode's batching, per circuit: the callers that ask for admission in
 * the same tick share one script call, and that call also carries the
 * outcomes finished since the circuit's last operation. Outcomes that no
 * admission picks up by the end of the tick are sent on their own.
 *
 * Why: strict mode decides every call in Redis. Sent one by one, each call
 * costs two script runs, and Redis runs scripts one at a time, so a busy
 * circuit queues behind itself. Batched, a call costs a share of one script
 * run, and the order strict mode promises holds: an outcome reaches Redis
 * before any admission sent after it (it rides in that admission's script,
 * ahead of the admission), and every admission is still decided by Redis.
 *
 * @internal
 */
import type { Exit } from "effect"
import { Effect } from "effect"
import type * as Redis from "effect/persistence/Redis"
import type { CircuitOpenError } from "../CircuitOpenError.js"
import type { StoreGrant } from "../CircuitStore.js"
import type { OutcomeCounts } from "./outcomeCounts.js"
import { countArgs, countOutcome, emptyCounts } from "./outcomeCounts.js"
import { notRun } from "./redisErrors.js"

type Answer = StoreGrant | Exit.Exit<never, CircuitOpenError> | "local"

/** A caller waiting for its admission. */
interface Waiter {
  resume: ((effect: Effect.Effect<Answer>) => void) | undefined
}

/** Outcomes counted under one fleet generation, not sent yet, and the order the calls ended in. */
interface Outcomes extends OutcomeCounts {
  readonly gen: number
  /** The calls in the order they ended: f failure, s success, upper case when slow. */
  sequence: string
}

/** What the batch needs of its circuit's link. @internal */
export interface StrictBatchLink {
  readonly now: () => number
  /** The trip rules and the window, as the script reads them after a batch's counts. */
  readonly rules: ReadonlyArray<string | number>
  /**
   * Asks Redis, from outside any fiber, to admit `admissions` callers with
   * `outcomes` recorded first, and hands the answers to `onAnswers`;
   * `leftCallers` tells, once the answer is in, whether the first caller left.
   */
  admitTick(
    now: number,
    admissions: number,
    outcomes: ReadonlyArray<string | number> | undefined,
    onUnsent: ((error: Redis.RedisError) => void) | undefined,
    leftCallers: () => boolean,
    onAnswers: (answers: ReadonlyArray<Answer>) => void
  ): void
  /** Sends outcomes on their own. */
  flushOutcomes(
    now: number,
    gen: number,
    outcomes: ReadonlyArray<string | number>,
    kept: () => void
  ): Effect.Effect<void>
  /** Keeps outcomes Redis surely did not record, for the next flush. */
  keep(gen: number, older: OutcomeCounts): void
  /** Starts an operation now, in a fiber of its own, which the store waits for before it closes. */
  start(operation: Effect.Effect<void>): void
  /** Whether the store's scope has closed. */
  readonly closed: () => boolean
}

const resolved = Promise.resolve()

/** @internal */
export class StrictBatch {
  private waiters: Array<Waiter> = []
  private outcomes: Outcomes | undefined = undefined
  private scheduled = false

  constructor(private readonly link: StrictBatchLink) {}

  /**
   * Waits for this tick's admission answer. The wait is interruptible even
   * inside the breaker's mask: a caller may leave while Redis is slow.
   */
  admit(): Effect.Effect<Answer> {
    return Effect.interruptible(Effect.callback<Answer>((resume) => {
      const waiter: Waiter = { resume }
      this.waiters.push(waiter)
      this.schedule()
      // A caller that leaves is answered no more; a probe lease meant for it goes back.
      return Effect.sync(() => {
        waiter.resume = undefined
      })
    }))
  }

  /**
   * Counts the outcome of a call admitted under fleet generation `gen`, to
   * send with the next operation (a failure's open-duration hint with it,
   * in milliseconds: the batch carries its longest).
   */
  outcome(gen: number, failed: boolean, slow: boolean, openHint: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      const pending = this.outcomes
      if (pending !== undefined && pending.gen !== gen) {
        // Another generation: what was counted under the old one goes now, on its own (not waited for).
        this.outcomes = undefined
        this.link.start(this.sendOutcomes(pending))
      }
      const batch = this.outcomes ??= { ...emptyCounts(), gen, sequence: "" }
      countOutcome(batch, failed, slow, openHint)
      batch.sequence += failed ? (slow ? "F" : "f") : (slow ? "S" : "s")
      this.schedule()
      return Effect.void
    })
  }

  /**
   * Starts sending the outcomes not sent yet, now: the link calls this
   * before any other operation, so that Redis records them first.
   */
  sendOutcomesNow(): void {
    const outcomes = this.outcomes
    if (outcomes === undefined) return
    this.outcomes = undefined
    this.link.start(this.sendOutcomes(outcomes))
  }

  /** Sends at the end of the tick, once: every caller of the tick has joined by then. */
  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    // A resolved promise's callback, not queueMicrotask: Node wraps each queueMicrotask callback in
    // an async resource, a cost strict mode would pay once per call.
    void resolved.then(() => {
      this.scheduled = false
      if (this.link.closed()) {
        for (const waiter of this.waiters.splice(0)) waiter.resume?.(Effect.succeed("local"))
        return
      }
      this.send()
    })
  }

  /** Sends the tick's admissions and outcomes: the command is written before this returns. */
  private send(): void {
    const waiters = this.waiters.splice(0)
    const outcomes = this.outcomes
    this.outcomes = undefined
    if (waiters.length === 0) {
      // Nothing left when the tick's outcomes rode in an admission sent meanwhile.
      if (outcomes !== undefined) this.link.start(this.sendOutcomes(outcomes))
      return
    }
    const args = outcomes === undefined ? undefined : this.argsOf(outcomes)
    const unsent = outcomes === undefined ? undefined : (error: Redis.RedisError) => {
      // Kept for the next flush when Redis surely did not run the script: after a timeout it may
      // have, and an outcome counted twice is worse than one lost.
      if (notRun(error)) this.keepAll(outcomes)
    }
    this.link.admitTick(
      this.link.now(),
      waiters.length,
      args,
      unsent,
      () => waiters[0]!.resume === undefined,
      (answers) => {
        for (let i = 0; i < waiters.length; i++) waiters[i]!.resume?.(Effect.succeed(answers[i]!))
      }
    )
  }

  private sendOutcomes(outcomes: Outcomes): Effect.Effect<void> {
    return this.link.flushOutcomes(this.link.now(), outcomes.gen, this.argsOf(outcomes), () => this.keepAll(outcomes))
  }

  private argsOf(outcomes: Outcomes): ReadonlyArray<string | number> {
    return [...countArgs(outcomes.gen, outcomes), ...this.link.rules, outcomes.sequence, outcomes.openHint]
  }

  private keepAll(outcomes: Outcomes): void {
    this.link.keep(outcomes.gen, outcomes)
  }
}
