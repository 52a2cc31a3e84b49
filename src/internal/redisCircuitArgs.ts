/**
 * What every script call of one shared circuit sends besides its own
 * arguments: the circuit's keys, its configuration as the script reads it
 * (the trip rules and the window, the half-open settings, the next opening's
 * duration), its fingerprint, and the store's settings. Built once per
 * breaker: the calls only add the time and what changes.
 *
 * @internal
 */
import { Duration } from "effect"
import type { LocalCircuit } from "../CircuitStore.js"
import { configFingerprint } from "./configFingerprint.js"
import type { ScriptCall } from "./redisScript.js"
import type { RedisStoreSettings } from "./redisStore.js"

/** @internal */
export class CircuitArgs {
  readonly keys: readonly [string, string, string]
  /** The trip rules and the window, as the script reads them after a batch's counts. */
  readonly rules: ReadonlyArray<string | number>
  /** This configuration's fingerprint, kept with the circuit by the first instance to sync. */
  readonly fingerprint: string
  private readonly maxWaitMillis: number
  private openMillisOpenings = -1
  private openMillisCached = 0

  constructor(
    private readonly settings: RedisStoreSettings,
    private readonly channel: string,
    private readonly origin: string,
    private readonly local: LocalCircuit
  ) {
    const base = `${settings.prefix}{${local.name}}`
    this.keys = [base, `${base}:w`, `${base}:p`]
    const config = local.config
    const window = config.window
    this.rules = [
      config.consecutiveFailures ?? 0,
      config.failureCount ?? 0,
      config.failureRate ?? -1,
      config.slowCallRate ?? -1,
      config.minimumCalls,
      ...(window._tag === "CountWindow"
        ? ["c", window.size, 0]
        : ["t", window.buckets, Math.max(1, Math.floor(Duration.toMillis(window.duration) / window.buckets))])
    ]
    this.maxWaitMillis = config.halfOpenMaxWait === undefined ? 0 : Duration.toMillis(config.halfOpenMaxWait)
    this.fingerprint = configFingerprint(config)
  }

  /** A call of operation `op` at `now`, by an instance that last saw generation `knownGen` and `openings` openings. */
  call(
    op: ScriptCall["op"],
    now: number,
    extra: ReadonlyArray<string | number>,
    knownGen: number,
    openings: number
  ): ScriptCall {
    const settings = this.settings
    return {
      keys: this.keys,
      op,
      // Whole milliseconds: the script keeps integers (a TestClock can stand at 1.5 ms).
      now: Math.floor(now),
      idleMillis: settings.idleMillis,
      channel: this.channel,
      name: this.local.name,
      permits: this.local.config.halfOpenPermits,
      openMillis: this.openMillis(openings, now),
      maxWaitMillis: this.maxWaitMillis,
      leaseMillis: settings.leaseMillis,
      origin: this.origin,
      knownGen,
      extra
    }
  }

  /** The next opening's duration for the fleet's count of openings: stepped once per count, not per call. */
  private openMillis(openings: number, now: number): number {
    if (this.openMillisOpenings !== openings) {
      this.openMillisOpenings = openings
      this.openMillisCached = this.local.openMillisFor(openings + 1, now)
    }
    return this.openMillisCached
  }
}
