/**
 * The head of the circuit script (`internal/redisLua.ts`): strict mode's
 * closed admission, the operation a busy strict circuit runs once per call.
 * It reads the circuit, records the outcomes the admission carries and
 * admits, in a handful of Redis commands and no function definitions, so
 * that the script costs a few microseconds instead of a full run's tens.
 *
 * Its reply is a text, `Closed <reason> <generation> <calls> <failures>
 * <slow calls> <streak>`: what the full script's array would say of a closed
 * circuit, cheaper to pass on.
 *
 * It only answers what it can answer exactly as the full script would: a
 * closed circuit stored in the current format, whose data reads back whole,
 * with a count window of single calls (what strict mode writes), and
 * outcomes that trip no rule. Anything else, including every argument it
 * cannot read, falls through to the full script, untouched: the fast path
 * decides before it writes, and then writes what the full script would have.
 *
 * @internal
 */
import { TransitionReason } from "../CircuitBreakerEvent.js"

/** A Lua set of the given names: `{ Closed = true, ... }`. */
export const luaSet = (names: ReadonlyArray<string>): string =>
  `{ ${names.map((name) => `${name} = true`).join(", ")} }`

/**
 * Lua: a `closedAdmit()` that returns the reply, or nil when the full script
 * must decide; and the call that returns its reply. The arguments are the
 * admit operation's (`internal/redisLua.ts`): ARGV[2] now, ARGV[3] idle,
 * ARGV[11] known generation, ARGV[12] admissions, and the batch from
 * ARGV[13]: generation, calls, failures, slow, trailing, all failed, the
 * rules (consecutive, count, failure rate, slow rate, minimum calls), the
 * window (kind, size, bucket), the sequence of outcomes and their
 * open-duration hint.
 *
 * @internal
 */
export const closedAdmitLua = `
local function closedAdmit()
  if ARGV[1] ~= "admit" then return nil end
  local MAX, MAXDUR, floor, tonumber = 9007199254740991, 2147483647, math.floor, tonumber
  -- A number from lo to hi, whole when asked: nil when it is not one (the full script names it).
  local function num(v, lo, hi, whole)
    local n = tonumber(v)
    if not n or n ~= n or n < lo or n > hi or (whole and n ~= floor(n)) then return nil end
    return n
  end
  -- Integers below 1e14 print exactly with tostring (%.14g); a Lua number sent to Redis would not.
  local function int(n)
    if n < 100000000000000 then return tostring(n) end
    return string.format("%.0f", n)
  end
  local now, idle, knownGen = num(ARGV[2], 0, 9007199254740), num(ARGV[3], 1, MAXDUR), num(ARGV[11], 0, MAX, true)
  -- Every argument the full script checks, this path included: what it would refuse, it refuses.
  if not now or not idle or not knownGen or not num(ARGV[12], 1, 1000000, true) or not num(ARGV[6], 0, MAX, true)
    or not num(ARGV[7], 0, MAXDUR) or not num(ARGV[8], 0, MAXDUR) or not num(ARGV[9], 1, MAXDUR) then
    return nil
  end
  now, idle = floor(now), math.ceil(idle)
  local batchGen, sequence = ARGV[13], ARGV[27]
  local consecutive, failureCount, failureRate, slowRate, minimumCalls, size
  local batch = batchGen ~= nil and batchGen ~= ""
  if batch then
    -- Strict mode's batch: the calls one by one (a sequence), in a count window.
    if sequence == nil or sequence == "" or ARGV[24] ~= "c" or string.find(sequence, "[^fFsS]")
      or num(ARGV[14], 0, MAX, true) ~= #sequence or not num(ARGV[15], 0, MAX, true) or not num(ARGV[16], 0, MAX, true)
      or not num(ARGV[17], 0, MAX, true) or not num(ARGV[26], 0, MAXDUR)
      or (ARGV[28] ~= nil and ARGV[28] ~= "" and not num(ARGV[28], 0, MAXDUR)) then
      return nil
    end
    consecutive, failureCount = num(ARGV[19], 0, MAX, true), num(ARGV[20], 0, MAX, true)
    failureRate, slowRate = tonumber(ARGV[21]), tonumber(ARGV[22])
    -- A window of at most 10^9 calls (the library allows 10^6): its counts print exactly as Lua numbers.
    minimumCalls, size = num(ARGV[23], 0, MAX, true), num(ARGV[25], 1, 1000000000, true)
    if not consecutive or not failureCount or not minimumCalls or not size
      or not failureRate or not (failureRate == -1 or (failureRate >= 0 and failureRate <= 1))
      or not slowRate or not (slowRate == -1 or (slowRate >= 0 and slowRate <= 1)) then
      return nil
    end
  end

  -- Every field the full script reads, checked as it checks them: data it would report and replace is
  -- its to handle.
  local raw = redis.pcall("HMGET", KEYS[1], "v", "state", "reason", "gen", "until", "waitEnds", "openings", "streak",
    "permits", "successes", "token", "calls", "failures", "slow", "changed", "renewed")
  if raw.err or raw[1] ~= "2" or raw[2] ~= "Closed" or type(raw[3]) ~= "string" or not string.find(raw[3], "^%a+$")
    or not string.find("${" " + TransitionReason.literals.join(" ") + " "}", " " .. raw[3] .. " ", 1, true) then
    return nil
  end
  local field = {}
  for i = 4, 15 do
    field[i] = num(raw[i], 0, MAX, true)
    if field[i] == nil then return nil end
  end
  local gen, streak, calls, failures, slow = field[4], field[8], field[12], field[13], field[14]
  -- A closed circuit has no opening, permit or probe success to tell (the reply says none): one that
  -- says otherwise (only foreign data does) is the full script's to answer. A caller that knows a newer
  -- generation lifts the stored one: the full script does that too.
  if field[7] ~= 0 or field[9] ~= 0 or field[10] ~= 0 or gen < knownGen then return nil end
  local genText = int(gen)

  if batch then
    -- A batch counted under another generation is stale: the full script drops it.
    -- (A window holds no more failures or slow calls than calls: data that says otherwise is the full
    -- script's to judge.)
    if batchGen ~= genText or calls > size or failures > calls or slow > calls then return nil end
    local k = #sequence
    local evict = math.max(0, calls + k - size)
    local failures0, slow0, streak0 = failures, slow, streak
    -- One call into a full window, a busy circuit's every call: the oldest entry moves to the head
    -- (RPOPLPUSH) and becomes the new one (LSET, unless it reads the same already), one or two
    -- commands where pushing and trimming takes three. Any other batch reads the entries it drops
    -- (LRANGE), then pushes and trims.
    local rotated, evicted
    if k == 1 and evict == 1 then
      rotated = redis.pcall("RPOPLPUSH", KEYS[2], KEYS[2])
      -- An error or an empty list: nothing moved.
      if type(rotated) ~= "string" then return nil end
      evicted = { rotated }
    elseif evict > 0 then
      evicted = redis.pcall("LRANGE", KEYS[2], -evict, -1)
      if evicted.err or #evicted ~= evict then return nil end
    end
    -- The full script takes over from the window as it was: a rotation is undone (a window of one
    -- entry rotates onto itself).
    local function fallThrough()
      if rotated and size > 1 then
        redis.call("LPOP", KEYS[2])
        redis.call("RPUSH", KEYS[2], rotated)
      end
      return nil
    end
    local dropped = evict
    -- The calls one by one, as the full script records them: each pushes one entry and, in a full
    -- window, drops the oldest (the last of the range read). A rule that holds is a transition: the
    -- full script makes it.
    local entries = {}
    for i = 1, k do
      local o = string.sub(sequence, i, i)
      local failed = (o == "f" or o == "F") and 1 or 0
      local slowCall = (o == "F" or o == "S") and 1 or 0
      entries[i] = "0:1:" .. failed .. ":" .. slowCall
      calls, failures, slow = calls + 1, failures + failed, slow + slowCall
      if calls > size then
        local f, s = string.match(evicted[evict], "^0:1:([01]):([01])$")
        if not f then return fallThrough() end
        evict = evict - 1
        calls, failures, slow = calls - 1, failures - tonumber(f), slow - tonumber(s)
      end
      if failed == 1 then streak = math.min(streak + 1, MAX) else streak = 0 end
      if (consecutive > 0 and streak >= consecutive) or (failureCount > 0 and failures >= failureCount) then
        return fallThrough()
      end
      if calls >= minimumCalls and ((failureRate >= 0 and failures > 0 and failures / calls >= failureRate)
        or (slowRate >= 0 and slow > 0 and slow / calls >= slowRate)) then
        return fallThrough()
      end
    end
    local length = 0
    if rotated then
      if rotated ~= entries[1] then redis.call("LSET", KEYS[2], 0, entries[1]) end
    else
      length = redis.pcall("LPUSH", KEYS[2], unpack(entries))
      if type(length) == "table" then return nil end
      if dropped > 0 then redis.call("LTRIM", KEYS[2], 0, -dropped - 1) end
    end
    -- Counts that did not move are not written again (a success in place of a success).
    local changed = not rotated or failures ~= failures0 or slow ~= slow0 or streak ~= streak0
    -- Renewed as the full script renews a circuit it writes, but at most every eighth of the idle
    -- time (a circuit in use keeps at least seven eighths of it); a window this push created expires
    -- with the circuit.
    local renewed = num(raw[16], 0, 9007199254740, true)
    if renewed == nil or now - renewed >= idle / 8 or now < renewed then
      redis.call("PEXPIRE", KEYS[1], idle)
      redis.call("PEXPIRE", KEYS[2], idle)
      redis.call("HSET", KEYS[1], "calls", calls, "failures", failures, "slow", slow, "streak", int(streak),
        "renewed", int(now))
    else
      if length == k then redis.call("PEXPIRE", KEYS[2], idle) end
      if changed then
        redis.call("HSET", KEYS[1], "calls", calls, "failures", failures, "slow", slow, "streak", int(streak))
      end
    end
  end
  -- One text, not the full script's array: it costs Redis and the client less to pass on (see
  -- \`ClosedReplyText\` in internal/redisScript.ts).
  return "Closed " .. raw[3] .. " " .. genText .. " " .. calls .. " " .. failures .. " " .. slow .. " " .. int(streak)
end
local closedReply = closedAdmit()
if closedReply ~= nil then return closedReply end
`
