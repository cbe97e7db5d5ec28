package lookup

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pricing-engine/pricing-engine/money"
)

// csvFile is one CSV file being loaded: what it is ("catalog", "history")
// and its name, both used in errors.
type csvFile struct{ what, name string }

// fail returns the error of a bad line of the file.
func (f csvFile) fail(line int, format string, args ...any) error {
	return fmt.Errorf("cannot load %s %q: line %d: %s", f.what, f.name, line, fmt.Sprintf(format, args...))
}

// read reads the file from r: '#' comments, first a header equal to
// header (after a UTF-8 byte order mark, if any), then at most maxRows
// rows of exactly fields fields each. row is called for every row with
// its line; rec is valid only during the call. row's error is returned as
// is (make it with fail); read stops at the first error.
func (f csvFile) read(r io.Reader, header string, fields int, row func(line int, rec []string) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked here, for a better message
	cr.Comment = '#'
	cr.ReuseRecord = true
	seenHeader := false
	for rows := 0; ; rows++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return f.fail(pe.Line, "%v", pe.Err)
			}
			return fmt.Errorf("cannot load %s %q: %w", f.what, f.name, err)
		}
		line, _ := cr.FieldPos(0) // valid only after a successful Read
		if rows > maxRows {
			return f.fail(line, "more than %d rows", maxRows)
		}
		if !seenHeader {
			got := strings.TrimPrefix(strings.Join(rec, ","), "\uFEFF")
			if got != header {
				return f.fail(line, "bad header %q, want %q", trunc(got), header)
			}
			seenHeader = true
			continue
		}
		if len(rec) != fields {
			return f.fail(line, "wrong field count %d, want %d", len(rec), fields)
		}
		if err := row(line, rec); err != nil {
			return err
		}
	}
	if !seenHeader {
		return fmt.Errorf("cannot load %s %q: empty file, want header %q", f.what, f.name, header)
	}
	return nil
}

// decimal parses val, the field valueName of line, and checks it with
// check ([CheckPrice] or [CheckMultiplier]).
func (f csvFile) decimal(line int, valueName, val string, check func(money.Decimal) error) (money.Decimal, error) {
	d, err := money.Parse(val)
	if err != nil {
		return money.Decimal{}, f.fail(line, "bad %s %q: %v", valueName, trunc(val), errors.Unwrap(err))
	}
	if err := check(d); err != nil {
		return money.Decimal{}, f.fail(line, "bad %s %q: %v", valueName, trunc(val), err)
	}
	return d, nil
}
