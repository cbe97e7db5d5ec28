package lookup

import "github.com/pricing-engine/pricing-engine/money"

// Range calls fn for every product, in no particular order, until fn
// returns false. It is how a loaded catalog is copied elsewhere (the
// import command).
func (c *MemoryCatalog) Range(fn func(id string, price money.Decimal) bool) {
	for id, p := range c.prices {
		if !fn(id, p) {
			return
		}
	}
}

// Range calls fn for every market row, the "*" row included, in no
// particular order, until fn returns false.
func (m *MemoryMarkets) Range(fn func(location string, mult money.Decimal) bool) {
	for loc, v := range m.mult {
		if !fn(loc, v) {
			return
		}
	}
}
