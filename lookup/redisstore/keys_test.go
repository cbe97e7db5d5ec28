package redisstore

import "testing"

func TestKeys(t *testing.T) {
	tests := []struct {
		prefix                         string
		product, market, defaultMarket string
	}{
		{"", "pricing:product:P-1", "pricing:market:NY", "pricing:market:*"},
		{"pricing:", "pricing:product:P-1", "pricing:market:NY", "pricing:market:*"},
		{"t:", "t:product:P-1", "t:market:NY", "t:market:*"},
		{"{shop}", "{shop}product:P-1", "{shop}market:NY", "{shop}market:*"},
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			k := NewKeys(tc.prefix)
			if got := k.Product("P-1"); got != tc.product {
				t.Errorf("Product = %q, want %q", got, tc.product)
			}
			if got := string(k.AppendProduct([]byte("x"), []byte("P-1"))); got != "x"+tc.product {
				t.Errorf("AppendProduct = %q, want %q", got, "x"+tc.product)
			}
			if got := k.Market("NY"); got != tc.market {
				t.Errorf("Market = %q, want %q", got, tc.market)
			}
			if got := string(k.AppendMarket(nil, []byte("NY"))); got != tc.market {
				t.Errorf("AppendMarket = %q, want %q", got, tc.market)
			}
			if got := k.DefaultMarket(); got != tc.defaultMarket {
				t.Errorf("DefaultMarket = %q, want %q", got, tc.defaultMarket)
			}
			if id, ok := k.ProductID(tc.product); !ok || id != "P-1" {
				t.Errorf("ProductID(%q) = %q, %v", tc.product, id, ok)
			}
			if loc, ok := k.Location(tc.market); !ok || loc != "NY" {
				t.Errorf("Location(%q) = %q, %v", tc.market, loc, ok)
			}
			if _, ok := k.ProductID(tc.market); ok {
				t.Errorf("ProductID accepts the market key %q", tc.market)
			}
			if _, ok := k.Location("other:" + tc.market); ok {
				t.Errorf("Location accepts a key under another prefix")
			}
		})
	}
}

func TestKeysAppendAllocs(t *testing.T) {
	k := NewKeys("")
	buf := make([]byte, 0, 64)
	id, loc := []byte("P-123"), []byte("NY")
	if n := testing.AllocsPerRun(100, func() {
		buf = k.AppendProduct(buf[:0], id)
		buf = k.AppendMarket(buf[:0], loc)
	}); n != 0 {
		t.Fatalf("%v allocations per append", n)
	}
}
