-- classic.lua: the classic pricing workload for wrk, one request at a time
-- (random products and markets; bench/wrk/post.lua is the fixed request the
-- benchmarks use, pipeline.lua the same pipelined).
--
--   wrk -t1 -c256 -d30s -s bench/wrk/classic.lua http://127.0.0.1:8000/api/v1/price
--   wrk2 -t1 -c256 -d30s -R20000 -s bench/wrk/classic.lua http://127.0.0.1:8000/api/v1/price
--
-- Each request prices a random product P-100..P-999 at NY, LA or MIA for a
-- member half of the time. wrk counts non-2xx replies itself; this script
-- also counts replies whose body lacks "source":"live" and prints both.
-- wrk has no think time: this is a throughput test, not the classic
-- closed-loop acceptance test (use cmd/loadtest for that).

local locations = { "NY", "LA", "MIA" }
local path = "/api/v1/price"
local headers = { ["Content-Type"] = "application/json" }

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad_body = 0
  non_200 = 0
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
end

function request()
  local body = string.format('{"product_id":"P-%d","user_location":"%s","is_prime_member":%s}',
    math.random(100, 999), locations[math.random(1, #locations)],
    math.random() < 0.5 and "true" or "false")
  return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, body)
  if status ~= 200 then
    non_200 = non_200 + 1
  elseif not string.find(body, '"source":"live"', 1, true) then
    bad_body = bad_body + 1
  end
end

function done(summary, latency, requests)
  local nb, bb = 0, 0
  for _, t in ipairs(threads) do
    nb = nb + t:get("non_200")
    bb = bb + t:get("bad_body")
  end
  io.write(string.format("non-200 replies: %d, bad bodies: %d, socket errors: %d\n", nb, bb,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  for _, p in ipairs({ 50, 90, 95, 99, 99.9 }) do
    io.write(string.format("p%-5s %8.2f ms\n", tostring(p), latency:percentile(p) / 1000))
  end
end
