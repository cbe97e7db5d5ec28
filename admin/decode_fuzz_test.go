package admin

import (
	"encoding/json"
	"testing"

	"github.com/pricing-engine/pricing-engine/lookup"
)

// FuzzDecode feeds arbitrary bodies to every admin request decoder: none
// may panic, a value accepted must pass the one value check, and every
// refusal must encode as a JSON detail.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"base_price":"52.99"}`, `{"base_price":52.99}`, `{"multiplier":"1.10"}`, `{"version":"5"}`,
		`{"changes":[{"product_id":"P-1","base_price":"10.00","if_match":"3"},{"location":"NY","multiplier":"1.2","if_none_match":"*"}]}`,
		`{"changes":[{"product_id":"P-1","delete":true,"if_match":3}]}`, `{"base_price":"1e3"}`, `{"base_price":-0}`,
		`{"base_price":"1","base_price":"x"}`, `[`, ``, `null`, `{"changes":null}`, `{"changes":[1,"x",{}]}`,
		"{\"base_price\":\"\u00e9\"}", `{"version":"18446744073709551616"}`,
		`{"changes":[{"product_id":"P-1","base_price":"1","if_match":"*"},{"location":"NY","multiplier":2,"if_match":0},{"product_id":"P-2","delete":true,"if_match":"-1"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, kind := range []string{lookup.KindProduct, lookup.KindMarket} {
			v, errs, err := decodeValue(kind, body)
			if err == nil && len(errs) == 0 {
				if cerr := lookup.CheckValue(kind, v); cerr != nil {
					t.Fatalf("accepted %q for %s: %v", v, kind, cerr)
				}
			}
			mustEncode(t, errs)
		}
		if v, errs, err := decodeVersion(body); err == nil && len(errs) == 0 && v == 0 {
			t.Fatal("accepted version 0")
		} else {
			mustEncode(t, errs)
		}
		items, errs, err := decodeChanges(body)
		mustEncode(t, errs)
		if err == nil && len(errs) == 0 {
			if len(items) == 0 || len(items) > MaxChanges {
				t.Fatalf("accepted %d items", len(items))
			}
			for _, c := range items {
				mustEncode(t, c.errs)
				if len(c.errs) > 0 {
					continue
				}
				if err := c.ref.Check(); err != nil {
					t.Fatalf("accepted ref %+v: %v", c.ref, err)
				}
				if !c.delete {
					if err := lookup.CheckValue(c.ref.Kind, c.value); err != nil {
						t.Fatalf("accepted value %q: %v", c.value, err)
					}
				}
				if c.cond == lookup.CondExists && c.version != 0 {
					t.Fatalf("accepted if_match * with version %d", c.version)
				}
			}
		}
	})
}

func mustEncode(t *testing.T, errs []fieldError) {
	t.Helper()
	if _, err := json.Marshal(map[string]any{"detail": errs}); err != nil {
		t.Fatalf("cannot encode %v: %v", errs, err)
	}
}
