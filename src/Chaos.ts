/**
 * Fault injection (Polly's chaos strategies as the model): a policy that
 * makes some calls fail with a typed error, die, wait longer, hang or be
 * interrupted — at the rates you choose, deterministic under a seed and
 * `TestClock` — so that you can prove your breakers, timeouts and fallbacks
 * do their job before a dependency really fails.
 *
 * It is off unless switched on: `enabled` is required, and read from
 * `Config` when you give one (a missing variable is off, so a deployment
 * that never sets it never injects anything); `enable` and `disable` switch
 * it at run time. Place it where the faults should happen — around one
 * dependency's call, inside its breaker, in one route — and nothing else is
 * touched. Every injection is a `FaultInjected` event and counted in the
 * `resilience_faults_injected_total` metric.
 *
 * For each call, the faults are drawn in the order given, one draw each: a
 * `latency` that fires adds its wait and the draws go on; the first `fail`,
 * `die`, `hang` or `interrupt` that fires ends the call without running it.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Chaos } from "effect-resilience"
 *
 * declare const stock: (sku: string) => Effect.Effect<number, Error>
 *
 * const program = Effect.gen(function*() {
 *   const chaos = yield* Chaos.make({
 *     name: "inventory",
 *     enabled: Chaos.enabledFrom("CHAOS_INVENTORY"), // unset: off
 *     faults: [
 *       { kind: "latency", rate: 0.1, delay: "2 seconds" },
 *       { kind: "fail", rate: 0.05, error: () => new Error("injected") }
 *     ]
 *   })
 *   return yield* stock("sku-42").pipe(Chaos.inject(chaos))
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Scope, Stream } from "effect"
import type { Fiber } from "effect"
import { Config, Duration, Effect, Random, Schema } from "effect"
import { ConfigIssue } from "./ConfigIssue.js"
import { LogThrottle } from "./internal/logThrottle.js"
import type { Cell } from "./internal/metrics.js"
import { Name, nameOf } from "./internal/options.js"
import type { Setup } from "./internal/policy.js"
import { applyPolicy, makePolicy, metricsOption, PolicyBase } from "./internal/policy.js"
import { durationInput, FunctionValue, IntBetween, Rate } from "./internal/schemas.js"
import { policies as policyMetrics } from "./Metrics.js"
import type { Policy } from "./Policy.js"
import { PolicyConfigError } from "./PolicyConfigError.js"
import type { FaultKind } from "./PolicyEvent.js"
import { FaultInjected } from "./PolicyEvent.js"

/**
 * One fault and the share of calls it hits (`rate`, from 0 to 1):
 *
 * - `fail`: the call fails with `error()` (a typed error of yours) without running;
 * - `die`: the call dies with `defect()` (default: an `Error` saying it was injected);
 * - `latency`: the call runs after `delay` (from 1 millisecond to `Limits.maxDuration`);
 * - `hang`: the call never answers (until a timeout or the caller gives up);
 * - `interrupt`: the call is interrupted without running.
 *
 * @category models
 * @since 0.1.0
 */
export type Fault<E> =
  | { readonly kind: "fail"; readonly rate: number; readonly error: () => E }
  | { readonly kind: "die"; readonly rate: number; readonly defect?: (() => unknown) | undefined }
  | { readonly kind: "latency"; readonly rate: number; readonly delay: Duration.Input }
  | { readonly kind: "hang"; readonly rate: number }
  | { readonly kind: "interrupt"; readonly rate: number }

/**
 * The options of `Chaos.make`.
 *
 * @category models
 * @since 0.1.0
 */
export interface ChaosOptions<E> {
  /** Shown in events and metrics (the rules of every name). Default `"default"`. */
  readonly name?: string | undefined
  /**
   * Whether faults are injected: required, so that nothing is ever on by
   * default. A `Config` is read when the policy is made; a missing value
   * is `false`, an unreadable one fails `make` with `PolicyConfigError`.
   */
  readonly enabled: boolean | Config.Config<boolean>
  /**
   * With a `Config` as `enabled`: read it again on the first call after
   * each `recheck` (from 1 millisecond to `Limits.maxDuration`), from that
   * call's context, so that flipping the configuration switches the
   * injection on or off at run time. A value that cannot be read then
   * switches it off (with a warning at most once a minute). `enable` and
   * `disable` last until the next read. Default: read once, when made.
   */
  readonly recheck?: Duration.Input | undefined
  /** The faults, drawn in this order for each call: 1 to 16 of them. */
  readonly faults: ReadonlyArray<Fault<E>>
  /**
   * Draws from a generator of the policy's own, seeded with this integer
   * (0 to 2^32 − 1): the same seed injects the same faults into the same
   * sequence of calls. Default: the `Random` service of each call's context
   * (`Random.withSeed` makes that deterministic too).
   */
  readonly seed?: number | undefined
  /** Report this policy's metrics (see the `Metrics` module). Default: as the context says (`Metrics.layer`). */
  readonly metrics?: boolean | undefined
}

/**
 * A fault-injection policy adding the typed errors `E` of its `fail` faults.
 *
 * @category models
 * @since 0.1.0
 */
export interface Chaos<E = never> extends Policy<never, E> {
  readonly kind: "Chaos"
  /** Whether faults are injected now. */
  readonly enabled: Effect.Effect<boolean>
  /** Switches the injection on. */
  readonly enable: Effect.Effect<void>
  /** Switches the injection off: calls pass through untouched. */
  readonly disable: Effect.Effect<void>
  /** A `FaultInjected` event for every fault injected, from the moment the stream runs. */
  readonly events: Stream.Stream<FaultInjected>
  /** Subscribes now and returns the stream of events from this moment on. */
  readonly subscribe: Effect.Effect<Stream.Stream<FaultInjected>, never, Scope.Scope>
}

/**
 * Makes a fault-injection policy. Bad options fail with `PolicyConfigError`
 * naming each field and its rule (a fault's fields as `faults.0.rate`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Chaos } from "effect-resilience"
 *
 * class Unavailable {
 *   readonly _tag = "Unavailable"
 * }
 *
 * // Effect<Chaos<Unavailable>, PolicyConfigError>
 * const chaos = Chaos.make({ enabled: true, seed: 7, faults: [{ kind: "fail", rate: 0.5, error: () => new Unavailable() }] })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <E = never>(options: ChaosOptions<E>): Effect.Effect<Chaos<E>, PolicyConfigError> =>
  Effect.flatMap(readEnabled(options), (enabled) => {
    const config = fieldOf(options, "enabled")
    if (fieldOf(options, "recheck") !== undefined && !Config.isConfig(config)) {
      return Effect.fail(
        new PolicyConfigError({
          kind: "Chaos",
          policy: nameOf(options, "default"),
          issues: [
            new ConfigIssue({
              field: "recheck",
              rule: "applies only when `enabled` is a Config: a boolean never changes"
            })
          ]
        })
      )
    }
    return makePolicy(
      "Chaos",
      ChaosOptionsSchema,
      { ...options, enabled },
      (decoded, setup) =>
        new ChaosImpl<E>(
          setup,
          decoded as Decoded<E>,
          Config.isConfig(config) ? config as Config.Config<unknown> : undefined
        )
    )
  })

const fieldOf = (options: unknown, field: string): unknown =>
  typeof options === "object" && options !== null ? (options as Record<string, unknown>)[field] : undefined

/**
 * The switch read from the environment variable (or `ConfigProvider` key)
 * `name`: `true`/`false` (and Effect's other boolean spellings); unset is
 * off.
 *
 * @example
 * ```ts
 * import { Chaos } from "effect-resilience"
 *
 * const options = {
 *   enabled: Chaos.enabledFrom("CHAOS_INVENTORY"),
 *   faults: [{ kind: "hang", rate: 0.01 }]
 * } satisfies Chaos.ChaosOptions<never>
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const enabledFrom = (name: string): Config.Config<boolean> => Config.Boolean(name)

/**
 * Applies a fault-injection policy to a call (data-first or data-last).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Chaos } from "effect-resilience"
 *
 * declare const chaos: Chaos.Chaos<Error>
 * declare const lookup: Effect.Effect<string>
 *
 * // Effect<string, Error>
 * const risky = lookup.pipe(Chaos.inject(chaos))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const inject: {
  <F>(policy: Chaos<F>): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | F, R>
  <A, E, R, F>(self: Effect.Effect<A, E, R>, policy: Chaos<F>): Effect.Effect<A, E | F, R>
} = applyPolicy as never

// ---------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------

const maxFaults = 16

/** `enabled` as a boolean: a `Config` read now, a missing value off. */
const readEnabled = <E>(options: ChaosOptions<E>): Effect.Effect<unknown, PolicyConfigError> => {
  const enabled = (options as { readonly enabled?: unknown } | undefined)?.enabled
  if (!Config.isConfig(enabled)) return Effect.succeed(enabled)
  const read: Effect.Effect<unknown, Config.ConfigError> = Effect.gen(function*() {
    return yield* Config.withDefault(enabled as Config.Config<unknown>, false)
  })
  return Effect.mapError(
    read,
    (error) =>
      new PolicyConfigError({
        kind: "Chaos",
        policy: nameOf(options, "default"),
        issues: [new ConfigIssue({ field: "enabled", rule: `could not be read from its Config: ${error.message}` })]
      })
  )
}

const FaultSchema = Schema.Union([
  Schema.Struct({
    kind: Schema.Literal("fail"),
    rate: Rate,
    error: FunctionValue<() => unknown>("a function () => error")
  }),
  Schema.Struct({
    kind: Schema.Literal("die"),
    rate: Rate,
    defect: Schema.optional(FunctionValue<() => unknown>("a function () => defect"))
  }),
  Schema.Struct({ kind: Schema.Literal("latency"), rate: Rate, delay: durationInput({ allowZero: false }) }),
  Schema.Struct({ kind: Schema.Literal("hang"), rate: Rate }),
  Schema.Struct({ kind: Schema.Literal("interrupt"), rate: Rate })
])

const ChaosOptionsSchema = Schema.Struct({
  name: Schema.optional(Name),
  enabled: Schema.Boolean,
  recheck: Schema.optional(durationInput({ allowZero: false })),
  faults: Schema.Array(FaultSchema).check(Schema.isMinLength(1), Schema.isMaxLength(maxFaults)),
  seed: Schema.optional(IntBetween(0, 2 ** 32 - 1)),
  ...metricsOption
})

type Decoded<E> = Omit<typeof ChaosOptionsSchema.Type, "faults"> & {
  readonly faults: ReadonlyArray<DecodedFault<E>>
}

type DecodedFault<E> =
  | { readonly kind: "fail"; readonly rate: number; readonly error: () => E }
  | { readonly kind: "die"; readonly rate: number; readonly defect?: (() => unknown) | undefined }
  | { readonly kind: "latency"; readonly rate: number; readonly delay: Duration.Duration }
  | { readonly kind: "hang"; readonly rate: number }
  | { readonly kind: "interrupt"; readonly rate: number }

/** A generator of the policy's own, from a seed: Effect's seeded `Random`, taken once. */
const seeded = (seed: number): Random.Random =>
  Effect.runSync(Random.withSeed(Effect.withFiber((fiber) => Effect.succeed(fiber.getRef(Random.Random))), seed))

class ChaosImpl<E> extends PolicyBase<never, E, never, never, FaultInjected> implements Chaos<E> {
  readonly kind = "Chaos" as const
  private on: boolean
  private readonly faults: ReadonlyArray<DecodedFault<E>>
  private readonly random: Random.Random | undefined
  private readonly injected: Record<FaultKind, Cell>
  /** When the switch is a `Config` read again: its period, and when the next read is due. */
  private readonly recheckMillis: number | undefined
  private nextRead: number
  private readonly readWarnings = new LogThrottle(60_000)

  constructor(setup: Setup, options: Decoded<E>, private readonly config: Config.Config<unknown> | undefined) {
    super(setup)
    this.on = options.enabled
    this.recheckMillis = options.recheck === undefined ? undefined : Duration.toMillis(options.recheck)
    this.nextRead = this.recheckMillis === undefined ? Infinity : this.now() + this.recheckMillis
    this.faults = options.faults
    this.random = options.seed === undefined ? undefined : seeded(options.seed)
    const cell = (fault: FaultKind) => this.counter(policyMetrics.faultsInjected, { fault })
    this.injected = {
      fail: cell("fail"),
      die: cell("die"),
      latency: cell("latency"),
      hang: cell("hang"),
      interrupt: cell("interrupt")
    }
  }

  get enabled(): Effect.Effect<boolean> {
    return Effect.sync(() => this.on)
  }

  get enable(): Effect.Effect<void> {
    return Effect.sync(() => {
      this.on = true
    })
  }

  get disable(): Effect.Effect<void> {
    return Effect.sync(() => {
      this.on = false
    })
  }

  readonly apply = <A, X, R>(self: Effect.Effect<A, X, R>): Effect.Effect<A, X | E, R> =>
    Effect.withFiber((fiber): Effect.Effect<A, X | E, R> => {
      // A switch read from Config is read again, from this call's context, once it is due.
      if (this.recheckMillis !== undefined && this.now() >= this.nextRead) {
        this.nextRead = this.now() + this.recheckMillis
        return Effect.andThen(this.reread(), Effect.suspend(() => this.inject(fiber, self)))
      }
      return this.inject(fiber, self)
    })

  /** Reads the switch again: an unreadable value switches the injection off. */
  private reread(): Effect.Effect<void> {
    const config = this.config!
    return Effect.matchEffect(
      Effect.gen(function*() {
        return yield* Config.withDefault(config, false)
      }),
      {
        onSuccess: (value) =>
          Effect.sync(() => {
            this.on = value === true
          }),
        onFailure: (error) => {
          this.on = false
          return this.readWarnings.warn(
            this.now(),
            () => `Chaos "${this.name}": its switch could not be read (${error.message}); injection is off`
          )
        }
      }
    )
  }

  private inject<A, X, R>(
    fiber: Fiber.Fiber<unknown, unknown>,
    self: Effect.Effect<A, X, R>
  ): Effect.Effect<A, X | E, R> {
    if (!this.on) return self
    const random = this.random ?? fiber.getRef(Random.Random)
    let delayMillis = 0
    for (const fault of this.faults) {
      if (!(random.nextDoubleUnsafe() < fault.rate)) continue
      this.report(fault.kind)
      if (fault.kind === "latency") {
        delayMillis += Duration.toMillis(fault.delay)
        continue
      }
      return Effect.andThen(this.wait(delayMillis), this.outcome(fault))
    }
    return delayMillis === 0 ? self : Effect.andThen(this.wait(delayMillis), self)
  }

  private wait(millis: number): Effect.Effect<void> {
    return millis === 0 ? Effect.void : Effect.sleep(Duration.millis(millis))
  }

  private outcome(fault: Exclude<DecodedFault<E>, { readonly kind: "latency" }>): Effect.Effect<never, E> {
    switch (fault.kind) {
      case "fail":
        return Effect.suspend(() => Effect.fail(fault.error()))
      case "die":
        return Effect.suspend(() =>
          Effect.die(fault.defect === undefined ? new Error(`Fault injected by "${this.name}"`) : fault.defect())
        )
      case "hang":
        return Effect.never
      case "interrupt":
        return Effect.interrupt
    }
  }

  private report(fault: FaultKind): void {
    this.injected[fault].count++
    if (this.publisher.active) this.publisher.publish(new FaultInjected({ policy: this.name, fault, at: this.now() }))
  }
}
