package rules

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pricing-engine/pricing-engine/money"
	"go.yaml.in/yaml/v3"
)

// Error is one problem of a rules file: where it is and why.
type Error struct {
	File string // the name given to Parse
	Line int    // 1-based; 0 when the problem is the file as a whole
	Path string // the key path, e.g. demand.tiers[1]; empty for the file
	Msg  string
}

// Error formats e as "file:line: path: reason".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in one file, in line order. Parse
// returns one when the file is invalid; errors.As finds it.
type ErrorList []*Error

// maxErrors bounds the problems reported for one file.
const maxErrors = 20

// Error joins the problems one per line.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// ReadFile reads and parses the rules file at path; errors name the file
// by its base name. It refuses files over MaxFileSize.
func ReadFile(path string) (*Ruleset, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	return Parse(filepath.Base(path), data)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read rules file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read rules file %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, ErrorList{{File: filepath.Base(path), Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}}
	}
	return data, nil
}

// Parse parses and validates a rules file (YAML; JSON is read as the
// YAML it also is, so its errors carry lines too). name is used in
// messages only. On any problem it returns a nil Ruleset and an
// [ErrorList]; it never panics on any input (a fuzz target holds it to
// that).
func Parse(name string, data []byte) (*Ruleset, error) {
	p := &parser{file: name}
	rs := p.parse(data)
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
		if len(p.errs) > maxErrors {
			p.errs = p.errs[:maxErrors]
		}
		return nil, p.errs
	}
	rs.Source = name
	rs.memberKeep, _ = one.Sub(rs.MemberDiscount) // in [0, 1): cannot overflow
	rs.sum = sha256.Sum256(data)
	rs.raw = bytes.Clone(data)
	return rs, nil
}

type parser struct {
	file string
	errs ErrorList
}

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) parse(data []byte) *Ruleset {
	if len(data) > MaxFileSize {
		p.errorf(nil, "", "file is larger than %d bytes", MaxFileSize)
		return nil
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorf(nil, "", "file is empty (version is required)")
		} else {
			p.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			p.yamlError(err)
		} else {
			at := &extra
			if len(extra.Content) > 0 {
				at = extra.Content[0]
			}
			p.errorf(at, "", "more than one YAML document")
		}
		return nil
	}
	if !p.noAliases(&doc) {
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	keys := p.mapping(root, "", "version", "member_discount", "demand", "schedules", "guards", "ending", "omnibus")
	if keys == nil {
		return nil
	}
	rs := &Ruleset{MemberDiscount: defaultMemberDiscount, Omnibus: Omnibus{Window: DefaultOmnibusWindow}}
	if n, ok := keys["version"]; ok {
		rs.Version = p.name(n, "version")
	} else {
		p.errorf(root, "version", "missing (every rules file needs a version)")
	}
	if n, ok := keys["member_discount"]; ok {
		if d, ok := p.decimal(n, "member_discount"); ok {
			if d.Sign() < 0 || d.Cmp(one) >= 0 {
				p.errorf(n, "member_discount", "%s is outside [0, 1)", d)
			}
			rs.MemberDiscount = d
		}
	}
	if n, ok := keys["demand"]; ok {
		rs.Demand = p.demand(n)
	}
	if n, ok := keys["schedules"]; ok {
		rs.Schedules = p.schedules(n)
	}
	if n, ok := keys["guards"]; ok {
		p.guards(n, rs)
	}
	if n, ok := keys["omnibus"]; ok {
		p.omnibus(n, rs)
	}
	for i := range rs.Schedules {
		if rs.Schedules[i].Announce {
			rs.announced++
		}
	}
	if n, ok := keys["ending"]; ok {
		if d, ok := p.decimal(n, "ending"); ok {
			if d.Sign() < 0 || d.Cmp(one) >= 0 {
				p.errorf(n, "ending", "%s is outside [0, 1): an ending is the fractional part, e.g. \"0.99\"", d)
			}
			rs.Ending, rs.HasEnding = d, true
		}
	}
	return rs
}

// yamlError turns a YAML syntax error ("yaml: line 3: ...") into an
// Error with that line.
func (p *parser) yamlError(err error) {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				line = n
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: "invalid YAML: " + msg})
}

// noAliases refuses aliases (*x): they are never needed in a rules file
// and can blow a small file up into a huge tree.
func (p *parser) noAliases(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		p.errorf(n, "", "aliases (*%s) are not allowed", n.Value)
		return false
	}
	for _, c := range n.Content {
		if !p.noAliases(c) {
			return false
		}
	}
	return true
}

var kindNames = map[yaml.Kind]string{
	yaml.DocumentNode: "a document", yaml.SequenceNode: "a list",
	yaml.MappingNode: "a mapping", yaml.ScalarNode: "a scalar", yaml.AliasNode: "an alias",
}

func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		switch n.Tag {
		case "!!null":
			return "nothing (null)"
		case "!!str":
			return fmt.Sprintf("the string %q", truncate(n.Value))
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "the number " + truncate(n.Value)
		}
		return "a scalar"
	}
	return kindNames[n.Kind]
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// mapping checks that n is a mapping whose keys are among allowed, each
// at most once, and returns the values by key (nil if n is not a mapping).
func (p *parser) mapping(n *yaml.Node, path string, allowed ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		where := path
		if where == "" {
			where = "top level"
		}
		p.errorf(n, path, "expected a mapping at %s, got %s", where, describe(n))
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kp := join(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, path, "keys must be plain names, got %s", describe(k))
			continue
		}
		known := false
		for _, a := range allowed {
			if a == k.Value {
				known = true
				break
			}
		}
		if !known {
			p.errorf(k, kp, "unknown key (want one of: %s)", strings.Join(allowed, ", "))
			continue
		}
		if _, dup := out[k.Value]; dup {
			p.errorf(k, kp, "duplicate key")
			continue
		}
		out[k.Value] = v
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (p *parser) scalar(n *yaml.Node, path, want string, tags ...string) bool {
	if n.Kind == yaml.ScalarNode {
		for _, t := range tags {
			if n.Tag == t {
				return true
			}
		}
	}
	p.errorf(n, path, "expected %s, got %s", want, describe(n))
	return false
}

// name reads a version or schedule name: 1..MaxNameLen bytes of letters,
// digits and . _ - : + (so it needs no escaping in JSON or metric labels).
func (p *parser) name(n *yaml.Node, path string) string {
	if !p.scalar(n, path, "a name", "!!str", "!!int", "!!float") {
		return ""
	}
	s := n.Value
	if s == "" || len(s) > MaxNameLen {
		p.errorf(n, path, "must be 1..%d characters, got %d", MaxNameLen, len(s))
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._-:+", c) >= 0) {
			p.errorf(n, path, "%q: only letters, digits and . _ - : + are allowed", truncate(s))
			return ""
		}
	}
	return s
}

// decimal reads an exact decimal written as a YAML/JSON number or a
// quoted string ("0.99"), with at most MaxFactorScale decimals.
func (p *parser) decimal(n *yaml.Node, path string) (money.Decimal, bool) {
	if !p.scalar(n, path, "a decimal number", "!!int", "!!float", "!!str") {
		return money.Decimal{}, false
	}
	d, err := money.Parse(n.Value)
	if err != nil {
		p.errorf(n, path, "%q is not a decimal number (write digits with an optional point, e.g. 1.05)", truncate(n.Value))
		return money.Decimal{}, false
	}
	if d.Scale() > MaxFactorScale {
		p.errorf(n, path, "%s has more than %d digits after the point", d, MaxFactorScale)
		return money.Decimal{}, false
	}
	return d, true
}

// factor reads a multiplier: a decimal in (0, 100].
func (p *parser) factor(n *yaml.Node, path string) (money.Decimal, bool) {
	d, ok := p.decimal(n, path)
	if !ok {
		return d, false
	}
	if d.Sign() <= 0 || d.Cmp(money.New(100, 0)) > 0 {
		p.errorf(n, path, "%s is outside (0, 100]", d)
		return d, false
	}
	return d, true
}

func (p *parser) sequence(n *yaml.Node, path string, max int) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, path, "expected a list, got %s", describe(n))
		return nil
	}
	if len(n.Content) > max {
		p.errorf(n, path, "more than %d entries", max)
		return nil
	}
	return n.Content
}

func (p *parser) demand(n *yaml.Node) *Demand {
	keys := p.mapping(n, "demand", "window", "shared", "tiers", "max_multiplier", "max_step")
	if keys == nil {
		return nil
	}
	d := &Demand{}
	if v, ok := keys["window"]; ok {
		if p.scalar(v, "demand.window", "a duration such as 60s", "!!str") {
			w, err := time.ParseDuration(v.Value)
			switch {
			case err != nil:
				p.errorf(v, "demand.window", "%q is not a duration (write e.g. 60s, 5m, 1h)", truncate(v.Value))
			case w < MinWindow || w > MaxWindow:
				p.errorf(v, "demand.window", "%s is outside [%s, %s]", w, MinWindow, MaxWindow)
			default:
				d.Window = w
			}
		}
	} else {
		p.errorf(n, "demand.window", "missing (the demand section needs a window, e.g. 60s)")
	}
	if v, ok := keys["shared"]; ok && p.scalar(v, "demand.shared", "true or false", "!!bool") {
		d.Shared = v.Value == "true"
	}
	if v, ok := keys["max_multiplier"]; ok {
		if m, ok := p.factor(v, "demand.max_multiplier"); ok {
			if m.Cmp(one) < 0 {
				p.errorf(v, "demand.max_multiplier", "%s is below 1", m)
			}
			d.MaxMultiplier = m
		}
	}
	if v, ok := keys["max_step"]; ok {
		if s, ok := p.factor(v, "demand.max_step"); ok {
			d.MaxStep = s
		}
	}
	v, ok := keys["tiers"]
	if !ok {
		p.errorf(n, "demand.tiers", "missing (the demand section needs at least one tier)")
		return d
	}
	items := p.sequence(v, "demand.tiers", MaxTiers)
	if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
		p.errorf(v, "demand.tiers", "empty (the demand section needs at least one tier)")
	}
	for i, it := range items {
		path := fmt.Sprintf("demand.tiers[%d]", i)
		tk := p.mapping(it, path, "above", "multiplier")
		if tk == nil {
			continue
		}
		var t Tier
		good := true
		if a, ok := tk["above"]; !ok {
			p.errorf(it, path+".above", "missing")
			good = false
		} else if p.scalar(a, path+".above", "a whole number of requests", "!!int") {
			n, err := strconv.ParseInt(a.Value, 10, 64)
			if err != nil || n < 0 {
				p.errorf(a, path+".above", "%q is not a whole number >= 0", truncate(a.Value))
				good = false
			}
			t.Above = n
		} else {
			good = false
		}
		if m, ok := tk["multiplier"]; !ok {
			p.errorf(it, path+".multiplier", "missing")
			good = false
		} else if f, ok := p.factor(m, path+".multiplier"); ok {
			// Demand only ever raises a price; a sale is a schedule.
			if f.Cmp(one) < 0 {
				p.errorf(m, path+".multiplier", "%s is below 1: demand only raises prices (lower them with a schedule)", f)
				good = false
			}
			t.Multiplier = f
		} else {
			good = false
		}
		if !good {
			continue
		}
		if k := len(d.Tiers); k > 0 {
			prev := d.Tiers[k-1]
			switch {
			case t.Above == prev.Above:
				p.errorf(it, path, "above %d overlaps tier %d (each tier needs a larger above than the one before)", t.Above, k-1)
			case t.Above < prev.Above:
				p.errorf(it, path, "above %d is below tier %d's above %d (list tiers in increasing order)", t.Above, k-1, prev.Above)
			case t.Multiplier.Cmp(prev.Multiplier) < 0:
				p.errorf(it, path, "multiplier %s is below tier %d's %s: tiers are inverted (more demand must not lower the price)", t.Multiplier, k-1, prev.Multiplier)
			}
		}
		d.Tiers = append(d.Tiers, t)
	}
	return d
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// allDays is the Days bit set of a schedule without a days key.
const allDays = 1<<7 - 1

func (p *parser) schedules(n *yaml.Node) []Schedule {
	items := p.sequence(n, "schedules", MaxSchedules)
	var out []Schedule
	seen := map[string]int{}
	for i, it := range items {
		path := fmt.Sprintf("schedules[%d]", i)
		keys := p.mapping(it, path, "name", "days", "from", "to", "tz", "products", "locations", "multiplier", "announce")
		if keys == nil {
			continue
		}
		s := Schedule{Days: allDays, From: 0, To: 24 * 60, Location: time.UTC, memo: new(atomic.Uint64), runMemo: new(atomic.Uint64)}
		if v, ok := keys["name"]; ok {
			s.Name = p.name(v, path+".name")
			if j, dup := seen[s.Name]; dup && s.Name != "" {
				p.errorf(v, path+".name", "%q is already the name of schedules[%d]", s.Name, j)
			}
			seen[s.Name] = i
		} else {
			p.errorf(it, path+".name", "missing (the explanation names the schedule)")
		}
		if v, ok := keys["multiplier"]; ok {
			s.Multiplier, _ = p.factor(v, path+".multiplier")
		} else {
			p.errorf(it, path+".multiplier", "missing")
		}
		if v, ok := keys["days"]; ok {
			s.Days = 0
			days := p.sequence(v, path+".days", 7)
			if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
				p.errorf(v, path+".days", "empty (leave days out for every day)")
			}
			for j, dn := range days {
				dp := fmt.Sprintf("%s.days[%d]", path, j)
				if !p.scalar(dn, dp, "a day name such as sat", "!!str") {
					continue
				}
				wd, ok := dayNames[strings.ToLower(dn.Value)]
				if !ok {
					p.errorf(dn, dp, "%q is not a day (write mon, tue, wed, thu, fri, sat or sun)", truncate(dn.Value))
					continue
				}
				if s.Days&(1<<wd) != 0 {
					p.errorf(dn, dp, "%q is listed twice", dn.Value)
				}
				s.Days |= 1 << wd
			}
		}
		if v, ok := keys["from"]; ok {
			s.From = p.clock(v, path+".from", false)
		}
		if v, ok := keys["to"]; ok {
			s.To = p.clock(v, path+".to", true)
		}
		if s.From == s.To && (keys["from"] != nil || keys["to"] != nil) {
			p.errorf(it, path, "from equals to: the window is empty (leave both out for the whole day)")
		}
		if s.From == 0 && s.To == 0 {
			s.To = 24 * 60
		}
		if v, ok := keys["tz"]; ok && p.scalar(v, path+".tz", "a time zone name such as Europe/Berlin", "!!str") {
			s.Location = p.zone(v, path+".tz")
		}
		if v, ok := keys["announce"]; ok && p.scalar(v, path+".announce", "true or false", "!!bool") {
			s.Announce = v.Value == "true"
			// Art. 6a: an announced reduction lowers the price, and has a
			// start its prior price is anchored at.
			switch {
			case !s.Announce:
			case !s.Multiplier.IsZero() && s.Multiplier.Cmp(one) >= 0:
				p.errorf(v, path+".announce", "multiplier %s is not below 1: only a price reduction can be announced", s.Multiplier)
			case s.Days == allDays && s.From == 0 && s.To == 24*60:
				p.errorf(v, path+".announce", "the schedule applies at every moment, so the reduction never starts: limit it with days or from/to")
			}
		}
		s.Products = p.globs(keys["products"], path+".products")
		s.Locations = p.globs(keys["locations"], path+".locations")
		for _, g := range s.Products {
			s.products = append(s.products, compileGlob(g))
		}
		for _, g := range s.Locations {
			s.locations = append(s.locations, compileGlob(g))
		}
		out = append(out, s)
	}
	return out
}

// clock reads "HH:MM" (00:00..23:59; 24:00 too when end is true) as
// minutes after midnight.
func (p *parser) clock(n *yaml.Node, path string, end bool) int {
	if !p.scalar(n, path, `a time of day such as "18:00"`, "!!str") {
		return 0
	}
	s := n.Value
	bad := func() int {
		p.errorf(n, path, "%q is not a time of day (write HH:MM, 00:00 to 23:59, or 24:00 for to)", truncate(s))
		return 0
	}
	if len(s) != 5 || s[2] != ':' {
		return bad()
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || s[0] == '+' || s[0] == '-' || s[3] == '+' || s[3] == '-' || m > 59 {
		return bad()
	}
	switch {
	case h < 24:
		return h*60 + m
	case h == 24 && m == 0 && end:
		return 24 * 60
	}
	return bad()
}

// zone loads a time zone by its IANA name. "Local" is refused: it would
// make the rules depend on the machine. UTC is always available; other
// names need the system's tzdata (or a binary built with time/tzdata).
func (p *parser) zone(n *yaml.Node, path string) *time.Location {
	name := n.Value
	if name == "" || name == "Local" {
		p.errorf(n, path, "%q is not a time zone name (write e.g. UTC or Europe/Berlin)", name)
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		p.errorf(n, path, "unknown time zone %q: %v", truncate(name), err)
		return time.UTC
	}
	return loc
}

func (p *parser) globs(n *yaml.Node, path string) []string {
	if n == nil {
		return nil
	}
	items := p.sequence(n, path, 256)
	if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		p.errorf(n, path, "empty (leave it out to match every one)")
	}
	out := make([]string, 0, len(items))
	for j, g := range items {
		gp := fmt.Sprintf("%s[%d]", path, j)
		if !p.scalar(g, gp, "a pattern such as \"P-1*\"", "!!str", "!!int") {
			continue
		}
		if err := checkGlob(g.Value); err != nil {
			p.errorf(g, gp, "bad pattern: %v", err)
			continue
		}
		out = append(out, g.Value)
	}
	return out
}

// omnibus reads the omnibus section: window (a whole number of days,
// "30d", or a duration such as "720h") and member_prices.
func (p *parser) omnibus(n *yaml.Node, rs *Ruleset) {
	keys := p.mapping(n, "omnibus", "window", "member_prices")
	if keys == nil {
		return
	}
	if v, ok := keys["window"]; ok && p.scalar(v, "omnibus.window", "a number of days such as 30d", "!!str") {
		w, err := parseDays(v.Value)
		switch {
		case err != nil:
			p.errorf(v, "omnibus.window", "%q is not a number of days (write e.g. 30d)", truncate(v.Value))
		case w%(24*time.Hour) != 0:
			p.errorf(v, "omnibus.window", "%s is not a whole number of days", w)
		case w < MinOmnibusWindow || w > MaxOmnibusWindow:
			p.errorf(v, "omnibus.window", "%s is outside [%dd, %dd]", truncate(v.Value), MinOmnibusWindow/(24*time.Hour), MaxOmnibusWindow/(24*time.Hour))
		default:
			rs.Omnibus.Window = w
		}
	}
	if v, ok := keys["member_prices"]; ok && p.scalar(v, "omnibus.member_prices", "true or false", "!!bool") {
		rs.Omnibus.MemberPrices = v.Value == "true"
	}
}

// parseDays parses "<n>d" as n days, or a Go duration.
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.ParseUint(n, 10, 16)
		if err != nil {
			return 0, err
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func (p *parser) guards(n *yaml.Node, rs *Ruleset) {
	keys := p.mapping(n, "guards", "floor", "ceiling")
	if keys == nil {
		return
	}
	fn, cn := keys["floor"], keys["ceiling"]
	if fn != nil {
		rs.Floor, _ = p.factor(fn, "guards.floor")
	}
	if cn != nil {
		rs.Ceiling, _ = p.factor(cn, "guards.ceiling")
	}
	if !rs.Floor.IsZero() && !rs.Ceiling.IsZero() && rs.Floor.Cmp(rs.Ceiling) > 0 {
		p.errorf(fn, "guards.floor", "floor %s is above ceiling %s", rs.Floor, rs.Ceiling)
	}
}
