/**
 * Durations written as text, the way operators write them: one parser for
 * environment variables and for string durations in code configuration.
 *
 * - a bare number is milliseconds: `"250"`, `"1.5"`;
 * - units after numbers, Go / Prometheus style: `"250ms"`, `"30s"`, `"1m30s"`,
 *   `"1.5h"`, `"2d"` (units `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`, `d`, `w`);
 * - ISO 8601: `"PT30S"`, `"PT1M30S"`, `"P1DT12H"`, `"P2W"` (years and months
 *   have no fixed length and are refused);
 * - Effect's own `"30 seconds"`, `"500 millis"`, `"1 minute"` (read by
 *   `Duration.fromInput`).
 *
 * @internal
 */
import { Duration, Option } from "effect"

const millisPerUnit: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000
}

/** A number as decimal text, with an optional sign and exponent: what a variable holding a number looks like. @internal */
export const decimalNumber = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

// `ms` is tried before `m` and `s`, so "1ms" is one millisecond, not a minute and a bad "s".
const unitPart = String.raw`(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|m|h|d|w)`
const compact = new RegExp(String.raw`^([+-]?)\s*((?:${unitPart}\s*)+)$`)
const compactPart = new RegExp(unitPart, "g")

const isoNumber = String.raw`(\d+(?:[.,]\d+)?)`
const iso = new RegExp(
  String.raw`^([+-]?)P(?:${isoNumber}Y)?(?:${isoNumber}M)?(?:${isoNumber}W)?(?:${isoNumber}D)?` +
    String.raw`(?:T(?:${isoNumber}H)?(?:${isoNumber}M)?(?:${isoNumber}S)?)?$`,
  "i"
)

const isoNumberValue = (text: string | undefined): number => text === undefined ? 0 : Number(text.replace(",", "."))

/** What a text stands for: a duration, a reason it is refused, or `undefined` when it is no duration at all. */
export type Parsed = { readonly duration: Duration.Duration } | { readonly problem: string } | undefined

const fromIso = (text: string): Parsed => {
  const match = iso.exec(text)
  if (match === null) return undefined
  const [, sign, years, months, weeks, days, hours, minutes, seconds] = match
  if (years !== undefined || months !== undefined) {
    return { problem: `must not count years or months, which have no fixed length (got ${JSON.stringify(text)})` }
  }
  const parts = [weeks, days, hours, minutes, seconds]
  // "P" and "PT" name no amount at all.
  if (parts.every((part) => part === undefined)) return undefined
  const millis = isoNumberValue(weeks) * millisPerUnit.w! + isoNumberValue(days) * millisPerUnit.d! +
    isoNumberValue(hours) * millisPerUnit.h! + isoNumberValue(minutes) * millisPerUnit.m! +
    isoNumberValue(seconds) * millisPerUnit.s!
  return { duration: Duration.millis(sign === "-" ? -millis : millis) }
}

const fromCompact = (text: string): Parsed => {
  const match = compact.exec(text)
  if (match === null) return undefined
  let millis = 0
  for (const [, amount, unit] of match[2]!.matchAll(compactPart)) millis += Number(amount) * millisPerUnit[unit!]!
  return { duration: Duration.millis(match[1] === "-" ? -millis : millis) }
}

/**
 * Reads a duration written as text (see the module's documentation).
 *
 * @internal
 */
export const parseDurationText = (raw: string): Parsed => {
  const text = raw.trim()
  if (decimalNumber.test(text)) return { duration: Duration.millis(Number(text)) }
  const parsed = fromCompact(text) ?? fromIso(text)
  if (parsed !== undefined) return parsed
  const effect = Duration.fromInput(text as Duration.Input)
  return Option.isSome(effect) ? { duration: effect.value } : undefined
}

/** The forms a duration may take, for error messages. @internal */
export const durationForms = `500 (milliseconds), "250ms", "30s", "1m30s", "PT30S" or "30 seconds"`
