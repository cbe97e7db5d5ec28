-- pipeline.lua: the classic pricing workload for wrk, pipelined.
--
--   wrk -t1 -c64 -d30s -s loadtest/wrk/pipeline.lua http://127.0.0.1:8000/api/v1/price -- 16
--
-- The argument after "--" is the pipelining depth (default 16): every write
-- carries that many POST requests with random products P-100..P-999,
-- locations NY/LA/MIA and member flags, drawn once per thread at start.
-- wrk reads one reply per request and counts non-2xx replies itself.

local locations = { "NY", "LA", "MIA" }
local path = "/api/v1/price"
local headers = { ["Content-Type"] = "application/json" }
local batch

function init(args)
  local depth = tonumber(args[1]) or 16
  if depth < 1 then depth = 1 end
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
  local reqs = {}
  for i = 1, depth do
    local body = string.format('{"product_id":"P-%d","user_location":"%s","is_prime_member":%s}',
      math.random(100, 999), locations[math.random(1, #locations)],
      math.random() < 0.5 and "true" or "false")
    reqs[i] = wrk.format("POST", path, headers, body)
  end
  batch = table.concat(reqs)
end

function request()
  return batch
end
