/**
 * Makes a breaker from a resolved configuration: checks what `decode` did
 * not (a configuration changed by hand, a schedule), registers its metrics,
 * and links its circuit to the store of the context. Shared by
 * `CircuitBreaker.makeResolved` and the registry, which keeps the breaker's
 * own type to guard and evict without a cast.
 *
 * @internal
 */
import { Effect, Schedule, Scope } from "effect"
import type { ResolvedConfig } from "../CircuitBreakerConfig.js"
import { checkResolved, CircuitBreakerConfigError, ConfigIssue } from "../CircuitBreakerConfig.js"
import { CircuitStore } from "../CircuitStore.js"
import { CircuitBreakerImpl } from "./breaker.js"
import { checkSchedule } from "./openDuration.js"
import { nameOf } from "./options.js"
import { isValidated } from "./resolved.js"

/**
 * Makes the breaker; `refused` turns a store's refusal of the configuration
 * (a shared circuit configured otherwise) into the caller's own error.
 *
 * @internal
 */
export const makeBreaker = <E = CircuitBreakerConfigError>(
  config: ResolvedConfig,
  refused?: (error: CircuitBreakerConfigError) => E
): Effect.Effect<CircuitBreakerImpl, CircuitBreakerConfigError | E, Scope.Scope> =>
  Effect.gen(function*() {
    const outOfBounds = isValidated(config) ? [] : checkResolved(config)
    if (outOfBounds.length > 0) {
      return yield* new CircuitBreakerConfigError({
        breaker: nameOf(config, "default"),
        issues: outOfBounds as [ConfigIssue, ...Array<ConfigIssue>]
      })
    }
    if (Schedule.isSchedule(config.openDuration)) {
      const problem = checkSchedule(config.openDuration, yield* Effect.context<never>())
      if (problem !== undefined) {
        return yield* new CircuitBreakerConfigError({
          breaker: config.name,
          issues: [new ConfigIssue({ field: "openDuration", rule: problem })]
        })
      }
    }
    const scope = yield* Effect.scope
    const breaker = new CircuitBreakerImpl(config, scope, yield* Effect.context<never>())
    const removeMetrics = breaker.registerMetrics()
    if (removeMetrics === "name taken") {
      yield* Effect.logWarning(
        `Circuit breaker "${config.name}" reports no metrics: another breaker reports under the same name. ` +
          `Give each breaker a name of its own.`
      )
    } else if (removeMetrics !== undefined) {
      yield* Scope.addFinalizer(scope, Effect.sync(removeMetrics))
    }
    const store = yield* CircuitStore
    yield* refused === undefined ? breaker.linkTo(store) : Effect.mapError(breaker.linkTo(store), refused)
    return breaker
  })
