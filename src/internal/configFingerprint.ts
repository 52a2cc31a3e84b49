/**
 * A short fingerprint of the parts of a breaker's configuration that decide
 * how its circuit moves, so that instances sharing a circuit through a store
 * can tell when they were configured differently. The name, the classifier,
 * metrics and logging are left out: they change nothing the fleet shares.
 *
 * @internal
 */
import { Duration, Hash } from "effect"
import type { ResolvedConfig } from "../CircuitBreakerConfig.js"

const millis = (duration: Duration.Duration | undefined): number | null =>
  duration === undefined ? null : Duration.toMillis(duration)

/** @internal */
export const configFingerprint = (config: ResolvedConfig): string => {
  const window = config.window
  const rates = config.failureRate !== undefined || config.slowCallRate !== undefined
  const shape = [
    config.consecutiveFailures ?? null,
    config.failureCount ?? null,
    config.failureRate ?? null,
    config.slowCallRate ?? null,
    // Settings that change nothing without the rule that reads them are left out: two breakers that
    // behave alike share a fingerprint.
    config.slowCallRate === undefined ? null : millis(config.slowCallDuration),
    window._tag === "CountWindow" ? ["count", window.size] : ["time", millis(window.duration), window.buckets],
    rates ? config.minimumCalls : null,
    // A schedule is code: two instances with schedules are taken to agree.
    Duration.isDuration(config.openDuration) ? millis(config.openDuration) : "schedule",
    millis(config.maxOpenDuration),
    config.halfOpenPermits,
    config.successThreshold,
    millis(config.halfOpenMaxWait),
    // Added after the rest: a breaker without it keeps the fingerprint it had before the option existed.
    ...(config.halfOpenFailureRate === undefined ? [] : [["halfOpenFailureRate", config.halfOpenFailureRate]])
  ]
  return (Hash.string(JSON.stringify(shape)) >>> 0).toString(36)
}
