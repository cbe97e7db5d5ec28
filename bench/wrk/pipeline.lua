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

-- done prints one machine-readable line for bench/cmd/benchrun: counts,
-- the run time and latency percentiles in microseconds.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCHJSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d,\"connect_errors\":%d,\"read_errors\":%d,\"write_errors\":%d,\"status_errors\":%d,\"timeouts\":%d,\"p50_us\":%d,\"p90_us\":%d,\"p95_us\":%d,\"p99_us\":%d,\"max_us\":%d,\"mean_us\":%.1f}\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
