/**
 * The documented range of every option: the bounds past which a constructor
 * refuses a value with its typed configuration error (naming the field and
 * the rule) rather than allocating gigabytes, starting thousands of fibers,
 * or handing a timer a delay it cannot hold.
 *
 * | bound | value | applies to |
 * |---|---|---|
 * | {@link minDuration} | 1 ms | every duration that may not be zero; a duration that may be zero is 0 or at least 1 ms |
 * | {@link maxDuration} | 2^31 − 1 ms (about 24.8 days) | every duration, and every delay an `openDuration` or retry `Schedule` computes (capped) |
 * | {@link maxCountWindowSize} | 1,000,000 | `countWindow(size)` |
 * | {@link maxTimeWindowBuckets} | 10,000 | `timeWindow(duration, buckets)` |
 * | {@link maxCount} | 1,000,000 | `consecutiveFailures`, `failureCount`, `minimumCalls` |
 * | {@link maxConsecutiveCount} | 1,000,000,000 | a circuit's count of consecutive openings and of consecutive failures (counting stops there), and a `CircuitDocument`'s |
 * | {@link maxCallsPerMillisecond} | 1,000,000 | the calls a restored `CircuitDocument`'s time-window bucket, and its whole window, may hold per millisecond of width |
 * | {@link maxClockSkewMillis} | 60,000 | how far in the future a restored `CircuitDocument`'s `exportedAt` may lie (the exporting host's clock ahead of this one's) |
 * | {@link maxHalfOpenPermits} | 1,000 | `halfOpenPermits`, `successThreshold` |
 * | {@link maxEventBufferSize} | 100,000 | `eventBufferSize` |
 * | {@link maxBreakers} | 1,000,000 | a registry's `maxBreakers` |
 * | {@link maxRetries} | 1,000 | `Retry` `retries` |
 * | {@link maxBackoffFactor} | 10 | `Retry` `factor` |
 * | {@link maxMinRetriesPerSecond} | 1,000,000 | a retry budget's `minRetriesPerSecond` |
 * | {@link maxConcurrent} | 100,000 | `Bulkhead` `maxConcurrent` |
 * | {@link maxQueued} | 100,000 | `Bulkhead` `maxQueued` |
 * | {@link maxHedgeAttempts} | 10 | `Hedge` `attempts` |
 * | {@link maxCacheEntries} | 1,000,000 | a last-known-good cache's `maxEntries` |
 * | {@link maxErrorTags} | 100 | the error tags of a fallback's or a cache's `on` |
 * | {@link maxPrefixLength} | 256 | the Redis store's key `prefix` |
 * | {@link maxCommandTimeout} | 60 seconds | the Redis store's `commandTimeout` |
 * | {@link maxRedisUrlLength} | 4,096 | the Redis store's `url` and each of its `cluster.nodes` |
 * | {@link maxClusterNodes} | 64 | the Redis store's `cluster.nodes` |
 * | {@link maxPemLength} | 1,048,576 | each PEM text of the Redis store's `tls` (`ca`, `cert`, `key`) |
 * | {@link maxRateLimit} | 1,000,000,000 | a rate limit's `limit` and `tokens` |
 * | {@link maxNameLength} | 256 | every `name` (breakers, registries, policies), and a configuration's environment prefix |
 * | {@link maxKeyLength} | 256 | a registry's keys |
 *
 * @since 0.1.0
 */
import { Duration } from "effect"

/**
 * The longest duration any option takes, and the longest delay a
 * `Schedule` may give an open circuit or a retry: 2^31 − 1 milliseconds
 * (about 24.8 days), the longest delay one JavaScript timer holds
 * (`setTimeout` fires after about 1 ms when handed more). Effect's own
 * clock splits longer sleeps, but no resilience setting needs more, and a
 * bound every timer holds keeps any clock, test clock or browser timer
 * honest.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { Limits } from "effect-resilience"
 *
 * Duration.toMillis(Limits.maxDuration) // 2147483647
 * ```
 *
 * @category durations
 * @since 0.1.0
 */
export const maxDuration: Duration.Duration = Duration.millis(2 ** 31 - 1)

/**
 * The shortest duration an option that may not be zero takes: 1
 * millisecond, the resolution of the clock every policy reads. A duration
 * that may be zero (`openDuration`, a hedge's `delay`, a retry's
 * `baseDelay`, `maxCircuitWait`) is zero or at least this.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { Limits } from "effect-resilience"
 *
 * Duration.toMillis(Limits.minDuration) // 1
 * ```
 *
 * @category durations
 * @since 0.1.0
 */
export const minDuration: Duration.Duration = Duration.millis(1)

/**
 * The largest count window: 1,000,000 outcomes. A count window keeps one
 * byte per outcome, so this is 1 MB per breaker, and clearing it when the
 * circuit trips takes about half a millisecond the first time (well under
 * a millisecond after). The cost of a call does not depend on the size.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxCountWindowSize // 1000000
 * ```
 *
 * @category windows
 * @since 0.1.0
 */
export const maxCountWindowSize = 1_000_000

/**
 * The most buckets of a time window: 10,000 (24 bytes each, 240 KB per
 * breaker). A minute in 10,000 buckets is 6 ms per bucket, finer than any
 * trip rule needs; each bucket must still be at least 1 ms wide.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxTimeWindowBuckets // 10000
 * ```
 *
 * @category windows
 * @since 0.1.0
 */
export const maxTimeWindowBuckets = 10_000

/**
 * The largest count a trip rule takes (`consecutiveFailures`,
 * `failureCount`, `minimumCalls`): 1,000,000, the largest count window.
 * A rule past it would wait for more evidence than any window holds.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxCount // 1000000
 * ```
 *
 * @category breaker
 * @since 0.1.0
 */
export const maxCount = 1_000_000

/**
 * The most consecutive openings, and the longest failure streak, a circuit
 * counts: 1,000,000,000. Counting stops there rather than growing past
 * what a `CircuitDocument` holds: a circuit at the bound stays at it (the
 * `openDuration` backoff is long at its cap by then), its export restores,
 * and a document past it is refused. A billion openings in a row is
 * decades of one-second openings.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxConsecutiveCount // 1000000000
 * ```
 *
 * @category breaker
 * @since 0.1.0
 */
export const maxConsecutiveCount = 1_000_000_000

/**
 * The most calls a restored `CircuitDocument`'s time window may hold per
 * millisecond: 1,000,000 (a billion calls a second, far past what one
 * process records). A bucket holds at most this many per millisecond of the
 * breaker's bucket width, the window at most this many per millisecond of
 * its duration; this keeps a forged flood of successes from diluting the
 * failure rate, and the window's totals exact (even the longest window's
 * bound stays under 2^53).
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxCallsPerMillisecond // 1000000
 * ```
 *
 * @category breaker
 * @since 0.1.0
 */
export const maxCallsPerMillisecond = 1_000_000

/**
 * The most probe calls one half-open period admits (`halfOpenPermits`, and
 * so `successThreshold`): 1,000. Probes test a dependency that was down;
 * more than a thousand at once is no longer a probe.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxHalfOpenPermits // 1000
 * ```
 *
 * @category breaker
 * @since 0.1.0
 */
export const maxHalfOpenPermits = 1_000

/**
 * The most events buffered per subscriber (`eventBufferSize`): 100,000. A
 * slow subscriber holds up to this many events before it loses the oldest.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxEventBufferSize // 100000
 * ```
 *
 * @category breaker
 * @since 0.1.0
 */
export const maxEventBufferSize = 100_000

/**
 * The most breakers a registry keeps (`maxBreakers`): 1,000,000. A
 * registry holds only the keys it has seen, each breaker costing what its
 * configuration costs (under 4 KB with the default count window of 100):
 * choose `maxBreakers` for the memory you have.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxBreakers // 1000000
 * ```
 *
 * @category registry
 * @since 0.1.0
 */
export const maxBreakers = 1_000_000

/**
 * The most retries a `Retry` policy's backoff makes (`retries`): 1,000.
 * With the default 10-second cap that is close to three hours of retrying;
 * a longer loop is a `schedule` of your own.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxRetries // 1000
 * ```
 *
 * @category policies
 * @since 0.1.0
 */
export const maxRetries = 1_000

/**
 * The largest backoff growth factor (`factor`): 10. Past it the delays
 * reach any cap within two or three retries.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxBackoffFactor // 10
 * ```
 *
 * @category policies
 * @since 0.1.0
 */
export const maxBackoffFactor = 10

/**
 * The largest reserve of a retry budget (`minRetriesPerSecond`): 1,000,000
 * retries per second, past which the budget would limit nothing.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxMinRetriesPerSecond // 1000000
 * ```
 *
 * @category policies
 * @since 0.1.0
 */
export const maxMinRetriesPerSecond = 1_000_000

/**
 * The most calls a bulkhead runs at once (`maxConcurrent`): 100,000.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxConcurrent // 100000
 * ```
 *
 * @category policies
 * @since 0.1.0
 */
export const maxConcurrent = 100_000

/**
 * The most calls a rate limit allows per window (`limit`), and the most
 * tokens one call spends (`tokens`): 1,000,000,000.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxRateLimit // 1000000000
 * ```
 *
 * @category policies
 * @since 0.1.0
 */
export const maxRateLimit = 1_000_000_000

/**
 * The most calls a bulkhead queues (`maxQueued`): 100,000. Each waiting
 * call holds a fiber (a kilobyte or two), so a full queue stays within a
 * few hundred megabytes.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxQueued // 100000
 * ```
 *
 * @category policies
 * @since 0.1.0
 */
export const maxQueued = 100_000

/**
 * The most attempts of a hedged call, the first included (`attempts`): 10.
 * Every attempt is a copy of the call running at once; Polly bounds its
 * hedged attempts to 10 too.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxHedgeAttempts // 10
 * ```
 *
 * @category policies
 * @since 0.1.0
 */
export const maxHedgeAttempts = 10

/**
 * The most entries of a last-known-good cache (`maxEntries`): 1,000,000.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxCacheEntries // 1000000
 * ```
 *
 * @category policies
 * @since 0.1.0
 */
export const maxCacheEntries = 1_000_000

/**
 * The most error tags a fallback or a last-known-good cache answers for
 * (`on`): 100. An error union names a handful; a list longer than this is
 * data gone astray, not a list of tags.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxErrorTags // => 100
 * ```
 *
 * @category policies
 * @since 0.1.0
 */
export const maxErrorTags = 100

/**
 * The longest key prefix of the Redis circuit store (`prefix`): 256
 * characters. The prefix is sent with every key of every command.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxPrefixLength // 256
 * ```
 *
 * @category redis
 * @since 0.1.0
 */
export const maxPrefixLength = 256

/**
 * The longest command timeout of the Redis circuit store
 * (`commandTimeout`): 60 seconds. A caller waits for Redis at most this long
 * before its breaker decides alone (strict mode, half-open probes), and
 * Redis that has not answered for a minute is down for any purpose a
 * circuit breaker serves.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { Limits } from "effect-resilience"
 *
 * Duration.toMillis(Limits.maxCommandTimeout) // 60000
 * ```
 *
 * @category redis
 * @since 0.1.0
 */
export const maxCommandTimeout: Duration.Duration = Duration.seconds(60)

/**
 * The longest Redis URL the Redis circuit store takes (`url`, and each of
 * `cluster.nodes`): 4,096 characters, far more than any host, port, user
 * and password need.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxRedisUrlLength // 4096
 * ```
 *
 * @category redis
 * @since 0.1.0
 */
export const maxRedisUrlLength = 4096

/**
 * The most seed nodes the Redis circuit store takes for a Redis Cluster
 * (`cluster.nodes`): 64. The client only needs one that answers to
 * discover the others; a few, on different hosts, are plenty.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxClusterNodes // 64
 * ```
 *
 * @category redis
 * @since 0.1.0
 */
export const maxClusterNodes = 64

/**
 * The longest PEM text the Redis circuit store takes for TLS (`tls.ca`,
 * `tls.cert`, `tls.key`): 1 MiB (1,048,576 characters), room for a whole
 * bundle of certificate authorities.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxPemLength // 1048576
 * ```
 *
 * @category redis
 * @since 0.1.0
 */
export const maxPemLength = 1_048_576

/**
 * The longest name: 256 characters. Breakers, registries and policies are
 * named in every error, event, log line, metric label and Redis key of
 * theirs; a name must also be non-blank and hold no control characters
 * (U+0000–U+001F, U+007F–U+009F), which would let it forge log lines. The
 * prefix of a breaker's environment variables, which names the breaker when
 * nothing else does, is bounded by it too. A registry's breaker is named
 * after its key (`name/key` under a shared configuration with a name: at
 * most 513 characters).
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxNameLength // 256
 * ```
 *
 * @category names
 * @since 0.1.0
 */
export const maxNameLength = 256

/**
 * The longest key of a registry: 256 characters. Keys often come from
 * request data (a host, a tenant); each becomes a breaker's name, and so
 * goes into its errors, log lines, metric labels and Redis keys. A key must
 * also be non-blank and hold no control characters; any other key fails
 * with `RegistryKeyError` and makes no breaker.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxKeyLength // 256
 * ```
 *
 * @category registry
 * @since 0.1.0
 */
export const maxKeyLength = 256

/**
 * How far in the future, in milliseconds, a restored `CircuitDocument`'s
 * `exportedAt` may lie: 60,000. Hosts' clocks disagree (and a clock may step
 * back), so a fresh document from a host whose clock is ahead is read as
 * exported now rather than refused; one further ahead is refused, naming
 * `exportedAt`.
 *
 * @example
 * ```ts
 * import { Limits } from "effect-resilience"
 *
 * Limits.maxClockSkewMillis // 60000
 * ```
 *
 * @category breaker
 * @since 0.1.0
 */
export const maxClockSkewMillis = 60_000
