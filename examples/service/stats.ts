/**
 * What the load generator saw, per endpoint, and what the circuits did: the
 * counts behind the status lines and the final summary, and their
 * arithmetic (totals, shares, rates per second over the clock's time).
 */
import { Clock, Effect, Ref } from "effect"
import type { CircuitState } from "effect-resilience"

/** The service's endpoints, as the load generator calls them. */
export type Endpoint = "checkout" | "product" | "search"

/** Every endpoint, in the order the demo prints them. */
export const endpoints: ReadonlyArray<Endpoint> = ["checkout", "product", "search"]

/**
 * How one request ended, as its caller saw it:
 * - `success`: a 2xx answer from the upstream;
 * - `fallback`: a 2xx answer served from the last-known-good cache;
 * - `open`: 503 because a circuit is open (with `Retry-After`);
 * - `shed`: 503 because a bulkhead or the load shedding was full;
 * - `error`: anything else (a 502 or 504, a transport error).
 */
export type Outcome = "success" | "fallback" | "open" | "shed" | "error"

/** The counts of one endpoint. */
export interface Counts {
  readonly requests: number
  readonly success: number
  readonly fallback: number
  readonly open: number
  readonly shed: number
  readonly error: number
}

/** The counts of every endpoint. */
export type Tally = { readonly [E in Endpoint]: Counts }

const zero: Counts = { requests: 0, success: 0, fallback: 0, open: 0, shed: 0, error: 0 }

/** No request yet. */
export const empty: Tally = { checkout: zero, product: zero, search: zero }

/** `tally` with one more request of `endpoint` that ended as `outcome`. */
export const record = (tally: Tally, endpoint: Endpoint, outcome: Outcome): Tally => ({
  ...tally,
  [endpoint]: { ...tally[endpoint], requests: tally[endpoint].requests + 1, [outcome]: tally[endpoint][outcome] + 1 }
})

/** The requests of `later` that `earlier` did not count yet. */
export const since = (later: Tally, earlier: Tally): Tally => {
  const minus = (a: Counts, b: Counts): Counts => ({
    requests: a.requests - b.requests,
    success: a.success - b.success,
    fallback: a.fallback - b.fallback,
    open: a.open - b.open,
    shed: a.shed - b.shed,
    error: a.error - b.error
  })
  return {
    checkout: minus(later.checkout, earlier.checkout),
    product: minus(later.product, earlier.product),
    search: minus(later.search, earlier.search)
  }
}

/** 503s of any cause: open circuits and shed load. */
export const unavailable = (counts: Counts): number => counts.open + counts.shed

/** Requests answered with a value: from the upstream or from the cache. */
export const answered = (counts: Counts): number => counts.success + counts.fallback

/** `part` as a whole percentage of `whole` (0 when there is nothing). */
export const percent = (part: number, whole: number): number => whole === 0 ? 0 : Math.round((part / whole) * 100)

/** Requests per second over `elapsedMillis`, to one decimal (0 before any time passed). */
export const perSecond = (count: number, elapsedMillis: number): number =>
  elapsedMillis <= 0 ? 0 : Math.round((count / elapsedMillis) * 10_000) / 10

/** What a circuit did: how often it tripped (moved to `Open`) and its state now. */
export interface CircuitCounts {
  readonly trips: number
  readonly state: CircuitState.State
}

/** A window of the counts: the requests since the window started, and its length on the clock. */
export interface Window {
  readonly tally: Tally
  readonly elapsedMillis: number
}

/** Counts kept over time, read whole or by intervals (for the status lines). */
export interface Stats {
  readonly record: (endpoint: Endpoint, outcome: Outcome) => Effect.Effect<void>
  /** Everything since `make`. */
  readonly total: Effect.Effect<Window>
  /** Everything since the previous call of `interval` (or since `make`). */
  readonly interval: Effect.Effect<Window>
}

/** Starts counting now, on the context's clock. */
export const make: Effect.Effect<Stats> = Effect.gen(function*() {
  const startedAt = yield* Clock.currentTimeMillis
  const tally = yield* Ref.make(empty)
  const mark = yield* Ref.make({ tally: empty, at: startedAt })
  return {
    record: (endpoint, outcome) => Ref.update(tally, (t) => record(t, endpoint, outcome)),
    total: Effect.zipWith(Ref.get(tally), Clock.currentTimeMillis, (t, now) => ({
      tally: t,
      elapsedMillis: now - startedAt
    })),
    interval: Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const current = yield* Ref.get(tally)
      const previous = yield* Ref.getAndSet(mark, { tally: current, at: now })
      return { tally: since(current, previous.tally), elapsedMillis: now - previous.at }
    })
  }
})
