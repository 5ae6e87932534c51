-- append.lua: store events of one session atomically and update its state.
--
-- KEYS: 1 meta (hash)  2 events (list)  3 feed (stream)  4 sessions (zset)
--       5 client ids (hash)  6 timeline (list)  7 queue (zset)  8 feed ids (list)
-- ARGV: 1 session id  2 now (ms)  3 ttl (ms)  4 feed maxlen
--       5 expected mood version ("" = no check)
--       6 client message id ("" = no de-duplication)
--       7 holder: the operator who must hold the session or find it free
--         ("" = no check)
--       8 number of events n, then n pairs (json head, json tail)
--       then m, then m field/value pairs for the meta hash
--       then timeline point ("" = none), timeline cap
--       then queue op ("add", "del" or ""), queue score
--       last: once-mark ("" = none): an append with a mark happens once; the
--       mark is kept in the client ids hash (client ids cannot contain "#")
-- Returns {status, first seq, meta as a flat field/value list (without the
-- mood when this call wrote it), dup event}:
-- status is "ok", "dup" (the client id was stored before: first seq is its
-- seq; a fifth value is 1 when that message was labelled already), "done"
-- (the once-mark is set: nothing stored), "conflict" (mood version moved),
-- "held" (another operator holds it) or "erased" (an operator erased the
-- session: its id takes no more events). The checks run in the order
-- erased, conflict, held, then dup or done (a call has a client id or a
-- mark, never both), so a failing call writes nothing.
--
-- Cost: this runs twice per user message, so it makes as few Redis calls
-- as it can: one HGETALL reads the state, one HSET writes it, events go to
-- each list in one RPUSH, the timeline is not trimmed on every call, and
-- the TTLs are not refreshed on every call.
-- Every key of the session gets the same deadline, kept in the meta field
-- "x" (ms, on the caller's clock). A call that writes refreshes it to
-- now + ttl when it is less than ttl - slack ahead (or more than ttl, if
-- clocks moved back), slack being ttl/100 but at most an hour: so a
-- session's data expires between ttl - slack and ttl after its last event.
-- Between refreshes only a key this call created gets the deadline: a list
-- is new when RPUSH returns the number pushed; the client ids hash, which
-- HSETNX cannot tell, is marked with the meta field "xi" once it has it.

local meta, evs, feed, sessions, ids, tl, queue, fx =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local sid, nowArg, ttl, maxlen = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local now = tonumber(nowArg)
local expect, cid, holder = ARGV[5], ARGV[6], ARGV[7]
local mark = ARGV[#ARGV]

local st = {}
local all = redis.call("HGETALL", meta)
for k = 1, #all, 2 do
  st[all[k]] = all[k + 1]
end

-- The meta hash as the caller sees it: without the TTL bookkeeping.
local function state()
  local out = {}
  for f, v in pairs(st) do
    if v and f ~= "x" and f ~= "xi" then
      out[#out + 1] = f
      out[#out + 1] = v
    end
  end
  return out
end

if st.erased then
  return {"erased", 0, {}, ""}
end
if expect ~= "" and (st.mv or "0") ~= expect then
  return {"conflict", 0, state(), ""}
end
if holder ~= "" and st.op and st.op ~= "" and st.op ~= holder then
  return {"held", 0, state(), ""}
end

local n = tonumber(ARGV[8])
local first, firstArg = 0, "0"
if n > 0 then
  first = (tonumber(st.seq) or 0) + 1
  firstArg = tostring(first)
end
local once = cid
if once == "" then
  once = mark
end
if once ~= "" and redis.call("HSETNX", ids, once, firstArg) == 0 then
  if cid ~= "" then
    local prev = redis.call("HGET", ids, cid)
    local ev = redis.call("LINDEX", evs, tonumber(prev) - 1) or ""
    local labelled = redis.call("HEXISTS", ids, "#" .. prev)
    return {"dup", tonumber(prev), state(), ev, labelled}
  end
  return {"done", 0, state(), ""}
end

-- Everything is checked: from here on the call writes.
local hs = {}
local function set(f, v)
  hs[#hs + 1] = f
  hs[#hs + 1] = v
  st[f] = v
end

local i = 9
local evNew, fxNew = false, false
if n > 0 then
  local list, xids = {}, {}
  local seq = firstArg
  for k = 0, n - 1 do
    if k > 0 then
      seq = tostring(first + k)
    end
    local ev = ARGV[i] .. seq .. ARGV[i + 1]
    i = i + 2
    list[k + 1] = ev
    xids[k + 1] = redis.call("XADD", feed, "MAXLEN", "~", maxlen, "*", "s", sid, "q", seq, "e", ev)
  end
  evNew = redis.call("RPUSH", evs, unpack(list)) == n
  fxNew = redis.call("RPUSH", fx, unpack(xids)) == n
  redis.call("ZADD", sessions, nowArg, sid)
  set("seq", seq)
  set("last", nowArg)
  if not st.created then
    set("created", nowArg)
  end
end

local m = tonumber(ARGV[i]); i = i + 1
local wroteMood = false
for k = 1, m do
  set(ARGV[i], ARGV[i + 1])
  wroteMood = wroteMood or ARGV[i] == "mood"
  i = i + 2
end
if expect ~= "" then
  set("mv", string.format("%d", (tonumber(st.mv) or 0) + 1))
end

-- The timeline is trimmed to its cap once it is 32 points over; readers
-- take the last cap points.
local point, cap = ARGV[i], tonumber(ARGV[i + 1]); i = i + 2
local tlNew = false
if point ~= "" then
  local len = redis.call("RPUSH", tl, point)
  if len > cap + 32 then
    redis.call("LTRIM", tl, -cap, -1)
  end
  tlNew = len == 1
end

local qop, qscore = ARGV[i], ARGV[i + 1]
if qop == "add" then
  redis.call("ZADD", queue, qscore, sid)
elseif qop == "del" then
  redis.call("ZREM", queue, sid)
end

-- TTLs: see the head of this file.
local idsNew = once ~= "" and not st.xi
if idsNew then
  set("xi", "1")
end
local deadline = tonumber(st.x)
local refresh = #hs > 0 and (not deadline or deadline - now < ttl - math.min(math.floor(ttl / 100), 3600000) or deadline - now > ttl)
if refresh then
  deadline = now + ttl
  set("x", string.format("%d", deadline))
end
if #hs > 0 then
  redis.call("HSET", meta, unpack(hs))
end
if refresh then
  for _, k in ipairs({meta, evs, ids, tl, fx}) do
    redis.call("PEXPIRE", k, ttl)
  end
elseif deadline then
  local left = deadline - now
  if evNew then redis.call("PEXPIRE", evs, left) end
  if fxNew then redis.call("PEXPIRE", fx, left) end
  if tlNew then redis.call("PEXPIRE", tl, left) end
  if idsNew then redis.call("PEXPIRE", ids, left) end
end
-- The caller has the mood it wrote: it is not sent back.
if wroteMood then
  st.mood = false
end
return {"ok", first, state(), ""}
