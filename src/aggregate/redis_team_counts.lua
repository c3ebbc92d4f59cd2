#!lua
-- Adds the headline counts a team's rollups did not keep before (`total`, `bots`, `last`) to one
-- team's counts (once; see src/aggregate/redis_team_build.rs): `total` is the sum of the team's
-- all-time device counts (every headline scan counts under one device, a deleted code's too),
-- `bots` the sum of its codes' and `last` the newest of theirs. Written over whatever the fields
-- held, in one atomic call: a batch counted before it is in the sums, and one counted after it
-- adds to the result.
--
-- ARGV  prefix, team id, then the team's code ids.
local prefix, team = ARGV[1], ARGV[2]
local k = prefix .. 'team:' .. team .. ':counts'

local total = 0
local fields = redis.call('HGETALL', k)
for j = 1, #fields, 2 do
  if string.sub(fields[j], 1, 7) == 'device:' then total = total + tonumber(fields[j + 1]) end
end
local bots, last, last_s = 0, nil, nil
for i = 3, #ARGV do
  local code = redis.call('HMGET', prefix .. 'qr:' .. ARGV[i] .. ':counts', 'bots', 'last')
  bots = bots + (tonumber(code[1]) or 0)
  local time = tonumber(code[2])
  if time and (last == nil or time > last) then last, last_s = time, code[2] end
end

local out = {'total', string.format('%d', total), 'bots', string.format('%d', bots)}
if last_s then
  out[#out + 1] = 'last'
  out[#out + 1] = last_s
end
redis.call('HSET', k, unpack(out))
return 1
