package lookup

import (
	"strings"
	"testing"
	"time"
)

var historyNow = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func TestLoadHistory(t *testing.T) {
	h, err := LoadHistory(strings.NewReader(HistoryHeader+"\nP-1,NY,2026-12-01,49.99\nP-1,NY,2026-12-07,45\nP-1,LA,2026-12-01,50\n# a comment\nP-2,NY,2026-10-01,10\n"), "h.csv", historyNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Rows) != 3 || h.Old != 1 {
		t.Fatalf("rows %+v, old %d; want 3 rows and 1 old", h.Rows, h.Old)
	}
	r := h.Rows[0]
	if r.Product != "P-1" || r.Location != "NY" || time.Unix(r.Day*86400, 0).UTC().Format(time.DateOnly) != "2026-12-01" || r.Lowest.String() != "49.99" {
		t.Errorf("first row %+v", r)
	}
}

func TestLoadHistoryRefuses(t *testing.T) {
	const hdr = HistoryHeader + "\n"
	for _, tc := range []struct{ name, src, want string }{
		{"empty", "", `cannot load history "h.csv": empty file`},
		{"header", "product_id,location,date,price\n", `line 1: bad header`},
		{"fields", hdr + "P-1,NY,2026-12-01\n", "line 2: wrong field count 3, want 4"},
		{"bad date", hdr + "P-1,NY,2026-12-01,1\nP-1,NY,2026-13-01,1\n", `line 3: bad date "2026-13-01"`},
		{"date with time", hdr + "P-1,NY,2026-12-01T00:00:00Z,1\n", `line 2: bad date`},
		{"day 31 of november", hdr + "P-1,NY,2026-11-31,1\n", `line 2: bad date`},
		{"far future", hdr + "P-1,NY,2027-12-01,1\n", "line 2: date 2027-12-01 is in the future (today is 2026-12-07 UTC)"},
		{"tomorrow", hdr + "P-1,NY,2026-12-08,1\n", "line 2: date 2026-12-08 is in the future"},
		{"negative", hdr + "P-1,NY,2026-12-01,-5\n", `line 2: bad lowest_price "-5"`},
		{"zero", hdr + "P-1,NY,2026-12-01,0\n", `line 2: bad lowest_price "0"`},
		{"huge", hdr + "P-1,NY,2026-12-01,1000000001\n", `line 2: bad lowest_price "1000000001"`},
		{"not a number", hdr + "P-1,NY,2026-12-01,abc\n", `line 2: bad lowest_price "abc"`},
		{"duplicate day", hdr + "P-1,NY,2026-12-01,5\nP-1,LA,2026-12-01,5\nP-1,NY,2026-12-01,4\n", "line 4: P-1 x NY on 2026-12-01 is given twice (first on line 2)"},
		{"empty product", hdr + ",NY,2026-12-01,5\n", "line 2: empty product_id"},
		{"empty location", hdr + "P-1,,2026-12-01,5\n", "line 2: empty user_location"},
		{"long product", hdr + strings.Repeat("x", 65) + ",NY,2026-12-01,5\n", "longer than 64 bytes"},
		{"quote", hdr + "\"P-1,NY,2026-12-01,5\n", "line 2:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := LoadHistory(strings.NewReader(tc.src), "h.csv", historyNow)
			if err == nil {
				t.Fatalf("accepted: %+v", h)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"h.csv"`) {
				t.Errorf("error %q, want it to name the file and say %q", err, tc.want)
			}
		})
	}
}

// FuzzLoadHistory: any input is either refused with an error naming the
// file, or loaded into rows that each pass the checks.
func FuzzLoadHistory(f *testing.F) {
	f.Add(HistoryHeader + "\nP-1,NY,2026-12-01,49.99\n")
	f.Add(HistoryHeader + "\nP-1,NY,2026-12-01,49.99\nP-1,NY,2026-12-01,48\n")
	f.Add(HistoryHeader + "\nP-1,NY,9999-12-31,1\n")
	f.Add(HistoryHeader + "\n\"P,1\",N\"\"Y,2026-02-29,0.5\n")
	f.Fuzz(func(t *testing.T, src string) {
		h, err := LoadHistory(strings.NewReader(src), "f.csv", historyNow)
		if err != nil {
			if !strings.Contains(err.Error(), `"f.csv"`) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		seen := map[HistoryRow]bool{}
		for _, r := range h.Rows {
			if r.Product == "" || r.Location == "" || len(r.Product) > MaxKeyLen || len(r.Location) > MaxKeyLen {
				t.Fatalf("bad ids in %+v", r)
			}
			if err := CheckPrice(r.Lowest); err != nil {
				t.Fatalf("bad price in %+v: %v", r, err)
			}
			if r.Day > dayOf(historyNow) || r.Day <= dayOf(historyNow)-HistoryDays {
				t.Fatalf("day out of range in %+v", r)
			}
			k := HistoryRow{Product: r.Product, Location: r.Location, Day: r.Day}
			if seen[k] {
				t.Fatalf("duplicate day %+v", r)
			}
			seen[k] = true
		}
	})
}
