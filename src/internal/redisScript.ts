/**
 * The Lua script that keeps a shared circuit in Redis, and the Schema that
 * decodes its replies.
 *
 * One script does every operation, so that each one reads, decides and
 * writes atomically: Redis runs a script to the end before any other command.
 * A circuit is three keys that share a hash tag (so a Redis Cluster keeps
 * them on one node):
 *
 * - `<prefix>{<name>}`: a hash with the state, its generation, when an Open
 *   period ends, the fleet's consecutive openings and failure streak, the
 *   half-open permits left and successes so far, when the wait for undecided
 *   probes ends (`halfOpenMaxWait`, counted from the first probe's lease),
 *   and the window's totals;
 * - `<prefix>{<name>}:w`: the merged window, a list of `bucket:calls:failures:slow`
 *   batches, newest first;
 * - `<prefix>{<name>}:p`: the half-open probe leases, fencing token -> expiry.
 *
 * Times are the callers' clock (epoch milliseconds), so one `TestClock`
 * drives a whole test fleet. Whatever the keys hold is checked before use:
 * data that is not this script's (another program's, an older format, a
 * hand edit) is reported in the reply and replaced by a fresh circuit, never
 * trusted and never an error. Every argument is checked too, before
 * anything is read or written (a number out of its range is an error reply
 * that names it), and nothing the script writes is past what it would read
 * back (2^53 − 1, whole milliseconds).
 *
 * @internal
 */
import { Schema } from "effect"
import * as Redis from "effect/persistence/Redis"
import { TransitionReason } from "../CircuitBreakerEvent.js"
import { State } from "../CircuitState.js"

/** A Lua set of the given names: `{ Closed = true, ... }`. */
const luaSet = (names: ReadonlyArray<string>): string => `{ ${names.map((name) => `${name} = true`).join(", ")} }`

const lua = `
local key, wkey, lkey = KEYS[1], KEYS[2], KEYS[3]
local MAX = 9007199254740991
local MAXNOW = 9007199254740
local MAXDUR = 2147483647

-- Every number an operation is sent is checked before anything is read or written: a value out of
-- its range is answered with an error, and the script changes nothing.
local function refuse(name, value, rule)
  error({ err = "ERR effect-resilience circuit script: " .. name .. " must be " .. rule .. ", got " ..
    string.sub(tostring(value), 1, 40) })
end
-- An integer from lo to hi (NaN, infinities and fractions are refused).
local function whole(i, name, lo, hi)
  local n = tonumber(ARGV[i])
  if not n or n ~= n or n < lo or n > hi or n ~= math.floor(n) then
    refuse(name, ARGV[i], "an integer from " .. lo .. " to " .. hi)
  end
  return n
end
-- Milliseconds from lo to hi, rounded to whole milliseconds by round (a clock may stand between two
-- milliseconds): rounded down for an instant, up for a duration.
local function millis(i, name, lo, hi, round)
  local n = tonumber(ARGV[i])
  if n and n == n and n >= 0 and n <= hi then n = round(n) else n = nil end
  if not n or n < lo or n > hi then refuse(name, ARGV[i], "a number of milliseconds from " .. lo .. " to " .. hi) end
  return n
end
local ceil, floor = math.ceil, math.floor
-- A rate from 0 to 1, or -1 for a rule that is not configured.
local function rate(i, name)
  local n = tonumber(ARGV[i])
  if not n or not (n == -1 or (n >= 0 and n <= 1)) then refuse(name, ARGV[i], "-1 or a number from 0 to 1") end
  return n
end
local op = ARGV[1]
if op ~= "admit" and op ~= "flush" and op ~= "sync" and op ~= "probe" and op ~= "control" then
  refuse("op", op, "admit, flush, sync, probe or control")
end
-- Times are the caller's clock in epoch milliseconds, up to the year 2255 (a probe's fencing token
-- is the time times 1000, which stays below 2^53).
local now = millis(2, "now", 0, MAXNOW, floor)
local idle = millis(3, "idleMillis", 1, MAXDUR, ceil)
local channel = ARGV[4]
local name = ARGV[5]
local permitsArg = whole(6, "permits", 0, MAX)
local openMillis = millis(7, "openMillis", 0, MAXDUR, ceil)
local maxWait = millis(8, "maxWaitMillis", 0, MAXDUR, ceil)
local leaseMillis = millis(9, "leaseMillis", 1, MAXDUR, ceil)
local origin = ARGV[10]
-- The newest generation the caller has seen: a circuit made afresh (after a restart, an expiry, or
-- foreign data) starts above it, so no instance mistakes the new circuit's news for old news.
local knownGen = whole(11, "knownGen", 0, MAX)

-- The operation's own arguments, checked here too, before anything is read or written.
local seed, seedRemaining, seedOpenings, seedOpenedAt
local batchGen, calls, failures, slow, trailing, allFailed
local consecutive, failureCount, failureRate, slowRate, minimumCalls, kind, size, bucketMillis
local token, outcome, successThreshold, target
if op == "sync" then
  seed = ARGV[12]
  seedRemaining = millis(13, "seed remaining", 0, MAXDUR, ceil)
  seedOpenings = whole(14, "seed openings", 0, MAX)
  seedOpenedAt = millis(15, "seed openedAt", 0, MAXNOW, floor)
elseif op == "flush" then
  batchGen = ARGV[12]
  calls, failures = whole(13, "calls", 0, MAX), whole(14, "failures", 0, MAX)
  slow, trailing = whole(15, "slow", 0, MAX), whole(16, "trailing", 0, MAX)
  allFailed = ARGV[17] == "1"
  consecutive, failureCount = whole(18, "consecutiveFailures", 0, MAX), whole(19, "failureCount", 0, MAX)
  failureRate, slowRate = rate(20, "failureRate"), rate(21, "slowCallRate")
  minimumCalls = whole(22, "minimumCalls", 0, MAX)
  kind = ARGV[23]
  if kind ~= "c" and kind ~= "t" then refuse("window kind", kind, "c or t") end
  size = whole(24, "window size", 1, MAX)
  bucketMillis = millis(25, "bucketMillis", kind == "t" and 1 or 0, MAXDUR, floor)
elseif op == "probe" then
  token = ARGV[12]
  outcome = ARGV[13]
  if outcome ~= "success" and outcome ~= "failure" and outcome ~= "ignored" then
    refuse("outcome", outcome, "success, failure or ignored")
  end
  successThreshold = whole(14, "successThreshold", 1, MAX)
elseif op == "control" then
  target = ARGV[12]
  if target ~= "ForcedOpen" and target ~= "Disabled" and target ~= "Reset" then
    refuse("target", target, "ForcedOpen, Disabled or Reset")
  end
end

local STATES = ${luaSet(State.literals)}
local REASONS = ${luaSet(TransitionReason.literals)}
local FIELDS = { "gen", "until", "waitEnds", "openings", "streak", "permits", "successes", "token", "calls", "failures", "slow",
  "changed" }
local corrupt = ""
local created = false
local moved = ""

-- Integers below 1e14 print exactly with tostring (%.14g), which is much cheaper than string.format.
local function int(n)
  if n < 100000000000000 then return tostring(n) end
  return string.format("%.0f", n)
end
local function count(v)
  local n = tonumber(v)
  if n == nil or n ~= n or n < 0 or n > MAX or n ~= math.floor(n) then return nil end
  return n
end
-- What the script keeps never passes 2^53 - 1, which it would refuse to read back.
local function sat(n)
  if n > MAX then return MAX end
  return n
end
-- Found data, quoted in a report: a corrupt field may be as long as Redis allows.
local function quote(v) return string.sub(tostring(v), 1, 64) end

local function fresh()
  local s = { state = "Closed", reason = "Reset" }
  for _, f in ipairs(FIELDS) do s[f] = 0 end
  s.gen = sat(math.max(now, knownGen + 1, 1))
  return s
end

local function kindOf(k) return redis.call("TYPE", k)["ok"] end

local function load()
  local raw = redis.pcall("HGETALL", key)
  if raw.err then
    corrupt = "key " .. key .. " holds a " .. kindOf(key) .. ", not a circuit hash"
  elseif #raw == 0 then
    created = true
    return fresh()
  else
    local f = {}
    for i = 1, #raw, 2 do f[raw[i]] = raw[i + 1] end
    if f.v ~= "2" then
      corrupt = "key " .. key .. " has format version " .. quote(f.v) .. ", expected 2"
    elseif not STATES[f.state] then
      corrupt = "key " .. key .. " has an unknown state " .. quote(f.state)
    elseif not REASONS[f.reason] then
      corrupt = "key " .. key .. " has an unknown transition reason " .. quote(f.reason)
    else
      local s = { state = f.state, reason = f.reason }
      for _, n in ipairs(FIELDS) do
        local v = count(f[n])
        if v == nil then
          corrupt = "key " .. key .. " field " .. n .. " is not a non-negative integer: " .. quote(f[n])
          break
        end
        s[n] = v
      end
      if corrupt == "" then return s end
    end
  end
  redis.call("DEL", key, wkey, lkey)
  created = true
  return fresh()
end

local s = load()
-- What was read, to write back only what changed: most admissions change nothing.
local loaded = {}
if not created then for k, v in pairs(s) do loaded[k] = v end end
local dirty = created
-- A caller that saw a newer generation than the stored one (the circuit was made afresh by an
-- instance that knew less) lifts it, so that no instance takes the circuit's answers for old news.
if s.gen < knownGen then
  s.gen = sat(knownGen + 1)
  dirty = true
end

local function clearWindow()
  redis.call("DEL", wkey)
  s.calls, s.failures, s.slow, s.streak = 0, 0, 0, 0
  dirty = true
end

-- The window list and the lease hash are checked when first used: data of another kind there is
-- reported and replaced, as for the circuit hash.
local function checkKind(k, expected, what)
  local kind = kindOf(k)
  if kind ~= "none" and kind ~= expected then
    corrupt = "key " .. k .. " holds a " .. kind .. ", not a " .. what
    redis.call("DEL", k)
    return false
  end
  return true
end

local function publish(from)
  local remaining = 0
  if s.state == "Open" then remaining = math.max(0, s["until"] - now) end
  redis.call("PUBLISH", channel, cjson.encode({
    v = 1, name = name, from = from, state = s.state, gen = int(s.gen), remaining = remaining,
    openings = s.openings, reason = s.reason, origin = origin
  }))
end

-- A transition that happened at \`at\` (default now): a time-driven one found late (the first operation
-- after a half-open wait ran out) is dated when it was due, as the in-memory circuit dates it.
local function transition(to, reason, openFor, at)
  at = at or now
  local from = s.state
  s.state = to
  s.reason = reason
  s.gen = sat(math.max(s.gen + 1, now))
  s.changed = at
  s.successes, s.permits, s.waitEnds, s["until"] = 0, 0, 0, 0
  clearWindow()
  redis.call("DEL", lkey)
  if to == "Open" then
    s.openings = sat(s.openings + 1)
    s["until"] = at + openFor
  elseif to == "HalfOpen" then
    -- No probe yet, so nothing to wait for: a period that no caller reached is no evidence of failure.
    s.permits = permitsArg
  elseif to == "Closed" then
    s.openings = 0
  end
  moved = reason
  dirty = true
  publish(from)
end

-- Time-driven transitions, and probe leases whose holder went quiet.
local function advance()
  for _ = 1, 4 do
    if s.state == "Open" and now >= s["until"] then
      transition("HalfOpen", "OpenDurationElapsed", 0)
    elseif s.state == "HalfOpen" and s.waitEnds > 0 and now >= s.waitEnds then
      transition("Open", "HalfOpenMaxWait", openMillis, s.waitEnds)
    else
      break
    end
  end
  if s.state == "HalfOpen" and checkKind(lkey, "hash", "lease hash") then
    local leases = redis.call("HGETALL", lkey)
    local held = 0
    for i = 1, #leases, 2 do
      local expiry = count(leases[i + 1])
      if expiry == nil or expiry <= now then
        redis.call("HDEL", lkey, leases[i])
        s.permits = s.permits + 1
        dirty = true
      else
        held = held + 1
      end
    end
    -- No lease left: no probe is undecided, and the next one starts a new wait.
    if held == 0 and s.waitEnds > 0 then
      s.waitEnds = 0
      dirty = true
    end
  end
end

local function parseEntry(e)
  local b, c, f, sl = string.match(e or "", "^(%d+):(%d+):(%d+):(%d+)$")
  if not b then return nil end
  return tonumber(b), tonumber(c), tonumber(f), tonumber(sl)
end

local function entry(b, c, f, sl) return int(b) .. ":" .. int(sat(c)) .. ":" .. int(sat(f)) .. ":" .. int(sat(sl)) end

local function badWindow(e)
  corrupt = "key " .. wkey .. " holds a malformed window entry: " .. quote(e)
  clearWindow()
end

local function push(e) redis.call("LPUSH", wkey, e) end

-- Adds a batch to the merged window and drops what fell out of it. A count
-- window keeps the last size calls (a partly kept batch keeps its share of
-- failures); a time window keeps the last size buckets.
local function record(kind, size, bucketMillis, calls, failures, slow)
  dirty = true
  local length = redis.pcall("LLEN", wkey)
  if type(length) == "table" and length.err then
    corrupt = "key " .. wkey .. " holds a " .. kindOf(wkey) .. ", not a window list"
    clearWindow()
  end
  local bucket = 0
  if kind == "t" then
    bucket = math.floor(now / bucketMillis)
    while true do
      local tail = redis.call("LINDEX", wkey, -1)
      if not tail then break end
      local b, c, f, sl = parseEntry(tail)
      if not b then badWindow(tail); break end
      if b > bucket - size then break end
      redis.call("RPOP", wkey)
      s.calls, s.failures, s.slow = s.calls - c, s.failures - f, s.slow - sl
    end
    local head = redis.call("LINDEX", wkey, 0)
    local b, c, f, sl = parseEntry(head)
    if head and not b then badWindow(head) end
    if b == bucket then
      redis.call("LSET", wkey, 0, entry(b, c + calls, f + failures, sl + slow))
    else
      push(entry(bucket, calls, failures, slow))
    end
    s.calls, s.failures, s.slow = s.calls + calls, s.failures + failures, s.slow + slow
    return
  end
  push(entry(0, calls, failures, slow))
  s.calls, s.failures, s.slow = s.calls + calls, s.failures + failures, s.slow + slow
  while s.calls > size do
    local tail = redis.call("LINDEX", wkey, -1)
    local b, c, f, sl = parseEntry(tail)
    if not b or c == 0 then
      badWindow(tail)
      push(entry(0, calls, failures, slow))
      s.calls, s.failures, s.slow = calls, failures, slow
      break
    end
    if s.calls - c >= size then
      redis.call("RPOP", wkey)
      s.calls, s.failures, s.slow = s.calls - c, s.failures - f, s.slow - sl
    else
      local keep = size - (s.calls - c)
      local fKeep = math.floor(f * keep / c + 0.5)
      local sKeep = math.floor(sl * keep / c + 0.5)
      redis.call("LSET", wkey, -1, entry(b, keep, fKeep, sKeep))
      s.calls, s.failures, s.slow = size, s.failures - (f - fKeep), s.slow - (sl - sKeep)
    end
  end
end

local function tripReason(consecutive, failureCount, failureRate, slowRate, minimumCalls)
  if consecutive > 0 and s.streak >= consecutive then return "ConsecutiveFailures" end
  if failureCount > 0 and s.failures >= failureCount then return "FailureCount" end
  if s.calls < minimumCalls then return nil end
  if failureRate >= 0 and s.failures > 0 and s.failures / s.calls >= failureRate then return "FailureRate" end
  if slowRate >= 0 and s.slow > 0 and s.slow / s.calls >= slowRate then return "SlowCallRate" end
  return nil
end

local granted = 0
advance()

if op == "sync" then
  -- A store that lost its data (restarted empty) learns the state back from
  -- the instances that still know it.
  -- Only after an outage: an opening this instance made after the fleet's last transition (say,
  -- while Redis was away, or before Redis restarted empty) is newer news than a closed fleet circuit.
  local newer = (seed == "Open" and s.state == "Closed" and seedOpenedAt > s.changed)
    or (created and (seed == "ForcedOpen" or seed == "Disabled"))
  if newer then
    local from = s.state
    s.gen = sat(math.max(s.gen + 1, now))
    s.state, s.reason, s.openings, s.changed = seed, "StoreSync", seedOpenings, now
    dirty = true
    clearWindow()
    if seed == "Open" then s["until"] = now + seedRemaining end
    moved = "StoreSync"
    publish(from)
  end
elseif op == "flush" then
  if (s.state == "Closed" or s.state == "Disabled") and batchGen == int(s.gen) and calls > 0 then
    record(kind, size, bucketMillis, calls, failures, slow)
    if allFailed then s.streak = sat(s.streak + failures) else s.streak = trailing end
    if s.state == "Closed" then
      local reason = tripReason(consecutive, failureCount, failureRate, slowRate, minimumCalls)
      if reason then transition("Open", reason, openMillis) end
    end
  else
    granted = -1
  end
elseif op == "admit" then
  if s.state == "Open" or s.state == "ForcedOpen" then
    granted = -1
  elseif s.state == "HalfOpen" then
    if s.permits > 0 then
      s.permits = s.permits - 1
      -- A token at 2^53 - 1 (only data the script did not write puts one there) starts again from the clock.
      if s.token < MAX then s.token = math.max(s.token + 1, now * 1000) else s.token = now * 1000 end
      granted = s.token
      dirty = true
      checkKind(lkey, "hash", "lease hash")
      redis.call("HSET", lkey, int(granted), int(now + leaseMillis))
      redis.call("PEXPIRE", lkey, int(idle + leaseMillis))
      -- The first undecided probe: from now on the period must decide within maxWait.
      if maxWait > 0 and s.waitEnds == 0 then s.waitEnds = now + maxWait end
    else
      granted = -1
    end
  end
elseif op == "probe" then
  if s.state == "HalfOpen" and checkKind(lkey, "hash", "lease hash") and redis.call("HDEL", lkey, token) == 1 then
    dirty = true
    if outcome == "ignored" then
      s.permits = s.permits + 1
    elseif outcome == "failure" then
      transition("Open", "ProbeFailed", openMillis)
    else
      s.successes = s.successes + 1
      if s.successes >= successThreshold then transition("Closed", "ProbesSucceeded", 0) end
    end
    -- Still half-open with no lease left: no probe is undecided, and the next one starts a new wait.
    if s.state == "HalfOpen" and redis.call("HLEN", lkey) == 0 then s.waitEnds = 0 end
  else
    granted = -1
  end
elseif op == "control" then
  if target == "Reset" then
    transition("Closed", "Reset", 0)
  elseif target ~= s.state then
    transition(target, target == "ForcedOpen" and "ForceOpen" or "Disable", 0)
  end
end

for _, f in ipairs(FIELDS) do if s[f] > MAX then s[f] = MAX end end
if dirty then
  local fields = {}
  if created then
    fields = { "v", "2" }
  end
  if s.state ~= loaded.state then table.insert(fields, "state"); table.insert(fields, s.state) end
  if s.reason ~= loaded.reason then table.insert(fields, "reason"); table.insert(fields, s.reason) end
  for _, f in ipairs(FIELDS) do
    if s[f] ~= loaded[f] then
      table.insert(fields, f)
      table.insert(fields, int(s[f]))
    end
  end
  if #fields > 0 then redis.call("HSET", key, unpack(fields)) end
end
-- An idle circuit expires as a whole (PEXPIRE of a key that does not exist does nothing). Every
-- write and every resync of a circuit in use renews it; a bare admission does not need to. The
-- lease hash is renewed when a lease is written.
if dirty or op == "sync" then
  redis.call("PEXPIRE", key, int(idle))
  redis.call("PEXPIRE", wkey, int(idle))
end

local remaining = 0
if s.state == "Open" then remaining = math.max(0, s["until"] - now) end
return { corrupt, s.state, s.reason, int(s.gen), remaining, s.openings, s.permits, s.successes, s.calls, s.failures,
  s.slow, s.streak, granted, moved }
`

/** An operation of the script, with the arguments every operation shares. @internal */
export interface ScriptCall {
  readonly keys: readonly [string, string, string]
  readonly op: "sync" | "flush" | "admit" | "probe" | "control"
  readonly now: number
  readonly idleMillis: number
  readonly channel: string
  readonly name: string
  readonly permits: number
  readonly openMillis: number
  readonly maxWaitMillis: number
  readonly leaseMillis: number
  readonly origin: string
  readonly knownGen: number
  readonly extra: ReadonlyArray<string | number>
}

/** @internal */
export const circuitScript = Redis.script(
  (call: ScriptCall) => [
    ...call.keys,
    call.op,
    call.now,
    call.idleMillis,
    call.channel,
    call.name,
    call.permits,
    call.openMillis,
    call.maxWaitMillis,
    call.leaseMillis,
    call.origin,
    call.knownGen,
    ...call.extra
  ],
  { lua, numberOfKeys: 3 }
).withReturnType<unknown>()

/**
 * The script's reply: the circuit as it is after the operation.
 *
 * - `corrupt`: what was wrong with the stored data that was replaced (empty when nothing was);
 * - `granted`: for `admit`, -1 rejected, 0 admitted outside half-open, else the probe's fencing
 *   token; for `flush` and `probe`, -1 when the batch or probe was stale and dropped;
 * - `moved`: the reason of the transition this operation made, or empty.
 *
 * @internal
 */
export const Reply = Schema.Tuple([
  Schema.String,
  State,
  TransitionReason,
  Schema.String,
  Schema.Number,
  Schema.Number,
  Schema.Number,
  Schema.Number,
  Schema.Number,
  Schema.Number,
  Schema.Number,
  Schema.Number,
  Schema.Number,
  Schema.Union([Schema.Literal(""), TransitionReason])
])

/** @internal */
export type Reply = typeof Reply.Type

/** Decodes a reply of the script; what does not decode is a failed `Exit`, never a throw. @internal */
export const decodeReply = Schema.decodeUnknownExit(Reply)

/** The largest integer the script keeps: 2^53 − 1, past which a double no longer counts by one. */
const maxSafe = Number.MAX_SAFE_INTEGER

/** A generation as the script writes it: the decimal digits of an integer from 0 to 2^53 − 1. */
const Generation = Schema.String.check(
  Schema.makeFilter((gen: string) => /^\d{1,16}$/.test(gen) && Number(gen) <= maxSafe, {
    expected: "the decimal digits of an integer from 0 to 2^53 - 1"
  })
)

/** A count or a number of milliseconds as the script writes it: an integer from 0 to 2^53 − 1. */
const Whole = Schema.Number.check(
  Schema.makeFilter((n: number) => Number.isSafeInteger(n) && n >= 0, {
    expected: "an integer from 0 to 2^53 - 1"
  })
)

/**
 * A transition message on the store's channel. Other programs may publish on
 * it too, so every message is decoded, what does not decode is reported and
 * ignored, and what decodes is only a hint to read the circuit from Redis
 * (`internal/redisHints.ts`).
 *
 * @internal
 */
export const Message = Schema.Struct({
  v: Schema.Literal(1),
  name: Schema.String,
  from: State,
  state: State,
  gen: Generation,
  remaining: Whole,
  openings: Whole,
  reason: TransitionReason,
  origin: Schema.String
})

/** @internal */
export type Message = typeof Message.Type
