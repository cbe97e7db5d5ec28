package main

import (
	"maps"
	"net/http"

	"github.com/pricing-engine/pricing-engine/admin/console"
)

// adminPages are the admin listener's pages beside the API: the pricing
// console (/console). routes are added to them (a pattern in both is a
// wiring mistake and panics at start).
func adminPages(routes map[string]http.Handler) map[string]http.Handler {
	out := maps.Clone(routes)
	if out == nil {
		out = map[string]http.Handler{}
	}
	for p, h := range console.New().Routes() {
		if _, dup := out[p]; dup {
			panic("admin route " + p + " registered twice")
		}
		out[p] = h
	}
	return out
}
