#!lua
-- Applies one batch of scan events atomically: the key layout and the reasons are in
-- src/aggregate/redis.rs, which builds the arguments.
--
-- KEYS[1]  the offsets hash of (topic, group)
-- ARGV     prefix, now, cutoff, retention (ms), D, N, then D pairs (day number, 'YYYY-MM-DD'),
--          then N events of EVENT_FIELDS values: partition, offset, eventId, qrId, scanTime,
--          kind ('0' counted, '1' bot, 'h' HEAD), JSON, local day number, visitor key, team id
--          ('' for an orphan scan: in no team's rollups), then one value per DIMS; a bot's or a
--          HEAD request's day, visitor and values are ''.
--
-- Redis calls dominate the cost (a few microseconds each, far more than the Lua around them),
-- so the script makes a handful per code touched and none per event: ids are checked with one
-- ZMSCORE, all counters of a code are one hash read with HMGET and written back with one HSET,
-- and key expiries are set only when they change (remembered in the counts hash).
local EVENT_FIELDS = 16
local CHUNK = 1000 -- even, so that field/value pairs are never split
local DIMS = {'country', 'city', 'device', 'browser', 'os', 'referrer'}
local BUCKET = 300000
local DAY = 86400000
local LOCAL_DAY_END = 2 * DAY -- every zone's day ends within two days of its UTC midnight
local TRIM_EVERY = 3600000

local offsets_key = KEYS[1]
local prefix = ARGV[1]
local now = tonumber(ARGV[2])
local cutoff = tonumber(ARGV[3])
local retention = tonumber(ARGV[4])
local ndays = tonumber(ARGV[5])
local n = tonumber(ARGV[6])
local dates = {}
for i = 0, ndays - 1 do dates[tonumber(ARGV[7 + 2 * i])] = ARGV[8 + 2 * i] end
local base = 6 + 2 * ndays

local function int(x) return string.format('%d', x) end

-- A variadic command over a long list, in chunks: unpack is limited by the Lua stack.
local function chunked(cmd, key, list)
  for i = 1, #list, CHUNK do
    redis.call(cmd, key, unpack(list, i, math.min(i + CHUNK - 1, #list)))
  end
end

-- Pass 1: drop what the partition's stored offset says was applied, group the rest by code,
-- dropping repeats of an id within the batch.
local stored, top, top_s = {}, {}, {}
local codes, order = {}, {}
for i = 0, n - 1 do
  local b = base + i * EVENT_FIELDS
  local partition = ARGV[b + 1]
  local offset = tonumber(ARGV[b + 2])
  local applied = stored[partition]
  if applied == nil then
    applied = tonumber(redis.call('HGET', offsets_key, partition) or '-1')
    stored[partition] = applied
  end
  if offset > applied then
    if top[partition] == nil or offset > top[partition] then
      top[partition] = offset
      top_s[partition] = ARGV[b + 2]
    end
    local qr = ARGV[b + 4]
    local c = codes[qr]
    if c == nil then
      c = {ids = {}, events = {}}
      codes[qr] = c
      order[#order + 1] = qr
    end
    local id = ARGV[b + 3]
    if not c.ids[id] then
      c.ids[id] = true
      c.events[#c.events + 1] = b
    end
  end
end

-- The events of a code not applied before: its event set remembers every id within retention.
local function fresh_events(events_key, candidates)
  local fresh = {}
  if #candidates == 1 then
    local b = candidates[1]
    if redis.call('ZADD', events_key, 'NX', ARGV[b + 5], ARGV[b + 3]) == 1 then fresh[1] = b end
    return fresh
  end
  for i = 1, #candidates, CHUNK do
    local j_end = math.min(i + CHUNK - 1, #candidates)
    local ids = {}
    for j = i, j_end do ids[#ids + 1] = ARGV[candidates[j] + 3] end
    local scores = redis.call('ZMSCORE', events_key, unpack(ids))
    for j = i, j_end do
      if not scores[j - i + 1] then fresh[#fresh + 1] = candidates[j] end
    end
  end
  local members = {}
  for _, b in ipairs(fresh) do
    members[#members + 1] = ARGV[b + 5]
    members[#members + 1] = ARGV[b + 3]
  end
  chunked('ZADD', events_key, members)
  return fresh
end

-- The teams' own rollups and headline counts, summed over the batch and written after the
-- codes' (pass 3).
local teams, team_order = {}, {}
local function team_rollup(team)
  local t = teams[team]
  if t == nil then
    t = {inc = {}, uniq = {}, buckets = {}, events = {}}
    teams[team] = t
    team_order[#team_order + 1] = team
  end
  return t
end

-- Pass 2: per code, store the new events and move its counters (and its team's).
local new = 0
for _, qr in ipairs(order) do
  local k = prefix .. 'qr:' .. qr
  local events_key = k .. ':events'
  local json_key = k .. ':events:json'
  local counts_key = k .. ':counts'
  local fresh = fresh_events(events_key, codes[qr].events)
  if #fresh > 0 then
    new = new + #fresh
    local inc, fields = {}, {'last', 'exp:events', 'exp:5m', 'exp:uniq', 'trimmed'}
    local function add(field)
      if inc[field] == nil then
        inc[field] = 0
        fields[#fields + 1] = field
      end
      inc[field] = inc[field] + 1
    end
    local json, uniq, buckets = {}, {}, {}
    local last, last_s, oldest, latest, code_team
    for _, b in ipairs(fresh) do
      local time = tonumber(ARGV[b + 5])
      -- 'last' is the newest counted or bot scan; a HEAD only keeps its event alive.
      if ARGV[b + 6] ~= 'h' and (last == nil or time > last) then last, last_s = time, ARGV[b + 5] end
      if latest == nil or time > latest then latest = time end
      if oldest == nil or time < oldest then oldest = time end
      json[#json + 1] = ARGV[b + 3]
      json[#json + 1] = ARGV[b + 7]
      if ARGV[b + 10] ~= '' then code_team = ARGV[b + 10] end
      local team = code_team and team_rollup(code_team) or nil
      if team then
        -- The team's list of its codes' events: 'qrId eventId' scored by scan time.
        team.events[#team.events + 1] = ARGV[b + 5]
        team.events[#team.events + 1] = qr .. ' ' .. ARGV[b + 3]
      end
      local function count(field)
        add(field)
        if team then team.inc[field] = (team.inc[field] or 0) + 1 end
      end
      if ARGV[b + 6] ~= 'h' and team and (team.last == nil or time > team.last) then
        team.last, team.last_s = time, ARGV[b + 5]
      end
      if ARGV[b + 6] == 'h' then
        -- A HEAD request: kept with the events, counted nowhere.
      elseif ARGV[b + 6] == '1' then
        count('bots')
      else
        count('total')
        local day = tonumber(ARGV[b + 8])
        count('day:' .. dates[day])
        for j, d in ipairs(DIMS) do count(d .. ':' .. ARGV[b + 10 + j]) end
        -- Keys already out of retention are not written (they would have no expiry).
        if day * DAY + LOCAL_DAY_END + retention > now then
          uniq[day] = uniq[day] or {}
          table.insert(uniq[day], ARGV[b + 9])
          if team then
            team.uniq[day] = team.uniq[day] or {}
            table.insert(team.uniq[day], ARGV[b + 9])
          end
        end
        local bucket = time - time % BUCKET
        local bucket_day = math.floor(bucket / DAY)
        if (bucket_day + 1) * DAY + retention > now then
          buckets[bucket_day] = buckets[bucket_day] or {}
          buckets[bucket_day][bucket] = (buckets[bucket_day][bucket] or 0) + 1
          if team then
            team.buckets[bucket_day] = team.buckets[bucket_day] or {}
            team.buckets[bucket_day][bucket] = (team.buckets[bucket_day][bucket] or 0) + 1
          end
        end
      end
    end
    chunked('HSET', json_key, json)

    -- The counters: one read, one write.
    local old = {}
    for i = 1, #fields, CHUNK do
      local part = redis.call('HMGET', counts_key, unpack(fields, i, math.min(i + CHUNK - 1, #fields)))
      for j = 1, #part do old[i + j - 1] = part[j] end
    end
    local meta = {}
    for i = 1, 5 do
      if old[i] then meta[fields[i]] = tonumber(old[i]) end
    end
    local out, total = {}, nil
    for i = 6, #fields do
      out[#out + 1] = fields[i]
      out[#out + 1] = int((tonumber(old[i]) or 0) + inc[fields[i]])
      if fields[i] == 'total' then total = out[#out] end
    end
    -- The team's ranking of its codes: scored by minus the total, so that ZRANGE gives the most
    -- scanned first and, of as many, the smaller id.
    if total and code_team then
      redis.call('ZADD', prefix .. 'team:' .. code_team .. ':codes', '-' .. total, qr)
    end
    if last ~= nil and (meta['last'] == nil or last > meta['last']) then
      out[#out + 1] = 'last'
      out[#out + 1] = last_s
    else
      last = meta['last']
    end
    if last == nil or latest > last then last = latest end

    for day, visitors in pairs(uniq) do
      local key = k .. ':uniq:' .. dates[day]
      chunked('PFADD', key, visitors)
      if meta['exp:uniq'] ~= day then
        redis.call('PEXPIREAT', key, int(day * DAY + LOCAL_DAY_END + retention))
        out[#out + 1] = 'exp:uniq'
        out[#out + 1] = int(day)
      end
    end
    for day, counts in pairs(buckets) do
      local key = k .. ':5m:' .. dates[day]
      for bucket, count in pairs(counts) do redis.call('HINCRBY', key, int(bucket), count) end
      if meta['exp:5m'] ~= day then
        redis.call('PEXPIREAT', key, int((day + 1) * DAY + retention))
        out[#out + 1] = 'exp:5m'
        out[#out + 1] = int(day)
      end
    end

    -- Retention: at most CHUNK events per code and call, so a lowered retention cannot stall
    -- Redis; hourly per code, or at once when this batch brought an event already too old.
    local trimmed = false
    if oldest < cutoff or meta['trimmed'] == nil or now - meta['trimmed'] >= TRIM_EVERY then
      local gone = redis.call('ZRANGEBYSCORE', events_key, '-inf', '(' .. int(cutoff), 'LIMIT', 0, CHUNK)
      if #gone > 0 then
        redis.call('ZREM', events_key, unpack(gone))
        redis.call('HDEL', json_key, unpack(gone))
        trimmed = true
      end
      out[#out + 1] = 'trimmed'
      out[#out + 1] = int(now)
    end
    -- Both event keys expire a retention (and up to a day) after the code's newest scan, so
    -- the events of codes nobody scans any more go too. The expiry is moved once a day, not per
    -- batch. A trim may have emptied (deleted) the keys, and the next batch's writes recreate
    -- them without an expiry: so after a trim the expiry is forgotten and set again next time.
    local expiry = meta['exp:events']
    if trimmed or expiry == nil or expiry <= now or last + retention > expiry then
      expiry = int(last + retention + DAY)
      redis.call('PEXPIREAT', events_key, expiry)
      redis.call('PEXPIREAT', json_key, expiry)
      out[#out + 1] = 'exp:events'
      out[#out + 1] = trimmed and '0' or expiry
    end
    chunked('HSET', counts_key, out)
  end
end

-- Pass 3: the teams' rollups, the same counts as their codes', and their lists of events (one
-- more set of writes per team and batch). Their day keys' expiries are set with every write, not remembered as a code's are:
-- one more call per key and batch.
for _, team in ipairs(team_order) do
  local t = teams[team]
  local k = prefix .. 'team:' .. team
  for field, count in pairs(t.inc) do redis.call('HINCRBY', k .. ':counts', field, count) end
  if t.last then
    local last = tonumber(redis.call('HGET', k .. ':counts', 'last'))
    if last == nil or t.last > last then redis.call('HSET', k .. ':counts', 'last', t.last_s) end
  end
  for day, visitors in pairs(t.uniq) do
    local key = k .. ':uniq:' .. dates[day]
    chunked('PFADD', key, visitors)
    redis.call('PEXPIREAT', key, int(day * DAY + LOCAL_DAY_END + retention))
  end
  for day, counts in pairs(t.buckets) do
    local key = k .. ':5m:' .. dates[day]
    for bucket, count in pairs(counts) do redis.call('HINCRBY', key, int(bucket), count) end
    redis.call('PEXPIREAT', key, int((day + 1) * DAY + retention))
  end
  if #t.events > 0 then
    local key = k .. ':events'
    chunked('ZADD', key, t.events)
    -- Retention as a code's events (at most CHUNK a call), and an expiry a retention (and a day)
    -- after the team's last batch.
    local old = redis.call('ZCOUNT', key, '-inf', '(' .. int(cutoff))
    if old > 0 then redis.call('ZREMRANGEBYRANK', key, 0, math.min(old, CHUNK) - 1) end
    redis.call('PEXPIREAT', key, int(now + retention + DAY))
  end
end

for partition, offset in pairs(top_s) do redis.call('HSET', offsets_key, partition, offset) end
return new
