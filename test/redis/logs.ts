/**
 * Captures the log lines of what it wraps, and lets a test wait for a line
 * to be logged: the store's own signal that it got that far, no sleeping.
 */
import { Effect, Logger } from "effect"

export interface LogLine {
  readonly level: string
  readonly message: string
}

export interface CapturedLogs {
  readonly lines: ReadonlyArray<LogLine>
  /** A logger layer that captures every line (and prints none). */
  readonly layer: ReturnType<typeof Logger.layer>
  /** Waits until at least `count` captured lines satisfy `predicate`. */
  readonly awaitLines: (predicate: (line: LogLine) => boolean, count?: number) => Effect.Effect<void>
  /** The captured lines that satisfy `predicate`. */
  readonly matching: (predicate: (line: LogLine) => boolean) => ReadonlyArray<LogLine>
}

export const capturingLogs = (): CapturedLogs => {
  const lines: Array<LogLine> = []
  const waiters = new Set<{ readonly check: () => boolean; readonly resolve: () => void }>()
  const logger = Logger.make((options) => {
    const message = Array.isArray(options.message) ? options.message.join(" ") : String(options.message)
    lines.push({ level: options.logLevel, message })
    for (const waiter of waiters) {
      if (waiter.check()) {
        waiters.delete(waiter)
        waiter.resolve()
      }
    }
  })
  const matching = (predicate: (line: LogLine) => boolean) => lines.filter(predicate)
  return {
    lines,
    layer: Logger.layer([logger]),
    matching,
    awaitLines: (predicate, count = 1) =>
      Effect.callback<void>((resume) => {
        const check = () => matching(predicate).length >= count
        if (check()) return resume(Effect.void)
        const waiter = { check, resolve: () => resume(Effect.void) }
        waiters.add(waiter)
        return Effect.sync(() => void waiters.delete(waiter))
      })
  }
}
