package lookup

import (
	"testing"

	"github.com/pricing-engine/pricing-engine/money"
)

func TestRange(t *testing.T) {
	cat := &MemoryCatalog{prices: map[string]money.Decimal{"A": money.New(1, 0), "B": money.New(2, 0)}}
	got := map[string]string{}
	cat.Range(func(id string, p money.Decimal) bool { got[id] = p.String(); return true })
	if len(got) != 2 || got["A"] != "1" || got["B"] != "2" {
		t.Fatalf("catalog rows %v", got)
	}
	n := 0
	cat.Range(func(string, money.Decimal) bool { n++; return false })
	if n != 1 {
		t.Fatalf("Range went on after false: %d calls", n)
	}
	mk := newMemoryMarkets(map[string]money.Decimal{"*": money.New(1, 0), "NY": money.New(11, 1)})
	rows := map[string]string{}
	mk.Range(func(loc string, v money.Decimal) bool { rows[loc] = v.String(); return true })
	if len(rows) != 2 || rows["NY"] != "1.1" || rows["*"] != "1" {
		t.Fatalf("market rows %v", rows)
	}
}
