package pairkey

import (
	"strings"
	"testing"
)

func TestMakeSplit(t *testing.T) {
	long := strings.Repeat("x", MaxIDLen)
	tests := []struct {
		name, product, location string
		want                    string // "" when Make refuses
	}{
		{name: "pair", product: "P-1", location: "NY", want: "\x03P-1NY"},
		{name: "no location", product: "P-1", location: "", want: "\x03P-1"},
		{name: "longest", product: long, location: long, want: "\x40" + long + long},
		{name: "empty product", product: "", location: "NY"},
		{name: "product too long", product: long + "x", location: "NY"},
		{name: "location too long", product: "P-1", location: long + "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var kb [Len]byte
			k, ok := Make(&kb, []byte(tt.product), []byte(tt.location))
			if ok != (tt.want != "") || string(k) != tt.want {
				t.Fatalf("Make(%q, %q) = %q, %v; want %q", tt.product, tt.location, k, ok, tt.want)
			}
			if !ok {
				return
			}
			p, l, ok := Split(string(k))
			if !ok || p != tt.product || l != tt.location {
				t.Fatalf("Split(%q) = %q, %q, %v; want %q, %q", k, p, l, ok, tt.product, tt.location)
			}
		})
	}
}

func TestSplitRefuses(t *testing.T) {
	long := strings.Repeat("x", MaxIDLen+1)
	for _, bad := range []string{"", "\x03", "\x00NY", "\x05P-1", "\x41" + long, "\x01P" + long} {
		if p, l, ok := Split(bad); ok {
			t.Errorf("Split(%q) = %q, %q, true; want false", bad, p, l)
		}
	}
}

func TestMakeAllocs(t *testing.T) {
	var kb [Len]byte
	product, location := []byte("P-1"), []byte("NY")
	if n := testing.AllocsPerRun(100, func() { _, _ = Make(&kb, product, location) }); n != 0 {
		t.Fatalf("Make allocates %v times", n)
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("\x03P-1NY")
	f.Add("\x00")
	f.Fuzz(func(t *testing.T, key string) {
		p, l, ok := Split(key)
		if !ok {
			return
		}
		var kb [Len]byte
		k, ok := Make(&kb, []byte(p), []byte(l))
		if !ok || string(k) != key {
			t.Fatalf("Split(%q) = %q, %q but Make gives %q, %v", key, p, l, k, ok)
		}
	})
}
