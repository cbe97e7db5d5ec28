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

-- done (from benchjson.lua, next to this script) prints the
-- machine-readable summary line bench/cmd/benchrun reads.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "benchjson.lua")
