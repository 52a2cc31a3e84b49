/**
 * The log line a breaker writes for each transition.
 *
 * @internal
 */
import { Duration, Effect } from "effect"
import type { Transition } from "./circuit.js"

/**
 * The log line of one transition, with its fields as annotations: a warning
 * when calls stop running, info otherwise.
 *
 * @internal
 */
export const transitionLog = (breaker: string, transition: Transition): Effect.Effect<void> => {
  const { at, from, reason, to, until } = transition
  const stopsCalls = to === "Open" || to === "ForcedOpen"
  const message = to === "Open"
    ? `Circuit breaker "${breaker}" opened (${reason}): calls are rejected for ${
      Duration.format(Duration.millis(Math.max(0, (until ?? at) - at)))
    }`
    : to === "ForcedOpen"
    ? `Circuit breaker "${breaker}" was forced open: every call is rejected until it is reset`
    : to === "HalfOpen"
    ? `Circuit breaker "${breaker}" is half-open (${reason}): probe calls are let through`
    : to === "Closed"
    ? `Circuit breaker "${breaker}" closed (${reason}): calls run again`
    : `Circuit breaker "${breaker}" was disabled: every call runs, nothing trips`
  const log = stopsCalls ? Effect.logWarning(message) : Effect.logInfo(message)
  return log.pipe(Effect.annotateLogs({
    circuit_breaker: breaker,
    from,
    to,
    reason,
    ...(until === undefined ? {} : { retry_after_ms: Math.max(0, until - at) })
  }))
}
