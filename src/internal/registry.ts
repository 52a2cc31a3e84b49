/**
 * Circuit breakers made on demand, one per key (a host, a tenant, an
 * endpoint), in a bounded map.
 *
 * Each breaker lives in a scope of its own, forked from the registry's, and
 * is closed when the breaker is evicted. Eviction follows the CLOCK
 * algorithm: a lookup only sets a "used" mark (no clock read, no reordering
 * on the hot path); a sweep, from the oldest entry on, clears marks and
 * moves used entries to the back, and evicts the unused ones that have been
 * idle for `idleTimeToLive` — or, when the registry is full, the first
 * unused one. A breaker that is not Closed (open, half-open, forced open,
 * disabled) is never evicted: it would forget a dependency that is down.
 * Sweeps run when a breaker is made and when the snapshots are read.
 *
 * @internal
 */
import { Clock, Context, Deferred, Duration, Effect, Exit, Schema, Scope } from "effect"
import type { CircuitBreaker } from "../CircuitBreaker.js"
import { makeResolved } from "../CircuitBreaker.js"
import type { ResolvedConfig } from "../CircuitBreakerConfig.js"
import type { CircuitBreakerRegistry } from "../CircuitBreakerRegistry.js"
import type { Snapshot } from "../CircuitBreakerSnapshot.js"
import type { Classifier, ClassifyOptions } from "../Classifier.js"
import { fromOptions } from "../Classifier.js"
import type { CircuitBreakerImpl } from "./breaker.js"

/** @internal */
export const defaults = { maxBreakers: 10_000, idleTimeToLive: Duration.hours(1) } as const

/**
 * The registry has `maxBreakers` breakers and none can be evicted: each is
 * open, half-open, forced open or disabled (re-exported by
 * `CircuitBreakerRegistry`).
 *
 * @internal
 */
export class RegistryFullError extends Schema.TaggedError<RegistryFullError>()("RegistryFullError", {
  registry: Schema.String,
  key: Schema.String,
  maxBreakers: Schema.Number
}) {
  override get message(): string {
    return `Circuit breaker registry "${this.registry}" is full: its ${this.maxBreakers} breakers are all ` +
      `open, half-open, forced open or disabled, so none can make room for key "${this.key}". ` +
      `Raise maxBreakers, or reset breakers that no longer matter.`
  }
}

interface Entry {
  readonly breaker: CircuitBreakerImpl
  readonly scope: Scope.Closeable
  /** Set by every lookup, cleared by a sweep. */
  used: boolean
  /** When a sweep last found the entry used (or when it was made). */
  seenAt: number
}

/** @internal */
export class RegistryImpl implements CircuitBreakerRegistry<unknown> {
  private readonly entries = new Map<string, Entry>()
  private readonly idleMillis: number
  private readonly clock: Clock.Clock

  constructor(
    readonly name: string,
    private readonly configFor: (key: string) => Effect.Effect<ResolvedConfig, unknown>,
    readonly maxBreakers: number,
    readonly idleTimeToLive: Duration.Duration,
    private readonly scope: Scope.Scope,
    private readonly context: Context.Context<never>
  ) {
    this.idleMillis = Duration.toMillis(idleTimeToLive)
    this.clock = Context.get(context, Clock.Clock)
  }

  get(key: string): Effect.Effect<CircuitBreaker, unknown> {
    return Effect.suspend(() => {
      const entry = this.entries.get(key)
      if (entry === undefined) return this.create(key)
      entry.used = true
      return Effect.succeed(entry.breaker)
    })
  }

  readonly execute: CircuitBreakerRegistry<unknown>["execute"] =
    ((first: unknown, second?: unknown, third?: unknown) => {
      if (typeof first === "string") {
        // Data-last: resolve the classifier once, not on every call.
        const classify = fromOptions(second as ClassifyOptions | undefined)
        return (self: Effect.Effect<unknown, unknown, unknown>) => this.guard(self, first, classify)
      }
      return this.guard(
        first as Effect.Effect<unknown, unknown, unknown>,
        second as string,
        fromOptions(third as ClassifyOptions | undefined)
      )
    }) as never

  get size(): Effect.Effect<number> {
    return Effect.sync(() => this.entries.size)
  }

  get keys(): Effect.Effect<ReadonlyArray<string>> {
    return Effect.sync(() => [...this.entries.keys()])
  }

  get breakers(): Effect.Effect<ReadonlyArray<CircuitBreaker>> {
    return Effect.andThen(
      this.sweepIdle(false),
      Effect.sync(() => [...this.entries.values()].map((entry) => entry.breaker as CircuitBreaker))
    )
  }

  get snapshots(): Effect.Effect<ReadonlyArray<Snapshot>> {
    return Effect.flatMap(this.breakers, (breakers) => Effect.forEach(breakers, (breaker) => breaker.snapshot))
  }

  remove(key: string): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      const entry = this.entries.get(key)
      if (entry === undefined) return Effect.succeed(false)
      this.entries.delete(key)
      return Effect.as(Scope.close(entry.scope, Exit.void), true)
    })
  }

  private guard(
    self: Effect.Effect<unknown, unknown, unknown>,
    key: string,
    classify: Classifier | undefined
  ): Effect.Effect<unknown, unknown, unknown> {
    return Effect.withFiber((fiber) => {
      const entry = this.entries.get(key)
      if (entry !== undefined) {
        entry.used = true
        return entry.breaker.guard(self, classify ?? entry.breaker.classifier, fiber)
      }
      return Effect.flatMap(this.create(key), (breaker) => {
        const impl = breaker as CircuitBreakerImpl
        return impl.guard(self, classify ?? impl.classifier, fiber)
      })
    })
  }

  /** Breakers being made, by key: a second caller for the same key waits for the first. */
  private readonly making = new Map<string, Deferred.Deferred<CircuitBreaker, unknown>>()

  /** Makes the breaker for `key`, once however many fibers ask at the same time. */
  private create(key: string): Effect.Effect<CircuitBreaker, unknown> {
    return Effect.suspend(() => {
      const pending = this.making.get(key)
      if (pending !== undefined) return Deferred.await(pending)
      // Claimed before anything can yield: no other fiber makes this key meanwhile.
      const claim = Deferred.makeUnsafe<CircuitBreaker, unknown>()
      this.making.set(key, claim)
      return this.build(key).pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            this.making.delete(key)
            Deferred.doneUnsafe(claim, exit)
          })
        )
      )
    })
  }

  /** Validates the key's configuration, makes room, and makes the breaker. */
  private build(key: string): Effect.Effect<CircuitBreaker, unknown> {
    return Effect.gen({ self: this }, function*() {
      // The configuration first: a key whose configuration is invalid must not evict anything.
      const config = yield* this.configFor(key)
      yield* this.sweepIdle(true)
      // Breakers being made for other keys count: they will take their places.
      if (this.entries.size + this.making.size - 1 >= this.maxBreakers) {
        return yield* new RegistryFullError({ registry: this.name, key, maxBreakers: this.maxBreakers })
      }
      const scope = yield* Scope.fork(this.scope)
      const made = yield* Effect.exit(
        makeResolved(config).pipe(Scope.provide(scope), Effect.provideContext(this.context))
      )
      if (Exit.isFailure(made)) {
        yield* Scope.close(scope, made)
        return yield* Effect.failCause(made.cause)
      }
      const breaker = made.value as CircuitBreakerImpl
      // Not marked used: a breaker only earns its second chance by being used again.
      this.entries.set(key, { breaker, scope, used: false, seenAt: this.clock.currentTimeMillisUnsafe() })
      return breaker
    })
  }

  /** Evicts idle breakers and, when `makeRoom` and the registry is full, the first unused one. */
  private sweepIdle(makeRoom: boolean): Effect.Effect<void> {
    return Effect.suspend(() => {
      const evicted = this.sweep(this.clock.currentTimeMillisUnsafe(), makeRoom)
      return evicted.length === 0
        ? Effect.void
        : Effect.forEach(evicted, (entry) => Scope.close(entry.scope, Exit.void), { discard: true })
    })
  }

  private sweep(now: number, makeRoom: boolean): Array<Entry> {
    const evicted: Array<Entry> = []
    const entries = this.entries
    // An entry is looked at most twice: once to clear its mark, once more after it moved back.
    let budget = 2 * entries.size
    for (const [key, entry] of entries) {
      if (budget-- <= 0) break
      const full = makeRoom && entries.size >= this.maxBreakers
      const idle = now - entry.seenAt >= this.idleMillis
      if (!full && !idle) break
      if (entry.breaker.circuit.current._tag !== "Closed" || entry.used) {
        // Pinned (it remembers a dependency that is down, or an operator's decision), or used
        // since the last sweep: it stays, and goes to the back.
        entry.used = false
        entry.seenAt = now
        entries.delete(key)
        entries.set(key, entry)
        continue
      }
      entries.delete(key)
      evicted.push(entry)
    }
    return evicted
  }
}
