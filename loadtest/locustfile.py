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

`python3 loadtest/locustfile.py` (without Locust) checks the reply
checker on a few bodies.
"""

import os
import random
from decimal import Decimal, ROUND_HALF_EVEN

PRODUCTS = (100, 999)
LOCATIONS = ("NY", "LA", "MIA")
MULTIPLIERS = {"NY": Decimal("1.10"), "LA": Decimal("1.05"), "MIA": Decimal("0.95")}
MEMBER_DISCOUNT = Decimal("0.05")
STRICT = os.environ.get("LOADTEST_STRICT", "1") not in ("0", "false", "no")


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


try:
    from locust import HttpUser, between, task
except ImportError:  # the checker stays usable without Locust
    HttpUser = None

if HttpUser is not None:

    class PricingUser(HttpUser):
        """One classic user: price, think 0.5-2 s, repeat."""

        wait_time = between(0.5, 2)

        @task
        def price(self):
            product = random.randint(*PRODUCTS)
            location = random.choice(LOCATIONS)
            member = random.random() < 0.5
            payload = {"product_id": "P-%d" % product, "user_location": location, "is_prime_member": member}
            with self.client.post("/api/v1/price", json=payload, name="/api/v1/price", catch_response=True) as resp:
                if resp.status_code != 200:
                    resp.failure("status %d" % resp.status_code)
                    return
                try:
                    body = resp.json()
                except ValueError:
                    resp.failure("body is not JSON")
                    return
                why = check_quote(body, product, location, member)
                if why:
                    resp.failure(why)
                else:
                    resp.success()


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
    print("%d passed, %d failed" % (len(cases) - failed, failed))
    raise SystemExit(1 if failed else 0)
