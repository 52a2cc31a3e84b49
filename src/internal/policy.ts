/**
 * What every policy shares: the `Policy` type identity, a base class with
 * `pipe`, an event publisher and a clock, and the reading of a failed
 * call's cause (policies act on typed failures only: defects and
 * interruptions pass through untouched).
 *
 * @internal
 */
import type { Cause, Metric, Scope, Stream } from "effect"
import { Clock, Context, Effect, Result, Schema } from "effect"
import { dual } from "effect/Function"
import { pipeArguments } from "effect/Pipeable"
import type { Classifier, ClassifyOptions } from "../Classifier.js"
import { fromOptions } from "../Classifier.js"
import type { ConfigIssue } from "../ConfigIssue.js"
import { Enabled } from "../Metrics.js"
import type { Policy } from "../Policy.js"
import type { PolicyKind } from "../PolicyConfigError.js"
import { PolicyConfigError } from "../PolicyConfigError.js"
import type { Cell } from "./metrics.js"
import { policyCell, registerGauge } from "./metrics.js"
import type { CheckRelations } from "./options.js"
import { decodeOptions, nameOf } from "./options.js"
import { Publisher } from "./publisher.js"
import { hasTypeId } from "./service.js"

/** @internal */
export const TypeId = "~effect-resilience/Policy" as const

/** @internal */
export type TypeId = typeof TypeId

/**
 * What every policy is made with: its name, the context it is made in, and
 * whether it reports metrics.
 *
 * @internal
 */
export interface Setup {
  readonly name: string
  readonly context: Context.Context<never>
  readonly metrics: boolean
}

/** The `metrics` option every policy takes. @internal */
export const metricsOption = { metrics: Schema.optional(Schema.Boolean) }

/** Events buffered per subscriber before the oldest are dropped. @internal */
export const eventBufferSize = 1024

/**
 * What every policy (and the last-known-good cache) has: a name, the `Clock`
 * of the context it was made in, and an event publisher.
 *
 * @internal
 */
export abstract class Observed<Event> {
  readonly name: string
  /** Publishes events; subscribers come through `events`/`subscribe`. */
  protected readonly publisher = new Publisher<Event>(eventBufferSize)
  /** The `Clock` of the context the policy was made in: it stamps events. */
  protected readonly clock: Clock.Clock
  /** The context the policy was made in: its metrics go to that context's registry. */
  protected readonly context: Context.Context<never>
  private readonly metricsOn: boolean

  constructor(setup: Setup) {
    this.name = setup.name
    this.context = setup.context
    this.metricsOn = setup.metrics
    this.clock = Context.get(setup.context, Clock.Clock)
  }

  /**
   * The cell behind one of this policy's counter series (labelled with the
   * policy's name and `attributes`), or a cell nobody reads when its metrics
   * are off.
   */
  protected counter(metric: Metric.Counter<number>, attributes: Readonly<Record<string, string>> = {}): Cell {
    return this.metricsOn ? policyCell(this.context, metric, { policy: this.name, ...attributes }) : { count: 0 }
  }

  /** Registers a gauge series of this policy, when its metrics are on. */
  protected gauge(metric: Metric.Gauge<number>, read: () => number): void {
    if (this.metricsOn) registerGauge(this.context, metric, { policy: this.name }, read)
  }

  /** The events, from the moment the stream runs. */
  get events(): Stream.Stream<Event> {
    return this.publisher.stream
  }

  /** Subscribes now and returns the stream of events from this moment on. */
  get subscribe(): Effect.Effect<Stream.Stream<Event>, never, Scope.Scope> {
    return this.publisher.subscribe
  }

  /** The clock's time, in epoch milliseconds. */
  protected now(): number {
    return this.clock.currentTimeMillisUnsafe()
  }
}

/**
 * The base of every policy instance.
 *
 * @internal
 */
export abstract class PolicyBase<Removes, Adds, Requires, Value, Event = never> extends Observed<Event>
  implements Policy<Removes, Adds, Requires, Value>
{
  declare readonly [TypeId]: Policy.Variance<Removes, Adds, Requires, Value, never, never>
  abstract readonly kind: PolicyKind
  abstract readonly apply: <A, E, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<A | Value, Exclude<E, Removes> | Adds, R | Requires>

  pipe() {
    // eslint-disable-next-line prefer-rest-params -- pipeArguments reads the arguments object, as in Effect's own classes
    return pipeArguments(this, arguments)
  }
}

Object.defineProperty(PolicyBase.prototype, TypeId, {
  value: {
    _Removes: identity,
    _Adds: identity,
    _Requires: identity,
    _Value: identity,
    _Handlers: identity,
    _Breakers: identity
  }
})

function identity<A>(a: A): A {
  return a
}

/** Whether a value is a policy. @internal */
export const isPolicy = (u: unknown): u is Policy.Any => hasTypeId(u, TypeId)

/**
 * The typed error a cause fails with, when it is a recoverable failure: at
 * least one typed error and no defect (as `Effect.catch` sees it).
 *
 * @internal
 */
export const recoverableError = <E>(cause: Cause.Cause<E>): { readonly error: E } | undefined => {
  const reasons = cause.reasons
  let found: { readonly error: E } | undefined
  for (let i = 0; i < reasons.length; i++) {
    const reason = reasons[i]!
    if (reason._tag === "Die") return undefined
    if (reason._tag === "Fail" && found === undefined) found = { error: reason.error }
  }
  return found
}

/**
 * A short name for an error, for events: its `_tag`, else its class name,
 * else its type.
 *
 * @internal
 */
export const errorTag = (error: unknown): string => {
  if (typeof error === "object" && error !== null) {
    const tag = (error as { readonly _tag?: unknown })._tag
    if (typeof tag === "string") return tag
    const name = (error as { readonly constructor?: { readonly name?: unknown } }).constructor?.name
    if (typeof name === "string" && name.length > 0) return name
  }
  return typeof error
}

/**
 * Decodes a policy's options with `schema` and hands them, with the context
 * the policy is made in, to `build`. Bad options fail with
 * `PolicyConfigError`; `check` adds the rules that relate several fields
 * (checked even when other fields are invalid: every broken rule is listed).
 *
 * @internal
 */
export const makePolicy = <S extends Schema.ConstraintDecoder<unknown>, P>(
  kind: PolicyKind,
  schema: S,
  input: unknown,
  build: (options: S["Type"], setup: Setup) => P,
  check?: CheckRelations<S["Type"]>
): Effect.Effect<P, PolicyConfigError> =>
  Effect.withFiber((fiber) => {
    const name = nameOf(input, "default")
    const decoded = decodeOptions(schema, input, `${optionNoun[kind]} option`, "(options)", check)
    if (Result.isFailure(decoded)) {
      return Effect.fail(
        new PolicyConfigError({
          kind,
          policy: name,
          issues: decoded.failure as [ConfigIssue, ...Array<ConfigIssue>]
        })
      )
    }
    const metrics = (decoded.success as { readonly metrics?: boolean | undefined }).metrics ??
      Context.get(fiber.context, Enabled)
    return Effect.succeed(build(decoded.success, { name, context: fiber.context, metrics }))
  })

const optionNoun: Record<PolicyKind, string> = {
  Retry: "retry",
  RetryBudget: "retry budget",
  Timeout: "timeout",
  Bulkhead: "bulkhead",
  RateLimit: "rate limit",
  Chaos: "fault injection",
  AdaptiveLimit: "concurrency limit",
  Fallback: "fallback",
  LastKnownGood: "last-known-good cache",
  Hedge: "hedge",
  RedisCircuitStore: "Redis circuit store",
  Health: "health route",
  HttpProblem: "problem response",
  HttpLoadShedding: "load shedding",
  HttpAdmin: "admin route",
  HttpClient: "resilient HTTP client",
  Dashboard: "dashboard",
  CircuitBreaker: "circuit breaker",
  Wrap: "policy"
}

/**
 * Applies a policy to an effect, data-first or data-last: the one
 * implementation behind `Policy.apply` and each module's combinator, which
 * only narrow its type.
 *
 * @internal
 */
export const applyPolicy: {
  <P extends { readonly apply: (self: never) => unknown }>(policy: P): (self: unknown) => unknown
  (self: unknown, policy: { readonly apply: (self: never) => unknown }): unknown
} = dual(
  2,
  (self: Effect.Effect<unknown, unknown, unknown>, policy: Policy.Any) => policy.apply(self)
)

/**
 * A policy with circuit breakers inside that take a per-call classifier in
 * place of their own: what `Policy.apply` calls when given options.
 *
 * @internal
 */
export interface Classifiable {
  /** Whether a circuit breaker inside would use the classifier (a policy with none has nothing to classify for). */
  readonly classifies: boolean
  readonly applyClassified: (
    self: Effect.Effect<unknown, unknown, unknown>,
    classify: Classifier
  ) => Effect.Effect<unknown, unknown, unknown>
}

/** @internal */
export const isClassifiable = (policy: Policy.Any): policy is Policy.Any & Classifiable =>
  typeof (policy as Partial<Classifiable>).applyClassified === "function"

const applyClassified = (
  self: Effect.Effect<unknown, unknown, unknown>,
  policy: Policy.Any,
  classify: Classifier | undefined
): Effect.Effect<unknown, unknown, unknown> => {
  if (classify === undefined) return policy.apply(self)
  return isClassifiable(policy) ? policy.applyClassified(self, classify) : noBreakerToClassify(policy)
}

/**
 * The defect of per-call classification options given to a policy without
 * a circuit breaker (the types forbid it; untyped callers get told).
 *
 * @internal
 */
export const noBreakerToClassify = (policy: Policy.Any): Effect.Effect<never> =>
  Effect.die(
    new TypeError(
      `Policy "${policy.name}" (${policy.kind}) has no circuit breaker: per-call classification options need one`
    )
  )

/**
 * `Policy.apply`: `applyPolicy` with optional per-call classification
 * options. Without options it is `policy.apply(self)` and allocates nothing
 * more; data-last, the classifier is built once, not on every call.
 *
 * @internal
 */
export function applyPolicyWith(first: unknown, second?: unknown, third?: unknown): unknown {
  switch (arguments.length) {
    case 1:
      return (self: Effect.Effect<unknown, unknown, unknown>) => (first as Policy.Any).apply(self)
    case 2:
      // (self, policy) or (policy, options): a policy second is the data-first form.
      if (isPolicy(second)) return second.apply(first as Effect.Effect<unknown, unknown, unknown>)
      return dataLast(first as Policy.Any, fromOptions(second as ClassifyOptions | undefined))
    default:
      return applyClassified(
        first as Effect.Effect<unknown, unknown, unknown>,
        second as Policy.Any,
        fromOptions(third as ClassifyOptions | undefined)
      )
  }
}

const dataLast = (policy: Policy.Any, classify: Classifier | undefined) =>
(
  self: Effect.Effect<unknown, unknown, unknown>
): Effect.Effect<unknown, unknown, unknown> => applyClassified(self, policy, classify)
