/**
 * The demo's command line and environment, validated: `--for <duration>`
 * (or `DEMO_FOR`), `--port <port>`, `--help`, and `REDIS_URL`. A bad value
 * is a `UsageError` naming the flag or variable and the rule; the process
 * then exits with code 2.
 */
import { Effect, Runtime, Schema } from "effect"

/** A flag or variable the demo cannot use. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  /** The flag or variable, as the user wrote it. */
  field: Schema.String,
  rule: Schema.String
}) {
  /** A usage error exits with code 2, as command-line tools do. */
  override readonly [Runtime.errorExitCode] = 2
  /** The demo prints it itself, in one line. */
  override readonly [Runtime.errorReported] = false
  override get message() {
    return `${this.field} ${this.rule}`
  }
}

/** What the command line asks for. */
export interface CliOptions {
  /** Run this long, then print the summary and exit; `undefined`: until Ctrl-C. */
  readonly forMillis: number | undefined
  /** The first instance's port (a free one if it is taken). */
  readonly port: number
  /** Share circuits through this Redis, with several instances. */
  readonly redisUrl: string | undefined
  readonly help: boolean
}

/** The bounds of `--for`. */
export const forBounds = { minMillis: 1_000, maxMillis: 24 * 3_600_000 } as const

/** The default port of the first instance. */
export const defaultPort = 8080

const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }

const forRule =
  "must be a duration from 1s to 24h written as a number and a unit (ms, s, m or h), such as 20s, 5m or 1h"

/** Milliseconds of a `--for` value, or `undefined` when it is not a duration from 1 s to 24 h. */
export const parseDuration = (text: string): number | undefined => {
  const match = /^(\d{1,9}(?:\.\d{1,3})?)(ms|s|m|h)$/.exec(text.trim())
  if (match === null) return undefined
  const millis = Math.round(Number(match[1]) * units[match[2]!]!)
  return millis >= forBounds.minMillis && millis <= forBounds.maxMillis ? millis : undefined
}

const parsePort = (text: string): number | undefined =>
  /^\d{1,5}$/.test(text) && Number(text) <= 65_535 ? Number(text) : undefined

/** The usage text of `--help`. */
export const usage = [
  "usage: npm start [-- --for <duration>] [-- --port <port>]",
  "",
  "  --for <duration>  run this long (1s to 24h: 20s, 5m, 1h), then print a summary and exit; also DEMO_FOR",
  "                    (default: run until Ctrl-C)",
  `  --port <port>     the service's port, 0 to 65535 (default ${defaultPort}; a free port if it is taken)`,
  "  REDIS_URL         share circuits through this Redis between 3 instances (default: memory, 1 instance)",
  "  RESILIENCE_ADMIN_TOKEN  the admin routes' bearer token (default: a random one, printed at start)"
].join("\n")

/** Reads `argv` (after the script's name) and `env`. */
export const parseCli = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>
): Effect.Effect<CliOptions, UsageError> =>
  Effect.gen(function*() {
    let forText: { readonly field: string; readonly value: string } | undefined =
      env.DEMO_FOR !== undefined && env.DEMO_FOR !== "" ? { field: "DEMO_FOR", value: env.DEMO_FOR } : undefined
    let port = defaultPort
    let help = false
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!
      const [flag, inline] = arg.startsWith("--") && arg.includes("=")
        ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
        : [arg, undefined]
      if (flag === "--help" || flag === "-h") {
        help = true
        continue
      }
      if (flag !== "--for" && flag !== "--port") {
        return yield* new UsageError({ field: arg, rule: "is not an option of the demo (see --help)" })
      }
      const value = inline ?? argv[++i]
      if (value === undefined) return yield* new UsageError({ field: flag, rule: "needs a value" })
      if (flag === "--for") {
        forText = { field: "--for", value }
      } else {
        const parsed = parsePort(value)
        if (parsed === undefined) {
          return yield* new UsageError({ field: "--port", rule: `must be a port from 0 to 65535 (got "${value}")` })
        }
        port = parsed
      }
    }
    let forMillis: number | undefined
    if (forText !== undefined) {
      forMillis = parseDuration(forText.value)
      if (forMillis === undefined) {
        return yield* new UsageError({ field: forText.field, rule: `${forRule} (got "${forText.value.slice(0, 40)}")` })
      }
    }
    const redisUrl = env.REDIS_URL !== undefined && env.REDIS_URL !== "" ? env.REDIS_URL : undefined
    return { forMillis, port, redisUrl, help }
  })
