-- batch.lua: one fixed batch of N price items per exchange (default 20),
-- keep-alive, to POST /api/v1/prices.
--
--   wrk -t1 -c100 -d5s -s bench/wrk/batch.lua http://127.0.0.1:8000/api/v1/prices -- 20
--
-- Item i is product P-(100+i) in NY, LA or MIA (i mod 3), a member when i
-- is even: distinct products, every one in the default catalog, so every
-- item is priced (bench/cmd/benchrun checks one reply before measuring;
-- wrk itself only sees the status, 200 even for a bad item). The body is
-- set in init and there is no request() function, so wrk builds the
-- request once, as for post.lua: no Lua work per request.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function init(args)
  local n = tonumber(args[1]) or 20
  if n < 1 then n = 1 end
  local locs = { "NY", "LA", "MIA" }
  local items = {}
  for i = 0, n - 1 do
    items[#items + 1] = string.format('{"product_id":"P-%d","user_location":"%s","is_prime_member":%s}',
      100 + i, locs[i % 3 + 1], tostring(i % 2 == 0))
  end
  wrk.body = '{"items":[' .. table.concat(items, ",") .. ']}'
end

-- done (from benchjson.lua, next to this script) prints the
-- machine-readable summary line bench/cmd/benchrun reads.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "benchjson.lua")
