/**
 * What a failed Redis command means to the store: whether Redis may have run
 * it, and how to name the failure in a log.
 *
 * @internal
 */
import * as Redis from "effect/persistence/Redis"

/** The failure of a command while the store has no connection. @internal */
export const notConnected = new Redis.RedisError({ cause: new Error("not connected") })
/** The failure of a command that got no answer within the command timeout. @internal */
export const timedOut = (millis: number) => new Redis.RedisError({ cause: new Error(`no answer within ${millis} ms`) })

/** The first line of an error, for a log: Redis errors carry their cause. @internal */
export const describe = (error: unknown): string => {
  const cause = error instanceof Redis.RedisError ? error.cause : error
  const message = cause instanceof Error ? cause.message : String(cause)
  if (message !== "" && message !== "[object Object]") return message
  return cause instanceof Error ? cause.name || cause.constructor.name : typeof cause
}

/**
 * Whether a failed command surely did not run: it was never sent (no
 * connection), or Redis refused it before any write (out of memory). After a
 * timeout or a dropped connection it may have run.
 *
 * @internal
 */
export const notRun = (error: Redis.RedisError): boolean => {
  const cause = error.cause
  if (!(cause instanceof Error)) return false
  return cause === notConnected.cause || cause.name === "ClientOfflineError" || cause.name === "ClientClosedError" ||
    cause.constructor.name === "ClientOfflineError" || cause.constructor.name === "ClientClosedError" ||
    cause.message.startsWith("OOM")
}
