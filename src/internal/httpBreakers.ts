/**
 * The circuits of a resilient HTTP client: one given breaker, or one per key
 * (the request's origin by default) in a bounded registry.
 *
 * When the registry cannot give a key a circuit (it is full of circuits it
 * may not evict, or the key breaks the key rules), the request is guarded by
 * the registry's overflow circuit (`name/(overflow)`), shared by every such
 * key, and a warning is logged at most once a minute: requests stay
 * protected, the number of circuits (and of metric series) stays bounded,
 * and the registry lists the overflow circuit with the others.
 *
 * @internal
 */
import type { Scope } from "effect"
import { Effect, Option } from "effect"
import { HttpClientRequest } from "effect/http"
import type { CircuitBreaker } from "../CircuitBreaker.js"
import { isCircuitBreaker } from "../CircuitBreaker.js"
import type { CircuitBreakerConfig } from "../CircuitBreakerConfig.js"
import { CircuitBreakerConfigError } from "../CircuitBreakerConfig.js"
import type { CircuitBreakerRegistry } from "../CircuitBreakerRegistry.js"
import { isCircuitBreakerRegistry, make as makeRegistry } from "../CircuitBreakerRegistry.js"
import type { Classifier } from "../Classifier.js"
import { ConfigIssue } from "../ConfigIssue.js"
import type { Options } from "../ResilientHttpClient.js"
import { LogThrottle } from "./logThrottle.js"
import { errorTag } from "./policy.js"

type Request = HttpClientRequest.HttpClientRequest

/**
 * Guards one request's call with its circuit.
 *
 * @internal
 */
export interface Breakers {
  readonly guard: <A, E, R>(request: Request, call: Effect.Effect<A, E, R>) => Effect.Effect<A, unknown, R>
}

/**
 * The origin of a request's URL (`https://api.example.com:8443`), or its
 * URL as written when it does not parse.
 *
 * @internal
 */
export const originOf = (request: Request): string =>
  Option.match(HttpClientRequest.toUrl(request), { onNone: () => request.url, onSome: (url) => url.origin })

const overflowWarningMillis = 60_000

/** @internal */
export const makeBreakers = (
  name: string,
  options: Options<unknown>,
  classify: Classifier
): Effect.Effect<Breakers, CircuitBreakerConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const given = options.breaker
    const guardOptions = { classify }
    if (isCircuitBreaker(given)) {
      return { guard: (_request, call) => given.execute(call, guardOptions) } satisfies Breakers
    }
    const registry: CircuitBreakerRegistry<unknown> = isCircuitBreakerRegistry(given)
      ? given
      : yield* makeRegistry({
        name,
        ...(given === undefined ? {} : { config: given as CircuitBreakerConfig }),
        ...(options.maxBreakers === undefined ? {} : { maxBreakers: options.maxBreakers }),
        ...(options.idleTimeToLive === undefined ? {} : { idleTimeToLive: options.idleTimeToLive })
      })
    // The registry's own overflow circuit, made now: listed by the registry (health reports and
    // admin routes see and control it), and a store refusing it fails the client's making.
    const overflow = yield* Effect.mapError(registry.overflow, (error) =>
      new CircuitBreakerConfigError({
        breaker: `${registry.name}/(overflow)`,
        issues: [new ConfigIssue({ field: "breaker", rule: error.rule })]
      }))
    const clock = yield* Effect.clockWith(Effect.succeed)
    const warnings = new LogThrottle(overflowWarningMillis)
    const keyOf = options.key ?? originOf
    const breakerOf = (key: string): Effect.Effect<CircuitBreaker> =>
      Effect.catch(registry.get(key), (error) =>
        Effect.as(
          warnings.warn(clock.currentTimeMillisUnsafe(), () =>
            `Resilient HTTP client "${name}": no circuit of its own for a key (${errorTag(error)}); ` +
            `its requests share the circuit "${overflow.name}"`),
          overflow
        ))
    return {
      guard: (request, call) =>
        Effect.flatMap(breakerOf(keyOf(request)), (breaker) => breaker.execute(call, guardOptions))
    } satisfies Breakers
  })
