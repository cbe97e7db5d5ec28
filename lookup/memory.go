package lookup

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pricing-engine/pricing-engine/money"
)

// The default data shipped in the binary; see TestEmbeddedData for the
// rule that generates the catalog.
var (
	//go:embed data/catalog.csv
	embeddedCatalog string
	//go:embed data/markets.csv
	embeddedMarkets string
)

// DefaultMarket is the location of the row used for unknown locations.
const DefaultMarket = "*"

// Headers expected as the first row of the data files.
const (
	CatalogHeader = "product_id,base_price"
	MarketsHeader = "location,multiplier"
)

// maxRows bounds the rows read from one file, so that a wrong file cannot
// exhaust memory.
const maxRows = 10_000_000

// MemoryCatalog is an in-memory, read-only product catalog. It is safe
// for concurrent use.
type MemoryCatalog struct {
	prices map[string]money.Decimal
}

// MemoryMarkets is an in-memory, read-only table of market multipliers.
// It is safe for concurrent use.
type MemoryMarkets struct {
	mult map[string]money.Decimal
	def  money.Decimal
}

// DefaultCatalog returns the catalog embedded in the binary
// (products P-0 .. P-9999, base price 49.99 + (n mod 10)).
func DefaultCatalog() (*MemoryCatalog, error) {
	return LoadCatalog(strings.NewReader(embeddedCatalog), "embedded catalog.csv")
}

// DefaultMarkets returns the markets embedded in the binary
// (NY 1.10, LA 1.05, MIA 0.95, SF 1.15, CHI 1.00, * 1.00).
func DefaultMarkets() (*MemoryMarkets, error) {
	return LoadMarkets(strings.NewReader(embeddedMarkets), "embedded markets.csv")
}

// Default returns both embedded data sets, the catalog and the markets
// that `make run` serves.
func Default() (*MemoryCatalog, *MemoryMarkets, error) {
	cat, err := DefaultCatalog()
	if err != nil {
		return nil, nil, err
	}
	mk, err := DefaultMarkets()
	if err != nil {
		return nil, nil, err
	}
	return cat, mk, nil
}

// LoadCatalogFile reads a catalog CSV file (see the package comment for
// the format).
func LoadCatalogFile(path string) (*MemoryCatalog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot load catalog: %w", err)
	}
	defer f.Close()
	return LoadCatalog(f, path)
}

// LoadMarketsFile reads a markets CSV file (see the package comment for
// the format).
func LoadMarketsFile(path string) (*MemoryMarkets, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot load markets: %w", err)
	}
	defer f.Close()
	return LoadMarkets(f, path)
}

// LoadCatalog reads a catalog in CSV form from r; name is used in errors.
func LoadCatalog(r io.Reader, name string) (*MemoryCatalog, error) {
	prices, err := loadTable(r, name, "catalog", CatalogHeader, "base price", CheckPrice)
	if err != nil {
		return nil, err
	}
	if len(prices) == 0 {
		return nil, fmt.Errorf("cannot load catalog %q: no products", name)
	}
	return &MemoryCatalog{prices: prices}, nil
}

// LoadMarkets reads markets in CSV form from r; name is used in errors.
func LoadMarkets(r io.Reader, name string) (*MemoryMarkets, error) {
	mult, err := loadTable(r, name, "markets", MarketsHeader, "multiplier", CheckMultiplier)
	if err != nil {
		return nil, err
	}
	return newMemoryMarkets(mult), nil
}

// newMemoryMarkets returns markets holding mult (not copied); the key "*"
// is the default for unknown locations (1 if absent).
func newMemoryMarkets(mult map[string]money.Decimal) *MemoryMarkets {
	def, ok := mult[DefaultMarket]
	if !ok {
		def = money.New(1, 0)
	}
	return &MemoryMarkets{mult: mult, def: def}
}

// Len returns the number of products.
func (c *MemoryCatalog) Len() int { return len(c.prices) }

// BasePriceNow returns the base price of productID, or false if unknown.
// It does not allocate.
func (c *MemoryCatalog) BasePriceNow(productID []byte) (money.Decimal, bool) {
	p, ok := c.prices[string(productID)]
	return p, ok
}

// Len returns the number of market rows, including the "*" row if any.
func (m *MemoryMarkets) Len() int { return len(m.mult) }

// MultiplierNow returns the multiplier of location, or the default for an
// unknown one. It does not allocate.
func (m *MemoryMarkets) MultiplierNow(location []byte) money.Decimal {
	if v, ok := m.mult[string(location)]; ok {
		return v
	}
	return m.def
}

// loadTable reads a two-column "key,decimal" CSV with the given header.
// Values must pass check ([CheckPrice] or [CheckMultiplier]) and keys be
// unique, 1..MaxKeyLen bytes.
func loadTable(r io.Reader, name, what, header, valueName string, check func(money.Decimal) error) (map[string]money.Decimal, error) {
	f := csvFile{what: what, name: name}
	out := make(map[string]money.Decimal)
	err := f.read(r, header, 2, func(line int, rec []string) error {
		key, val := rec[0], rec[1]
		switch {
		case key == "":
			return f.fail(line, "empty id")
		case len(key) > MaxKeyLen:
			return f.fail(line, "id %q longer than %d bytes", trunc(key), MaxKeyLen)
		}
		d, err := f.decimal(line, valueName, val, check)
		if err != nil {
			return err
		}
		if _, dup := out[key]; dup {
			return f.fail(line, "duplicate id %q", trunc(key))
		}
		out[key] = d
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func trunc(s string) string {
	if len(s) > MaxKeyLen {
		return s[:MaxKeyLen] + "..."
	}
	return s
}
