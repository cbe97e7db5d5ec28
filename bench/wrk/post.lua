-- post.lua: one fixed price request per exchange, keep-alive.
--
--   wrk -t1 -c100 -d5s -s bench/wrk/post.lua http://127.0.0.1:8000/api/v1/price
--
-- The request is static (no request() function), so wrk builds it once and
-- spends no Lua time per request: the load generator stays as cheap as it
-- can be. No response() function either, for the same reason; wrk still
-- counts non-2xx replies (status_errors).

wrk.method = "POST"
wrk.body = '{"product_id":"P-500","user_location":"NY","is_prime_member":true}'
wrk.headers["Content-Type"] = "application/json"

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
