"""The Lua scripts of the Redis store: every operation that changes several keys at once.

Redis runs a script atomically: no other command runs between its first and
last call, whichever client sent it. :class:`~monitor.store.redis.RedisStore`
registers each script once and calls it with the keys of
:class:`~monitor.store.redis_keys.Keys` in the order its comment gives.

Each script's comment says which contract method it implements, what it does
atomically, and its KEYS and ARGV (1-based, as in Lua). Times in ARGV are the
caller's clock, formatted so Lua parses them back to the same double; a record
compares its own end time with ``now``, and a TTL (in real milliseconds) only
collects the garbage. A script that is changed gets a new SHA; the keys it
touches must keep their layout (see :mod:`monitor.store.redis_keys`).
"""

from __future__ import annotations

import math

from monitor.model import ClaimResult

__all__ = [
    "ACK",
    "ARCHIVE_ARTICLES",
    "ASSIGN_STORY",
    "CLAIM_ARTICLES",
    "CLAIM_CODES",
    "CLAIM_DUE",
    "DEAD_LETTER",
    "DEFER",
    "ENQUEUE",
    "LIST_ENTRIES",
    "OUTBOX_ENTRY",
    "OUTBOX_SUMMARY",
    "RELEASE_ARTICLE",
    "REQUEUE",
    "RESERVE_SEND",
    "RETRY_LATER",
    "TTL_GRACE_MS",
    "num",
    "ttl_ms",
]

#: Real-time slack added to every TTL, so a record outlives its own end time.
TTL_GRACE_MS = 60_000


def num(value: float) -> str:
    """A float as ARGV text that Redis and Lua parse back to the same double."""
    return repr(float(value))


def ttl_ms(seconds: float) -> int:
    """A real-time TTL (ARGV, ms) for a record that counts for ``seconds`` of the caller's
    clock."""
    return max(math.ceil(seconds * 1000), 0) + TTL_GRACE_MS


# SeenStore.claim_articles. Atomically: for each article in order, read the marks of its
# keys and, if none is seen or claimed (and none came up in an earlier article), claim
# every key; so two callers never win the same key.
# KEYS: the article keys of every article, one article after the other.
# ARGV: now, "claim <until>", ttl ms, then how many keys each article has.
# Returns one code per article: 1 claimed, 2 seen, 3 busy (see CLAIM_CODES).
CLAIM_ARTICLES = """
local now = tonumber(ARGV[1])
local results, earlier, first = {}, {}, 1
for a = 4, #ARGV do
  local last = first + tonumber(ARGV[a]) - 1
  local seen, busy = false, false
  for i = first, last do
    local key = KEYS[i]
    if earlier[key] then seen = true end
    local value = redis.call('GET', key)
    if value and tonumber(string.match(value, ' (.+)$')) > now then
      if string.sub(value, 1, 5) == 'seen ' then seen = true else busy = true end
    end
  end
  if seen then
    results[#results + 1] = 2
  elseif busy then
    results[#results + 1] = 3
  else
    for i = first, last do redis.call('SET', KEYS[i], ARGV[2], 'PX', ARGV[3]) end
    results[#results + 1] = 1
  end
  for i = first, last do earlier[KEYS[i]] = true end
  first = last + 1
end
return results
"""

#: What the codes of ``CLAIM_ARTICLES`` mean.
CLAIM_CODES = {1: ClaimResult.CLAIMED, 2: ClaimResult.SEEN, 3: ClaimResult.BUSY}

# SeenStore.release_article. Atomically: delete each key that holds a claim and leave the
# seen ones (from Python, a mark_seen between the GET and the DEL would be lost).
# KEYS: article keys. ARGV: none. Returns 0.
RELEASE_ARTICLE = """
for _, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value and string.sub(value, 1, 6) == 'claim ' then redis.call('DEL', key) end
end
return 0
"""

# Outbox.enqueue. Atomically: add each alert that is not queued, dead or delivered (its
# delivered record not yet ended at now), due at now with no attempts and no error, and
# index its created time (outbox_born).
# KEYS: outbox, dead, alerts, attempts, errors, outbox_born, then delivered(id) for each
# alert. ARGV: now, then id, JSON and created time (epoch seconds) of each alert.
# Returns how many were added.
ENQUEUE = """
local now = tonumber(ARGV[1])
local added = 0
for i = 7, #KEYS do
  local at = 3 * (i - 6) - 1
  local id, json, created = ARGV[at], ARGV[at + 1], ARGV[at + 2]
  local known = redis.call('ZSCORE', KEYS[1], id) or redis.call('ZSCORE', KEYS[2], id)
  if not known then
    local until_ = redis.call('HGET', KEYS[i], 'until')
    known = until_ and tonumber(until_) > now
  end
  if not known then
    redis.call('ZADD', KEYS[1], ARGV[1], id)
    redis.call('HSET', KEYS[3], id, json)
    redis.call('HSET', KEYS[4], id, 0)
    redis.call('HDEL', KEYS[5], id)
    redis.call('ZADD', KEYS[6], created, id)
    added = added + 1
  end
end
return added
"""

# Shared head of CLAIM_DUE, LIST_ENTRIES and OUTBOX_ENTRY (not a script): a Lua function
# that makes the reply [id, score, alert, attempts, error, ...] for the ids of `items` (a
# WITHSCORES reply; `scores`, if given, replaces every score). Needs KEYS[2..4] = alerts,
# attempts, errors.
_ENTRIES = """
local function entries(items, scores)
  local out = {}
  for i = 1, #items, 2 do
    local id = items[i]
    out[#out + 1] = id
    out[#out + 1] = scores or items[i + 1]
    out[#out + 1] = redis.call('HGET', KEYS[2], id) or ''
    out[#out + 1] = redis.call('HGET', KEYS[3], id) or '0'
    out[#out + 1] = redis.call('HGET', KEYS[4], id) or ''
  end
  return out
end
"""

# Outbox.claim_due. Atomically: take up to `limit` alerts due at or before now, oldest first
# (ties by id), move each one's due time to the lease end and record the claim token, so a
# concurrent caller sees them as not due.
# KEYS: outbox, alerts, attempts, errors, claims. ARGV: now, lease end, limit, claim token.
# Returns the entries as the _ENTRIES reply, every score the lease end.
CLAIM_DUE = (
    _ENTRIES
    + """
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES',
                         'LIMIT', 0, tonumber(ARGV[3]))
for i = 1, #items, 2 do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], items[i])
  redis.call('HSET', KEYS[5], items[i], ARGV[4])
end
return entries(items, ARGV[2])
"""
)

# Outbox.pending and Outbox.dead_letters. Atomically (one consistent snapshot): every entry
# of a sorted set with its alert, attempts and error. Changes nothing.
# KEYS: a sorted set (outbox or dead), alerts, attempts, errors. ARGV: 'asc' or 'desc'.
# Returns the _ENTRIES reply.
LIST_ENTRIES = (
    _ENTRIES
    + """
local cmd = ARGV[1] == 'desc' and 'ZREVRANGE' or 'ZRANGE'
return entries(redis.call(cmd, KEYS[1], 0, -1, 'WITHSCORES'), nil)
"""
)

# Outbox.ack. Atomically: write the delivered record (with the alert and its attempts + 1
# if the id was in the outbox), drop the alert from the outbox (and its created time from
# outbox_born), log it for listing, and trim the log (by age, then to the newest `log
# limit`). Not fenced.
# An id not in the outbox keeps the alert and attempts its record may already hold.
# KEYS: outbox, alerts, attempts, errors, delivered(id), delivered_log, claims, outbox_born.
# ARGV: id, until, now, detail, ttl ms, log limit, log entries older than this go.
# Returns 0.
ACK = """
redis.call('HSET', KEYS[5], 'until', ARGV[2], 'at', ARGV[3], 'detail', ARGV[4])
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  local json = redis.call('HGET', KEYS[2], ARGV[1])
  local attempts = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0') + 1
  if json then redis.call('HSET', KEYS[5], 'alert', json, 'attempts', attempts) end
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('HDEL', KEYS[4], ARGV[1])
  redis.call('HDEL', KEYS[7], ARGV[1])
  redis.call('ZREM', KEYS[8], ARGV[1])
end
redis.call('PEXPIRE', KEYS[5], ARGV[5])
if redis.call('HEXISTS', KEYS[5], 'alert') == 1 then
  redis.call('ZADD', KEYS[6], ARGV[3], ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', '(' .. ARGV[7])
redis.call('ZREMRANGEBYRANK', KEYS[6], 0, -1 - tonumber(ARGV[6]))
return 0
"""

# Outbox.requeue, Outbox.requeue_many and Outbox.requeue_all_dead. Atomically: move each
# dead letter back into the outbox, due at now, attempts back to 0, no claim; so concurrent
# requeues move each one once. The error hash is left alone: last_error is kept; so is
# outbox_born, which indexes the dead letters too.
# KEYS: dead, outbox, attempts, claims. ARGV: now, then the ids to requeue (none: every
# dead letter; so a caller with an empty list of ids must not call it).
# Returns the ids moved, in the order given (a repeated id moves once).
REQUEUE = """
local ids = ARGV
local first = 2
if #ARGV == 1 then ids, first = redis.call('ZRANGE', KEYS[1], 0, -1), 1 end
local moved = {}
for i = first, #ids do
  if redis.call('ZREM', KEYS[1], ids[i]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[1], ids[i])
    redis.call('HSET', KEYS[3], ids[i], 0)
    redis.call('HDEL', KEYS[4], ids[i])
    moved[#moved + 1] = ids[i]
  end
end
return moved
"""

# Outbox.outbox_entry. Atomically (an alert moving between the two sets is seen in one):
# one alert's entry, from the dead letters (scored by when it died) else the outbox (by
# due time), as LIST_ENTRIES would list it. Changes nothing.
# KEYS: dead, alerts, attempts, errors, outbox (KEYS[2..4] as _ENTRIES wants them).
# ARGV: id. Returns the _ENTRIES reply of that one id then 'dead' or 'pending'; {} if the
# id is in neither set.
OUTBOX_ENTRY = (
    _ENTRIES
    + """
local place, score = 'dead', redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then place, score = 'pending', redis.call('ZSCORE', KEYS[5], ARGV[1]) end
if not score then return {} end
local out = entries({ARGV[1], score}, nil)
out[#out + 1] = place
return out
"""
)

# Shared head of the fenced scripts (not a script): go on only if the alert is in the outbox
# under the caller's claim token, and end that claim; else return 0 (see Outbox fencing).
# KEYS[1] is the outbox, KEYS[2] the claims; ARGV[1] the id, ARGV[2] the claim token.
_FENCE = """
if ARGV[2] == '' or not redis.call('ZSCORE', KEYS[1], ARGV[1])
   or redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
"""

# Outbox.retry_later. Atomically, if fenced in: count an attempt, keep the error and make
# the alert due at `due time`. Returns 1 if it applied, else 0.
# KEYS: outbox, claims, attempts, errors. ARGV: id, claim, due time, error.
RETRY_LATER = (
    _FENCE
    + """
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
redis.call('HSET', KEYS[4], ARGV[1], ARGV[4])
return 1
"""
)

# Outbox.defer. Atomically, if fenced in: make the alert due at `due time` (no attempt
# counted). Returns 1 if it applied, else 0.
# KEYS: outbox, claims. ARGV: id, claim, due time.
DEFER = (
    _FENCE
    + """
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
return 1
"""
)

# Outbox.dead_letter. Atomically, if fenced in: count an attempt, keep the error and move
# the alert from the outbox to the dead letters (scored by now; outbox_born, indexing both,
# is left alone). Returns 1 if it applied.
# KEYS: outbox, claims, dead, attempts, errors. ARGV: id, claim, now, error.
DEAD_LETTER = (
    _FENCE
    + """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('HINCRBY', KEYS[4], ARGV[1], 1)
redis.call('HSET', KEYS[5], ARGV[1], ARGV[4])
return 1
"""
)

# Outbox.outbox_summary. Atomically (one snapshot): the sizes of the outbox, the dead
# letters and outbox_born, and the created time of the oldest alert in the outbox: walking
# outbox_born from rank `start`, lowest score first, a page at a time, the first member in
# the outbox (dead letters, indexed too, are skipped). It walks at most `budget` members,
# so a long run of old dead letters never blocks Redis for long: the client calls again
# from the rank returned. The caller compares the sizes (see RedisOutbox.outbox_summary).
# KEYS: outbox, dead, outbox_born. ARGV: start rank, budget, page size.
# Returns {pending, dead, indexed, oldest created ('' if none found), next rank (-1: the
# walk is over, found or not)}.
OUTBOX_SUMMARY = """
local pending = redis.call('ZCARD', KEYS[1])
local dead = redis.call('ZCARD', KEYS[2])
local indexed = redis.call('ZCARD', KEYS[3])
if pending == 0 then return {pending, dead, indexed, '', -1} end
local rank = tonumber(ARGV[1])
local stop, page = rank + tonumber(ARGV[2]), tonumber(ARGV[3])
while rank < stop do
  local items = redis.call('ZRANGE', KEYS[3], rank, math.min(rank + page, stop) - 1,
                           'WITHSCORES')
  if #items == 0 then return {pending, dead, indexed, '', -1} end
  for i = 1, #items, 2 do
    if redis.call('ZSCORE', KEYS[1], items[i]) then
      return {pending, dead, indexed, items[i + 1], -1}
    end
  end
  rank = rank + #items / 2
end
return {pending, dead, indexed, '', rank}
"""

# SendSlots.reserve_send. Atomically: if the channel's slot is open at now, take it (the
# next one opens at ARGV[2]); so one slot goes to one caller.
# KEYS: send slot. ARGV: now, next opening if taken, ttl ms. Returns '' if taken, else the opening.
RESERVE_SEND = """
local opens = redis.call('GET', KEYS[1])
if opens and tonumber(opens) > tonumber(ARGV[1]) then return opens end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return ''
"""


# ArticleArchive.archive_articles. Atomically: upsert each entry (the article replaces the
# stored one, the time is the larger of the two, a story id "" keeps the stored one), then
# drop the entries archived before the cutoff and, of the rest, all but the newest `max`
# (lowest rank first: by time, then member bytes), from the sorted set and both hashes;
# then every key lives ttl ms more (real time), so an archive no longer written to expires.
# Never called with archiving off (the caller returns first).
# KEYS: archive, archive_articles, archive_stories.
# ARGV: cutoff, max, ttl ms, then member, archived_at, story id, article JSON of each entry.
# Returns how many entries were dropped.
ARCHIVE_ARTICLES = """
for i = 4, #ARGV, 4 do
  local member, at = ARGV[i], ARGV[i + 1]
  local old = redis.call('ZSCORE', KEYS[1], member)
  if not old or tonumber(old) < tonumber(at) then redis.call('ZADD', KEYS[1], at, member) end
  redis.call('HSET', KEYS[2], member, ARGV[i + 3])
  if ARGV[i + 2] ~= '' then redis.call('HSET', KEYS[3], member, ARGV[i + 2]) end
end
local dropped = 0
local function drop(members)
  for _, member in ipairs(members) do
    redis.call('ZREM', KEYS[1], member)
    redis.call('HDEL', KEYS[2], member)
    redis.call('HDEL', KEYS[3], member)
    dropped = dropped + 1
  end
end
drop(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1]))
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[2])
if excess > 0 then drop(redis.call('ZRANGE', KEYS[1], 0, excess - 1)) end
for k = 1, 3 do redis.call('PEXPIRE', KEYS[k], ARGV[3]) end
return dropped
"""

# StoryIndex.assign_story. Atomically: find the article's live story, else the best verified
# candidate under its bands (and list the member there, and index its fingerprint unless the
# story has max fingerprints or it is a near copy), else start a story; so two copies
# assigned at once never start two stories. See StoryIndex.assign_story for the rule and
# story_rules.pick_story for the same rule in Python; the sketch comparison is
# story_rules.sketch_similarity's, on numbers (never on strings: Lua compares strings by
# locale). A story's first fingerprint is in story_sketch/story_anchors (as stored by every
# version), its later ones in story_fingerprints (encode_fingerprint records, counted only
# while story_fingerprints_until says they belong to a live story). Ended stories are purged
# a few at a time (ARGV[11]), so the hashes stay bounded.
# KEYS: story_until, story_sketch, story_anchors, story_members, story_article(id),
# story_fingerprints, story_fingerprints_until, then story_band(band) for each band.
# ARGV: now, article id, member JSON line, sketch, anchors (one per line), min similarity,
# until if new, ttl ms, max members, sketch words, purge limit, first-article floor
# (min similarity * FIRST_FLOOR), near copy, max fingerprints, the article's fingerprint
# record. Returns {story id, members, until}.
ASSIGN_STORY = """
local now = tonumber(ARGV[1])
local ended = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[11]))
for _, id in ipairs(ended) do
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
  redis.call('ZREM', KEYS[1], id)
end
ended = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[11]))
for _, id in ipairs(ended) do
  redis.call('HDEL', KEYS[6], id)
  redis.call('ZREM', KEYS[7], id)
end
local function until_of(id)
  local u = redis.call('ZSCORE', KEYS[1], id)
  if u and tonumber(u) > now then return tonumber(u) end
  return nil
end
local known = redis.call('GET', KEYS[5])
if known and until_of(known) then
  return {known, redis.call('HGET', KEYS[4], known) or '', redis.call('ZSCORE', KEYS[1], known)}
end
local function words(s)
  local out = {}
  for i = 1, #s - 3, 4 do
    local a, b, c, d = string.byte(s, i, i + 3)
    out[#out + 1] = ((a * 256 + b) * 256 + c) * 256 + d
  end
  return out
end
local function later_fingerprints(id)
  local out, u = {}, redis.call('ZSCORE', KEYS[7], id)
  if not u or tonumber(u) <= now then return out end
  local s, pos = redis.call('HGET', KEYS[6], id) or '', 1
  while pos + 3 <= #s do
    local n = words(string.sub(s, pos, pos + 3))[1]
    local sketch = string.sub(s, pos + 4, pos + 3 + n)
    pos = pos + 4 + n
    local m = words(string.sub(s, pos, pos + 3))[1] or 0
    out[#out + 1] = {sketch, string.sub(s, pos + 4, pos + 3 + m)}
    pos = pos + 4 + m
  end
  return out
end
local function similarity(x, y, k)
  local i, j, compared, shared = 1, 1, 0, 0
  while compared < k and (i <= #x or j <= #y) do
    local a, b = x[i], y[j]
    if a ~= nil and b ~= nil and a == b then
      shared = shared + 1
      i, j = i + 1, j + 1
    elseif b == nil or (a ~= nil and a < b) then
      i = i + 1
    else
      j = j + 1
    end
    compared = compared + 1
  end
  return shared, compared
end
local function bytes_less(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local mine, has_anchors = {}, false
for a in string.gmatch(ARGV[5], '[^\\n]+') do mine[a], has_anchors = true, true end
local function agree(theirs)
  if not has_anchors or theirs == '' then return true end
  for a in string.gmatch(theirs, '[^\\n]+') do
    if mine[a] then return true end
  end
  return false
end
local probe, min_sim, k = words(ARGV[4]), tonumber(ARGV[6]), tonumber(ARGV[10])
local floor, near, max_prints = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local best, best_shared, best_compared, best_until, best_count = nil, 0, 1, 0, 0
local tried = {}
for i = 8, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[1])
  for _, id in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do
    local u = not tried[id] and until_of(id)
    tried[id] = true
    local shared, compared = 0, 0
    if u and agree(redis.call('HGET', KEYS[3], id) or '') then
      shared, compared = similarity(probe, words(redis.call('HGET', KEYS[2], id) or ''), k)
    end
    if compared > 0 and shared >= floor * compared then
      local s, c, count = nil, nil, 1
      if shared >= min_sim * compared then s, c = shared, compared end
      for _, fp in ipairs(later_fingerprints(id)) do
        count = count + 1
        if agree(fp[2]) then
          local sh, co = similarity(probe, words(fp[1]), k)
          if co > 0 and sh >= min_sim * co and (s == nil or sh * c > s * co) then
            s, c = sh, co
          end
        end
      end
      if s then
        local l, r = s * best_compared, best_shared * c
        if best == nil or l > r or (l == r and (u < best_until
            or (u == best_until and bytes_less(id, best)))) then
          best, best_shared, best_compared, best_until, best_count = id, s, c, u, count
        end
      end
    end
  end
end
local function index_bands(id, score)
  for i = 8, #KEYS do
    redis.call('ZADD', KEYS[i], score, id)
    if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[8]) then
      redis.call('PEXPIRE', KEYS[i], ARGV[8])
    end
  end
end
if best then
  local members = redis.call('HGET', KEYS[4], best) or ''
  local _, lines = string.gsub(members, '\\n', '')
  if lines + 1 < tonumber(ARGV[9]) then
    members = members .. '\\n' .. ARGV[3]
    redis.call('HSET', KEYS[4], best, members)
  end
  local score = redis.call('ZSCORE', KEYS[1], best)
  if best_count < max_prints and best_shared < near * best_compared then
    local prints = ''
    if best_count > 1 then prints = redis.call('HGET', KEYS[6], best) or '' end
    redis.call('HSET', KEYS[6], best, prints .. ARGV[15])
    redis.call('ZADD', KEYS[7], score, best)
    index_bands(best, score)
  end
  redis.call('SET', KEYS[5], best, 'PX', ARGV[8])
  return {best, members, score}
end
local id = ARGV[2]
redis.call('ZADD', KEYS[1], ARGV[7], id)
redis.call('HSET', KEYS[2], id, ARGV[4])
redis.call('HSET', KEYS[3], id, ARGV[5])
redis.call('HSET', KEYS[4], id, ARGV[3])
redis.call('HDEL', KEYS[6], id)
redis.call('ZREM', KEYS[7], id)
index_bands(id, ARGV[7])
redis.call('SET', KEYS[5], id, 'PX', ARGV[8])
return {id, ARGV[3], redis.call('ZSCORE', KEYS[1], id)}
"""
