package lookup

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pricing-engine/pricing-engine/money"
)

// HistoryHeader is the header of a price history CSV file: one row per
// product x location x UTC day, the lowest price applied that day.
const HistoryHeader = "product_id,user_location,date,lowest_price"

// HistoryDays is how many UTC days of price history are kept (today and
// the days before it); rows of older days are not loaded.
const HistoryDays = 40

// HistoryRow is one row of a price history file.
type HistoryRow struct {
	Product, Location string
	// Day is the row's date as days since 1970-01-01 (UTC).
	Day    int64
	Lowest money.Decimal
}

// History is a loaded price history file: rows in file order.
type History struct {
	Rows []HistoryRow
	// Old counts the rows of days before the HistoryDays kept, left out.
	Old int
}

// LoadHistoryFile reads a price history CSV file (see LoadHistory).
func LoadHistoryFile(path string, now time.Time) (*History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot load history: %w", err)
	}
	defer f.Close()
	return LoadHistory(f, path, now)
}

// LoadHistory reads a price history in CSV form from r (header
// HistoryHeader; date as YYYY-MM-DD, a UTC day; lowest_price checked by
// [CheckPrice], as every price); name is used in errors, which give the
// line. It refuses a date after now's UTC day (a far-future date is a
// mistake, not a backfill) and a product x location x day given twice;
// rows of days before the HistoryDays kept up to now are counted in Old
// and left out.
func LoadHistory(r io.Reader, name string, now time.Time) (*History, error) {
	f := csvFile{what: "history", name: name}
	today := dayOf(now)
	type dayKey struct {
		product, location string
		day               int64
	}
	seen := map[dayKey]int{} // -> line
	h := &History{}
	err := f.read(r, HistoryHeader, 4, func(line int, rec []string) error {
		product, location, date, price := rec[0], rec[1], rec[2], rec[3]
		for _, id := range [...]struct{ what, v string }{{"product_id", product}, {"user_location", location}} {
			switch {
			case id.v == "":
				return f.fail(line, "empty %s", id.what)
			case len(id.v) > MaxKeyLen:
				return f.fail(line, "%s %q longer than %d bytes", id.what, trunc(id.v), MaxKeyLen)
			}
		}
		t, err := time.Parse(time.DateOnly, date)
		if err != nil {
			return f.fail(line, "bad date %q: want YYYY-MM-DD (a UTC day)", trunc(date))
		}
		day := dayOf(t)
		if day > today {
			return f.fail(line, "date %s is in the future (today is %s UTC)", date, now.UTC().Format(time.DateOnly))
		}
		d, err := f.decimal(line, "lowest_price", price, CheckPrice)
		if err != nil {
			return err
		}
		k := dayKey{product, location, day}
		if first, dup := seen[k]; dup {
			return f.fail(line, "%s x %s on %s is given twice (first on line %d)", trunc(product), trunc(location), date, first)
		}
		seen[k] = line
		if day <= today-HistoryDays {
			h.Old++
			return nil
		}
		h.Rows = append(h.Rows, HistoryRow{Product: product, Location: location, Day: day, Lowest: d})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// dayOf returns t's UTC day as days since 1970-01-01.
func dayOf(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}
