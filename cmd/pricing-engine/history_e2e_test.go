package main

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/internal/testfile"
)

// priorReply is what the history tests read of a reply.
type priorReply struct {
	List       json.Number `json:"list_price"`
	Prior      json.Number `json:"prior_price"`
	PriorSince string      `json:"prior_price_since"`
}

func (p *proc) prior(body string) priorReply {
	p.t.Helper()
	code, got := p.price(p.api, body)
	var r priorReply
	if err := json.Unmarshal([]byte(got), &r); code != 200 || err != nil {
		p.t.Fatalf("price: %d %s (%v)", code, got, err)
	}
	return r
}

// TestE2EHistoryAcrossReplicas: two replicas on one Redis. Replica a
// serves P-5 x NY at a (not announced) 10 % off and records it; replica b
// announces a reduction of P-5 that began this minute: its prior price
// is a's price of today before the start, read through the store (b
// recorded nothing of P-5 before the start; alone it would answer the
// list price without the reduction). A base price written through a's
// admin API is in today's history at once; a backfilled price of
// yesterday reaches the running replica too.
func TestE2EHistoryAcrossReplicas(t *testing.T) {
	now := time.Now().UTC()
	if now.Hour() == 23 && now.Minute() >= 58 {
		t.Skip("the test's reduction must start and be checked on one UTC day")
	}
	srv := redistest.Start(t, redistest.Options{})
	if r := runBinary(t, []string{"import", "--store", srv.URL(), "--embedded"}); r.code != 0 {
		t.Fatalf("import: exit %d %s", r.code, r.stderr)
	}
	dir := t.TempDir()
	pa, pb := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	writeRules(t, pa, `version: "a.1"
schedules:
  - {name: quiet-sale, products: ["P-5"], multiplier: 0.9}
`)
	writeRules(t, pb, `version: "b.1"
schedules:
  - {name: flash, products: ["P-5"], days: [`+strings.ToLower(now.Weekday().String()[:3])+`], from: "`+now.Format("15:04")+`", to: "24:00", multiplier: 0.8, announce: true}
`)
	common := append([]string{"--store", srv.URL(), "--drain-delay=0s", "--shutdown-timeout=5s"}, loopbackArgs...)
	tokens := filepath.Join(dir, "tokens")
	testfile.Replace(t, tokens, "ops write "+adminWriteToken+"\n")
	a := startServer(t, append([]string{"--rules", pa, "--admin-tokens-file", tokens}, common...))
	b := startServer(t, append([]string{"--rules", pb}, common...))
	const item = `{"product_id":"P-5","user_location":"NY"}`

	// 54.99 x 1.1 = 60.489; a's 10 % off: 54.4401; b's 20 %: 48.3912.
	if r := a.prior(item); r.List != "54.4401" || r.Prior != "" {
		t.Fatalf("a: %+v, want list 54.4401 and no prior price", r)
	}
	today := now.Format(time.DateOnly)
	waitFor(t, 15*time.Second, "b's prior price from a's record", func() bool {
		r := b.prior(item)
		if r.List != "48.3912" {
			t.Fatalf("b: %+v, want list 48.3912", r)
		}
		return r.Prior == "54.4401" && r.PriorSince == today+"T00:00:00Z"
	})
	day := strconv.FormatInt(now.Unix()/86400, 10)
	if got := srv.MustDo("HGET", "history:{pricing:"+day+"}", "\x03P-5NY"); got != "48.3912 54.4401" {
		t.Errorf("today's history of P-5 x NY in Redis: %q, want both replicas' lows (48.3912 54.4401)", got)
	}

	// An admin write is in today's history at once, with nobody asking
	// for the new price: 40 x 1.1 x 0.9 on a.
	if code, _, body := a.adminDo("PUT", "/admin/v1/products/P-5", adminWriteToken, `{"base_price":"40.00"}`, `If-Match: "0"`); code != 200 {
		t.Fatalf("admin PUT: %d %s", code, body)
	}
	waitFor(t, 15*time.Second, "the written price in the shared history", func() bool {
		v, _ := srv.Do("HGET", "history:{pricing:"+day+"}", "\x03P-5NY")
		return v == "39.6 39.6"
	})

	yesterday := now.AddDate(0, 0, -1).Format(time.DateOnly)
	f := writeFile(t, "history.csv", "product_id,user_location,date,lowest_price\nP-5,NY,"+yesterday+",41.5\n")
	if r := runBinary(t, []string{"import", "--store", srv.URL(), "--history", f}); r.code != 0 {
		t.Fatalf("import --history: exit %d %s", r.code, r.stderr)
	}
	waitFor(t, 15*time.Second, "b's prior price from the backfill", func() bool {
		r := b.prior(item)
		return r.Prior == "39.6" && r.PriorSince == yesterday+"T00:00:00Z"
	})
}
