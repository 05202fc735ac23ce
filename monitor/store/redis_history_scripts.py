"""The Lua scripts of the Redis store's alert history and silences.

Like :mod:`monitor.store.redis_scripts` (same conventions: each script's comment says
which contract method it serves, what it does atomically, and its KEYS and ARGV), for
:mod:`monitor.store.redis_history`. One exception to those conventions: the per-rule,
per-channel and per-hour keys of the entries a script creates or drops are named in the
script from the index prefix it is given (``Keys.history_index``), since the entries a
retention drops are only known inside it. Ids are compared bytewise (``less``), never
with Lua's ``<`` on strings, which follows the server's locale.
"""

from __future__ import annotations

__all__ = ["HISTORY_STATS", "RECORD_HISTORY", "SEARCH_HISTORY", "SEARCH_TEXT", "SILENCE_CAS"]

# Shared head (not a script): bytewise string order, and the fields of a metadata value
# "<status index>\n<created>\n<updated>\n<coverage>\n<rule>\n<channel>\n<story>".
_COMMON = r"""
local function less(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local function parse(meta)
  return string.match(meta, '^(%d+)\n([^\n]*)\n([^\n]*)\n(%d+)\n(([^\n]*)\n([^\n]*)\n.*)$')
end
local function hour_of(created)
  return string.format('%d', math.floor(tonumber(created) / 3600))
end
"""

# AlertHistory.record_history. Atomically: OR each signature given into its hour's (the
# bits of every update's words, in the hour of its event: where the entry is, if the
# update creates it); apply each update (history_rules.apply_update: a new entry;
# "queued" for a known id ignored; else status, updated_at, events (at most `max
# events`), and the alert if its coverage grew); a new entry's words record is appended
# to its hour's word block, and the hour counted live. Then drop up to `purge limit`
# entries updated before the cutoff from every key (an hour left with no live entry loses
# its block and signature), and every key touched lives ttl ms more (real time).
# KEYS: history, history_updated, history_alerts, history_meta, history_events,
# history_hours, history_hour_live, a scratch key, history_stories, history_status(s) for
# each of ALERT_STATUSES, then history_rule and history_channel of each update.
# ARGV: cutoff, ttl ms, purge limit, index prefix, max events, update count, then per
# update: id, status index (1-based), at, queued ('1' or '0'), coverage, rule, channel,
# story key, alert JSON, event line, words record, hour of `at`; then an hour and its
# signature bitmap for each hour of the updates.
# Returns how many entries were dropped.
RECORD_HISTORY = (
    _COMMON
    + r"""
local statuses = 5
local function status_key(s) return KEYS[9 + tonumber(s)] end
local prefix, ttl = ARGV[4], ARGV[2]
local max_events = tonumber(ARGV[5])
local last = 6 + 12 * tonumber(ARGV[6])
for j = last + 1, #ARGV, 2 do
  local signature = prefix .. 'signature:' .. ARGV[j]
  redis.call('SET', KEYS[8], ARGV[j + 1])
  redis.call('BITOP', 'OR', signature, signature, KEYS[8])
  redis.call('PEXPIRE', signature, ttl)
end
redis.call('DEL', KEYS[8])
local n = 0
for i = 7, last, 12 do
  n = n + 1
  local id, s, at, cov = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 4]
  local rest = ARGV[i + 5] .. '\n' .. ARGV[i + 6] .. '\n' .. ARGV[i + 7]
  local meta = redis.call('HGET', KEYS[4], id)
  if not meta then
    redis.call('ZADD', KEYS[1], at, id)
    redis.call('ZADD', KEYS[2], at, id)
    redis.call('HSET', KEYS[3], id, ARGV[i + 8])
    redis.call('HSET', KEYS[4], id, s .. '\n' .. at .. '\n' .. at .. '\n' .. cov .. '\n' .. rest)
    redis.call('HSET', KEYS[5], id, ARGV[i + 9])
    redis.call('ZADD', status_key(s), at, id)
    redis.call('ZADD', KEYS[9 + statuses + 2 * n - 1], at, id)
    redis.call('ZADD', KEYS[9 + statuses + 2 * n], at, id)
    redis.call('ZADD', KEYS[9], at, ARGV[i + 5] .. '\0' .. ARGV[i + 7] .. '\0' .. id)
    local hour = ARGV[i + 11]
    local words = prefix .. 'words:' .. hour
    redis.call('APPEND', words, ARGV[i + 10])
    redis.call('PEXPIRE', words, ttl)
    redis.call('ZADD', KEYS[6], hour, hour)
    redis.call('HINCRBY', KEYS[7], hour, 1)
  elseif ARGV[i + 3] ~= '1' then
    local old_s, created, _, old_cov, old_rest = parse(meta)
    if old_s ~= s then
      redis.call('ZREM', status_key(old_s), id)
      redis.call('ZADD', status_key(s), created, id)
    end
    if tonumber(cov) > tonumber(old_cov) then
      redis.call('HSET', KEYS[3], id, ARGV[i + 8])
    else
      cov, rest = old_cov, old_rest
    end
    meta = s .. '\n' .. created .. '\n' .. at .. '\n' .. cov .. '\n' .. rest
    redis.call('HSET', KEYS[4], id, meta)
    local events = redis.call('HGET', KEYS[5], id)
    if events and events ~= '' then
      events = events .. '\n' .. ARGV[i + 9]
    else
      events = ARGV[i + 9]
    end
    local _, breaks = string.gsub(events, '\n', '')
    while breaks >= max_events do
      events = string.sub(events, string.find(events, '\n', 1, true) + 1)
      breaks = breaks - 1
    end
    redis.call('HSET', KEYS[5], id, events)
    redis.call('ZADD', KEYS[2], at, id)
  end
end
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1],
                        'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(gone) do
  local meta = redis.call('HGET', KEYS[4], id)
  if meta then
    local s, created, _, _, rest, rule, channel = parse(meta)
    local story = string.match(rest, '^[^\n]*\n[^\n]*\n(.*)$')
    redis.call('ZREM', KEYS[9], rule .. '\0' .. story .. '\0' .. id)
    redis.call('ZREM', status_key(s), id)
    redis.call('ZREM', prefix .. 'rule:' .. rule, id)
    redis.call('ZREM', prefix .. 'channel:' .. channel, id)
    local hour = hour_of(created)
    if redis.call('HINCRBY', KEYS[7], hour, -1) <= 0 then
      redis.call('DEL', prefix .. 'words:' .. hour, prefix .. 'signature:' .. hour)
      redis.call('ZREM', KEYS[6], hour)
      redis.call('HDEL', KEYS[7], hour)
    end
  end
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[2], id)
  for k = 3, 5 do redis.call('HDEL', KEYS[k], id) end
end
for k = 1, #KEYS do redis.call('PEXPIRE', KEYS[k], ttl) end
return #gone
"""
)

# AlertHistory.search_history without words, one stretch of the walk. Reads only. Walks
# the smallest of the sorted sets given, newest first (score descending, ties by id
# descending), from just after the cursor (score, id), looking at up to `budget` entries:
# an entry matches if its metadata has the rule, channel and status asked ('' for any).
# Stops at the first entry older than `since`, at the end of the set, or with `want`
# matches.
# KEYS: history_meta, history_alerts, history_events, then the sets to choose from.
# ARGV: cursor score ('' from the newest), cursor id, since ('' none), rule, channel,
# status index, budget, want.
# Returns {done (1: no need to go on), last score, last id, then id, meta, alert JSON,
# events of each match}.
SEARCH_HISTORY = (
    _COMMON
    + r"""
local driver, size = nil, nil
for k = 4, #KEYS do
  local c = redis.call('ZCARD', KEYS[k])
  if not size or c < size then driver, size = KEYS[k], c end
end
local pos = 0
if ARGV[1] ~= '' then
  pos = redis.call('ZCOUNT', driver, '(' .. ARGV[1], '+inf')
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', driver, ARGV[1], ARGV[1])) do
    if not less(m, ARGV[2]) then pos = pos + 1 end
  end
end
local since = ARGV[3] ~= '' and tonumber(ARGV[3]) or nil
local rule, channel, status = ARGV[4], ARGV[5], ARGV[6]
local filtered = rule ~= '' or channel ~= '' or status ~= ''
local budget, want = tonumber(ARGV[7]), tonumber(ARGV[8])
local found, looked, done = {}, 0, 0
local last_score, last_id = ARGV[1], ARGV[2]
while looked < budget and #found < want and done == 0 do
  local batch = redis.call('ZREVRANGE', driver, pos, pos + 199, 'WITHSCORES')
  if #batch == 0 then done = 1 end
  for j = 1, #batch, 2 do
    local id, score = batch[j], batch[j + 1]
    if since and tonumber(score) < since then done = 1 break end
    looked = looked + 1
    last_score, last_id = score, id
    local ok = true
    if filtered then
      local meta = redis.call('HGET', KEYS[1], id)
      if meta then
        local s, _, _, _, _, r, c = parse(meta)
        ok = (status == '' or s == status) and (rule == '' or r == rule)
          and (channel == '' or c == channel)
      else
        ok = false
      end
    end
    if ok then found[#found + 1] = id end
    if #found >= want or looked >= budget then break end
  end
  pos = pos + #batch / 2
end
if #found >= want then done = 1 end
local out = {done, last_score, last_id}
for _, id in ipairs(found) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[1], id) or ''
  out[#out + 1] = redis.call('HGET', KEYS[2], id) or ''
  out[#out + 1] = redis.call('HGET', KEYS[3], id) or ''
end
return out
"""
)

# AlertHistory.search_history with words, one stretch. Reads only. Goes through the hours
# holding entries, newest first, from the cursor's hour (or `from hour`) down to the hour
# of `since`: an hour whose signature lacks a bit of some word is skipped; otherwise its
# word block is scanned: a record matches if every ' ' .. word is in it, it is after the
# cursor and not older than `since`, and its entry still exists with that created_at
# (else it is a dropped entry's record) and has the rule, channel and status asked. An
# hour's matches are taken newest first (ties by id descending). Stops with `want`
# matches, or, once `budget` bytes of blocks were scanned, before the next hour.
# KEYS: history_meta, history_alerts, history_events, history_hours.
# ARGV: cursor score ('' none), cursor id, from hour ('' none), since ('' none), rule,
# channel, status index, want, budget, index prefix, word count, the words, then each
# word's signature bits (comma-separated; '' checks nothing).
# Returns {done (1: no need to go on), the hour to go on from, then id, meta, alert JSON,
# events of each match}.
SEARCH_TEXT = (
    _COMMON
    + r"""
local cursor_score = ARGV[1] ~= '' and tonumber(ARGV[1]) or nil
local cursor_id = ARGV[2]
local top = '+inf'
if ARGV[3] ~= '' then top = ARGV[3] elseif cursor_score then top = hour_of(ARGV[1]) end
local since = ARGV[4] ~= '' and tonumber(ARGV[4]) or nil
local bottom = since and hour_of(ARGV[4]) or '-inf'
local rule, channel, status = ARGV[5], ARGV[6], ARGV[7]
local want, budget, prefix = tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10]
local nwords = tonumber(ARGV[11])
local words, probes = {}, {}
for w = 1, nwords do
  words[w] = ' ' .. ARGV[11 + w]
  local probe = {}
  for bit in string.gmatch(ARGV[11 + nwords + w], '%d+') do
    probe[#probe + 1] = 'GET'
    probe[#probe + 1] = 'u1'
    probe[#probe + 1] = bit
  end
  probes[w] = probe
end
local function unhex(h) return string.char(tonumber(h, 16)) end
local found, seen, scanned, done, resume = {}, {}, 0, 1, ''
for _, hour in ipairs(redis.call('ZREVRANGEBYSCORE', KEYS[4], top, bottom)) do
  if scanned >= budget then done, resume = 0, hour break end
  local candidate = true
  for w = 1, nwords do
    if #probes[w] > 0 then
      for _, bit in ipairs(redis.call('BITFIELD', prefix .. 'signature:' .. hour,
                                      unpack(probes[w]))) do
        if bit == 0 then candidate = false break end
      end
    end
    if not candidate then break end
  end
  local block = candidate and redis.call('GET', prefix .. 'words:' .. hour)
  if block then
    scanned = scanned + #block
    local ends = nil
    for w = 1, nwords do
      local hits, pos = {}, 1
      while true do
        local s = string.find(block, words[w], pos, true)
        if not s then break end
        local t = string.find(block, '\t', s, true)
        if not ends or ends[t] then hits[t] = true end
        pos = string.find(block, '\n', t, true) + 1
      end
      ends = hits
      if next(ends) == nil then break end
    end
    local matches = {}
    for t in pairs(ends) do
      local created, hex = string.match(block, '^\t([^\t]*)\t(%x*)\n', t)
      local score = tonumber(created)
      local id = string.gsub(hex, '..', unhex)
      local ok = not seen[id] and (not since or score >= since) and (not cursor_score
        or score < cursor_score or (score == cursor_score and less(id, cursor_id)))
      if ok then
        local meta = redis.call('HGET', KEYS[1], id)
        ok = false
        if meta then
          local s, c, _, _, _, r, ch = parse(meta)
          ok = c == created and (status == '' or s == status) and (rule == '' or r == rule)
            and (channel == '' or ch == channel)
        end
      end
      if ok then
        seen[id] = true
        matches[#matches + 1] = {score, id}
      end
    end
    table.sort(matches, function(a, b)
      if a[1] ~= b[1] then return a[1] > b[1] end
      return less(b[2], a[2])
    end)
    for _, m in ipairs(matches) do
      if #found >= want then break end
      found[#found + 1] = m[2]
    end
    if #found >= want then break end
  end
end
local out = {done, resume}
for _, id in ipairs(found) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[1], id) or ''
  out[#out + 1] = redis.call('HGET', KEYS[2], id) or ''
  out[#out + 1] = redis.call('HGET', KEYS[3], id) or ''
end
return out
"""
)

# SilenceStore.expire_silence and list_silences (dropping old ones). Atomically: if the
# field still holds the value the caller read, replace it ('' deletes it).
# KEYS: silences. ARGV: id, value read, new value. Returns 1 if it applied, else 0.
SILENCE_CAS = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1])
else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
"""

# AlertHistory.history_stats. Reads only, one consistent snapshot: the entries created at
# or after `since` in each status, and per rule its distinct stories and latest creation.
# KEYS: history_stories, then history_status(s) for each of ALERT_STATUSES.
# ARGV: since. Returns {count of each status, then rule, stories, latest score, ...}.
HISTORY_STATS = r"""
local out = {}
for k = 2, #KEYS do out[#out + 1] = redis.call('ZCOUNT', KEYS[k], ARGV[1], '+inf') end
local members = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'WITHSCORES')
local seen, hits, latest, rules = {}, {}, {}, {}
for i = 1, #members, 2 do
  local rule, story = string.match(members[i], '^([^%z]*)%z(.*)%z')
  local key = rule .. '\0' .. story
  if not hits[rule] then
    rules[#rules + 1] = rule
    hits[rule] = 0
  end
  if not seen[key] then
    seen[key] = true
    hits[rule] = hits[rule] + 1
  end
  latest[rule] = members[i + 1]
end
for _, rule in ipairs(rules) do
  out[#out + 1] = rule
  out[#out + 1] = hits[rule]
  out[#out + 1] = latest[rule]
end
return out
"""
