/**
 * A small reference model of the circuit breaker contract (DESIGN.md), written
 * for clarity rather than speed: it keeps every outcome in a plain array and
 * recounts the window on every question. The property test runs the real
 * breaker and this model side by side and compares them after every step.
 */

export type Kind = "success" | "failure" | "defect" | "ignored"
export type State = "Closed" | "Open" | "HalfOpen" | "ForcedOpen" | "Disabled"

export interface ModelConfig {
  readonly consecutiveFailures?: number
  readonly failureCount?: number
  readonly failureRate?: number
  readonly slowCallRate?: number
  readonly slowCallDuration?: number
  readonly window: { readonly kind: "count"; readonly size: number } | {
    readonly kind: "time"
    readonly duration: number
    readonly buckets: number
  }
  readonly minimumCalls: number
  readonly openDuration: { readonly kind: "fixed"; readonly millis: number } | {
    readonly kind: "exponential"
    readonly base: number
  }
  readonly maxOpenDuration?: number
  readonly halfOpenPermits: number
  readonly successThreshold: number
  readonly halfOpenMaxWait?: number
}

export type Result =
  | { readonly _tag: "Ran"; readonly kind: Kind }
  | { readonly _tag: "Rejected"; readonly state: "Open" | "HalfOpen" | "ForcedOpen"; readonly retryAfter: number }

export interface Ticket {
  readonly gen: number
  readonly probe: boolean
  readonly startedAt: number
}

interface Outcome {
  readonly at: number
  readonly failure: boolean
  readonly slow: boolean
}

export class Model {
  state: State = "Closed"
  gen = 0
  now = 0
  consecutiveFailures = 0
  consecutiveOpenings = 0
  until = 0
  permitsLeft = 0
  successes = 0
  /** Probes of this half-open period still running. */
  inFlight = 0
  /** When the oldest undecided probe of this half-open period was admitted: the wait counts from it. */
  waitSince: number | undefined = undefined
  outcomes: Array<Outcome> = []
  readonly transitions: Array<string> = []
  private readonly consecutiveRule: number | undefined

  constructor(readonly config: ModelConfig) {
    const noRule = config.consecutiveFailures === undefined && config.failureCount === undefined &&
      config.failureRate === undefined && config.slowCallRate === undefined
    this.consecutiveRule = noRule ? 5 : config.consecutiveFailures
  }

  /** The outcomes inside the window at `now`. */
  window(): Array<Outcome> {
    const w = this.config.window
    if (w.kind === "count") return this.outcomes.slice(-w.size)
    const width = w.duration / w.buckets
    const epoch = Math.floor(this.now / width)
    return this.outcomes.filter((o) => Math.floor(o.at / width) > epoch - w.buckets)
  }

  openDurationFor(openings: number): number {
    const d = this.config.openDuration
    const millis = d.kind === "fixed" ? d.millis : d.base * 2 ** (openings - 1)
    return Math.min(millis, this.config.maxOpenDuration ?? Infinity)
  }

  private transition(to: State, reason: string, at: number) {
    this.gen++
    if (to !== this.state) this.transitions.push(`${this.state}->${to}:${reason}@${at}`)
    this.state = to
  }

  private clearCounts() {
    this.outcomes = []
    this.consecutiveFailures = 0
  }

  private open(at: number, reason: string) {
    this.consecutiveOpenings++
    this.until = at + this.openDurationFor(this.consecutiveOpenings)
    this.clearCounts()
    this.transition("Open", reason, at)
  }

  private close(at: number, reason: string) {
    this.consecutiveOpenings = 0
    this.clearCounts()
    this.transition("Closed", reason, at)
  }

  /** Time passes: apply the transitions it causes, in order. */
  advanceTo(now: number) {
    this.now = now
    while (true) {
      if (this.state === "Open" && now >= this.until) {
        this.permitsLeft = this.config.halfOpenPermits
        this.successes = 0
        this.inFlight = 0
        this.waitSince = undefined
        this.transition("HalfOpen", "OpenDurationElapsed", this.until)
      } else if (
        this.state === "HalfOpen" && this.config.halfOpenMaxWait !== undefined && this.waitSince !== undefined &&
        now >= this.waitSince + this.config.halfOpenMaxWait
      ) {
        this.open(this.waitSince + this.config.halfOpenMaxWait, "HalfOpenMaxWait")
      } else {
        return
      }
    }
  }

  /** A call arrives: the ticket it runs with, or its rejection. */
  admit(): Ticket | Result {
    this.advanceTo(this.now)
    switch (this.state) {
      case "Closed":
      case "Disabled":
        return { gen: this.gen, probe: false, startedAt: this.now }
      case "HalfOpen":
        if (this.permitsLeft > 0) {
          this.permitsLeft--
          this.inFlight++
          this.waitSince ??= this.now
          return { gen: this.gen, probe: true, startedAt: this.now }
        }
        return { _tag: "Rejected", state: "HalfOpen", retryAfter: 0 }
      case "Open":
        return { _tag: "Rejected", state: "Open", retryAfter: this.until - this.now }
      case "ForcedOpen":
        return { _tag: "Rejected", state: "ForcedOpen", retryAfter: Infinity }
    }
  }

  /** A call admitted with `ticket` finishes at `now` as `kind`. */
  complete(ticket: Ticket, kind: Kind) {
    this.advanceTo(this.now)
    if (ticket.gen !== this.gen) return // stale: admitted before a transition
    const duration = this.now - ticket.startedAt
    const slow = this.config.slowCallDuration !== undefined && duration >= this.config.slowCallDuration
    const outcome = kind === "ignored" ? "ignored" : kind === "success" ? "success" : "failure"
    if (ticket.probe) {
      this.inFlight--
      if (outcome === "ignored") {
        this.permitsLeft++
      } else if (outcome === "failure" || (slow && this.config.slowCallRate !== undefined)) {
        return this.open(this.now, "ProbeFailed")
      } else if (++this.successes >= this.config.successThreshold) {
        return this.close(this.now, "ProbesSucceeded")
      }
      // No probe left running: nothing is undecided, and the next probe starts a new wait.
      if (this.inFlight === 0) this.waitSince = undefined
      return
    }
    if (outcome === "ignored") return
    this.outcomes.push({ at: this.now, failure: outcome === "failure", slow })
    this.consecutiveFailures = outcome === "failure" ? this.consecutiveFailures + 1 : 0
    if (this.state !== "Closed") return
    const reason = this.tripReason()
    if (reason !== undefined) this.open(this.now, reason)
  }

  private tripReason(): string | undefined {
    const c = this.config
    if (this.consecutiveRule !== undefined && this.consecutiveFailures >= this.consecutiveRule) {
      return "ConsecutiveFailures"
    }
    const window = this.window()
    const calls = window.length
    const failures = window.filter((o) => o.failure).length
    const slow = window.filter((o) => o.slow).length
    if (c.failureCount !== undefined && failures >= c.failureCount) return "FailureCount"
    if (calls < c.minimumCalls) return undefined
    if (c.failureRate !== undefined && failures > 0 && failures / calls >= c.failureRate) return "FailureRate"
    if (c.slowCallRate !== undefined && slow > 0 && slow / calls >= c.slowCallRate) return "SlowCallRate"
    return undefined
  }

  forceOpen() {
    this.advanceTo(this.now)
    if (this.state === "ForcedOpen") return
    this.clearCounts()
    this.transition("ForcedOpen", "ForceOpen", this.now)
  }

  disable() {
    this.advanceTo(this.now)
    if (this.state === "Disabled") return
    this.clearCounts()
    this.transition("Disabled", "Disable", this.now)
  }

  reset() {
    this.advanceTo(this.now)
    this.consecutiveOpenings = 0
    this.clearCounts()
    this.transition("Closed", "Reset", this.now)
  }

  snapshot() {
    this.advanceTo(this.now)
    const window = this.window()
    return {
      state: this.state,
      calls: window.length,
      failures: window.filter((o) => o.failure).length,
      slowCalls: window.filter((o) => o.slow).length,
      consecutiveFailures: this.consecutiveFailures,
      consecutiveOpenings: this.consecutiveOpenings,
      retryAfter: this.state === "Open" ? this.until - this.now : this.state === "ForcedOpen" ? Infinity : 0
    }
  }
}
