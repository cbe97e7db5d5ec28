-- post-random.lua: one price request per exchange, keep-alive, for a
-- random product of the embedded catalog (P-0 .. P-9999) and a random
-- location (one of them unknown, so the default market is read too).
--
--   wrk -t1 -c100 -d5s -s bench/wrk/post-random.lua http://127.0.0.1:8000/api/v1/price
--
-- Used by bench/cmd/storebench: with a store, a fixed request would let
-- every lookup share one key (coalesced reads), which no real load does.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local locations = { "NY", "LA", "MIA", "SF", "CHI", "ZZ" }

request = function()
  local body = string.format('{"product_id":"P-%d","user_location":"%s","is_prime_member":true}',
    math.random(0, 9999), locations[math.random(1, #locations)])
  return wrk.format(nil, nil, nil, body)
end
