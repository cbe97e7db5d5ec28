package main

import (
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/apidocs/apicheck"
	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/internal/testfile"
)

// rulesV1 is time-independent: its one schedule runs all day, every day.
const rulesV1 = `version: "e2e.1"
member_discount: 0.05
demand:
  window: 60s
  tiers:
    - {above: 100, multiplier: 1.05}
schedules:
  - {name: all-week, products: ["P-1*"], tz: Europe/Berlin, multiplier: 0.90}
guards: {floor: 0.80, ceiling: 2.00}
ending: "0.99"
`

// reloadDeadline bounds the wait for a reload's evidence (the file is
// looked at once a second).
const reloadDeadline = 15 * time.Second

func writeRules(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (p *proc) price(port, body string) (int, string) {
	p.t.Helper()
	code, _, got := p.do("POST", "http://"+port+"/api/v1/price", "application/json", body)
	return code, got
}

// metric returns the value of an unlabelled sample of the admin /metrics.
func (p *proc) metric(name string) string {
	p.t.Helper()
	_, _, body := p.do("GET", "http://"+p.admin+"/metrics", "", "")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

func (p *proc) hasLog(msg, substr string) bool {
	for _, line := range p.logLines() {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg && strings.Contains(line, substr) {
			return true
		}
	}
	return false
}

// TestE2ERulesOffByteIdentical pins the exact replies without --rules
// (what every client saw before rules existed); "explain" changes nothing.
func TestE2ERulesOffByteIdentical(t *testing.T) {
	p := startServer(t, loopbackArgs)
	tests := []struct{ body, want string }{
		{`{"product_id":"P-3","user_location":"NY","is_prime_member":true}`,
			`{"product_id":"P-3","final_price":55.37,"base_price":52.99,"market_multiplier":1.1,"discount_rate":0.05,"source":"live"}`},
		{`{"product_id":"P-0","user_location":"SF","is_prime_member":false,"explain":true}`,
			`{"product_id":"P-0","final_price":57.49,"base_price":49.99,"market_multiplier":1.15,"discount_rate":0,"source":"live"}`},
		{`{"product_id":"P-123","user_location":"NY"}`,
			`{"product_id":"P-123","final_price":58.29,"base_price":52.99,"market_multiplier":1.1,"discount_rate":0,"source":"live"}`},
	}
	for _, tt := range tests {
		for _, port := range []string{p.api, p.admin} {
			if code, got := p.price(port, tt.body); code != 200 || got != tt.want {
				t.Errorf("%s on %s = %d %s\nwant 200 %s", tt.body, port, code, got, tt.want)
			}
		}
	}
	if code, _, body := p.do("GET", "http://"+p.admin+"/rules", "", ""); code != 404 {
		t.Errorf("/rules without --rules = %d %s, want 404", code, body)
	}
	if _, _, body := p.do("GET", "http://"+p.admin+"/readyz", "", ""); body != "ready\n" {
		t.Errorf("/readyz = %q, want %q", body, "ready\n")
	}
	// A SIGHUP without --rules is logged and ignored.
	p.signal(syscall.SIGHUP)
	waitFor(t, reloadDeadline, "SIGHUP ignored log line", func() bool { return p.hasLog("SIGHUP ignored: no rules file (--rules) to reload", "") })
	if code, got := p.price(p.api, tests[0].body); code != 200 || got != tests[0].want {
		t.Errorf("after SIGHUP: %d %s", code, got)
	}
}

// explained is a reply with rules.
type explained struct {
	Final       json.Number `json:"final_price"`
	List        json.Number `json:"list_price"`
	Version     string      `json:"ruleset_version"`
	Explanation []struct {
		Factor  string      `json:"factor"`
		Name    string      `json:"name"`
		Value   json.Number `json:"value"`
		Bound   json.Number `json:"bound"`
		Applied *bool       `json:"applied"`
		Member  *bool       `json:"member"`
	} `json:"explanation"`
}

func rat(t *testing.T, n json.Number) *big.Rat {
	t.Helper()
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		t.Fatalf("not a number: %q", n)
	}
	return r
}

// recompute redoes the price from the explanation alone (docs/RULES.md's
// order of operations) and returns list and final as exact decimals.
func recompute(t *testing.T, e *explained) (list, final string) {
	t.Helper()
	l := big.NewRat(1, 1)
	disc := new(big.Rat)
	var floor, ceiling *big.Rat
	for _, f := range e.Explanation {
		switch f.Factor {
		case "base", "market", "demand", "schedule":
			l.Mul(l, rat(t, f.Value))
		case "floor":
			if floor = rat(t, f.Bound); l.Cmp(floor) < 0 {
				l = floor
			}
		case "ceiling":
			if ceiling = rat(t, f.Bound); l.Cmp(ceiling) > 0 {
				l = ceiling
			}
		case "ending":
			end := rat(t, f.Value)
			if l.Cmp(end) >= 0 {
				n := new(big.Int).Quo(new(big.Rat).Sub(l, end).Num(), new(big.Rat).Sub(l, end).Denom())
				l = new(big.Rat).Add(new(big.Rat).SetInt(n), end)
				// Never below the floor: the next n + ending up, or the
				// floor itself when that passes the ceiling.
				if floor != nil && l.Cmp(floor) < 0 {
					l.Add(l, big.NewRat(1, 1))
					if ceiling != nil && l.Cmp(ceiling) > 0 {
						l = floor
					}
				}
			}
		case "discount":
			disc = rat(t, f.Value)
		}
	}
	f := new(big.Rat).Mul(l, new(big.Rat).Sub(big.NewRat(1, 1), disc))
	// round half to even to 2 places
	c := new(big.Rat).Mul(f, big.NewRat(100, 1))
	q, r := new(big.Int).QuoRem(c.Num(), c.Denom(), new(big.Int))
	twice := new(big.Int).Mul(r, big.NewInt(2))
	if cmp := twice.Cmp(c.Denom()); cmp > 0 || (cmp == 0 && q.Bit(0) == 1) {
		q.Add(q, big.NewInt(1))
	}
	return strings.TrimRight(strings.TrimRight(l.FloatString(6), "0"), "."),
		strings.TrimRight(strings.TrimRight(new(big.Rat).SetFrac(q, big.NewInt(100)).FloatString(2), "0"), ".")
}

// TestE2ERulesReplies: with a rules file every reply carries list_price
// and ruleset_version, explain lists the factors, and the final price
// recomputes from the explanation; the admin port (Engine.Wait) agrees.
func TestE2ERulesReplies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeRules(t, path, rulesV1)
	p := startServer(t, loopbackArgs, "PRICING_RULES="+path)
	// 52.99 x 1.10 = 58.289 -> 57.99; member: 57.99 x 0.95 = 55.0905 -> 55.09.
	want := `{"product_id":"P-3","final_price":55.09,"base_price":52.99,"market_multiplier":1.1,"discount_rate":0.05,"source":"live","list_price":57.99,"ruleset_version":"e2e.1"}`
	for _, port := range []string{p.api, p.admin} {
		if code, got := p.price(port, `{"product_id":"P-3","user_location":"NY","is_prime_member":true}`); code != 200 || got != want {
			t.Errorf("on %s: %d %s\nwant 200 %s", port, code, got, want)
		}
	}
	for _, body := range []string{
		`{"product_id":"P-123","user_location":"NY","is_prime_member":true,"explain":true}`,
		`{"product_id":"P-1","user_location":"MIA","explain":"yes"}`,
		`{"product_id":"P-9","user_location":"SF","is_prime_member":true,"explain":1}`,
	} {
		code, hdr, got := p.do("POST", "http://"+p.api+"/api/v1/price", "application/json", body)
		if err := apicheck.ValidateResponse("POST", "/api/v1/price", code, hdr, []byte(got)); err != nil {
			t.Errorf("%s: reply does not match openapi.json: %v\n%s", body, err, got)
		}
		var e explained
		if err := json.Unmarshal([]byte(got), &e); code != 200 || err != nil {
			t.Fatalf("%s: %d %s (%v)", body, code, got, err)
		}
		var names []string
		for _, f := range e.Explanation {
			names = append(names, f.Factor)
		}
		factors := strings.Join(names, ",")
		if !strings.HasPrefix(factors, "base,market,demand,") || !strings.HasSuffix(factors, "floor,ceiling,ending,discount") {
			t.Errorf("%s: factors %s", body, factors)
		}
		if strings.Contains(body, "P-1") != strings.Contains(factors, "schedule") {
			t.Errorf("%s: schedule factor present = %v", body, strings.Contains(factors, "schedule"))
		}
		list, final := recompute(t, &e)
		if list != string(e.List) || final != string(e.Final) || e.Version != "e2e.1" {
			t.Errorf("%s: recomputed list %s final %s, reply %s", body, list, final, got)
		}
	}
	if code, got := p.price(p.api, `{"product_id":"P-3","user_location":"NY","explain":"maybe"}`); code != 422 || !strings.Contains(got, "explain") {
		t.Errorf("explain of a non-boolean = %d %s, want 422 naming explain", code, got)
	}
	_, _, ready := p.do("GET", "http://"+p.admin+"/readyz", "", "")
	if ready != "ready\nruleset_version: e2e.1\n" {
		t.Errorf("/readyz = %q", ready)
	}
	if v := p.metric(`pricing_rules_info{version="e2e.1"}`); v != "1" {
		t.Errorf(`pricing_rules_info{version="e2e.1"} = %q, want 1`, v)
	}
}

// version asks the API port which ruleset priced a request.
func (p *proc) version() string {
	_, got := p.price(p.api, `{"product_id":"P-3","user_location":"NY"}`)
	var e explained
	_ = json.Unmarshal([]byte(got), &e)
	return e.Version
}

// TestE2ERulesReload: write-then-rename and in-place writes are picked up,
// a bad file is refused (old version keeps serving, counted, logged), a
// schedule with an unknown zone is refused with a clear reason, and
// SIGHUP reloads.
func TestE2ERulesReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeRules(t, path, rulesV1)
	p := startServer(t, append(loopbackArgs, "--rules", path, "--drain-delay", "0s"))

	testfile.Replace(t, path, strings.Replace(rulesV1, "e2e.1", "e2e.2", 1))
	waitFor(t, reloadDeadline, "e2e.2 after write-then-rename", func() bool { return p.version() == "e2e.2" })

	writeRules(t, path, strings.Replace(rulesV1, "e2e.1", "e2e.3", 1)) // in place
	waitFor(t, reloadDeadline, "e2e.3 after an in-place write", func() bool { return p.version() == "e2e.3" })

	bad := strings.Replace(strings.Replace(rulesV1, "e2e.1", "e2e.bad", 1), "above: 100", "above: -5", 1)
	writeRules(t, path, bad)
	waitFor(t, reloadDeadline, "refusal of a bad file", func() bool { return p.metric("pricing_rules_reloads_refused_total") == "1" })
	// The count is taken before the line is logged: wait for the line.
	waitFor(t, reloadDeadline, "a refusal log line naming rules.yaml:6", func() bool {
		return p.hasLog("rules reload refused; the old rules keep serving", "rules.yaml:6")
	})
	if v := p.version(); v != "e2e.3" {
		t.Errorf("after a bad file version %q, want e2e.3 still", v)
	}

	zone := strings.Replace(strings.Replace(rulesV1, "e2e.1", "e2e.zone", 1), "Europe/Berlin", "Mars/Olympus", 1)
	testfile.Replace(t, path, zone)
	waitFor(t, reloadDeadline, "refusal of an unknown zone", func() bool { return p.metric("pricing_rules_reloads_refused_total") == "2" })
	waitFor(t, reloadDeadline, "a refusal log line naming the unknown zone", func() bool {
		return p.hasLog("rules reload refused; the old rules keep serving", `unknown time zone \"Mars/Olympus\"`)
	})
	if v := p.version(); v != "e2e.3" {
		t.Errorf("after an unknown zone version %q, want e2e.3 still", v)
	}

	testfile.Replace(t, path, strings.Replace(rulesV1, "e2e.1", "e2e.4", 1))
	p.signal(syscall.SIGHUP)
	waitFor(t, reloadDeadline, "SIGHUP log line", func() bool { return p.hasLog("SIGHUP: reloading rules", "") })
	waitFor(t, reloadDeadline, "e2e.4 after SIGHUP", func() bool { return p.version() == "e2e.4" })

	_, _, body := p.do("GET", "http://"+p.admin+"/rules", "", "")
	var info struct {
		Version string `json:"version"`
		Refused int    `json:"reloads_refused"`
		Content string `json:"content"`
	}
	if err := json.Unmarshal([]byte(body), &info); err != nil || info.Version != "e2e.4" || info.Refused != 2 || !strings.Contains(info.Content, `version: "e2e.4"`) {
		t.Errorf("/rules = %s (%v)", body, err)
	}
	// A file written in place in two parts, the first invalid on its own
	// (cut inside the tiers): whatever the watcher reads meanwhile, the
	// server keeps answering with e2e.4 or e2e.5, and ends on e2e.5.
	full := strings.Replace(rulesV1, "e2e.1", "e2e.5", 1)
	cut := strings.Index(full, "multiplier: 1.05")
	writeRules(t, path, full[:cut])
	if v := p.version(); v != "e2e.4" && v != "e2e.5" {
		t.Errorf("half-written file: version %q", v)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(full[cut:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, reloadDeadline, "e2e.5 after a two-part in-place write", func() bool { return p.version() == "e2e.5" })

	p.signal(syscall.SIGTERM)
	if code := p.wait(exitTimeout); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// TestE2ERulesBadAtStart: a bad file at start exits 2 naming file:line
// and reason; so does an unknown zone.
func TestE2ERulesBadAtStart(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, content, want string }{
		{"inverted.yaml", strings.Replace(rulesV1, "above: 100", "above: -5", 1), "inverted.yaml:6: demand.tiers[0]"},
		{"zone.yaml", strings.Replace(rulesV1, "Europe/Berlin", "Mars/Olympus", 1), `zone.yaml:8: schedules[0].tz: unknown time zone "Mars/Olympus"`},
		{"notyaml.yaml", "version: [", "notyaml.yaml:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name)
			writeRules(t, path, tt.content)
			r := runBinary(t, append(loopbackArgs, "--rules", path))
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", r.code, r.stderr, tt.want)
			}
		})
	}
	r := runBinary(t, loopbackArgs, "PRICING_RULES="+filepath.Join(dir, "missing.yaml"))
	if r.code != 2 || !strings.Contains(r.stderr, "missing.yaml") {
		t.Errorf("missing file: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// TestE2ERulesSharedDemand: two replicas on one Redis with shared: true
// each count 60 requests of one product x location; each sees the sum,
// which meets a tier neither meets alone. (A 60 s window: its 5 s buckets
// hold the requests of a slow machine; the sum shows once their bucket
// has ended, within about 5 s.)
func TestE2ERulesSharedDemand(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	if r := runBinary(t, []string{"import", "--store", srv.URL(), "--embedded"}); r.code != 0 {
		t.Fatalf("import: exit %d %s", r.code, r.stderr)
	}
	path := filepath.Join(t.TempDir(), "shared.yaml")
	writeRules(t, path, `version: "shared.1"
demand:
  window: 60s
  shared: true
  tiers:
    - {above: 100, multiplier: 1.5}
`)
	args := append([]string{"--store", srv.URL(), "--rules", path}, loopbackArgs...)
	replicas := []*proc{startServer(t, args), startServer(t, args)}
	const body = `{"product_id":"P-7","user_location":"LA"}`
	for _, p := range replicas {
		for i := 0; i < 60; i++ {
			if code, got := p.price(p.api, body); code != 200 {
				t.Fatalf("%d %s", code, got)
			}
		}
	}
	// The admin port prices with the merged demand without counting.
	for i, p := range replicas {
		var last string
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, last = p.price(p.admin, `{"product_id":"P-7","user_location":"LA","explain":true}`)
			if strings.Contains(last, `{"factor":"demand","value":1.5,"requests":120,`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d does not see both replicas' requests within 20s: %s", i, last)
			}
			time.Sleep(20 * time.Millisecond) // poll interval
		}
		t.Logf("replica %d: %s", i, last)
	}
}
