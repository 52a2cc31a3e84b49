/**
 * Where reports and admin routes find circuits: a breaker or a registry,
 * given as an instance or as a service key resolved from a context, checked
 * by type id (so values of another copy of the library count too).
 *
 * @internal
 */
import { Context, Effect, Option } from "effect"
import type { CircuitBreaker } from "../CircuitBreaker.js"
import type { CircuitBreakerRegistry } from "../CircuitBreakerRegistry.js"
import type { Snapshot } from "../CircuitBreakerSnapshot.js"
import { ConfigIssue } from "../ConfigIssue.js"
import { isCircuitBreaker } from "./breaker.js"
import { describeValue, unreadable } from "./options.js"
import { isRegistry } from "./registry.js"
import { isEffectValue, isServiceKey } from "./service.js"

/** A breaker or a registry. @internal */
export type CircuitSource = CircuitBreaker | CircuitBreakerRegistry<unknown>

/** @internal */
export const describeSource = (u: unknown): string =>
  isEffectValue(u) ? "an Effect: yield it to get the breaker or registry" : describeValue(u)

/**
 * The breaker or registry `source` is — a service key resolved from
 * `context` — or the rule it breaks (`what` names what a source may be, for
 * the message). Reading a hostile value (a Proxy whose traps throw) throws:
 * callers catch.
 *
 * @internal
 */
export const resolveSource = (
  source: unknown,
  context: Context.Context<never>,
  what: string
): { readonly source: CircuitSource } | { readonly rule: string } => {
  if (isServiceKey(source)) {
    const found = Context.getOption(context, source)
    if (Option.isNone(found)) return { rule: `names the service "${source.key}", which is not in the context` }
    const resolved: unknown = found.value
    if (!isCircuitBreaker(resolved) && !isRegistry(resolved)) {
      return {
        rule: `names the service "${source.key}", which is neither a circuit breaker nor a registry ` +
          `(got ${describeSource(resolved)})`
      }
    }
    return { source: resolved }
  }
  if (!isCircuitBreaker(source) && !isRegistry(source)) return { rule: `${what} (got ${describeSource(source)})` }
  return { source }
}

/**
 * Resolves the `sources` option of a route layer into `into`: the rule each
 * entry breaks, named `sources.<i>` (an entry that cannot be read included),
 * or nothing when every entry is a breaker or a registry.
 *
 * @internal
 */
export const resolveSources = (
  sources: ReadonlyArray<unknown>,
  context: Context.Context<never>,
  what: string,
  into: Array<CircuitSource>
): Array<ConfigIssue> => {
  const found: Array<ConfigIssue> = []
  sources.forEach((source, i) => {
    try {
      const resolved = resolveSource(source, context, what)
      if ("rule" in resolved) found.push(new ConfigIssue({ field: `sources.${i}`, rule: resolved.rule }))
      else into.push(resolved.source)
    } catch (thrown) {
      found.push(new ConfigIssue({ field: `sources.${i}`, rule: unreadable(thrown) }))
    }
  })
  return found
}

/** The snapshot of every circuit of a source. @internal */
export const snapshotsOf = (source: CircuitSource): Effect.Effect<ReadonlyArray<Snapshot>> =>
  isCircuitBreaker(source)
    ? Effect.map(source.snapshot, (snapshot) => [snapshot])
    : (source as CircuitBreakerRegistry<unknown>).snapshots

/** Every breaker of a source (a registry's, after its sweep). @internal */
export const breakersOf = (source: CircuitSource): Effect.Effect<ReadonlyArray<CircuitBreaker>> =>
  isCircuitBreaker(source) ? Effect.succeed([source]) : (source as CircuitBreakerRegistry<unknown>).breakers
