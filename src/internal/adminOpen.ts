/**
 * What an admin request to open a circuit for a while asks for: `for` (a
 * duration, `30s`) or `until` (epoch milliseconds, or an ISO 8601 date),
 * from the query string or a JSON body of at most 4 KiB — exactly one of
 * them, in one place. What the values may be is the breaker's to check
 * (`openFor`, `openUntil`); this module only reads them.
 *
 * @internal
 */
import { ByteSize, Effect, Result, Schema } from "effect"
import { HttpIncomingMessage, HttpServerRequest } from "effect/http"
import { ConfigIssue } from "../ConfigIssue.js"
import { decodeOptions } from "./options.js"

/** The largest body an opening request may have. */
const maxBodyBytes = 4096

const Opening = Schema.Struct({
  for: Schema.optional(Schema.Union([Schema.String, Schema.Number])),
  until: Schema.optional(Schema.Union([Schema.Number, Schema.String]))
})

/** The opening asked for, or the rules the request breaks. @internal */
export type OpenRequest =
  | { readonly for: string | number; readonly until?: undefined }
  | { readonly for?: undefined; readonly until: number | Date }
  | { readonly issues: ReadonlyArray<ConfigIssue> }

const issues = (field: string, rule: string): OpenRequest => ({ issues: [new ConfigIssue({ field, rule })] })

/** `until` as text: digits are epoch milliseconds, anything else an ISO 8601 date. */
const instantOf = (until: number | string): number | Date | undefined => {
  if (typeof until === "number") return until
  if (/^\d{1,16}$/.test(until)) return Number(until)
  const date = new Date(until)
  return Number.isNaN(date.getTime()) || until.length > 64 ? undefined : date
}

/** Reads the JSON body, when there is one: its fields, or the rule it breaks. */
const body = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
  Effect.map(
    Effect.result(
      request.text.pipe(Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxBodyBytes)))
    ),
    (text): Record<string, unknown> | OpenRequest => {
      if (Result.isFailure(text)) return issues("(body)", `must be at most ${maxBodyBytes} bytes of JSON`)
      if (text.success.trim() === "") return {}
      try {
        const parsed: unknown = JSON.parse(text.success)
        return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
          ? parsed as Record<string, unknown>
          : issues("(body)", "must be a JSON object such as { \"for\": \"30s\" }")
      } catch {
        return issues("(body)", "must be a JSON object such as { \"for\": \"30s\" }")
      }
    }
  ))

/**
 * The opening an admin request asks for.
 *
 * @internal
 */
export const openRequest: Effect.Effect<
  OpenRequest,
  never,
  HttpServerRequest.HttpServerRequest | HttpServerRequest.ParsedSearchParams
> = Effect.gen(function*() {
  const query = yield* HttpServerRequest.ParsedSearchParams
  const fromBody = yield* body
  if ("issues" in fromBody) return fromBody as OpenRequest
  const merged: Record<string, unknown> = { ...fromBody }
  for (const key of ["for", "until"]) {
    const value = query[key]
    if (value === undefined) continue
    if (merged[key] !== undefined || typeof value !== "string") return issues(key, "must be given once")
    merged[key] = value
  }
  const decoded = decodeOptions(Opening, merged, "field of an opening (for, until)", "(body)")
  if (Result.isFailure(decoded)) return { issues: decoded.failure }
  const { for: duration, until } = decoded.success
  if ((duration === undefined) === (until === undefined)) {
    return issues("for", "exactly one of for (a duration such as 30s) and until (an instant) must be given")
  }
  if (duration !== undefined) return { for: duration }
  const instant = instantOf(until!)
  return instant === undefined
    ? issues("until", "must be epoch milliseconds or an ISO 8601 date such as 2030-01-01T06:00:00Z")
    : { until: instant }
})
