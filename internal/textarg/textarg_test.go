package textarg

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSplitList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"a", []string{"a"}},
		{" a, ,b ,c", []string{"a", "b", "c"}},
	} {
		if got := SplitList(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("SplitList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in      string
		lo, hi  int
		wantErr string
	}{
		{"5", 5, 5, ""},
		{"100-999", 100, 999, ""},
		{" 1 - 2 ", 1, 2, ""},
		{"7-7", 7, 7, ""},
		{"9-1", 0, 0, "maximum below minimum"},
		{"", 0, 0, "want V or LO-HI"},
		{"-5", 0, 0, "want V or LO-HI"},
		{"5-", 0, 0, "want V or LO-HI"},
		{"a-5", 0, 0, `bad range "a-5": strconv.Atoi`},
		{"1-2-3", 0, 0, `bad range "1-2-3"`},
	} {
		lo, hi, err := ParseRange(tc.in, strconv.Atoi)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseRange(%q) error %v, want one containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || lo != tc.lo || hi != tc.hi {
			t.Errorf("ParseRange(%q) = %d, %d, %v; want %d, %d", tc.in, lo, hi, err, tc.lo, tc.hi)
		}
	}
	lo, hi, err := ParseRange("10ms-50ms", time.ParseDuration)
	if err != nil || lo != 10*time.Millisecond || hi != 50*time.Millisecond {
		t.Errorf("durations: %v %v %v", lo, hi, err)
	}
}

// FuzzParseRange: never panics, and an accepted range is ordered and made
// of bounds that parse on their own.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"5", "1-2", "9-1", "-", "", " 3 - 4 ", "1-2-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := ParseRange(s, strconv.Atoi)
		if err != nil {
			return
		}
		if hi < lo {
			t.Fatalf("ParseRange(%q) = %d > %d", s, lo, hi)
		}
		a, b, _ := strings.Cut(s, "-")
		if v, err := strconv.Atoi(strings.TrimSpace(a)); err != nil || v != lo {
			t.Fatalf("ParseRange(%q) lo %d, the text says %q", s, lo, a)
		}
		_ = b
	})
}
