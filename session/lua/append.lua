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
-- Returns {status, first seq, meta as a flat field/value list, dup event}:
-- status is "ok", "dup" (the client id was stored before: first seq is its
-- seq; a fifth value is 1 when that message was labelled already), "done" (the once-mark is set: nothing stored), "conflict" (mood
-- version moved), "held" (another operator holds it) or "erased" (an
-- operator erased the session: its id takes no more events).

local meta, evs, feed, sessions, ids, tl, queue, fx =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local sid, now, ttl, maxlen = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local expect, cid, holder = ARGV[5], ARGV[6], ARGV[7]
local mark = ARGV[#ARGV]

if redis.call("HEXISTS", meta, "erased") == 1 then
  return {"erased", 0, {}, ""}
end
if cid ~= "" then
  local prev = redis.call("HGET", ids, cid)
  if prev then
    local ev = redis.call("LINDEX", evs, tonumber(prev) - 1) or ""
    local labelled = redis.call("HEXISTS", ids, "#" .. prev)
    return {"dup", tonumber(prev), redis.call("HGETALL", meta), ev, labelled}
  end
end
if mark ~= "" and redis.call("HEXISTS", ids, mark) == 1 then
  return {"done", 0, redis.call("HGETALL", meta), ""}
end
if expect ~= "" then
  local mv = redis.call("HGET", meta, "mv") or "0"
  if mv ~= expect then
    return {"conflict", 0, redis.call("HGETALL", meta), ""}
  end
end
if holder ~= "" then
  local op = redis.call("HGET", meta, "op") or ""
  if op ~= "" and op ~= holder then
    return {"held", 0, redis.call("HGETALL", meta), ""}
  end
end

local i = 8
local n = tonumber(ARGV[i]); i = i + 1
local first = 0
if n > 0 then
  local last = redis.call("HINCRBY", meta, "seq", n)
  first = last - n + 1
  for k = 0, n - 1 do
    local seq = first + k
    local ev = ARGV[i] .. seq .. ARGV[i + 1]
    i = i + 2
    redis.call("RPUSH", evs, ev)
    local xid = redis.call("XADD", feed, "MAXLEN", "~", maxlen, "*", "s", sid, "q", seq, "e", ev)
    redis.call("RPUSH", fx, xid)
  end
  redis.call("HSETNX", meta, "created", now)
  redis.call("HSET", meta, "last", now)
  redis.call("ZADD", sessions, now, sid)
end
if cid ~= "" then
  redis.call("HSET", ids, cid, first)
end
if mark ~= "" then
  redis.call("HSET", ids, mark, first)
end

local m = tonumber(ARGV[i]); i = i + 1
for k = 1, m do
  redis.call("HSET", meta, ARGV[i], ARGV[i + 1])
  i = i + 2
end
if expect ~= "" then
  redis.call("HINCRBY", meta, "mv", 1)
end

local point, cap = ARGV[i], tonumber(ARGV[i + 1]); i = i + 2
if point ~= "" then
  redis.call("RPUSH", tl, point)
  redis.call("LTRIM", tl, -cap, -1)
end

local qop, qscore = ARGV[i], ARGV[i + 1]
if qop == "add" then
  redis.call("ZADD", queue, qscore, sid)
elseif qop == "del" then
  redis.call("ZREM", queue, sid)
end

for _, k in ipairs({meta, evs, ids, tl, fx}) do
  redis.call("PEXPIRE", k, ttl)
end
return {"ok", first, redis.call("HGETALL", meta), ""}
