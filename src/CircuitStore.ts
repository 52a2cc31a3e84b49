/**
 * Where circuit breakers keep their circuits, and the contract every store
 * keeps.
 *
 * By default every breaker keeps its circuit in memory, in the process that
 * made it: nothing to run, nothing to configure. A shared store (see
 * `RedisCircuitStore`) lets the breakers of several processes that share a
 * name share one circuit. The store is taken from the context a breaker is
 * made in, so switching is one layer and no breaker code changes.
 *
 * The contract. Every breaker runs its calls against a local circuit: the
 * synchronous state machine that admits a call without waiting for anything.
 * When a breaker is made, its store `link`s that circuit and answers with the
 * breaker's `CircuitLink`:
 *
 * - the memory store's link is the trivial one: the local circuit decides
 *   every call, and the link does nothing;
 * - a shared store's link keeps the local circuit in step with the shared
 *   one (`LocalCircuit.adopt`), says which calls the store admits itself
 *   (`routesCalls`, `grantsProbes`), takes their outcomes (`done`) and the
 *   operator's control calls (`control`), and decides what the local circuit
 *   does while the store cannot be reached.
 *
 * A store drives a breaker only through `LocalCircuit`, and the breaker
 * reaches its store only through `CircuitLink`. The local circuit reports
 * every transition, whichever side decided it, to its observers: that is the
 * circuit's transition stream (`CircuitBreaker.events`). Every store is held
 * to the same breaker contract by the store conformance suite
 * (`test/conformance/`).
 *
 * @since 0.1.0
 */
import type { Clock, Exit, Scope } from "effect"
import { Context, Effect, Layer } from "effect"
import type { CircuitBreakerConfigError, ResolvedConfig } from "./CircuitBreakerConfig.js"
import type { TransitionReason } from "./CircuitBreakerEvent.js"
import type { CircuitOpenError } from "./CircuitOpenError.js"
import type { RejectingState, State } from "./CircuitState.js"
import type { Outcome } from "./Classifier.js"

const TypeId: TypeId = "~effect-resilience/CircuitStore"

/**
 * @category type ids
 * @since 0.1.0
 */
export type TypeId = "~effect-resilience/CircuitStore"

/**
 * A place to keep circuits: `"memory"` (this process only), `"redis"`
 * (shared by every process that uses the same Redis and key prefix), or
 * another store's name.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitStore } from "effect-resilience"
 *
 * const kind = Effect.map(CircuitStore.CircuitStore, (store) => store.kind)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface CircuitStore {
  readonly [TypeId]: TypeId
  readonly kind: string
  /**
   * Links a breaker's local circuit to this store for as long as `scope` is
   * open (the breaker's scope), and returns the breaker's link. A store that
   * cannot be reached still links, and decides what the local circuit does
   * meanwhile; a store may refuse a configuration that conflicts with the
   * circuit it keeps (`CircuitBreakerConfigError`).
   */
  readonly link: (
    circuit: LocalCircuit,
    scope: Scope.Scope
  ) => Effect.Effect<CircuitLink, CircuitBreakerConfigError>
}

/**
 * What a store sees of a breaker's local circuit, all of it at the instant
 * `now` (epoch milliseconds of the breaker's clock).
 *
 * @example
 * ```ts
 * import type { CircuitStore } from "effect-resilience"
 *
 * const describe = (circuit: CircuitStore.LocalCircuit, now: number) =>
 *   `${circuit.name} is ${circuit.read(now).state}`
 * ```
 *
 * @category contract
 * @since 0.1.0
 */
export interface LocalCircuit {
  readonly name: string
  readonly config: ResolvedConfig
  /** The breaker's clock: one breaker, one time source. */
  readonly clock: Clock.Clock
  /** The circuit as it is now, due time-driven transitions applied. */
  read(now: number): LocalState
  /**
   * Moves the circuit to a state the store decided. `until` is when an Open
   * state's opening ends (epoch millis), `openings` the shared count of
   * consecutive openings. Applying the same state twice reports one
   * transition; the effect logs the transition and starts its timers.
   */
  adopt(state: State, until: number, openings: number, reason: TransitionReason): Effect.Effect<void>
  /**
   * Whether the circuit's own window may trip it: a store that merges the
   * windows of many instances decides trips itself while it can be reached.
   */
  tripsOnOwnWindow(trips: boolean): void
  /** Rejects a call as the circuit does now (an Open state that just ended rejects as its end). */
  reject(now: number): Exit.Exit<never, CircuitOpenError>
  /** Whether a probe with this outcome failed (a slow probe fails when slow calls can trip the circuit). */
  probeFailed(outcome: Outcome, slow: boolean): boolean
  /** How long the `openings`-th consecutive opening lasts, without moving the circuit's own backoff. */
  openMillisFor(openings: number, now: number): number
  /** Hears of what the circuit does from now on; the returned function stops it. */
  observe(observer: CircuitObserver): () => void
}

/**
 * The local circuit at one instant: its state, when an opening ends and
 * began (0 outside `Open`), and the count of consecutive openings.
 *
 * @example
 * ```ts
 * import type { CircuitStore } from "effect-resilience"
 *
 * const closed: CircuitStore.LocalState = { state: "Closed", until: 0, openedAt: 0, consecutiveOpenings: 0 }
 * ```
 *
 * @category contract
 * @since 0.1.0
 */
export interface LocalState {
  readonly state: State
  readonly until: number
  readonly openedAt: number
  readonly consecutiveOpenings: number
}

/**
 * Receives what a local circuit does. Called synchronously, inside the
 * circuit's atomic section: it must not block or throw.
 *
 * @example
 * ```ts
 * import type { CircuitStore } from "effect-resilience"
 *
 * const trips: Array<string> = []
 * const observer: CircuitStore.CircuitObserver = {
 *   needsTime: false,
 *   onTransition: (from, to, reason) => void trips.push(`${from} -> ${to} (${reason})`)
 * }
 * ```
 *
 * @category contract
 * @since 0.1.0
 */
export interface CircuitObserver {
  /** Whether the observer needs every call timed (default: yes). */
  readonly needsTime?: boolean
  onTransition(from: State, to: State, reason: TransitionReason, at: number): void
  /**
   * Hears of every recorded call. An observer without it hears only of
   * transitions, and costs the calls nothing. `at` is when the call ended,
   * unknown (`undefined`) for a call nobody needed timed: an observer that
   * needs it keeps `needsTime` on. `byStore` tells a call the store admitted
   * (whose outcome went to the store through `CircuitLink.done`) from one the
   * local circuit admitted. `openHintMillis` is a failure's open-duration
   * hint (`Classifier.failureWithOpenHint`), already capped by
   * `maxOpenDuration`: an opening this failure causes lasts at least that.
   */
  onCall?(
    state: "Closed" | "HalfOpen" | "Disabled",
    outcome: Outcome,
    slow: boolean,
    durationMillis: number,
    counted: boolean,
    at: number | undefined,
    byStore: boolean,
    openHintMillis?: number
  ): void
  /** Hears of every rejection (optional, as `onCall`). */
  onReject?(state: RejectingState, retryAfterMillis: number, at: number): void
}

/**
 * A call the store admitted: `token` is a half-open probe's fencing token
 * (0 for a call outside half-open), `version` the store's version of the
 * circuit the call was admitted under, `state` the state it was admitted in.
 *
 * @example
 * ```ts
 * import type { CircuitStore } from "effect-resilience"
 *
 * const grant: CircuitStore.StoreGrant = { token: 0, version: "1700000000000", state: "Closed" }
 * ```
 *
 * @category contract
 * @since 0.1.0
 */
export interface StoreGrant {
  readonly token: number
  readonly version: string
  readonly state: "Closed" | "HalfOpen" | "Disabled"
}

/**
 * The fleet's view of a shared circuit, as the store last read it: its
 * state, the merged window's totals and the shared count of openings, and
 * when it was read (epoch millis of the breaker's clock).
 *
 * @example
 * ```ts
 * import type { CircuitStore } from "effect-resilience"
 *
 * const quiet: CircuitStore.FleetView = {
 *   state: "Closed",
 *   calls: 0,
 *   failures: 0,
 *   slowCalls: 0,
 *   consecutiveFailures: 0,
 *   consecutiveOpenings: 0,
 *   readAt: 1_700_000_000_000
 * }
 * ```
 *
 * @category contract
 * @since 0.1.0
 */
export interface FleetView {
  readonly state: State
  readonly calls: number
  readonly failures: number
  readonly slowCalls: number
  readonly consecutiveFailures: number
  readonly consecutiveOpenings: number
  readonly readAt: number
}

/**
 * A breaker's link to its store.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { CircuitStore } from "effect-resilience"
 *
 * // The memory store's link: the local circuit decides everything.
 * const local: CircuitStore.CircuitLink = {
 *   routesCalls: false,
 *   grantsProbes: false,
 *   admit: () => Effect.succeed("local"),
 *   done: () => Effect.void,
 *   control: () => Effect.void,
 *   fleet: () => undefined
 * }
 * ```
 *
 * @category contract
 * @since 0.1.0
 */
export interface CircuitLink {
  /** Whether every call is admitted by the store (read on every call: keep it a plain field or a cheap getter). */
  readonly routesCalls: boolean
  /** Whether half-open probes are granted by the store. */
  readonly grantsProbes: boolean
  /**
   * Asks the store to admit a call; `"local"` when the store cannot decide
   * (unreachable, or an answer it could not read), so the local circuit does.
   * May be interrupted: a grant that arrives after its caller left is given
   * back by the store.
   */
  admit(now: number): Effect.Effect<StoreGrant | Exit.Exit<never, CircuitOpenError> | "local">
  /**
   * Takes the outcome of a call the store admitted: once per grant whose call
   * ran as the store's. (A grant outside half-open that finds the local
   * circuit closed, or disabled, by then runs as the local circuit's own
   * call, and its outcome is heard by the observers instead.) `openHintMillis`
   * is a failure's open-duration hint, capped by `maxOpenDuration`: should
   * the store open the circuit on this failure, the opening lasts at least
   * that.
   */
  done(grant: StoreGrant, outcome: Outcome, slow: boolean, now: number, openHintMillis?: number): Effect.Effect<void>
  /**
   * Takes an operator's control call, already applied to the local circuit
   * (see `ControlTarget`). A store that shares the circuit applies it to
   * the shared circuit too.
   */
  control(target: ControlTarget, now: number): Effect.Effect<void>
  /** The fleet's view of the circuit, for a shared store that has read one. */
  fleet(): FleetView | undefined
}

/**
 * An operator's control call, as the breaker hands it to its store once the
 * local circuit has applied it:
 *
 * - `"ForcedOpen"`, `"Disabled"`, `"Reset"`: `forceOpen`, `disable`, `reset`;
 * - `"HalfOpen"`: `halfOpen`, a half-open period starting now;
 * - `{ _tag: "OpenUntil", until }`: `openFor` / `openUntil`, an ordinary
 *   opening that ends at `until` (epoch millis of the breaker's clock) and
 *   steps no backoff;
 * - `{ _tag: "Restored", state }`: `restore`, the state of a document
 *   restored into the local circuit (an opening with its end even when it
 *   has passed, a half-open circuit as an opening that ended now). A
 *   shared store offers it to the
 *   shared circuit as news from an instance that rejoins, which the shared
 *   circuit takes only where it has not moved since (see
 *   `RedisCircuitStore`); the local circuit then follows the shared one.
 *
 * The three strings were the whole type before the others were added: a
 * store written for them reads a target it does not know as nothing to do.
 *
 * @example
 * ```ts
 * import type { CircuitStore } from "effect-resilience"
 *
 * const describe = (target: CircuitStore.ControlTarget): string =>
 *   typeof target === "string" ? target : target._tag === "OpenUntil" ? `open until ${target.until}` : "restored"
 * ```
 *
 * @category contract
 * @since 0.1.0
 */
export type ControlTarget =
  | "ForcedOpen"
  | "Disabled"
  | "Reset"
  | "HalfOpen"
  | { readonly _tag: "OpenUntil"; readonly until: number }
  | { readonly _tag: "Restored"; readonly state: LocalState }

/** The memory store's link, the same for every breaker: the local circuit decides everything. */
const localOnly: CircuitLink = {
  routesCalls: false,
  grantsProbes: false,
  admit: () => Effect.succeed("local"),
  done: () => Effect.void,
  control: () => Effect.void,
  fleet: () => undefined
}

const memoryStore: CircuitStore = {
  [TypeId]: TypeId,
  kind: "memory",
  link: () => Effect.succeed(localOnly)
}

/**
 * The in-memory store: each breaker's circuit lives in the breaker itself.
 *
 * @example
 * ```ts
 * import { CircuitStore } from "effect-resilience"
 *
 * CircuitStore.memory.kind // => "memory"
 * ```
 *
 * @category stores
 * @since 0.1.0
 */
export const memory: CircuitStore = memoryStore

/**
 * The link of a breaker whose circuit lives only in memory (the memory
 * store's, and a breaker's before its store linked it).
 *
 * @example
 * ```ts
 * import { CircuitStore } from "effect-resilience"
 *
 * CircuitStore.localOnlyLink.routesCalls // => false
 * ```
 *
 * @category stores
 * @since 0.1.0
 */
export const localOnlyLink: CircuitLink = localOnly

/**
 * The store breakers made in this context use; the in-memory store unless a
 * layer such as `RedisCircuitStore.layer` provides another.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitStore } from "effect-resilience"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* CircuitStore.CircuitStore
 *   yield* Effect.log(`circuits live in ${store.kind}`)
 * })
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export const CircuitStore: Context.Reference<CircuitStore> = Context.Reference<CircuitStore>(
  "effect-resilience/CircuitStore",
  { defaultValue: () => memoryStore }
)

/**
 * Makes the breakers built under it keep their circuits in memory, whatever
 * store the surrounding context provides.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker, CircuitStore } from "effect-resilience"
 *
 * const local = CircuitBreaker.make({ name: "local-only" }).pipe(
 *   Effect.provide(CircuitStore.layerMemory),
 *   Effect.scoped
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<never> = Layer.succeedContext(Context.make(CircuitStore, memoryStore))

/** @internal */
export const storeTypeId: TypeId = TypeId
