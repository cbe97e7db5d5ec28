package server

import (
	"go/build"
	"strings"
	"testing"
)

// TestImportsStayOnTheEdge enforces the package table: the server owns
// connections only and reaches prices through pricing's Loop, so it
// imports neither the lookup sources, nor the rules, nor the demand
// counters.
func TestImportsStayOnTheEdge(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const mod = "github.com/pricing-engine/pricing-engine/"
	for _, imp := range pkg.Imports {
		rest, ok := strings.CutPrefix(imp, mod)
		if !ok {
			continue
		}
		switch first, _, _ := strings.Cut(rest, "/"); first {
		case "lookup", "rules", "demand":
			t.Errorf("server imports %s", imp)
		}
	}
	if len(pkg.Imports) == 0 {
		t.Fatal("no imports read: the check would pass on anything")
	}
}
