/**
 * The policies a dashboard shows beside its circuits: what each kind is, how
 * a value is recognised as one (by type id, so values of another copy of the
 * library count too), and how its figures are read — from its own snapshot
 * (bulkhead occupancy, retry budget) and from its events, counted by a fiber
 * subscribed through its public `subscribe` (an adaptive limit's drops and
 * rejections per interval are differences of its snapshot's totals). Events are built only on the
 * paths where a policy acts (a retry, a timeout, a fallback served, a
 * rejection, a hedge), so watching costs the calls that go well nothing.
 *
 * @internal
 */
import { Duration, Effect, Scope, Stream } from "effect"
import type { AdaptiveLimit } from "../AdaptiveLimit.js"
import type { Bulkhead } from "../Bulkhead.js"
import type { Policy as PolicyFigures } from "../DashboardEvent.js"
import type { Fallback } from "../Fallback.js"
import type { Hedge } from "../Hedge.js"
import type { LastKnownGood } from "../LastKnownGood.js"
import type { Retry } from "../Retry.js"
import type { RetryBudget } from "../RetryBudget.js"
import type { Timeout } from "../Timeout.js"
import { isPolicy } from "./policy.js"
import { isRetryBudget } from "./retryBudget.js"
import { hasTypeId } from "./service.js"

/**
 * What the dashboard reads of each kind of policy: its kind, its name, and
 * its snapshot or events, through the policy's public interface.
 *
 * @internal
 */
export type WatchedPolicy =
  | Pick<Retry, "kind" | "name" | "budget" | "subscribe">
  | Pick<RetryBudget, "kind" | "name" | "snapshot">
  | Pick<Timeout, "kind" | "name" | "subscribe">
  | Pick<Bulkhead, "kind" | "name" | "snapshot" | "subscribe">
  | Pick<Fallback<never, never, never, never>, "kind" | "name" | "subscribe">
  | Pick<LastKnownGood<unknown>, "kind" | "name" | "size" | "subscribe">
  | Pick<Hedge, "kind" | "name" | "subscribe">
  | Pick<AdaptiveLimit, "kind" | "name" | "snapshot">

const lastKnownGoodTypeId = "~effect-resilience/LastKnownGood"
const policyKinds: ReadonlySet<string> = new Set([
  "Retry",
  "Timeout",
  "Bulkhead",
  "Fallback",
  "Hedge",
  "AdaptiveLimit"
])

/** Whether `u` is a policy the dashboard can show. @internal */
export const isWatchedPolicy = (u: unknown): u is WatchedPolicy =>
  (isPolicy(u) && policyKinds.has(u.kind)) || isRetryBudget(u) || hasTypeId(u, lastKnownGoodTypeId)

/** The event tags counted for each kind, and the figure each one counts. */
const counted: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  Retry: { RetryScheduled: "retries", RetryGaveUp: "gaveUp" },
  Timeout: { TimedOut: "timeouts" },
  Bulkhead: { BulkheadRejected: "rejected" },
  Fallback: { FallbackUsed: "served" },
  LastKnownGood: { StaleValueServed: "staleServed" },
  Hedge: { HedgeStarted: "hedges", HedgeSucceeded: "hedgeWins" }
}

/**
 * One policy's figures: counts of its events in the current interval and in
 * total, kept by a fiber that lives as long as the scope it was started in.
 *
 * @internal
 */
export class PolicyWatch {
  private readonly interval: Record<string, number> = {}
  private readonly totals: Record<string, number> = {}
  /** An adaptive limit's totals at the previous sample, to count the interval's drops and rejections. */
  private previousDrops = 0
  private previousRejections = 0

  constructor(readonly circuit: string, readonly policy: WatchedPolicy) {
    for (const figure of Object.values(counted[policy.kind] ?? {})) {
      this.interval[figure] = 0
      this.totals[figure] = 0
    }
  }

  /** Subscribes to the policy's events (for the kinds that have events) for as long as `scope` is open. */
  start(scope: Scope.Scope): Effect.Effect<void> {
    const policy = this.policy
    const figures = counted[policy.kind]
    // Kinds read from their snapshot alone (an adaptive limit has events too, none counted here).
    if (!("subscribe" in policy) || figures === undefined) return Effect.void
    const subscribe: Effect.Effect<Stream.Stream<{ readonly _tag: string }>, never, Scope.Scope> = policy.subscribe
    const interval = this.interval
    const totals = this.totals
    return subscribe.pipe(
      Scope.provide(scope),
      Effect.flatMap((events) =>
        Stream.runForEach(events, (event) =>
          Effect.sync(() => {
            const figure = figures[event._tag]
            if (figure === undefined) return
            interval[figure]!++
            totals[figure]!++
          })).pipe(Effect.forkIn(scope))
      ),
      Effect.asVoid
    )
  }

  /** The figures now; the interval's counts start again from zero. */
  readonly sample: Effect.Effect<PolicyFigures> = Effect.suspend(() => {
    const figures: Record<string, number> = {}
    for (const figure of Object.keys(this.interval)) {
      figures[figure] = this.interval[figure]!
      figures[`${figure}Total`] = this.totals[figure]!
      this.interval[figure] = 0
    }
    return Effect.map(this.occupancy, (extra) => ({
      circuit: this.circuit,
      kind: this.policy.kind,
      name: this.policy.name,
      figures: { ...figures, ...extra }
    }))
  })

  /** What the policy's own snapshot says. */
  private get occupancy(): Effect.Effect<Readonly<Record<string, number>>> {
    const policy = this.policy
    switch (policy.kind) {
      case "Bulkhead":
        return Effect.map(policy.snapshot, (s) => ({
          running: s.running,
          queued: s.queued,
          maxConcurrent: s.maxConcurrent,
          maxQueued: s.maxQueued
        }))
      case "RetryBudget":
        return Effect.map(policy.snapshot, (s) => ({ available: s.available, retries: s.retries, calls: s.calls }))
      case "Retry":
        return policy.budget === undefined
          ? Effect.succeed({})
          : Effect.map(policy.budget.snapshot, (s) => ({
            budgetAvailable: s.available,
            budgetRetries: s.retries,
            budgetCalls: s.calls
          }))
      case "LastKnownGood":
        return Effect.map(policy.size, (entries) => ({ entries }))
      case "AdaptiveLimit":
        return Effect.map(policy.snapshot, (s) => {
          const figures: Record<string, number> = {
            limit: s.limit,
            inFlight: s.inFlight,
            minLimit: s.minLimit,
            maxLimit: s.maxLimit,
            drops: s.drops - this.previousDrops,
            dropsTotal: s.drops,
            rejected: s.rejections - this.previousRejections,
            rejectedTotal: s.rejections,
            successesTotal: s.successes
          }
          this.previousDrops = s.drops
          this.previousRejections = s.rejections
          // Round trips are shown once measured.
          if (s.recentRtt !== null) figures.recentRttMillis = Duration.toMillis(s.recentRtt)
          if (s.baselineRtt !== null) figures.baselineRttMillis = Duration.toMillis(s.baselineRtt)
          return figures
        })
      default:
        return Effect.succeed({})
    }
  }
}
