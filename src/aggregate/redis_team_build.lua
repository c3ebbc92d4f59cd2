#!lua
-- Builds one team's own rollups from its codes' (once, for codes counted before team rollups
-- existed; see src/aggregate/redis_team_build.rs): the sum of the codes' `day:` and dimension
-- counts, the union of their visitors per date and the sum of their 5-minute buckets. Written
-- over whatever the team's keys held, in one atomic call: a batch counted before it is in the
-- codes' counts it sums, and one counted after it adds to the result, so the answer is right
-- whichever ran first, and running it again changes nothing.
--
-- ARGV  prefix, team id, retention (ms), D, then D pairs (day number, 'YYYY-MM-DD'): the
--       days whose visitor and bucket keys may exist; then the team's code ids.
local CHUNK = 1000
local DAY = 86400000
local LOCAL_DAY_END = 2 * DAY -- as in redis_apply.lua
local COUNTED = {day = true, country = true, city = true, device = true, browser = true,
                 os = true, referrer = true}

local prefix, team = ARGV[1], ARGV[2]
local retention = tonumber(ARGV[3])
local ndays = tonumber(ARGV[4])
local day_of, date_of = {}, {}
for i = 0, ndays - 1 do
  local day, date = tonumber(ARGV[5 + 2 * i]), ARGV[6 + 2 * i]
  day_of[date], date_of[day] = day, date
end
local t = prefix .. 'team:' .. team

local function int(x) return string.format('%d', x) end

-- The codes' counts summed; per date, the codes with visitors that day (those with scans on it)
-- and the codes that may have buckets on it (a local date spans three UTC dates at most).
local sums, uniq_sources, bucket_sources = {}, {}, {}
local function add_source(sources, day, key)
  if date_of[day] then
    sources[day] = sources[day] or {}
    sources[day][key] = true
  end
end
for i = 5 + 2 * ndays, #ARGV do
  local k = prefix .. 'qr:' .. ARGV[i]
  local all = redis.call('HGETALL', k .. ':counts')
  for j = 1, #all, 2 do
    local field = all[j]
    local kind, value = string.match(field, '^([^:]+):(.*)$')
    if kind and COUNTED[kind] then
      sums[field] = (sums[field] or 0) + tonumber(all[j + 1])
      local day = kind == 'day' and day_of[value]
      if day then
        add_source(uniq_sources, day, k)
        for d = day - 1, day + 1 do add_source(bucket_sources, d, k) end
      end
    end
  end
end

redis.call('DEL', t .. ':counts')
local out = {}
for field, n in pairs(sums) do
  out[#out + 1] = field
  out[#out + 1] = int(n)
end
for i = 1, #out, CHUNK do
  redis.call('HSET', t .. ':counts', unpack(out, i, math.min(i + CHUNK - 1, #out)))
end

for day, date in pairs(date_of) do
  local uniq, buckets = t .. ':uniq:' .. date, t .. ':5m:' .. date
  redis.call('DEL', uniq, buckets)
  local keys = {}
  for k in pairs(uniq_sources[day] or {}) do keys[#keys + 1] = k .. ':uniq:' .. date end
  for i = 1, #keys, CHUNK do
    local part = {unpack(keys, i, math.min(i + CHUNK - 1, #keys))}
    if redis.call('EXISTS', unpack(part)) > 0 then redis.call('PFMERGE', uniq, unpack(part)) end
  end
  if redis.call('EXISTS', uniq) == 1 then
    redis.call('PEXPIREAT', uniq, int(day * DAY + LOCAL_DAY_END + retention))
  end
  local counts = {}
  for k in pairs(bucket_sources[day] or {}) do
    local all = redis.call('HGETALL', k .. ':5m:' .. date)
    for j = 1, #all, 2 do counts[all[j]] = (counts[all[j]] or 0) + tonumber(all[j + 1]) end
  end
  for bucket, n in pairs(counts) do redis.call('HINCRBY', buckets, bucket, n) end
  if next(counts) ~= nil then
    redis.call('PEXPIREAT', buckets, int((day + 1) * DAY + retention))
  end
end
return #ARGV - 4 - 2 * ndays
