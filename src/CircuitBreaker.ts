/**
 * The circuit breaker: a scoped service that stops calling a dependency that
 * keeps failing, and lets a few probe calls through once it may have
 * recovered.
 *
 * Provide a breaker as a `Layer`, guard calls with `withCircuitBreaker`, and
 * handle `CircuitOpenError` — it is in the type of every guarded call:
 *
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker, withCircuitBreaker } from "effect-resilience"
 *
 * declare const fetchStock: (sku: string) => Effect.Effect<number, Error>
 *
 * const stock = (sku: string) =>
 *   fetchStock(sku).pipe(
 *     withCircuitBreaker(),
 *     Effect.catchTag("CircuitOpenError", () => Effect.succeed(0))
 *   )
 *
 * const program = stock("sku-1").pipe(
 *   Effect.provide(CircuitBreaker.layer({ name: "inventory", consecutiveFailures: 3 }))
 * )
 * ```
 *
 * **Contract.** States are `Closed` (calls run, outcomes recorded), `Open`
 * (calls rejected at once, nothing runs), `HalfOpen` (up to
 * `halfOpenPermits` probes run, the rest are rejected), plus the manual
 * `ForcedOpen` and `Disabled`. A closed circuit trips when any configured rule
 * holds (`consecutiveFailures`, `failureCount`, `failureRate`,
 * `slowCallRate`); with no rule configured it trips on 5 consecutive
 * failures. After `openDuration` (a duration, or a `Schedule` stepped once per
 * consecutive opening) it is half-open: `successThreshold` successful probes
 * close it, any failed probe reopens it, and an interrupted probe gives its
 * permit back. Every transition is atomic; outcomes of calls admitted before a
 * transition are dropped. Time comes from the `Clock` of the context the
 * breaker was made in, so `TestClock` drives a breaker made under it.
 *
 * @since 0.1.0
 */
import type { Duration, Scope, Stream } from "effect"
import { Context, Effect, Layer } from "effect"
import type { CircuitBreakerConfig, CircuitBreakerConfigError, ResolvedConfig } from "./CircuitBreakerConfig.js"
import { decode, fromConfig } from "./CircuitBreakerConfig.js"
import type { CircuitBreakerEvent } from "./CircuitBreakerEvent.js"
import type { Snapshot } from "./CircuitBreakerSnapshot.js"
import type { CircuitControlError } from "./CircuitControlError.js"
import type { CircuitDocument } from "./CircuitDocument.js"
import type { CircuitOpenError } from "./CircuitOpenError.js"
import type { State } from "./CircuitState.js"
import type { CircuitObserver } from "./CircuitStore.js"
import type { Classifier, ClassifyOptions, GuardOptions, IgnorableTag, IgnoreFits } from "./Classifier.js"
import { fromOptions } from "./Classifier.js"
import { guardIn, isCircuitBreaker as isCircuitBreakerInternal, TypeId as TypeIdInternal } from "./internal/breaker.js"
import { makeBreaker } from "./internal/makeBreaker.js"
import type { ServiceClassOf } from "./internal/service.js"
import { InstanceLookup, isEffectValue, isServiceKey, serviceClass } from "./internal/service.js"

export {
  /**
   * Describes a window over the last `size` recorded outcomes (re-exported
   * from `SlidingWindow`).
   *
   * @category windows
   * @since 0.1.0
   */
  countWindow,
  /**
   * Describes a window over the outcomes of the last `duration`, kept in
   * `buckets` buckets (re-exported from `SlidingWindow`).
   *
   * @category windows
   * @since 0.1.0
   */
  timeWindow
} from "./SlidingWindow.js"

/**
 * Runtime identifier of circuit breaker instances.
 *
 * @category type IDs
 * @since 0.1.0
 */
export const TypeId: TypeId = TypeIdInternal

/**
 * Type-level identifier of circuit breaker instances.
 *
 * @category type IDs
 * @since 0.1.0
 */
export type TypeId = "~effect-resilience/CircuitBreaker"

/**
 * A circuit breaker instance.
 *
 * - `execute` guards an effect (data-first or data-last), with optional
 *   per-call classification (see `Classifier.ClassifyOptions`);
 * - `state` and `snapshot` read the circuit, applying any transition that time
 *   alone has caused (so after `TestClock.adjust` an open circuit reads
 *   `HalfOpen`);
 * - `events` is a stream of transitions and call outcomes (it subscribes when
 *   run); `subscribe` subscribes at once, for callers that must not miss the
 *   events of the very next call;
 * - `observe` hands what the circuit does to synchronous callbacks, with no
 *   event built and no stream in between: an observer of transitions and
 *   rejections costs the closed calls nothing (see `CircuitStore.CircuitObserver`);
 * - `forceOpen`, `disable` and `reset` are the operator's controls;
 *   `openFor` / `openUntil` open the circuit for a while (an ordinary
 *   opening that half-opens when it ends), `halfOpen` lets probes through
 *   now;
 * - `export` writes the circuit's state as a `CircuitDocument`, and
 *   `restore` reads one back (a serverless function, a restart).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "effect-resilience"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ name: "search", consecutiveFailures: 2 })
 *   const result = yield* breaker.execute(Effect.succeed("hits"))
 *   const state = yield* breaker.state
 *   return { result, state }
 * }).pipe(Effect.scoped)
 *
 * Effect.runSync(program) // => { result: "hits", state: "Closed" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface CircuitBreaker {
  readonly [TypeId]: TypeId
  /** The breaker's name, as shown in errors, events and snapshots. */
  readonly name: string
  /** The validated configuration, with every default applied. */
  readonly config: ResolvedConfig
  /** Runs `self` through the circuit. */
  readonly execute: {
    <A, E, R>(self: Effect.Effect<A, E, R>, options?: ClassifyOptions<A, E>): Effect.Effect<A, E | CircuitOpenError, R>
    <A0 = unknown, E0 = unknown, const Ignored extends IgnorableTag<E0> = never>(
      options?: GuardOptions<A0, E0, Ignored>
    ): <A extends A0, E extends E0, R>(
      self: Effect.Effect<A, E, R> & IgnoreFits<E, Ignored>
    ) => Effect.Effect<A, E | CircuitOpenError, R>
  }
  /** The current state. */
  readonly state: Effect.Effect<State>
  /** The current state and window measurements. */
  readonly snapshot: Effect.Effect<Snapshot>
  /** Transitions, call outcomes and rejections from the moment the stream runs. */
  readonly events: Stream.Stream<CircuitBreakerEvent>
  /** Subscribes now and returns the stream of events from this moment on. */
  readonly subscribe: Effect.Effect<Stream.Stream<CircuitBreakerEvent>, never, Scope.Scope>
  /**
   * Calls `observer` synchronously, inside the circuit's atomic section, for
   * what the circuit does from now until the scope closes. It must not block
   * or throw. Without `onCall` it hears only transitions and rejections, and
   * costs the closed calls nothing; with `onCall` and `needsTime: false`, it
   * hears every call at the price of a function call (durations are known
   * only for calls the breaker times anyway: `at` is then defined).
   */
  readonly observe: (observer: CircuitObserver) => Effect.Effect<void, never, Scope.Scope>
  /** Rejects every call until `reset`. */
  readonly forceOpen: Effect.Effect<void>
  /** Runs and records every call but never trips, until `reset`. */
  readonly disable: Effect.Effect<void>
  /** Closes the circuit and forgets every measurement. */
  readonly reset: Effect.Effect<void>
  /**
   * Opens the circuit for `duration` (1 ms to `Limits.maxDuration`; a
   * `Duration.Input` or text such as `"30s"`), whatever its state: calls
   * are rejected with the time left, then the circuit half-opens as after
   * every other opening (reason `ManualOpen`). Not capped by `maxOpenDuration`, and
   * no consecutive opening: the backoff does not step. A duration out of
   * range fails with `CircuitControlError` (field `duration`) and changes
   * nothing. Pybreaker's `open()`, Resilience4j's `transitionToOpenStateFor`.
   */
  readonly openFor: (duration: Duration.Input | string) => Effect.Effect<void, CircuitControlError>
  /**
   * Opens the circuit until `instant` (epoch milliseconds of the breaker's
   * clock, or a `Date`): after now, and at most `Limits.maxDuration` from
   * now, else `CircuitControlError` (field `until`). As `openFor`
   * otherwise. Resilience4j's `transitionToOpenStateUntil`.
   */
  readonly openUntil: (instant: number | Date) => Effect.Effect<void, CircuitControlError>
  /**
   * Starts a half-open period now, whatever the state (reason
   * `ManualHalfOpen`): `halfOpenPermits` probes decide as usual. A
   * half-open circuit keeps its period. Pybreaker's `half_open()`,
   * Resilience4j's `transitionToHalfOpenState`.
   */
  readonly halfOpen: Effect.Effect<void>
  /** The circuit's state as a document (see `CircuitDocument`), to `restore` later or elsewhere. */
  readonly export: Effect.Effect<CircuitDocument>
  /**
   * Replaces the circuit's state with a document's (reason `Restore`): an
   * untrusted value (parsed JSON), validated with its Schema and against
   * this breaker — its name, its kind of window, a known `version`, counts
   * that are non-negative integers, no time after now — or the call fails
   * with `CircuitControlError` naming every broken field (the first 20,
   * and a count of the rest), and changes nothing. With a shared store the shared circuit stays the record (see
   * `RedisCircuitStore`).
   */
  readonly restore: (document: unknown) => Effect.Effect<void, CircuitControlError>
}

/**
 * Whether a value is a circuit breaker instance.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 *
 * CircuitBreaker.isCircuitBreaker({}) // => false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isCircuitBreaker: (u: unknown) => u is CircuitBreaker = isCircuitBreakerInternal

/**
 * The default circuit breaker service, used by `withCircuitBreaker(effect)`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "effect-resilience"
 *
 * const state = Effect.flatMap(CircuitBreaker.CircuitBreaker, (breaker) => breaker.state)
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const CircuitBreaker: Context.Service<CircuitBreaker, CircuitBreaker> = Context.Service<CircuitBreaker>(
  "effect-resilience/CircuitBreaker"
)

/**
 * Makes a circuit breaker whose timers and event streams end with the current
 * `Scope`. An invalid configuration fails with `CircuitBreakerConfigError`
 * naming each field and rule.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "effect-resilience"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({
 *     name: "payments",
 *     failureRate: 0.5,
 *     minimumCalls: 10,
 *     openDuration: "30 seconds"
 *   })
 *   return yield* breaker.execute(Effect.succeed("charged"))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  config?: CircuitBreakerConfig
): Effect.Effect<CircuitBreaker, CircuitBreakerConfigError, Scope.Scope> => Effect.flatMap(decode(config), makeResolved)

/**
 * Makes a circuit breaker from an already validated configuration (see
 * `CircuitBreakerConfig.decode`), so that many breakers sharing one
 * configuration validate it once. A configuration changed by hand after
 * `decode` still has its window, counts and durations checked against
 * their bounds (see the `Limits` module) and each other: a breaker is never
 * made from a window it cannot allocate.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker, CircuitBreakerConfig } from "effect-resilience"
 *
 * const twoBreakers = Effect.gen(function*() {
 *   const config = yield* CircuitBreakerConfig.decode({ consecutiveFailures: 3 })
 *   const eu = yield* CircuitBreaker.makeResolved({ ...config, name: "api-eu" })
 *   const us = yield* CircuitBreaker.makeResolved({ ...config, name: "api-us" })
 *   return [eu, us] as const
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeResolved: (
  config: ResolvedConfig
) => Effect.Effect<CircuitBreaker, CircuitBreakerConfigError, Scope.Scope> = makeBreaker

/**
 * Provides the default `CircuitBreaker` service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker, withCircuitBreaker } from "effect-resilience"
 *
 * const program = withCircuitBreaker(Effect.succeed(42)).pipe(
 *   Effect.provide(CircuitBreaker.layer({ name: "answers" }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (config?: CircuitBreakerConfig): Layer.Layer<CircuitBreaker, CircuitBreakerConfigError> =>
  Layer.effect(CircuitBreaker, make(config))

/**
 * Provides a circuit breaker under your own service key, so that several
 * breakers (one per dependency) live side by side.
 *
 * @example
 * ```ts
 * import { Context } from "effect"
 * import { CircuitBreaker } from "effect-resilience"
 *
 * class Inventory extends Context.Service<Inventory, CircuitBreaker.CircuitBreaker>()("app/InventoryBreaker") {}
 *
 * const InventoryBreakerLive = CircuitBreaker.layerAs(Inventory, { name: "inventory", failureRate: 0.5 })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerAs = <I>(
  tag: Context.Key<I, CircuitBreaker>,
  config?: CircuitBreakerConfig
): Layer.Layer<I, CircuitBreakerConfigError> => Layer.effect(tag, make(config))

/**
 * A named circuit breaker service made with `Service`: a service key whose
 * `layer(config)` provides it, and whose `layerConfig(prefix, base)` provides
 * it from configuration variables. The breaker is named `Name` unless the
 * configuration names it; the key is `effect-resilience/CircuitBreaker/Name`,
 * so it never collides with another kind of service of the same name.
 *
 * @category models
 * @since 0.1.0
 */
export interface ServiceClass<Self, Name extends string> extends
  ServiceClassOf<
    Self,
    `effect-resilience/CircuitBreaker/${Name}`,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerConfigError
  >
{
  readonly layerConfig: (prefix: string, base?: CircuitBreakerConfig) => Layer.Layer<Self, CircuitBreakerConfigError>
}

/**
 * Declares a named circuit breaker service. A program that guards its calls
 * with it has the service in its requirements, so a payments breaker and an
 * inventory breaker are different services with separate state and config.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { CircuitBreaker, withCircuitBreaker } from "effect-resilience"
 *
 * class PaymentsBreaker extends CircuitBreaker.Service<PaymentsBreaker>()("payments") {}
 * class InventoryBreaker extends CircuitBreaker.Service<InventoryBreaker>()("inventory") {}
 *
 * declare const charge: Effect.Effect<string, Error>
 * declare const reserve: Effect.Effect<number, Error>
 *
 * // Effect<[string, number], Error | CircuitOpenError, PaymentsBreaker | InventoryBreaker>
 * const checkout = Effect.all([
 *   charge.pipe(withCircuitBreaker(PaymentsBreaker)),
 *   reserve.pipe(withCircuitBreaker(InventoryBreaker))
 * ])
 *
 * const Breakers = Layer.mergeAll(
 *   PaymentsBreaker.layer({ failureRate: 0.5, minimumCalls: 20 }),
 *   // From INVENTORY_BREAKER_* variables, over these defaults.
 *   InventoryBreaker.layerConfig("INVENTORY_BREAKER", { consecutiveFailures: 3 })
 * )
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const Service = <Self>() => <const Name extends string>(name: Name): ServiceClass<Self, Name> => {
  const Base = serviceClass("effect-resilience/CircuitBreaker", layerAs)<Self>()(name)
  return class extends Base {
    static readonly layerConfig = (prefix: string, base?: CircuitBreakerConfig) =>
      layerAsConfig(Base, prefix, base?.name === undefined ? { ...base, name } : base)
  }
}

/**
 * Makes a circuit breaker from configuration variables (see
 * `CircuitBreakerConfig.fromConfig`) over `base`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "effect-resilience"
 *
 * // SEARCH_BREAKER_CONSECUTIVE_FAILURES=3
 * const breaker = CircuitBreaker.makeFromConfig("SEARCH_BREAKER", { name: "search" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeFromConfig = (
  prefix: string,
  base?: CircuitBreakerConfig
): Effect.Effect<CircuitBreaker, CircuitBreakerConfigError, Scope.Scope> =>
  Effect.flatMap(fromConfig(prefix, base), makeResolved)

/**
 * Provides the default `CircuitBreaker` service from configuration variables
 * (see `CircuitBreakerConfig.fromConfig`).
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-resilience"
 *
 * const BreakerLive = CircuitBreaker.layerConfig("API_BREAKER", { failureRate: 0.5 })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  prefix: string,
  base?: CircuitBreakerConfig
): Layer.Layer<CircuitBreaker, CircuitBreakerConfigError> => Layer.effect(CircuitBreaker, makeFromConfig(prefix, base))

/**
 * Provides a circuit breaker under your own service key from configuration
 * variables (see `CircuitBreakerConfig.fromConfig`).
 *
 * @example
 * ```ts
 * import { Context } from "effect"
 * import { CircuitBreaker } from "effect-resilience"
 *
 * class Inventory extends Context.Service<Inventory, CircuitBreaker.CircuitBreaker>()("app/InventoryBreaker") {}
 *
 * const InventoryBreakerLive = CircuitBreaker.layerAsConfig(Inventory, "INVENTORY_BREAKER")
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerAsConfig = <I>(
  tag: Context.Key<I, CircuitBreaker>,
  prefix: string,
  base?: CircuitBreakerConfig
): Layer.Layer<I, CircuitBreakerConfigError> => Layer.effect(tag, makeFromConfig(prefix, base))

/**
 * Guards an effect with a circuit breaker: the default `CircuitBreaker`
 * service, a named breaker service, or a breaker instance. The result fails
 * with `CircuitOpenError` when the circuit rejects the call, so the error
 * type is the original errors plus `CircuitOpenError`, and the requirements
 * gain the breaker's service.
 *
 * Forms (data-first and data-last):
 *
 * - `withCircuitBreaker(effect)` / `effect.pipe(withCircuitBreaker())`
 * - `withCircuitBreaker(effect, options)` / `effect.pipe(withCircuitBreaker(options))`
 * - `withCircuitBreaker(effect, Breaker, options?)` /
 *   `effect.pipe(withCircuitBreaker(Breaker, options?))`, where `Breaker` is a
 *   service key (`CircuitBreaker.Service`, `Context.Service`) or an instance
 *
 * `options` narrow what counts as a failure (see `Classifier`).
 *
 * @example
 * ```ts
 * import { Data, Effect } from "effect"
 * import { CircuitBreaker, withCircuitBreaker } from "effect-resilience"
 *
 * class NotFound extends Data.TaggedError("NotFound") {}
 * class Unavailable extends Data.TaggedError("Unavailable") {}
 * declare const getUser: (id: string) => Effect.Effect<string, NotFound | Unavailable>
 *
 * const user = (id: string) =>
 *   getUser(id).pipe(
 *     // Data-last, the guard has not seen the effect yet: annotate the predicate's error type
 *     // (`ignore` tags are checked where the guard is applied).
 *     withCircuitBreaker({ isFailure: (error: NotFound | Unavailable) => error._tag === "Unavailable" }),
 *     Effect.catchTag("CircuitOpenError", () => Effect.succeed("guest"))
 *   )
 * // Effect<string, NotFound | Unavailable, CircuitBreaker.CircuitBreaker>
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withCircuitBreaker: {
  <I, A0 = unknown, E0 = unknown, const Ignored extends IgnorableTag<E0> = never>(
    breaker: Context.Key<I, CircuitBreaker>,
    options?: GuardOptions<A0, E0, Ignored>
  ): <A extends A0, E extends E0, R>(
    self: Effect.Effect<A, E, R> & IgnoreFits<E, Ignored>
  ) => Effect.Effect<A, E | CircuitOpenError, R | I>
  <A0 = unknown, E0 = unknown, const Ignored extends IgnorableTag<E0> = never>(
    breaker: CircuitBreaker,
    options?: GuardOptions<A0, E0, Ignored>
  ): <A extends A0, E extends E0, R>(
    self: Effect.Effect<A, E, R> & IgnoreFits<E, Ignored>
  ) => Effect.Effect<A, E | CircuitOpenError, R>
  <A0 = unknown, E0 = unknown, const Ignored extends IgnorableTag<E0> = never>(
    options?: GuardOptions<A0, E0, Ignored>
  ): <A extends A0, E extends E0, R>(
    self: Effect.Effect<A, E, R> & IgnoreFits<E, Ignored>
  ) => Effect.Effect<A, E | CircuitOpenError, R | CircuitBreaker>
  <A, E, R, I>(
    self: Effect.Effect<A, E, R>,
    breaker: Context.Key<I, CircuitBreaker>,
    options?: ClassifyOptions<A, E>
  ): Effect.Effect<A, E | CircuitOpenError, R | I>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    breaker: CircuitBreaker,
    options?: ClassifyOptions<A, E>
  ): Effect.Effect<A, E | CircuitOpenError, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    options?: ClassifyOptions<A, E>
  ): Effect.Effect<A, E | CircuitOpenError, R | CircuitBreaker>
} = ((first: unknown, second?: unknown, third?: unknown) => {
  if (isEffectValue(first) && !isServiceKey(first)) {
    // The common form, withCircuitBreaker(effect): straight to the default service.
    if (second === undefined) return guardDefault(first)
    const [breaker, options] = splitBreaker(second, third)
    return guardWith(first, breaker, fromOptions(options))
  }
  const [breaker, options] = splitBreaker(first, second)
  // Data-last: build the per-call classifier once, not on every call.
  const classify = fromOptions(options)
  return (self: Effect.Effect<unknown, unknown, unknown>) => guardWith(self, breaker, classify)
}) as never

const guardDefault = (self: Effect.Effect<unknown, unknown, unknown>): Effect.Effect<unknown, unknown, unknown> =>
  Effect.withFiber((fiber) => guardIn(lookup(fiber.context, CircuitBreaker), self, undefined, fiber))

type BreakerRef = Context.Key<unknown, CircuitBreaker> | CircuitBreaker

const splitBreaker = (
  breakerOrOptions: unknown,
  options: unknown
): readonly [BreakerRef, ClassifyOptions | undefined] =>
  isServiceKey(breakerOrOptions) || isCircuitBreaker(breakerOrOptions)
    ? [breakerOrOptions as BreakerRef, options as ClassifyOptions | undefined]
    : [CircuitBreaker, breakerOrOptions as ClassifyOptions | undefined]

const guardWith = (
  self: Effect.Effect<unknown, unknown, unknown>,
  breaker: BreakerRef,
  classify: Classifier | undefined
): Effect.Effect<unknown, unknown, unknown> => {
  if (isCircuitBreaker(breaker)) return Effect.withFiber((fiber) => guardIn(breaker, self, classify, fiber))
  const key = breaker
  // One primitive for the lookup and the admission: the service is read from
  // the fiber's context and the breaker continues with the same fiber.
  return Effect.withFiber((fiber) => guardIn(lookup(fiber.context, key), self, classify, fiber))
}

const instances = new InstanceLookup<CircuitBreaker>()

const lookup = (context: Context.Context<never>, key: Context.Key<unknown, CircuitBreaker>): CircuitBreaker =>
  instances.get(context, key)
