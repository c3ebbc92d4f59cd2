#!lua
-- Adds codes' events to their team's list of events (`{p}team:{id}:events`), once for the events
-- kept before teams had one (see src/aggregate/redis_team_build.rs, which calls it for one code at
-- a time): every event id of each code, as `{qrId} {eventId}` scored by its scan time. A batch
-- applied before this call added its events to both; one after adds them to the list itself;
-- adding a member twice changes nothing. The list expires a retention (and a day) from now, as a
-- batch sets it.
--
-- ARGV  prefix, team id, retention (ms), then the code ids.
local CHUNK = 1000 -- even, so that score/member pairs are never split
local DAY = 86400000
local prefix, team = ARGV[1], ARGV[2]
local retention = tonumber(ARGV[3])
local first_code = 4
local key = prefix .. 'team:' .. team .. ':events'

local added = 0
for i = first_code, #ARGV do
  local qr = ARGV[i]
  local events = redis.call('ZRANGE', prefix .. 'qr:' .. qr .. ':events', 0, -1, 'WITHSCORES')
  local members = {}
  for j = 1, #events, 2 do
    members[#members + 1] = events[j + 1]
    members[#members + 1] = qr .. ' ' .. events[j]
    if #members == CHUNK then
      redis.call('ZADD', key, unpack(members))
      members = {}
    end
  end
  if #members > 0 then redis.call('ZADD', key, unpack(members)) end
  added = added + #events / 2
end
if added > 0 then
  local now = redis.call('TIME')
  local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  redis.call('PEXPIREAT', key, string.format('%d', now_ms + retention + DAY))
end
return added
