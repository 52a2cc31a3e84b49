/**
 * How a half-open period decides, from the probes that finished so far: the
 * default "any failed probe reopens, `successThreshold` successes close", or
 * Resilience4j's mode (`halfOpenFailureRate`), which waits for all
 * `halfOpenPermits` probes and reopens when the failure rate over them is at
 * or above the rate. The in-memory circuit asks this module; the Redis
 * script (`internal/redisLua.ts`) decides the same way for the fleet.
 *
 * @internal
 */
import type { ResolvedConfig } from "../CircuitBreakerConfig.js"

/**
 * What the probes decided: reopen (and why), close, or nothing yet.
 *
 * @internal
 */
export type ProbeVerdict = "ProbeFailed" | "ProbeFailureRate" | "Close" | undefined

/**
 * The verdict of a half-open period whose finished probes are `successes`
 * successes and `failures` failures (ignored probes gave their permits back
 * and count as neither).
 *
 * @internal
 */
export const probeVerdict = (
  config: Pick<ResolvedConfig, "halfOpenFailureRate" | "halfOpenPermits" | "successThreshold">,
  successes: number,
  failures: number
): ProbeVerdict => {
  const rate = config.halfOpenFailureRate
  if (rate === undefined) {
    if (failures > 0) return "ProbeFailed"
    return successes >= config.successThreshold ? "Close" : undefined
  }
  const probes = successes + failures
  if (probes < config.halfOpenPermits) return undefined
  return failures / probes >= rate ? "ProbeFailureRate" : "Close"
}
