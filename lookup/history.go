package lookup

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
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
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked here, for a better message
	cr.Comment = '#'
	fail := func(line int, format string, args ...any) error {
		return fmt.Errorf("cannot load history %q: line %d: %s", name, line, fmt.Sprintf(format, args...))
	}
	today := dayOf(now)
	type dayKey struct {
		product, location string
		day               int64
	}
	seen := map[dayKey]int{} // -> line
	h := &History{}
	seenHeader := false
	for rows := 0; ; rows++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fail(pe.Line, "%v", pe.Err)
			}
			return nil, fmt.Errorf("cannot load history %q: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if rows > maxRows {
			return nil, fail(line, "more than %d rows", maxRows)
		}
		if !seenHeader {
			got := strings.TrimPrefix(strings.Join(rec, ","), "\uFEFF")
			if got != HistoryHeader {
				return nil, fail(line, "bad header %q, want %q", trunc(got), HistoryHeader)
			}
			seenHeader = true
			continue
		}
		if len(rec) != 4 {
			return nil, fail(line, "wrong field count %d, want 4", len(rec))
		}
		product, location, date, price := rec[0], rec[1], rec[2], rec[3]
		for _, id := range [...]struct{ what, v string }{{"product_id", product}, {"user_location", location}} {
			switch {
			case id.v == "":
				return nil, fail(line, "empty %s", id.what)
			case len(id.v) > MaxKeyLen:
				return nil, fail(line, "%s %q longer than %d bytes", id.what, trunc(id.v), MaxKeyLen)
			}
		}
		t, err := time.Parse(time.DateOnly, date)
		if err != nil {
			return nil, fail(line, "bad date %q: want YYYY-MM-DD (a UTC day)", trunc(date))
		}
		day := dayOf(t)
		if day > today {
			return nil, fail(line, "date %s is in the future (today is %s UTC)", date, now.UTC().Format(time.DateOnly))
		}
		d, err := money.Parse(price)
		if err != nil {
			return nil, fail(line, "bad lowest_price %q: %v", trunc(price), errors.Unwrap(err))
		}
		if err := CheckPrice(d); err != nil {
			return nil, fail(line, "bad lowest_price %q: %v", trunc(price), err)
		}
		k := dayKey{product, location, day}
		if first, dup := seen[k]; dup {
			return nil, fail(line, "%s x %s on %s is given twice (first on line %d)", trunc(product), trunc(location), date, first)
		}
		seen[k] = line
		if day <= today-HistoryDays {
			h.Old++
			continue
		}
		h.Rows = append(h.Rows, HistoryRow{Product: product, Location: location, Day: day, Lowest: d})
	}
	if !seenHeader {
		return nil, fmt.Errorf("cannot load history %q: empty file, want header %q", name, HistoryHeader)
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
