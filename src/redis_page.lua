-- A page of a sorted set in (score, member) order, starting just past a position, in one call so
-- that the position and the page are read from the same state of the set.
-- KEYS[1]: the set. ARGV: the position's score and member, how many members, "asc" or "desc".
-- Returns member, score, member, score, ... in the page's direction.
local key, score, member = KEYS[1], ARGV[1], ARGV[2]
local count, desc = tonumber(ARGV[3]), ARGV[4] == 'desc'

-- a < b byte by byte, as Redis orders members of one score (Lua's < on strings follows the
-- server's locale).
local function less(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local function at(rank, last)
  if desc then
    return redis.call('ZRANGE', key, rank, last, 'REV', 'WITHSCORES')
  end
  return redis.call('ZRANGE', key, rank, last, 'WITHSCORES')
end

-- The members of exactly this score hold the ranks [first, last) in the page's direction.
local first, last
if desc then
  first = redis.call('ZCOUNT', key, '(' .. score, '+inf')
  last = redis.call('ZCOUNT', key, score, '+inf')
else
  first = redis.call('ZCOUNT', key, '-inf', '(' .. score)
  last = redis.call('ZCOUNT', key, '-inf', score)
end
-- Among them, the first past the member (greater ascending, smaller descending): a binary search,
-- as one score may hold many members (codes imported in one millisecond).
while first < last do
  local mid = math.floor((first + last) / 2)
  local m = at(mid, mid)[1]
  local past
  if desc then past = less(m, member) else past = less(member, m) end
  if past then last = mid else first = mid + 1 end
end
if count <= 0 then return {} end
return at(first, first + count - 1)
