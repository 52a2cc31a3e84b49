/**
 * The Lua script that keeps a shared circuit in Redis: one script for every
 * operation (sync, flush, admit, probe, control), so that each reads,
 * decides and writes atomically. What it keeps, and why, is described in
 * `internal/redisScript.ts`, which runs it and decodes its replies. Every
 * argument is checked before anything is read or written (a number out of
 * its range is an error reply that names it), and nothing the script writes
 * is past what it would read back (2^53 − 1, whole milliseconds).
 *
 * @internal
 */
import { TransitionReason } from "../CircuitBreakerEvent.js"
import { State } from "../CircuitState.js"
import { closedAdmitLua, luaSet } from "./redisLuaClosedAdmit.js"

/** @internal */
export const circuitLua = `${closedAdmitLua}
-- The full script: every operation, every state.
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
-- An integer from lo to hi (NaN, infinities and fractions are refused). tonumber and comparisons:
-- a pattern match per argument would cost more than the rest of a closed admission.
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

-- A batch of outcomes from ARGV[base] on (a flush's, or the one an admission carries): generation,
-- calls, failures, slow calls, trailing failures, whether all failed, the trip rules and the window,
-- and, from strict mode, the calls in the order they ended (f failure, s success, upper case when
-- slow), so that the rules apply call by call; then the longest open-duration hint of its failures
-- (milliseconds, 0 for none: an opening they cause lasts at least that).
local function batchArgs(base)
  local b = { gen = ARGV[base] }
  b.calls, b.failures = whole(base + 1, "calls", 0, MAX), whole(base + 2, "failures", 0, MAX)
  b.slow, b.trailing = whole(base + 3, "slow", 0, MAX), whole(base + 4, "trailing", 0, MAX)
  b.allFailed = ARGV[base + 5] == "1"
  b.consecutive = whole(base + 6, "consecutiveFailures", 0, MAX)
  b.failureCount = whole(base + 7, "failureCount", 0, MAX)
  b.failureRate, b.slowRate = rate(base + 8, "failureRate"), rate(base + 9, "slowCallRate")
  b.minimumCalls = whole(base + 10, "minimumCalls", 0, MAX)
  b.kind = ARGV[base + 11]
  if b.kind ~= "c" and b.kind ~= "t" then refuse("window kind", b.kind, "c or t") end
  b.size = whole(base + 12, "window size", 1, MAX)
  b.bucketMillis = millis(base + 13, "bucketMillis", b.kind == "t" and 1 or 0, MAXDUR, floor)
  local sequence = ARGV[base + 14]
  if sequence ~= nil and sequence ~= "" then
    if #sequence ~= b.calls or string.find(sequence, "[^fFsS]") then
      refuse("sequence", sequence, "one of f, F, s, S per call")
    end
    b.sequence = sequence
  end
  b.openHint = 0
  if ARGV[base + 15] ~= nil and ARGV[base + 15] ~= "" then
    b.openHint = millis(base + 15, "openHint", 0, MAXDUR, ceil)
  end
  return b
end

-- The operation's own arguments, checked here too, before anything is read or written.
local seed, seedRemaining, seedOpenings, seedOpenedAt, fingerprint
local batch, admissions
local token, outcome, successThreshold, probeHint, probeRate, target, targetMillis
if op == "sync" then
  seed = ARGV[12]
  seedRemaining = millis(13, "seed remaining", 0, MAXDUR, ceil)
  seedOpenings = whole(14, "seed openings", 0, MAX)
  seedOpenedAt = millis(15, "seed openedAt", 0, MAXNOW, floor)
  fingerprint = ARGV[16] or ""
elseif op == "flush" then
  batch = batchArgs(12)
elseif op == "admit" then
  -- Admissions asked for at once (strict mode sends one tick's callers together), and the outcomes
  -- the caller finished since its last operation.
  admissions = whole(12, "admissions", 1, 1000000)
  if ARGV[13] ~= nil and ARGV[13] ~= "" then batch = batchArgs(13) end
elseif op == "probe" then
  token = ARGV[12]
  outcome = ARGV[13]
  if outcome ~= "success" and outcome ~= "failure" and outcome ~= "ignored" then
    refuse("outcome", outcome, "success, failure or ignored")
  end
  successThreshold = whole(14, "successThreshold", 1, MAX)
  -- A failed probe's open-duration hint (milliseconds, 0 for none).
  probeHint = 0
  if ARGV[15] ~= nil and ARGV[15] ~= "" then probeHint = millis(15, "openHint", 0, MAXDUR, ceil) end
  -- halfOpenFailureRate: the period waits for all its probes and decides by their failure rate (-1: not set).
  probeRate = -1
  if ARGV[16] ~= nil and ARGV[16] ~= "" then
    probeRate = tonumber(ARGV[16])
    if not probeRate or not (probeRate > 0 and probeRate <= 1) then
      refuse("halfOpenFailureRate", ARGV[16], "a number greater than 0 and at most 1")
    end
  end
elseif op == "control" then
  target = ARGV[12]
  if target ~= "ForcedOpen" and target ~= "Disabled" and target ~= "Reset" and target ~= "Open" and target ~= "HalfOpen" then
    refuse("target", target, "ForcedOpen, Disabled, Reset, Open or HalfOpen")
  end
  -- An operator's timed opening: how long it lasts from now.
  if target == "Open" then targetMillis = millis(13, "open millis", 1, MAXDUR, ceil) end
end

local STATES = ${luaSet(State.literals)}
local REASONS = ${luaSet(TransitionReason.literals)}
local FIELDS = { "gen", "until", "waitEnds", "openings", "streak", "permits", "successes", "token", "calls", "failures", "slow",
  "changed" }
-- Fields added after format 2 was first written: a circuit written without them reads them as 0. A half-open period
-- decided by its failure rate keeps its failed probes (pfails) and their longest open-duration hint (phint).
local LATER = { "pfails", "phint" }
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
  for _, f in ipairs(LATER) do s[f] = 0 end
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
      for _, n in ipairs(LATER) do
        local v = 0
        if f[n] ~= nil then v = count(f[n]) end
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
-- An operator's timed opening (manual) is no consecutive opening: the backoff does not step.
local function transition(to, reason, openFor, at, manual)
  at = at or now
  local from = s.state
  s.state = to
  s.reason = reason
  s.gen = sat(math.max(s.gen + 1, now))
  s.changed = at
  s.successes, s.permits, s.waitEnds, s["until"], s.pfails, s.phint = 0, 0, 0, 0, 0, 0
  clearWindow()
  redis.call("DEL", lkey)
  if to == "Open" then
    if not manual then s.openings = sat(s.openings + 1) end
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

-- How long a trip opens the circuit: at least the batch's open-duration hint when failures tripped it
-- (as the in-memory circuit does; slow calls carry no hint).
local function openFor(reason, b)
  if reason == "SlowCallRate" then return openMillis end
  return math.max(openMillis, b.openHint)
end

-- Merges a batch of outcomes (see batchArgs) into the fleet's window, and trips the circuit when a
-- rule holds. False when the batch is stale: counted under another generation, or for a state that
-- records nothing.
local function flushBatch(b)
  if not ((s.state == "Closed" or s.state == "Disabled") and b.gen == int(s.gen) and b.calls > 0) then
    return false
  end
  if b.sequence ~= nil then
    -- Call by call, as one instance's circuit would: a trip makes the calls after it stale.
    for i = 1, #b.sequence do
      local c = string.sub(b.sequence, i, i)
      local failed = (c == "f" or c == "F") and 1 or 0
      record(b.kind, b.size, b.bucketMillis, 1, failed, (c == "F" or c == "S") and 1 or 0)
      if failed == 1 then s.streak = sat(s.streak + 1) else s.streak = 0 end
      if s.state == "Closed" then
        local reason = tripReason(b.consecutive, b.failureCount, b.failureRate, b.slowRate, b.minimumCalls)
        if reason then
          transition("Open", reason, openFor(reason, b))
          break
        end
      end
    end
    return true
  end
  record(b.kind, b.size, b.bucketMillis, b.calls, b.failures, b.slow)
  if b.allFailed then s.streak = sat(s.streak + b.failures) else s.streak = b.trailing end
  if s.state == "Closed" then
    local reason = tripReason(b.consecutive, b.failureCount, b.failureRate, b.slowRate, b.minimumCalls)
    if reason then transition("Open", reason, openFor(reason, b)) end
  end
  return true
end

local granted = 0
advance()

if op == "sync" then
  -- A store that lost its data (restarted empty) learns the state back from
  -- the instances that still know it.
  -- Only after an outage: an opening this instance made after the fleet's last transition (say,
  -- while Redis was away, or before Redis restarted empty) is newer news than a closed fleet circuit.
  -- A circuit that never moved (made afresh by this operation or an earlier one: after a restart, an
  -- expiry, or corrupt data) takes an operator's state from the instance that still holds it.
  local untouched = created or s.changed == 0
  local newer = (seed == "Open" and s.state == "Closed" and (untouched or seedOpenedAt > s.changed))
    or (untouched and (seed == "ForcedOpen" or seed == "Disabled"))
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
  if not flushBatch(batch) then granted = -1 end
elseif op == "admit" then
  -- The outcomes the admission carries are recorded first: an admission sent after an outcome
  -- always sees it.
  if batch ~= nil then flushBatch(batch) end
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
    elseif probeRate > 0 then
      -- As internal/halfOpenDecision.ts: once every permitted probe decided, the failure rate over them does.
      if outcome == "failure" then
        s.pfails = s.pfails + 1
        s.phint = math.max(s.phint, probeHint)
      else
        s.successes = s.successes + 1
      end
      local probes = s.successes + s.pfails
      if probes >= permitsArg then
        if s.pfails / probes >= probeRate then
          transition("Open", "ProbeFailureRate", math.max(openMillis, s.phint))
        else
          transition("Closed", "ProbesSucceeded", 0)
        end
      end
    elseif outcome == "failure" then
      transition("Open", "ProbeFailed", math.max(openMillis, probeHint))
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
  elseif target == "Open" then
    transition("Open", "ManualOpen", targetMillis, nil, true)
  elseif target ~= s.state then
    local reasons = { ForcedOpen = "ForceOpen", Disabled = "Disable", HalfOpen = "ManualHalfOpen" }
    transition(target, reasons[target], 0)
  end
end

for _, f in ipairs(FIELDS) do if s[f] > MAX then s[f] = MAX end end
for _, f in ipairs(LATER) do table.insert(FIELDS, f) end
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
-- A sync carries the caller's configuration fingerprint (ARGV[16]): the first one the circuit hears is
-- kept with it, and every sync answers with the one kept, so that instances configured differently
-- under one name find out. It lives and expires with the circuit's hash.
local config = ""
if op == "sync" then
  if string.match(fingerprint, "^[0-9a-z]+$") and #fingerprint <= 64 then
    local kept = redis.call("HGET", key, "config")
    if kept then
      config = kept
    else
      redis.call("HSET", key, "config", fingerprint)
      redis.call("PEXPIRE", key, int(idle))
      config = fingerprint
    end
  end
end

return { corrupt, s.state, s.reason, int(s.gen), remaining, s.openings, s.permits, s.successes, s.calls, s.failures,
  s.slow, s.streak, granted, moved, config }
`
