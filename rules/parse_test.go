package rules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/money"
)

func dec(t testing.TB, s string) money.Decimal {
	t.Helper()
	d, err := money.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestParseExample(t *testing.T) {
	rs, err := ReadFile(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if rs.Version != "2026-11-28.1" || rs.Source != "example.yaml" {
		t.Errorf("version %q source %q", rs.Version, rs.Source)
	}
	if rs.MemberDiscount.Cmp(dec(t, "0.05")) != 0 {
		t.Errorf("member discount %s", rs.MemberDiscount)
	}
	d := rs.Demand
	if d == nil || d.Window != time.Minute || d.Shared || len(d.Tiers) != 3 ||
		d.Tiers[1].Above != 500 || d.Tiers[1].Multiplier.Cmp(dec(t, "1.15")) != 0 ||
		d.MaxMultiplier.Cmp(dec(t, "1.5")) != 0 || d.MaxStep.Cmp(dec(t, "0.05")) != 0 {
		t.Errorf("demand %+v", d)
	}
	if len(rs.Schedules) != 3 {
		t.Fatalf("schedules %+v", rs.Schedules)
	}
	ws := rs.Schedules[1]
	if ws.Name != "weekend-sale" || ws.Days != 1<<time.Saturday|1<<time.Sunday || ws.From != 18*60 || ws.To != 20*60 ||
		ws.Location.String() != "Europe/Berlin" || len(ws.Products) != 1 || ws.Locations[0] != "NY" ||
		ws.Multiplier.Cmp(dec(t, "0.9")) != 0 {
		t.Errorf("weekend-sale %+v", ws)
	}
	if ln := rs.Schedules[2]; ln.From != 22*60 || ln.To != 6*60 || ln.Days != allDays {
		t.Errorf("late-night %+v", ln)
	}
	if rs.Floor.Cmp(dec(t, "0.8")) != 0 || rs.Ceiling.Cmp(dec(t, "2")) != 0 || !rs.HasEnding || rs.Ending.Cmp(dec(t, "0.99")) != 0 {
		t.Errorf("guards %s %s ending %s", rs.Floor, rs.Ceiling, rs.Ending)
	}
}

// TestParseJSON reads the same rules written as JSON: JSON goes through
// the YAML parser, so its errors carry lines too.
func TestParseJSON(t *testing.T) {
	src := `{
  "version": "j1",
  "member_discount": 0.1,
  "demand": {"window": "30s", "tiers": [{"above": 10, "multiplier": 1.1}], "max_step": 0.05},
  "schedules": [{"name": "s", "days": ["mon"], "from": "09:00", "to": "17:00", "tz": "UTC", "multiplier": 0.9}],
  "guards": {"floor": 0.5, "ceiling": 3},
  "ending": "0.95"
}`
	rs, err := Parse("rules.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if rs.Version != "j1" || rs.Demand.Window != 30*time.Second || rs.Schedules[0].Days != 1<<time.Monday || rs.Ending.Cmp(dec(t, "0.95")) != 0 {
		t.Errorf("%+v", rs)
	}
	_, err = Parse("rules.json", []byte("{\n  \"version\": \"j1\",\n  \"guards\": {\"floor\": 3, \"ceiling\": 2}\n}"))
	if err == nil || err.Error() != "rules.json:3: guards.floor: floor 3 is above ceiling 2" {
		t.Errorf("JSON error: %v", err)
	}
}

func TestParseMinimal(t *testing.T) {
	rs, err := Parse("r.yaml", []byte("version: 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	if rs.Version != "7" || rs.Demand != nil || rs.Schedules != nil || rs.HasEnding || !rs.Floor.IsZero() ||
		rs.MemberDiscount.Cmp(dec(t, "0.05")) != 0 {
		t.Errorf("%+v", rs)
	}
}

// TestParseErrors holds every validation error to its file, line, path
// and reason.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"empty", "", "rules.yaml: file is empty (version is required)"},
		{"missing version", "ending: \"0.99\"\n", "rules.yaml:1: version: missing (every rules file needs a version)"},
		{"not a mapping", "- a\n- b\n", "rules.yaml:1: expected a mapping at top level, got a list"},
		{"yaml syntax", "version: 1\ndemand: [\n", "rules.yaml:2: invalid YAML: did not find expected node content"},
		{"two documents", "version: 1\n---\nversion: 2\n", "rules.yaml:3: more than one YAML document"},
		{"alias", "version: &v x\nending: *v\n", "rules.yaml:2: aliases (*v) are not allowed"},
		{"unknown key", "version: 1\nfloor: 0.8\n", "rules.yaml:2: floor: unknown key (want one of: version, member_discount, demand, schedules, guards, ending, omnibus)"},
		{"unknown nested key", "version: 1\nguards:\n  flor: 0.8\n", "rules.yaml:3: guards.flor: unknown key (want one of: floor, ceiling)"},
		{"duplicate key", "version: 1\nversion: 2\n", "rules.yaml:2: version: duplicate key"},
		{"version type", "version: [1]\n", "rules.yaml:1: version: expected a name, got a list"},
		{"version chars", "version: \"a b\"\n", `rules.yaml:1: version: "a b": only letters, digits and . _ - : + are allowed`},
		{"version long", "version: " + strings.Repeat("x", 65) + "\n", "rules.yaml:1: version: must be 1..64 characters, got 65"},
		{"discount text", "version: 1\nmember_discount: yes\n", `rules.yaml:2: member_discount: "yes" is not a decimal number (write digits with an optional point, e.g. 1.05)`},
		{"discount type", "version: 1\nmember_discount: [0.05]\n", "rules.yaml:2: member_discount: expected a decimal number, got a list"},
		{"discount range", "version: 1\nmember_discount: 1\n", "rules.yaml:2: member_discount: 1 is outside [0, 1)"},
		{"discount exponent", "version: 1\nmember_discount: 5e-2\n", `rules.yaml:2: member_discount: "5e-2" is not a decimal number (write digits with an optional point, e.g. 1.05)`},
		{"discount scale", "version: 1\nmember_discount: 0.12345\n", "rules.yaml:2: member_discount: 0.12345 has more than 4 digits after the point"},
		{"demand not mapping", "version: 1\ndemand: 5\n", "rules.yaml:2: demand: expected a mapping at demand, got the number 5"},
		{"demand no window", "version: 1\ndemand:\n  tiers: [{above: 1, multiplier: 1.1}]\n", "rules.yaml:3: demand.window: missing (the demand section needs a window, e.g. 60s)"},
		{"demand bad window", "version: 1\ndemand:\n  window: soon\n  tiers: [{above: 1, multiplier: 1.1}]\n", `rules.yaml:3: demand.window: "soon" is not a duration (write e.g. 60s, 5m, 1h)`},
		{"demand short window", "version: 1\ndemand:\n  window: 10ms\n  tiers: [{above: 1, multiplier: 1.1}]\n", "rules.yaml:3: demand.window: 10ms is outside [1s, 24h0m0s]"},
		{"demand window number", "version: 1\ndemand:\n  window: 60\n  tiers: [{above: 1, multiplier: 1.1}]\n", "rules.yaml:3: demand.window: expected a duration such as 60s, got the number 60"},
		{"demand shared type", "version: 1\ndemand:\n  window: 1m\n  shared: maybe\n  tiers: [{above: 1, multiplier: 1.1}]\n", `rules.yaml:4: demand.shared: expected true or false, got the string "maybe"`},
		{"demand no tiers", "version: 1\ndemand:\n  window: 1m\n", "rules.yaml:3: demand.tiers: missing (the demand section needs at least one tier)"},
		{"demand empty tiers", "version: 1\ndemand:\n  window: 1m\n  tiers: []\n", "rules.yaml:4: demand.tiers: empty (the demand section needs at least one tier)"},
		{"tier missing above", "version: 1\ndemand:\n  window: 1m\n  tiers:\n    - {multiplier: 1.1}\n", "rules.yaml:5: demand.tiers[0].above: missing"},
		{"tier negative above", "version: 1\ndemand:\n  window: 1m\n  tiers:\n    - {above: -1, multiplier: 1.1}\n", `rules.yaml:5: demand.tiers[0].above: "-1" is not a whole number >= 0`},
		{"tier float above", "version: 1\ndemand:\n  window: 1m\n  tiers:\n    - {above: 1.5, multiplier: 1.1}\n", "rules.yaml:5: demand.tiers[0].above: expected a whole number of requests, got the number 1.5"},
		{"tier zero multiplier", "version: 1\ndemand:\n  window: 1m\n  tiers:\n    - {above: 1, multiplier: 0}\n", "rules.yaml:5: demand.tiers[0].multiplier: 0 is outside (0, 100]"},
		{"tier multiplier below 1", "version: 1\ndemand:\n  window: 1m\n  tiers:\n    - {above: 1, multiplier: 1}\n    - {above: 5, multiplier: 0.95}\n", "rules.yaml:6: demand.tiers[1].multiplier: 0.95 is below 1: demand only raises prices (lower them with a schedule)"},
		{"tier unknown key", "version: 1\ndemand:\n  window: 1m\n  tiers:\n    - {above: 1, multiplier: 1.1, cap: 2}\n", "rules.yaml:5: demand.tiers[0].cap: unknown key (want one of: above, multiplier)"},
		{"tiers overlap", "version: 1\ndemand:\n  window: 1m\n  tiers:\n    - {above: 100, multiplier: 1.05}\n    - {above: 100, multiplier: 1.15}\n", "rules.yaml:6: demand.tiers[1]: above 100 overlaps tier 0 (each tier needs a larger above than the one before)"},
		{"tiers out of order", "version: 1\ndemand:\n  window: 1m\n  tiers:\n    - {above: 500, multiplier: 1.05}\n    - {above: 100, multiplier: 1.15}\n", "rules.yaml:6: demand.tiers[1]: above 100 is below tier 0's above 500 (list tiers in increasing order)"},
		{"tiers inverted", "version: 1\ndemand:\n  window: 1m\n  tiers:\n    - {above: 100, multiplier: 1.15}\n    - {above: 500, multiplier: 1.05}\n", "rules.yaml:6: demand.tiers[1]: multiplier 1.05 is below tier 0's 1.15: tiers are inverted (more demand must not lower the price)"},
		{"max multiplier below 1", "version: 1\ndemand:\n  window: 1m\n  tiers: [{above: 1, multiplier: 1.1}]\n  max_multiplier: 0.9\n", "rules.yaml:5: demand.max_multiplier: 0.9 is below 1"},
		{"max step zero", "version: 1\ndemand:\n  window: 1m\n  tiers: [{above: 1, multiplier: 1.1}]\n  max_step: 0\n", "rules.yaml:5: demand.max_step: 0 is outside (0, 100]"},
		{"schedules not list", "version: 1\nschedules: {name: x}\n", "rules.yaml:2: schedules: expected a list, got a mapping"},
		{"schedule no name", "version: 1\nschedules:\n  - {multiplier: 0.9}\n", "rules.yaml:3: schedules[0].name: missing (the explanation names the schedule)"},
		{"schedule duplicate name", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9}\n  - {name: a, multiplier: 0.8}\n", `rules.yaml:4: schedules[1].name: "a" is already the name of schedules[0]`},
		{"schedule no multiplier", "version: 1\nschedules:\n  - {name: a}\n", "rules.yaml:3: schedules[0].multiplier: missing"},
		{"bad day", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, days: [sat, caturday]}\n", `rules.yaml:3: schedules[0].days[1]: "caturday" is not a day (write mon, tue, wed, thu, fri, sat or sun)`},
		{"day twice", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, days: [sat, Saturday]}\n", `rules.yaml:3: schedules[0].days[1]: "Saturday" is listed twice`},
		{"days empty", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, days: []}\n", "rules.yaml:3: schedules[0].days: empty (leave days out for every day)"},
		{"day number", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, days: [6]}\n", "rules.yaml:3: schedules[0].days[0]: expected a day name such as sat, got the number 6"},
		{"bad from", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, from: \"25:00\"}\n", `rules.yaml:3: schedules[0].from: "25:00" is not a time of day (write HH:MM, 00:00 to 23:59, or 24:00 for to)`},
		{"from 24:00", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, from: \"24:00\"}\n", `rules.yaml:3: schedules[0].from: "24:00" is not a time of day (write HH:MM, 00:00 to 23:59, or 24:00 for to)`},
		{"bad to minutes", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, to: \"10:60\"}\n", `rules.yaml:3: schedules[0].to: "10:60" is not a time of day (write HH:MM, 00:00 to 23:59, or 24:00 for to)`},
		{"to short form", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, to: \"9:00\"}\n", `rules.yaml:3: schedules[0].to: "9:00" is not a time of day (write HH:MM, 00:00 to 23:59, or 24:00 for to)`},
		{"from unquoted", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, from: 1800}\n", `rules.yaml:3: schedules[0].from: expected a time of day such as "18:00", got the number 1800`},
		{"from equals to", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, from: \"10:00\", to: \"10:00\"}\n", "rules.yaml:3: schedules[0]: from equals to: the window is empty (leave both out for the whole day)"},
		{"bad zone", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, tz: Mars/Olympus}\n", `rules.yaml:3: schedules[0].tz: unknown time zone "Mars/Olympus": unknown time zone Mars/Olympus`},
		{"local zone", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, tz: Local}\n", `rules.yaml:3: schedules[0].tz: "Local" is not a time zone name (write e.g. UTC or Europe/Berlin)`},
		{"glob class", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, products: [\"P-[1-3]*\"]}\n", `rules.yaml:3: schedules[0].products[0]: bad pattern: pattern "P-[1-3]*": character classes are not supported (escape [ as \[)`},
		{"glob backslash", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, locations: [\"NY\\\\\"]}\n", `rules.yaml:3: schedules[0].locations[0]: bad pattern: pattern "NY\\" ends in a lone backslash`},
		{"glob empty", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, products: [\"\"]}\n", "rules.yaml:3: schedules[0].products[0]: bad pattern: empty pattern"},
		{"glob space", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, products: [\"P 1\"]}\n", `rules.yaml:3: schedules[0].products[0]: bad pattern: pattern "P 1": byte 1 is not printable ASCII`},
		{"globs empty list", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, products: []}\n", "rules.yaml:3: schedules[0].products: empty (leave it out to match every one)"},
		{"floor above ceiling", "version: 1\nguards:\n  floor: 2.5\n  ceiling: 2\n", "rules.yaml:3: guards.floor: floor 2.5 is above ceiling 2"},
		{"floor negative", "version: 1\nguards:\n  floor: -0.5\n", "rules.yaml:3: guards.floor: -0.5 is outside (0, 100]"},
		{"guards null", "version: 1\nguards:\n", "rules.yaml:2: guards: expected a mapping at guards, got nothing (null)"},
		{"too many tiers", "version: 1\ndemand:\n  window: 1m\n  tiers: [" + strings.Repeat("{above: 1, multiplier: 1},", 33) + "]\n", "rules.yaml:4: demand.tiers: more than 32 entries"},
		{"complex key", "version: 1\n? [a, b]\n: 1\n", "rules.yaml:2: keys must be plain names, got a list"},
		{"ending range", "version: 1\nending: \"1.99\"\n", `rules.yaml:2: ending: 1.99 is outside [0, 1): an ending is the fractional part, e.g. "0.99"`},
		{"ending text", "version: 1\nending: x.99\n", `rules.yaml:2: ending: "x.99" is not a decimal number (write digits with an optional point, e.g. 1.05)`},
		{"announce a raise", "version: 1\nschedules:\n  - name: a\n    multiplier: 1.1\n    days: [sat]\n    announce: true\n", "rules.yaml:6: schedules[0].announce: multiplier 1.1 is not below 1: only a price reduction can be announced"},
		{"announce at 1", "version: 1\nschedules:\n  - {name: a, multiplier: 1, days: [sat], announce: true}\n", "rules.yaml:3: schedules[0].announce: multiplier 1 is not below 1: only a price reduction can be announced"},
		{"announce forever", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, announce: true}\n", "rules.yaml:3: schedules[0].announce: the schedule applies at every moment, so the reduction never starts: limit it with days or from/to"},
		{"announce type", "version: 1\nschedules:\n  - {name: a, multiplier: 0.9, days: [sat], announce: yes please}\n", `rules.yaml:3: schedules[0].announce: expected true or false, got the string "yes please"`},
		{"omnibus window text", "version: 1\nomnibus: {window: month}\n", `rules.yaml:2: omnibus.window: "month" is not a number of days (write e.g. 30d)`},
		{"omnibus window hours", "version: 1\nomnibus: {window: 36h}\n", "rules.yaml:2: omnibus.window: 36h0m0s is not a whole number of days"},
		{"omnibus window long", "version: 1\nomnibus: {window: 60d}\n", "rules.yaml:2: omnibus.window: 60d is outside [1d, 38d]"},
		{"omnibus window zero", "version: 1\nomnibus: {window: 0d}\n", "rules.yaml:2: omnibus.window: 0d is outside [1d, 38d]"},
		{"omnibus member prices", "version: 1\nomnibus: {member_prices: 1}\n", "rules.yaml:2: omnibus.member_prices: expected true or false, got the number 1"},
		{"omnibus unknown", "version: 1\nomnibus: {days: 30}\n", "rules.yaml:2: omnibus.days: unknown key (want one of: window, member_prices)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Parse("rules.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("accepted: %+v", rs)
			}
			if rs != nil {
				t.Errorf("a refused file returned a ruleset")
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T is not an ErrorList: %v", err, err)
			}
			if got := list[0].Error(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestParseErrorsAll reports every problem of a file, in line order.
func TestParseErrorsAll(t *testing.T) {
	src := "version: 1\nending: 2\nguards:\n  floor: 0\nbogus: 1\n"
	_, err := Parse("r.yaml", []byte(src))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
	for i, line := range []int{2, 4, 5} {
		if list[i].Line != line {
			t.Errorf("problem %d at line %d, want %d: %v", i, list[i].Line, line, list[i])
		}
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "cannot read rules file") {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("version: 1\n#"+strings.Repeat("x", MaxFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(big); err == nil || err.Error() != "big.yaml: file is larger than 1048576 bytes" {
		t.Errorf("big file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	ex, err := os.ReadFile(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ex)
	f.Add([]byte(`{"version":"1","demand":{"window":"1m","tiers":[{"above":1,"multiplier":1.1}]}}`))
	f.Add([]byte("version: 1\nschedules:\n  - {name: a, multiplier: 0.9, from: \"22:00\", to: \"06:00\", products: [\"P-\\\\*?\"]}\n"))
	f.Add([]byte("version: &a 1\nending: *a\n"))
	f.Add([]byte("version: 1\nomnibus: {window: 14d, member_prices: true}\nschedules:\n  - {name: a, days: [sat, sun], multiplier: 0.9, announce: true}\n  - {name: b, days: [mon], from: \"00:00\", to: \"12:00\", multiplier: 0.8, announce: true}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Parse("fuzz.yaml", data)
		if (rs == nil) == (err == nil) {
			t.Fatalf("Parse returned ruleset %v and error %v", rs != nil, err)
		}
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 || len(list) > maxErrors {
				t.Fatalf("error is not a bounded ErrorList: %v", err)
			}
			return
		}
		// A valid ruleset prices any request without panicking.
		in := Input{Product: []byte("P-1"), Location: []byte("NY"), Member: true,
			Base: money.New(4999, 2), Market: money.New(11, 1), Now: time.Unix(1764331200, 0)}
		var res Result
		if err := Price(rs, &in, &res); err == nil && res.Final.Sign() < 0 {
			t.Fatalf("negative price %s", res.Final)
		}
		// An announced reduction starts before now, and at most
		// MaxReductionRun before it.
		if res.Reduction && (res.Start.After(in.Now) || in.Now.Sub(res.Start) > MaxReductionRun) {
			t.Fatalf("reduction starts %s, now %s", res.Start, in.Now)
		}
	})
}
