package pricing

import (
	"encoding/json"
	"testing"

	"github.com/pricing-engine/pricing-engine/money"
)

func validJSON(b []byte) bool { return json.Valid(b) }

func TestAppendQuote(t *testing.T) {
	tests := []struct {
		q    Quote
		want string
	}{
		{Quote{ProductID: []byte("P-123"), Final: money.New(4512, 2), Base: money.New(4999, 2), Multiplier: money.New(95, 2), Discount: money.New(5, 2), Source: SourceLive},
			`{"product_id":"P-123","final_price":45.12,"base_price":49.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}`},
		{Quote{ProductID: []byte("P-1"), Final: money.New(5000, 2), Base: money.New(5000, 2), Multiplier: money.New(100, 2), Source: SourceStale},
			`{"product_id":"P-1","final_price":50,"base_price":50,"market_multiplier":1,"discount_rate":0,"source":"stale"}`},
		{Quote{ProductID: []byte("a\"\n\xff"), Final: money.New(451, 1), Base: money.New(1, 0), Multiplier: money.New(110, 2), Source: SourceLive},
			`{"product_id":"a\"\n\ufffd","final_price":45.1,"base_price":1,"market_multiplier":1.1,"discount_rate":0,"source":"live"}`},
	}
	for _, tt := range tests {
		got := AppendQuote([]byte("prefix"), &tt.q)
		if string(got) != "prefix"+tt.want {
			t.Errorf("AppendQuote =\n %s\nwant\n %s", got, tt.want)
		}
		if !validJSON(got[len("prefix"):]) {
			t.Errorf("AppendQuote output is not JSON: %s", got)
		}
	}
}
