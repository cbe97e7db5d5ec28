"""Classic pricing-engine workload for Locust.

Each user waits 0.5-2 s between POST /api/v1/price calls for a random
product P-100..P-999, location NY/LA/MIA and member flag. A reply fails
unless it is a 200 whose body echoes the product, says source "live",
has discount_rate 0.05 exactly for members (else 0) and a final_price of
round(base_price * market_multiplier * (1 - discount_rate), 2) within half
a cent. With LOADTEST_STRICT=1 (the default) base_price and
market_multiplier are also checked against the default catalog
(49.99 + n mod 10; NY 1.10, LA 1.05, MIA 0.95); set LOADTEST_STRICT=0
for other catalogs.

Headless, 30 s, against a local server (loopback only):

    locust -f loadtest/locustfile.py --headless -u 200 -r 50 -t 30s \
        --host http://127.0.0.1:8000 --only-summary

Batch workload: with LOADTEST_BATCH=N (1..100; default 0, single
requests) each task is one POST /api/v1/prices of N items, each drawn as a
single request is; the batch fails unless it is a 200 whose "items" hold
one result per item, in order, each passing the check above (an
{"error":...} item fails it). Locust's table then counts batches; at the
end the file prints the items, the items that passed and the items per
second ("batch items: ...").

    LOADTEST_BATCH=20 python3 -m locust -f loadtest/locustfile.py --headless \
        -u 50 -r 50 -t 30s --host http://127.0.0.1:8000 --only-summary

`python3 loadtest/locustfile.py` (without Locust) checks the reply
checkers on a few bodies.
"""

import os
import random
import time
from decimal import Decimal, ROUND_HALF_EVEN

PRODUCTS = (100, 999)
LOCATIONS = ("NY", "LA", "MIA")
MULTIPLIERS = {"NY": Decimal("1.10"), "LA": Decimal("1.05"), "MIA": Decimal("0.95")}
MEMBER_DISCOUNT = Decimal("0.05")
STRICT = os.environ.get("LOADTEST_STRICT", "1") not in ("0", "false", "no")
MAX_BATCH = 100


def batch_size(text):
    """Items per request from LOADTEST_BATCH's text: 0 (single) .. MAX_BATCH."""
    try:
        n = int(text or "0")
    except ValueError:
        raise SystemExit("LOADTEST_BATCH=%r is not a number of items (0..%d)" % (text, MAX_BATCH))
    if not 0 <= n <= MAX_BATCH:
        raise SystemExit("LOADTEST_BATCH=%d is out of range 0..%d" % (n, MAX_BATCH))
    return n


BATCH = batch_size(os.environ.get("LOADTEST_BATCH"))


def dec(v):
    """Decimal of a JSON number as written (floats go through repr)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError("not a number: %r" % (v,))
    return Decimal(repr(v)) if isinstance(v, float) else Decimal(v)


def check_quote(body, product, location, member, strict=STRICT):
    """Return None if body (decoded JSON) answers the request, else why not."""
    if not isinstance(body, dict):
        return "body is not an object"
    for k in ("product_id", "final_price", "base_price", "market_multiplier", "discount_rate", "source"):
        if k not in body:
            return "missing " + k
    if body["product_id"] != "P-%d" % product:
        return "product_id %r does not echo P-%d" % (body["product_id"], product)
    if body["source"] != "live":
        return "source %r is not live" % (body["source"],)
    try:
        final, base = dec(body["final_price"]), dec(body["base_price"])
        mult, disc = dec(body["market_multiplier"]), dec(body["discount_rate"])
    except ValueError as e:
        return str(e)
    if disc != (MEMBER_DISCOUNT if member else Decimal(0)):
        return "discount_rate %s for member=%s" % (disc, member)
    want = (base * mult * (1 - disc)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    if abs(final - base * mult * (1 - disc)) > Decimal("0.005"):
        return "final_price %s, want %s" % (final, want)
    if strict:
        if base != Decimal("49.99") + product % 10:
            return "base_price %s, catalog says %s" % (base, Decimal("49.99") + product % 10)
        if mult != MULTIPLIERS[location]:
            return "market_multiplier %s, catalog says %s" % (mult, MULTIPLIERS[location])
    return None


def check_batch(body, items, strict=STRICT):
    """Return (bad, why): how many of items (product, location, member)
    the decoded batch reply body fails, and why the first one failed (None
    when all passed). A body that is not {"items": [...]} with one result
    per item fails them all."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return len(items), 'body is not {"items": [...]}'
    got = body["items"]
    if len(got) != len(items):
        return len(items), "%d results for %d items" % (len(got), len(items))
    bad, first = 0, None
    for i, (res, item) in enumerate(zip(got, items)):
        if isinstance(res, dict) and "error" in res:
            why = "answered %r" % (res["error"],)
        else:
            why = check_quote(res, *item, strict=strict)
        if why:
            bad += 1
            if first is None:
                first = "item %d: %s" % (i, why)
    return bad, first


def draw():
    """One request's parameters: product number, location, member flag."""
    return random.randint(*PRODUCTS), random.choice(LOCATIONS), random.random() < 0.5


def payload(product, location, member):
    return {"product_id": "P-%d" % product, "user_location": location, "is_prime_member": member}


def json_reply(resp):
    """(body, True) for a 200 reply with a JSON body; else (None, False)
    after marking the request failed (resp is a catch_response reply)."""
    if resp.status_code != 200:
        resp.failure("status %d" % resp.status_code)
        return None, False
    try:
        return resp.json(), True
    except ValueError:
        resp.failure("body is not JSON")
        return None, False


try:
    from locust import HttpUser, between, events, task
except ImportError:  # the checker stays usable without Locust
    HttpUser = None

if HttpUser is not None:

    class PricingUser(HttpUser):
        """One classic user: price, think 0.5-2 s, repeat."""

        wait_time = between(0.5, 2)

        @task
        def price(self):
            if BATCH:
                self.price_batch()
                return
            product, location, member = draw()
            with self.client.post("/api/v1/price", json=payload(product, location, member), name="/api/v1/price", catch_response=True) as resp:
                body, ok = json_reply(resp)
                if not ok:
                    return
                why = check_quote(body, product, location, member)
                if why:
                    resp.failure(why)
                else:
                    resp.success()

        def price_batch(self):
            """One batch of BATCH items, every item checked."""
            items = [draw() for _ in range(BATCH)]
            req = {"items": [payload(*it) for it in items]}
            with self.client.post("/api/v1/prices", json=req, name="/api/v1/prices (batch of %d)" % BATCH, catch_response=True) as resp:
                ITEMS["answered"] += BATCH
                body, ok = json_reply(resp)
                if not ok:
                    return
                bad, why = check_batch(body, items)
                ITEMS["passed"] += BATCH - bad
                if why:
                    resp.failure("%d of %d items bad; %s" % (bad, BATCH, why))
                else:
                    resp.success()

    # Items of the batch workload, counted by this process (Locust runs
    # users as greenlets of one thread: no lock needed).
    ITEMS = {"answered": 0, "passed": 0, "start": None}

    @events.test_start.add_listener
    def _batch_start(**_kw):
        ITEMS.update(answered=0, passed=0, start=time.monotonic())

    @events.test_stop.add_listener
    def _batch_report(**_kw):
        if BATCH and ITEMS["start"] is not None:
            secs = max(time.monotonic() - ITEMS["start"], 1e-9)
            print("batch items: %d answered in batches of %d, %d passed the check, %.1f items/s over %.1f s"
                  % (ITEMS["answered"], BATCH, ITEMS["passed"], ITEMS["answered"] / secs, secs))


if __name__ == "__main__":
    good = {"product_id": "P-123", "final_price": 47.82, "base_price": 52.99,
            "market_multiplier": 0.95, "discount_rate": 0.05, "source": "live"}
    cases = [
        (good, True, None),
        (dict(good, final_price=45.12), True, "final_price"),
        (dict(good, product_id="P-124"), True, "product_id"),
        (dict(good, source="cache"), True, "source"),
        (dict(good, discount_rate=0), True, "discount_rate"),
        (dict(good, base_price=52.63, final_price=47.5), True, "base_price"),
        (dict(good, base_price=52.63, final_price=47.5), False, None),
        (dict(good, final_price="47.82"), True, "not a number"),
    ]
    failed = 0
    for body, strict, want in cases:
        got = check_quote(body, 123, "MIA", True, strict)
        ok = got is None if want is None else (got is not None and want in got)
        if not ok:
            failed += 1
            print("FAIL: %r strict=%s: got %r, want %r" % (body, strict, got, want))
    # Batches: P-123 MIA member (good above) and P-100 NY non-member
    # (49.99 x 1.10 = 54.989 -> 54.99).
    other = {"product_id": "P-100", "final_price": 54.99, "base_price": 49.99,
             "market_multiplier": 1.1, "discount_rate": 0, "source": "live"}
    items = [(123, "MIA", True), (100, "NY", False)]
    err = {"error": {"status": 404, "detail": "unknown product_id \"P-100\""}}
    batch_cases = [
        ({"items": [good, other]}, 0, None),
        ({"items": [good, err]}, 1, "item 1: answered"),
        ({"items": [other, good]}, 2, "item 0: product_id"),
        ({"items": [good, dict(other, final_price=54.98)]}, 1, "item 1: final_price"),
        ({"items": [good]}, 2, "1 results for 2 items"),
        ({"detail": "invalid JSON"}, 2, "not {"),
        ([good, other], 2, "not {"),
    ]
    for body, want_bad, want in batch_cases:
        bad, why = check_batch(body, items, True)
        ok = bad == want_bad and (why is None if want is None else (why is not None and want in why))
        if not ok:
            failed += 1
            print("FAIL: batch %r: got %d bad, %r; want %d, %r" % (body, bad, why, want_bad, want))
    import json

    class Reply:
        def __init__(self, status, text):
            self.status_code, self.text, self.failed = status, text, None

        def json(self):
            return json.loads(self.text)

        def failure(self, why):
            self.failed = why
    for status, text, want_ok, want_fail in ((200, '{"a":1}', True, None), (200, "null", True, None),
                                             (503, '{"detail":"x"}', False, "status 503"), (200, "<html>", False, "not JSON")):
        r = Reply(status, text)
        _, ok = json_reply(r)
        if ok != want_ok or (want_fail is None) != (r.failed is None) or (want_fail and want_fail not in r.failed):
            failed += 1
            print("FAIL: json_reply(%d %r): ok %s, failure %r" % (status, text, ok, r.failed))
    for text, want in (("", 0), ("20", 20), ("100", 100)):
        if batch_size(text) != want:
            failed += 1
            print("FAIL: batch_size(%r) != %d" % (text, want))
    for text in ("101", "-1", "x"):
        try:
            batch_size(text)
            failed += 1
            print("FAIL: batch_size(%r) accepted" % (text,))
        except SystemExit:
            pass
    cases += batch_cases + [None] * (6 + 4)  # batch_size and json_reply cases
    print("%d passed, %d failed" % (len(cases) - failed, failed))
    raise SystemExit(1 if failed else 0)
