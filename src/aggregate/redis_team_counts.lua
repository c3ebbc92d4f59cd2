#!lua
-- Adds what a team's rollups did not keep before to one team's (once; see
-- src/aggregate/redis_team_build.rs): its headline counts (`total`, `bots`, `last`) and the
-- ranking of its codes (`{p}team:{id}:codes`). `total` is the sum of the team's all-time
-- device counts (every headline scan counts under one device, a deleted code's too), `bots` the
-- sum of its codes' and `last` the newest of theirs; each code is ranked by its total. Written
-- over whatever the fields and ranks held, in one atomic call: a batch counted before it is in
-- the sums, and one counted after it adds to the result.
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
local ranking = {}
for i = 3, #ARGV do
  local code = redis.call('HMGET', prefix .. 'qr:' .. ARGV[i] .. ':counts', 'bots', 'last', 'total')
  bots = bots + (tonumber(code[1]) or 0)
  local time = tonumber(code[2])
  if time and (last == nil or time > last) then last, last_s = time, code[2] end
  if tonumber(code[3] or 0) > 0 then
    ranking[#ranking + 1] = '-' .. code[3]
    ranking[#ranking + 1] = ARGV[i]
  end
end

local out = {'total', string.format('%d', total), 'bots', string.format('%d', bots)}
if last_s then
  out[#out + 1] = 'last'
  out[#out + 1] = last_s
end
redis.call('HSET', k, unpack(out))
-- The ranking of its codes, as redis_apply.lua keeps it (scored by minus the total).
for i = 1, #ranking, 1000 do
  redis.call('ZADD', prefix .. 'team:' .. team .. ':codes',
             unpack(ranking, i, math.min(i + 999, #ranking)))
end
return 1
