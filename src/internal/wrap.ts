/**
 * Nesting policies: `Policy.wrap` and `Policy.make` check what they are
 * given, turn circuit breakers and bulkheads (instances or service keys) into
 * layers, and apply the layers innermost first.
 *
 * @internal
 */
import { Context, Effect } from "effect"
import type { Bulkhead } from "../Bulkhead.js"
import type { CircuitBreaker } from "../CircuitBreaker.js"
import type { Classifier } from "../Classifier.js"
import { ConfigIssue } from "../ConfigIssue.js"
import type { Policy, PolicyOptions } from "../Policy.js"
import type { PolicyKind } from "../PolicyConfigError.js"
import { PolicyConfigError } from "../PolicyConfigError.js"
import { guardIn, isCircuitBreaker } from "./breaker.js"
import { isBulkhead } from "./bulkhead.js"
import { describeValue, isName, nameOf, nameRule, readField, unreadable } from "./options.js"
import type { Classifiable, Setup } from "./policy.js"
import { isClassifiable, isPolicy, noBreakerToClassify, PolicyBase } from "./policy.js"
import { isServiceKey } from "./service.js"

type Layer = (self: Effect.Effect<unknown, unknown, unknown>) => Effect.Effect<unknown, unknown, unknown>

/**
 * A layer given the per-call classifier of `Policy.apply(self, policy,
 * options)`: a breaker's uses it in place of its own; other layers ignore it.
 */
type ClassifiedLayer = (
  self: Effect.Effect<unknown, unknown, unknown>,
  classify: Classifier
) => Effect.Effect<unknown, unknown, unknown>

/** A layer, and its classified form when it holds (or may hold) a circuit breaker. */
interface Part {
  readonly layer: Layer
  readonly classified?: ClassifiedLayer | undefined
}

class WrapImpl extends PolicyBase<unknown, unknown, unknown, unknown> implements Classifiable {
  readonly kind = "Wrap" as const

  constructor(
    setup: Setup,
    private readonly layers: ReadonlyArray<Layer>,
    /** The layers for a call with its own classifier; `undefined` when no layer holds a breaker. */
    readonly classifiedLayers: ReadonlyArray<ClassifiedLayer> | undefined
  ) {
    super(setup)
  }

  get classifies(): boolean {
    return this.classifiedLayers !== undefined
  }

  readonly apply = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<unknown, unknown, unknown> => {
    let effect: Effect.Effect<unknown, unknown, unknown> = self
    for (let i = this.layers.length - 1; i >= 0; i--) effect = this.layers[i]!(effect)
    return effect
  }

  readonly applyClassified = (
    self: Effect.Effect<unknown, unknown, unknown>,
    classify: Classifier
  ): Effect.Effect<unknown, unknown, unknown> => {
    const layers = this.classifiedLayers
    if (layers === undefined) return noBreakerToClassify(this)
    let effect = self
    for (let i = layers.length - 1; i >= 0; i--) effect = layers[i]!(effect, classify)
    return effect
  }
}

/** A part whose layer is its classified form with the breaker's own classifier (`undefined`). */
const partOf = (
  classified: (
    self: Effect.Effect<unknown, unknown, unknown>,
    classify?: Classifier
  ) => Effect.Effect<unknown, unknown, unknown>
): Part => ({
  layer: (self) => classified(self, undefined),
  classified
})

const breakerPart = (breaker: CircuitBreaker): Part =>
  partOf((self, classify) => Effect.withFiber((fiber) => guardIn(breaker, self, classify, fiber)))

const servicePart = (key: Context.Key<unknown, unknown>): Part =>
  partOf((self, classify) =>
    Effect.withFiber((fiber) => {
      const service = Context.getUnsafe(fiber.context, key)
      if (isCircuitBreaker(service)) return guardIn(service, self, classify, fiber)
      if (isBulkhead(service)) return service.apply(self)
      return notBreakerNorBulkhead(key)
    })
  )

const notBreakerNorBulkhead = (key: Context.Key<unknown, unknown>) =>
  Effect.die(new TypeError(`The service "${key.key}" used in a policy is neither a circuit breaker nor a bulkhead`))

// Through the `Classifiable` contract, not `instanceof`: a policy made by another copy of the
// library (its ESM and CJS builds loaded side by side) nests with its per-call options intact.
const policyPart = (policy: Policy.Any): Part =>
  isClassifiable(policy) && policy.classifies
    ? { layer: policy.apply, classified: policy.applyClassified }
    : { layer: policy.apply }

/** What a value may be, for a rule's wording. */
type Expected = "any" | PolicyKind

const expectation: Record<Expected, string> = {
  any: "a policy, a circuit breaker, a bulkhead, or the service key of a breaker or a bulkhead",
  Retry: "a Retry policy (from Retry.make)",
  RetryBudget: "a retry budget",
  Timeout: "a Timeout policy (from Timeout.make)",
  Bulkhead: "a bulkhead (from Bulkhead.make) or its service key",
  RateLimit: "a RateLimit policy (from RateLimit.make)",
  Chaos: "a Chaos policy (from Chaos.make)",
  AdaptiveLimit: "an adaptive limit (from AdaptiveLimit.make)",
  Fallback: "a Fallback policy (from Fallback.make)",
  LastKnownGood: "a last-known-good cache",
  Hedge: "a Hedge policy (from Hedge.make)",
  CircuitBreaker: "a circuit breaker (from CircuitBreaker.make) or its service key",
  Wrap: "a policy",
  RedisCircuitStore: "a Redis circuit store layer",
  Health: "a health route",
  HttpProblem: "problem responses",
  HttpLoadShedding: "a load-shedding middleware",
  HttpAdmin: "admin routes",
  HttpClient: "a resilient HTTP client",
  Dashboard: "a dashboard"
}

const toPart = (value: unknown, expected: Expected): Part | undefined => {
  if (isServiceKey(value)) {
    return expected === "any" || expected === "CircuitBreaker" || expected === "Bulkhead"
      ? servicePart(value)
      : undefined
  }
  if (isCircuitBreaker(value)) {
    return expected === "any" || expected === "CircuitBreaker" ? breakerPart(value) : undefined
  }
  if (isBulkhead(value)) {
    return expected === "any" || expected === "Bulkhead" ? { layer: (value as Bulkhead).apply } : undefined
  }
  if (isPolicy(value)) return expected === "any" || expected === value.kind ? policyPart(value) : undefined
  return undefined
}

/** The parts of `entries`, and a rule for every entry that is not what its field needs. */
const partsOf = (
  entries: ReadonlyArray<readonly [field: string, value: unknown, expected?: Expected]>,
  issues: Array<ConfigIssue>
): Array<Part> => {
  const parts: Array<Part> = []
  for (const [field, value, expected = "any"] of entries) {
    let part: Part | undefined
    try {
      part = toPart(value, expected)
    } catch (thrown) {
      // A Proxy whose traps throw.
      issues.push(new ConfigIssue({ field, rule: unreadable(thrown) }))
      continue
    }
    if (part === undefined) {
      issues.push(new ConfigIssue({ field, rule: `must be ${expectation[expected]} (got ${describeValue(value)})` }))
    } else {
      parts.push(part)
    }
  }
  return parts
}

const wrapOrFail = (
  name: string,
  entries: ReadonlyArray<readonly [field: string, value: unknown, expected?: Expected]>,
  given: ReadonlyArray<ConfigIssue>
): Effect.Effect<Policy.Any, PolicyConfigError> =>
  Effect.withFiber((fiber) => {
    const issues = [...given]
    const parts = partsOf(entries, issues)
    if (issues.length > 0) {
      return Effect.fail(
        new PolicyConfigError({ kind: "Wrap", policy: name, issues: issues as [ConfigIssue, ...Array<ConfigIssue>] })
      )
    }
    const layers = parts.map((part) => part.layer)
    const classified = parts.some((part) => part.classified !== undefined)
      ? parts.map((part): ClassifiedLayer => part.classified ?? part.layer)
      : undefined
    return Effect.succeed(
      new WrapImpl({ name, context: fiber.context, metrics: false }, layers, classified) as Policy.Any
    )
  })

/** @internal */
export const wrapPolicies = (
  name: string,
  entries: ReadonlyArray<readonly [field: string, value: unknown, expected?: Expected]>
): Effect.Effect<Policy.Any, PolicyConfigError> => wrapOrFail(name, entries, [])

const order: ReadonlyArray<readonly [keyof PolicyOptions, Expected]> = [
  ["fallback", "Fallback"],
  ["breaker", "CircuitBreaker"],
  ["retry", "Retry"],
  ["hedge", "Hedge"],
  ["limit", "AdaptiveLimit"],
  ["bulkhead", "Bulkhead"],
  ["timeout", "Timeout"]
]

/** @internal */
export const makeFromOptions = (options: PolicyOptions): Effect.Effect<Policy.Any, PolicyConfigError> =>
  // Suspended: reading the options may throw (a getter, a Proxy), which must fail the effect, not the call.
  Effect.suspend(() => {
    const name = nameOf(options, "default")
    const fail = (issues: ReadonlyArray<ConfigIssue>) =>
      Effect.fail(
        new PolicyConfigError({ kind: "Wrap", policy: name, issues: issues as [ConfigIssue, ...Array<ConfigIssue>] })
      )
    if (typeof options !== "object" || options === null) {
      return fail([
        new ConfigIssue({
          field: "(options)",
          rule: `must be an object of policy options (got ${describeValue(options)})`
        })
      ])
    }
    let given: ReadonlyArray<string>
    try {
      given = Object.keys(options)
    } catch (thrown) {
      return fail([new ConfigIssue({ field: "(options)", rule: unreadable(thrown) })])
    }
    const known = new Set<string>(["name", ...order.map(([field]) => field)])
    const issues = given
      .filter((field) => !known.has(field))
      .map((field) => new ConfigIssue({ field, rule: "is not a policy option" }))
    const named = readField(options, "name")
    if (!("value" in named)) {
      issues.push(new ConfigIssue({ field: "name", rule: named.problem }))
    } else if (named.value !== undefined && !isName(named.value)) {
      issues.push(new ConfigIssue({ field: "name", rule: `${nameRule} (got ${describeValue(named.value)})` }))
    }
    // Unknown options, a bad name and layers of the wrong kind are listed together.
    const entries: Array<readonly [string, unknown, Expected]> = []
    for (const [field, expected] of order) {
      const read = readField(options, field)
      if (!("value" in read)) issues.push(new ConfigIssue({ field, rule: read.problem }))
      else if (read.value !== undefined) entries.push([field, read.value, expected])
    }
    return wrapOrFail(name, entries, issues)
  })
