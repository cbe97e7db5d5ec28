-- pipeline.lua: the fixed price request, pipelined DEPTH deep (default 16).
--
--   wrk -t1 -c100 -d5s -s bench/wrk/pipeline.lua http://127.0.0.1:8000/api/v1/price -- 16
--
-- Every write carries DEPTH requests back to back; wrk reads DEPTH replies
-- before writing again.

local batch

function init(args)
  local depth = tonumber(args[1]) or 16
  if depth < 1 then depth = 1 end
  local one = wrk.format("POST", nil, { ["Content-Type"] = "application/json" },
    '{"product_id":"P-500","user_location":"NY","is_prime_member":true}')
  batch = string.rep(one, depth)
end

function request()
  return batch
end

-- done (from benchjson.lua, next to this script) prints the
-- machine-readable summary line bench/cmd/benchrun reads.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "benchjson.lua")
