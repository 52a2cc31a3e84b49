/**
 * What a guarded call puts on its fiber's span: the breaker's name, the
 * state the call was admitted in, its outcome, and a rejection as an event.
 *
 * @internal
 */
import type { Exit, Fiber, Tracer } from "effect"
import { Duration } from "effect"
import type { CircuitOpenError } from "../CircuitOpenError.js"

/** Attribute and event names a guarded call puts on its span. @internal */
export const spanAttributes = {
  name: "resilience.circuit_breaker.name",
  state: "resilience.circuit_breaker.state",
  outcome: "resilience.circuit_breaker.outcome",
  retryAfter: "resilience.circuit_breaker.retry_after_ms",
  rejectedEvent: "resilience.circuit_breaker.rejected"
} as const

/** The span of a fiber, when it has one that is still open. */
/** @internal */
export const tracedSpan = (fiber: Fiber.Fiber<unknown, unknown>): Tracer.Span | undefined => {
  const span = fiber.cache.span
  return span !== undefined && span._tag === "Span" && span.status._tag !== "Ended" ? span : undefined
}

/**
 * Notes a rejection on `span`: the outcome, the state that rejected, and an
 * event with the time left, at `nanos`.
 *
 * @internal
 */
export const traceRejection = (
  span: Tracer.Span,
  rejection: Exit.Exit<never, CircuitOpenError>,
  breaker: string,
  nanos: bigint
): void => {
  span.attribute(spanAttributes.outcome, "rejected")
  if (rejection._tag !== "Failure") return
  const error = rejection.cause.reasons[0]
  if (error?._tag !== "Fail") return
  span.attribute(spanAttributes.state, error.error.state)
  span.event(spanAttributes.rejectedEvent, nanos, {
    [spanAttributes.name]: breaker,
    [spanAttributes.state]: error.error.state,
    [spanAttributes.retryAfter]: Duration.toMillis(error.error.retryAfter)
  })
}
