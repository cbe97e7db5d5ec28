-- close.lua: one fixed price request per connection ("Connection: close";
-- wrk opens a new connection after each reply).
--
--   wrk -t1 -c100 -d5s -s bench/wrk/close.lua http://127.0.0.1:8000/api/v1/price

wrk.method = "POST"
wrk.body = '{"product_id":"P-500","user_location":"NY","is_prime_member":true}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Connection"] = "close"

-- done (from benchjson.lua, next to this script) prints the
-- machine-readable summary line bench/cmd/benchrun reads.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "benchjson.lua")
