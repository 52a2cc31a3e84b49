/**
 * The circuits of a resilient HTTP client: one given breaker, or one per key
 * (the request's origin by default) in a bounded registry.
 *
 * When the registry cannot give a key a circuit (it is full of circuits it
 * may not evict, the key breaks the key rules, or a per-key function cannot
 * configure it), the request is guarded by the registry's overflow circuit
 * (`name/(overflow)`), shared by every such key, and the registry logs a
 * warning at most once a minute (`CircuitBreakerRegistry.executeOrOverflow`):
 * requests stay protected, the number of circuits (and of metric series)
 * stays bounded, and the registry lists the overflow circuit with the others.
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
import { isCircuitOpenError } from "../CircuitOpenError.js"
import type { Classifier } from "../Classifier.js"
import { ConfigIssue } from "../ConfigIssue.js"
import type { Options } from "../ResilientHttpClient.js"

type Request = HttpClientRequest.HttpClientRequest

/**
 * Guards one attempt of a request with its circuit. With `stopWhenOpen`, an
 * attempt that fails while its circuit is open (its own failure opened it,
 * or another call's did) fails as `CircuitOpened`, which no retry retries.
 *
 * @internal
 */
export interface Breakers {
  readonly guard: <A, E, R>(
    request: Request,
    call: Effect.Effect<A, E, R>,
    stopWhenOpen: boolean
  ) => Effect.Effect<A, unknown, R>
}

/**
 * An attempt's error when its circuit is open once it failed: the attempt
 * that opened it, or one that ended after it opened. Retrying would only
 * meet the open circuit, so the call ends with this error at once.
 *
 * @internal
 */
export class CircuitOpened {
  readonly _tag = "CircuitOpened"
  constructor(readonly error: unknown) {}
}

/** An object literal (or one made without a prototype): a copy of its own fields is the whole of it. */
const isPlainConfig = (u: unknown): u is CircuitBreakerConfig => {
  if (typeof u !== "object" || u === null) return false
  const prototype = Object.getPrototypeOf(u)
  return prototype === Object.prototype || prototype === null
}

const isOpen = (state: string): boolean => state === "Open" || state === "ForcedOpen"

/** Runs one attempt through `breaker`, its failure marked when it leaves the circuit open. */
const execute = <A, E, R>(
  breaker: CircuitBreaker,
  call: Effect.Effect<A, E, R>,
  options: { readonly classify: Classifier },
  stopWhenOpen: boolean
): Effect.Effect<A, unknown, R> => {
  const guarded = breaker.execute(call, options)
  if (!stopWhenOpen) return guarded
  return Effect.catch(guarded, (error: unknown) =>
    Effect.flatMap(
      breaker.state,
      (state) => Effect.fail(isOpen(state) && !isCircuitOpenError(error) ? new CircuitOpened(error) : error)
    ))
}

/**
 * The origin of a request's URL (`https://api.example.com:8443`), or its
 * URL as written when it does not parse.
 */
const parsedOrigin = (request: Request): string =>
  Option.match(HttpClientRequest.toUrl(request), { onNone: () => request.url, onSome: (url) => url.origin })

/** How many origins one client remembers before it forgets them all and starts again. */
const maxRememberedOrigins = 1024

/**
 * Makes what keys a client's requests by origin (see `parsedOrigin`).
 * Parsing a URL costs more than the rest of finding a request's circuit,
 * and a client calls few origins: each is remembered by the text of the
 * URL up to the end of its authority (the first `/`, `?`, `#` or `\`
 * after `//`), which alone decides the origin, so two URLs with the same
 * text there have the same origin. Text with credentials in it is never
 * kept.
 *
 * @internal
 */
export const makeOriginOf = (): (request: Request) => string => {
  const remembered = new Map<string, string>()
  // The last prefix seen, checked first without slicing the URL: most requests of a client go
  // where the one before went.
  let lastPrefix = ""
  let lastOrigin = ""
  return (request) => {
    const url = request.url
    if (
      lastPrefix !== "" && url.startsWith(lastPrefix) &&
      (url.length === lastPrefix.length || endsAuthority(url.charCodeAt(lastPrefix.length)))
    ) {
      return lastOrigin
    }
    const authority = url.indexOf("//")
    if (authority < 0) return parsedOrigin(request)
    let end = authority + 2
    while (end < url.length && !endsAuthority(url.charCodeAt(end))) end++
    const prefix = end === url.length ? url : url.slice(0, end)
    let origin = remembered.get(prefix)
    if (origin === undefined) {
      origin = parsedOrigin(request)
      if (prefix.includes("@")) return origin
      if (remembered.size >= maxRememberedOrigins) remembered.clear()
      remembered.set(prefix, origin)
    }
    lastPrefix = prefix
    lastOrigin = origin
    return origin
  }
}

/** Whether a character ends a URL's authority: "/", "?", "#" or "\\". */
const endsAuthority = (char: number): boolean => char === 47 || char === 63 || char === 35 || char === 92

/** @internal */
export const makeBreakers = (
  name: string,
  options: Options<unknown>,
  classify: Classifier,
  keyOf: (request: Request) => string
): Effect.Effect<Breakers, CircuitBreakerConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const given = options.breaker
    const guardOptions = { classify }
    if (isCircuitBreaker(given)) {
      return {
        guard: (_request, call, stopWhenOpen) => execute(given, call, guardOptions, stopWhenOpen)
      } satisfies Breakers
    }
    // The client's classifier is its breakers' own when the configuration is a plain object without
    // a classifier of its own: a call then passes none (a classifier given per call costs a wrapper
    // and a finaliser made for that call). Anything else goes to the registry as given, which checks
    // it as it checks any configuration (a copy would drop what it inherits, and hide a bad value).
    const ownClassifier = given === undefined || (isPlainConfig(given) && given.classify === undefined)
    const registry: CircuitBreakerRegistry<unknown> = isCircuitBreakerRegistry(given)
      ? given
      : yield* makeRegistry({
        name,
        config: ownClassifier ? { ...given, classify } : given as CircuitBreakerConfig,
        ...(options.maxBreakers === undefined ? {} : { maxBreakers: options.maxBreakers }),
        ...(options.idleTimeToLive === undefined ? {} : { idleTimeToLive: options.idleTimeToLive })
      })
    const callOptions = ownClassifier ? undefined : guardOptions
    // The registry's own overflow circuit, made now: listed by the registry (health reports and
    // admin routes see and control it), and a store refusing it fails the client's making.
    const overflow = yield* Effect.mapError(registry.overflow, (error) =>
      new CircuitBreakerConfigError({
        breaker: `${registry.name}/(overflow)`,
        issues: [new ConfigIssue({ field: "breaker", rule: error.rule })]
      }))
    // The request's circuit by the registry's own lookup and call in one step; a key the registry
    // refuses (full, a bad key, a per-key configuration it cannot make) is guarded by the overflow
    // circuit, decided at the lookup — before the call, so no error of the call is ever taken for a
    // refusal — and warned of by the registry, at most once a minute.
    return {
      guard: (request, call, stopWhenOpen) => {
        const key = keyOf(request)
        const guarded = registry.executeOrOverflow(call, key, callOptions)
        if (!stopWhenOpen) return guarded
        return Effect.catch(guarded, (error: unknown) => {
          if (isCircuitOpenError(error)) return Effect.fail(error)
          // The key's circuit again (the overflow's if it has none now): is it open?
          const state = Effect.flatMap(
            Effect.orElseSucceed(registry.get(key), () => overflow),
            (breaker) => breaker.state
          )
          return Effect.flatMap(state, (now) => Effect.fail(isOpen(now) ? new CircuitOpened(error) : error))
        })
      }
    } satisfies Breakers
  })
