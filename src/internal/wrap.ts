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
import { ConfigIssue } from "../ConfigIssue.js"
import type { Policy, PolicyOptions } from "../Policy.js"
import type { PolicyKind } from "../PolicyConfigError.js"
import { PolicyConfigError } from "../PolicyConfigError.js"
import type { CircuitBreakerImpl } from "./breaker.js"
import { isCircuitBreaker } from "./breaker.js"
import { isBulkhead } from "./bulkhead.js"
import { describeValue, nameOf } from "./options.js"
import type { Setup } from "./policy.js"
import { isPolicy, PolicyBase } from "./policy.js"
import { isServiceKey } from "./service.js"

type Layer = (self: Effect.Effect<unknown, unknown, unknown>) => Effect.Effect<unknown, unknown, unknown>

class WrapImpl extends PolicyBase<unknown, unknown, unknown, unknown> {
  readonly kind = "Wrap" as const

  constructor(setup: Setup, private readonly layers: ReadonlyArray<Layer>) {
    super(setup)
  }

  readonly apply = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<unknown, unknown, unknown> => {
    let effect: Effect.Effect<unknown, unknown, unknown> = self
    for (let i = this.layers.length - 1; i >= 0; i--) effect = this.layers[i]!(effect)
    return effect
  }
}

const breakerLayer = (breaker: CircuitBreaker): Layer => {
  const impl = breaker as CircuitBreakerImpl
  return (self) => Effect.withFiber((fiber) => impl.guard(self, impl.classifier, fiber))
}

const serviceLayer = (key: Context.Key<unknown, unknown>): Layer => (self) =>
  Effect.withFiber((fiber) => {
    const service = Context.getUnsafe(fiber.context, key)
    if (isCircuitBreaker(service)) {
      const breaker = service as CircuitBreakerImpl
      return breaker.guard(self, breaker.classifier, fiber)
    }
    if (isBulkhead(service)) return service.apply(self)
    return Effect.die(
      new TypeError(`The service "${key.key}" used in a policy is neither a circuit breaker nor a bulkhead`)
    )
  })

/** What a value may be, for a rule's wording. */
type Expected = "any" | PolicyKind

const expectation: Record<Expected, string> = {
  any: "a policy, a circuit breaker, a bulkhead, or the service key of a breaker or a bulkhead",
  Retry: "a Retry policy (from Retry.make)",
  RetryBudget: "a retry budget",
  Timeout: "a Timeout policy (from Timeout.make)",
  Bulkhead: "a bulkhead (from Bulkhead.make) or its service key",
  Fallback: "a Fallback policy (from Fallback.make)",
  LastKnownGood: "a last-known-good cache",
  Hedge: "a Hedge policy (from Hedge.make)",
  CircuitBreaker: "a circuit breaker (from CircuitBreaker.make) or its service key",
  Wrap: "a policy",
  RedisCircuitStore: "a Redis circuit store layer",
  Health: "a health route"
}

const toLayer = (value: unknown, expected: Expected): Layer | undefined => {
  if (isServiceKey(value)) {
    return expected === "any" || expected === "CircuitBreaker" || expected === "Bulkhead"
      ? serviceLayer(value)
      : undefined
  }
  if (isCircuitBreaker(value)) {
    return expected === "any" || expected === "CircuitBreaker" ? breakerLayer(value) : undefined
  }
  if (isBulkhead(value)) return expected === "any" || expected === "Bulkhead" ? (value as Bulkhead).apply : undefined
  if (isPolicy(value)) return expected === "any" || expected === value.kind ? value.apply : undefined
  return undefined
}

/** The layers of `entries`, and a rule for every entry that is not what its field needs. */
const layersOf = (
  entries: ReadonlyArray<readonly [field: string, value: unknown, expected?: Expected]>,
  issues: Array<ConfigIssue>
): Array<Layer> => {
  const layers: Array<Layer> = []
  for (const [field, value, expected = "any"] of entries) {
    const layer = toLayer(value, expected)
    if (layer === undefined) {
      issues.push(new ConfigIssue({ field, rule: `must be ${expectation[expected]} (got ${describeValue(value)})` }))
    } else {
      layers.push(layer)
    }
  }
  return layers
}

const wrapOrFail = (
  name: string,
  entries: ReadonlyArray<readonly [field: string, value: unknown, expected?: Expected]>,
  given: ReadonlyArray<ConfigIssue>
): Effect.Effect<Policy.Any, PolicyConfigError> =>
  Effect.withFiber((fiber) => {
    const issues = [...given]
    const layers = layersOf(entries, issues)
    if (issues.length > 0) {
      return Effect.fail(
        new PolicyConfigError({ kind: "Wrap", policy: name, issues: issues as [ConfigIssue, ...Array<ConfigIssue>] })
      )
    }
    return Effect.succeed(new WrapImpl({ name, context: fiber.context, metrics: false }, layers) as Policy.Any)
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
  ["bulkhead", "Bulkhead"],
  ["timeout", "Timeout"]
]

/** @internal */
export const makeFromOptions = (options: PolicyOptions): Effect.Effect<Policy.Any, PolicyConfigError> => {
  const name = nameOf(options, "default")
  if (typeof options !== "object" || options === null) {
    return Effect.fail(
      new PolicyConfigError({
        kind: "Wrap",
        policy: name,
        issues: [
          new ConfigIssue({
            field: "(options)",
            rule: `must be an object of policy options (got ${describeValue(options)})`
          })
        ]
      })
    )
  }
  const known = new Set<string>(["name", ...order.map(([field]) => field)])
  const issues = Object.keys(options)
    .filter((field) => !known.has(field))
    .map((field) => new ConfigIssue({ field, rule: "is not a policy option" }))
  const given = options.name
  if (given !== undefined && (typeof given !== "string" || given.trim().length === 0)) {
    issues.push(new ConfigIssue({ field: "name", rule: `must be a non-empty string (got ${describeValue(given)})` }))
  }
  // Unknown options, a bad name and layers of the wrong kind are listed together.
  const entries = order.flatMap(([field, expected]) =>
    options[field] === undefined ? [] : [[field, options[field], expected] as const]
  )
  return wrapOrFail(name, entries, issues)
}
