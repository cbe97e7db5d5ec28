package lookup

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pricing-engine/pricing-engine/money"
)

var update = flag.Bool("update", false, "rewrite data/*.csv from the generating rule")

// catalogCSV is the rule of the contract: products P-0 .. P-9999 with base
// price 49.99 + (n mod 10).
func catalogCSV() []byte {
	var b bytes.Buffer
	b.WriteString(CatalogHeader + "\n")
	for n := range 10000 {
		fmt.Fprintf(&b, "P-%d,%d.99\n", n, 49+n%10)
	}
	return b.Bytes()
}

const marketsCSV = MarketsHeader + "\nNY,1.10\nLA,1.05\nMIA,0.95\nSF,1.15\nCHI,1.00\n*,1.00\n"

func TestEmbeddedData(t *testing.T) {
	files := []struct {
		path string
		want []byte
	}{
		{"data/catalog.csv", catalogCSV()},
		{"data/markets.csv", []byte(marketsCSV)},
	}
	for _, f := range files {
		if *update {
			if err := os.WriteFile(f.path, f.want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.want) {
			t.Errorf("%s does not match its rule; run go generate ./lookup", f.path)
		}
	}
}

func TestDefaultData(t *testing.T) {
	cat, err := DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	mk, err := DefaultMarkets()
	if err != nil {
		t.Fatal(err)
	}
	if cat.Len() != 10000 {
		t.Errorf("catalog has %d products, want 10000", cat.Len())
	}
	src := &Memory{Catalog: cat, Markets: mk}
	b := src.NewBatcher()
	for _, tt := range []struct{ id, want string }{
		{"P-0", "49.99"}, {"P-1", "50.99"}, {"P-123", "52.99"}, {"P-100", "49.99"}, {"P-999", "58.99"}, {"P-9999", "58.99"},
	} {
		c := &Call{ProductID: []byte(tt.id), Location: []byte("NY")}
		if !b.Lookup(c) {
			t.Fatalf("memory Lookup(%s) kept the call", tt.id)
		}
		p := c.Base
		if c.Err != nil || p.String() != tt.want || c.Mult.String() != "1.1" || c.Stale {
			t.Errorf("Lookup(%s) = %v, %v, %v; want %s, 1.1", tt.id, p, c.Mult, c.Err, tt.want)
		}
		if now, ok := cat.BasePriceNow([]byte(tt.id)); !ok || now != p {
			t.Errorf("BasePriceNow(%s) = %v, %v; want %v", tt.id, now, ok, p)
		}
	}
	for _, id := range []string{"P-10000", "p-1", "", "P-01"} {
		c := &Call{ProductID: []byte(id), Location: []byte("NY")}
		b.Lookup(c)
		err := c.Err
		var nf *NotFoundError
		if !errors.Is(err, ErrNotFound) || !errors.As(err, &nf) || nf.Key != id || nf.Kind != KindProduct {
			t.Errorf("BasePrice(%q) error = %v, want NotFoundError", id, err)
		}
		if _, ok := cat.BasePriceNow([]byte(id)); ok {
			t.Errorf("BasePriceNow(%q) found", id)
		}
	}
	for _, tt := range []struct{ loc, want string }{
		{"NY", "1.1"}, {"LA", "1.05"}, {"MIA", "0.95"}, {"SF", "1.15"}, {"CHI", "1"}, {"XX", "1"}, {"ny", "1"},
	} {
		c := &Call{ProductID: []byte("P-1"), Location: []byte(tt.loc)}
		b.Lookup(c)
		if c.Err != nil || c.Mult.String() != tt.want || mk.MultiplierNow([]byte(tt.loc)) != c.Mult {
			t.Errorf("Lookup(P-1, %s) multiplier = %v, %v; want %s", tt.loc, c.Mult, c.Err, tt.want)
		}
	}
}

func TestMarketsDefaultRow(t *testing.T) {
	tests := []struct {
		name string
		rows map[string]money.Decimal
		want string
	}{
		{"star row", map[string]money.Decimal{"NY": money.New(11, 1), "*": money.New(2, 0)}, "2"},
		{"no star row", map[string]money.Decimal{"NY": money.New(11, 1)}, "1"},
		{"empty", nil, "1"},
	}
	for _, tt := range tests {
		m := newMemoryMarkets(tt.rows)
		if got := m.MultiplierNow([]byte("nowhere")).String(); got != tt.want {
			t.Errorf("%s: default = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	long := strings.Repeat("x", MaxKeyLen+1)
	tests := []struct {
		name    string
		markets bool
		in      string
		want    string // expected error text after the file name
	}{
		{"empty file", false, "", `empty file, want header "product_id,base_price"`},
		{"no products", false, "product_id,base_price\n", "no products"},
		{"bad header", false, "id,price\nP-1,1\n", `line 1: bad header "id,price", want "product_id,base_price"`},
		{"markets header in catalog", false, "location,multiplier\nNY,1\n", "line 1: bad header"},
		{"field count", false, "product_id,base_price\nP-1,1\nP-2,1,3\n", "line 3: wrong field count 3, want 2"},
		{"one field", false, "product_id,base_price\nP-1\n", "line 2: wrong field count 1, want 2"},
		{"empty id", false, "product_id,base_price\n,1\n", "line 2: empty id"},
		{"long id", false, "product_id,base_price\n" + long + ",1\n", "line 2: id \"" + long[:MaxKeyLen] + "...\" longer than 64 bytes"},
		{"bad price", false, "product_id,base_price\nP-1,abc\n", `line 2: bad base price "abc": invalid decimal syntax`},
		{"float price", false, "product_id,base_price\nP-1,1e3\n", `line 2: bad base price "1e3"`},
		{"zero price", false, "product_id,base_price\nP-1,0\n", `line 2: bad base price "0": out of range: must be greater than 0 and at most 1000000000`},
		{"negative price", false, "product_id,base_price\nP-1,-1\n", `line 2: bad base price "-1": out of range`},
		{"price above bound", false, "product_id,base_price\nP-1,1\nP-2,1000000000.01\n", `line 3: bad base price "1000000000.01": out of range: must be greater than 0 and at most 1000000000`},
		{"duplicate", false, "product_id,base_price\nP-1,1\n# comment\nP-1,2\n", `line 4: duplicate id "P-1"`},
		{"bad quote", false, "product_id,base_price\n\"P-1,1\n", "line 2:"},
		{"negative multiplier", true, "location,multiplier\nNY,-1.1\n", `line 2: bad multiplier "-1.1": out of range`},
		{"zero multiplier", true, "location,multiplier\nNY,0.00\n", `line 2: bad multiplier "0.00": out of range: must be greater than 0 and at most 100`},
		{"multiplier 1000", true, "location,multiplier\nNY,1.10\n# comment\nLA,1000\n", `line 4: bad multiplier "1000": out of range: must be greater than 0 and at most 100`},
		{"duplicate star", true, "location,multiplier\n*,1\n*,1\n", `line 3: duplicate id "*"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.markets {
				_, err = LoadMarkets(strings.NewReader(tt.in), "test.csv")
			} else {
				_, err = LoadCatalog(strings.NewReader(tt.in), "test.csv")
			}
			if err == nil {
				t.Fatal("loaded a bad file")
			}
			if !strings.Contains(err.Error(), `"test.csv": `+tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadGood(t *testing.T) {
	in := "\uFEFFproduct_id,base_price\r\n# comment\r\nP-1,1.5\r\n\"P,2\",2\r\n"
	cat, err := LoadCatalog(strings.NewReader(in), "good.csv")
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"P-1": "1.5", "P,2": "2"} {
		if p, ok := cat.BasePriceNow([]byte(id)); !ok || p.String() != want {
			t.Errorf("BasePriceNow(%q) = %v, %v; want %s", id, p, ok, want)
		}
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "markets.csv")
	if err := os.WriteFile(good, []byte(marketsCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	if mk, err := LoadMarketsFile(good); err != nil || mk.Len() != 6 || mk.def.String() != "1" {
		t.Fatalf("LoadMarketsFile = %v, %v", mk, err)
	}
	bad := filepath.Join(dir, "catalog.csv")
	if err := os.WriteFile(bad, []byte("product_id,base_price\nP-1,x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCatalogFile(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("LoadCatalogFile(bad) error = %v, want file name and line", err)
	}
	missing := filepath.Join(dir, "missing.csv")
	if _, err := LoadCatalogFile(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadCatalogFile(missing) error = %v", err)
	}
	if _, err := LoadMarketsFile(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadMarketsFile(missing) error = %v", err)
	}
}

func TestNotFoundError(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", NewNotFound(KindProduct, []byte(strings.Repeat("a", 100))))
	var nf *NotFoundError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &nf) {
		t.Fatalf("%v does not match ErrNotFound", err)
	}
	if len(nf.Key) != MaxKeyLen+3 {
		t.Errorf("key not truncated: %d bytes", len(nf.Key))
	}
	if errors.Is(err, ErrInjected) {
		t.Error("NotFoundError matches ErrInjected")
	}
}

func FuzzLoadCatalog(f *testing.F) {
	f.Add("product_id,base_price\nP-1,49.99\n")
	f.Add("product_id,base_price\n\"P,1\",1\nP-1,x\n")
	f.Fuzz(func(t *testing.T, in string) {
		cat, err := LoadCatalog(strings.NewReader(in), "fuzz.csv")
		if err != nil {
			if !strings.HasPrefix(err.Error(), `cannot load catalog "fuzz.csv": `) {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		for id, p := range cat.prices {
			if id == "" || len(id) > MaxKeyLen || p.Sign() <= 0 {
				t.Fatalf("accepted row %q,%s", id, p)
			}
		}
	})
}
