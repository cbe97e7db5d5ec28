package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var updateDoc = flag.Bool("update-doc", false, "rewrite the flag table of docs/CONFIGURATION.md from --help")

const configDocPath = "../../docs/CONFIGURATION.md"

// The generated part of docs/CONFIGURATION.md sits between these markers.
const (
	docBegin = "<!-- BEGIN FLAGS: generated from --help by `go test ./cmd/pricing-engine -run TestConfigurationDoc -update-doc`; do not edit -->"
	docEnd   = "<!-- END FLAGS -->"
)

// helpEntry is one flag as --help lists it.
type helpEntry struct {
	name, env, usage, def string
}

var (
	helpFlagLine  = regexp.MustCompile(`^  --([a-z0-9-]+) \[([A-Z0-9_]+)\]$`)
	helpUsageLine = regexp.MustCompile(`^    \t(.*) \(default ("(?:[^"\\]|\\.)*")\)$`)
)

// parseHelp reads the flag list of the --help text, in order.
func parseHelp(text string) ([]helpEntry, error) {
	lines := strings.Split(text, "\n")
	var out []helpEntry
	for i := 0; i < len(lines); i++ {
		m := helpFlagLine.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		if i+1 >= len(lines) {
			return nil, fmt.Errorf("flag --%s: no usage line", m[1])
		}
		u := helpUsageLine.FindStringSubmatch(lines[i+1])
		if u == nil {
			return nil, fmt.Errorf("flag --%s: usage line %q has no (default \"...\")", m[1], lines[i+1])
		}
		def, err := strconv.Unquote(u[2])
		if err != nil {
			return nil, fmt.Errorf("flag --%s: default %s: %v", m[1], u[2], err)
		}
		out = append(out, helpEntry{name: m[1], env: m[2], usage: u[1], def: def})
		i++
	}
	if len(out) == 0 {
		return nil, errors.New("no flags found in the --help text")
	}
	return out, nil
}

// inProcessHelp is the --help text as this package's code writes it.
func inProcessHelp(t *testing.T) string {
	t.Helper()
	var out bytes.Buffer
	if _, err := parseConfig([]string{"--help"}, func(string) (string, bool) { return "", false }, &out); !errors.Is(err, errHelp) {
		t.Fatalf("parseConfig(--help) = %v, want errHelp", err)
	}
	return out.String()
}

// flagTable renders the entries as the Markdown table of the doc.
func flagTable(entries []helpEntry) string {
	var b strings.Builder
	b.WriteString("| flag | environment variable | default | meaning |\n|---|---|---|---|\n")
	for _, e := range entries {
		def := "*(empty)*"
		if e.def != "" {
			def = "`" + e.def + "`"
		}
		usage := strings.ReplaceAll(e.usage, "|", `\|`)
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", e.name, e.env, def, usage)
	}
	return b.String()
}

// TestConfigurationDoc keeps docs/CONFIGURATION.md's flag table equal to
// what --help says: a flag added, renamed or re-defaulted without the doc
// fails here. -update-doc rewrites the table.
func TestConfigurationDoc(t *testing.T) {
	entries, err := parseHelp(inProcessHelp(t))
	if err != nil {
		t.Fatal(err)
	}
	// Every declared flag is in the help text, so the table covers them all.
	listed := map[string]bool{}
	for _, e := range entries {
		listed[e.name] = true
	}
	new(config).flagSet().VisitAll(func(f *flag.Flag) {
		if !listed[f.Name] {
			t.Errorf("--help does not list --%s", f.Name)
		}
	})

	doc, err := os.ReadFile(configDocPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	i, j := strings.Index(text, docBegin), strings.Index(text, docEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the markers %q ... %q", configDocPath, docBegin, docEnd)
	}
	want := flagTable(entries)
	got := text[i+len(docBegin)+1 : j]
	if got == want {
		return
	}
	if *updateDoc {
		text = text[:i+len(docBegin)+1] + want + text[j:]
		if err := os.WriteFile(configDocPath, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the flag table of %s", configDocPath)
		return
	}
	t.Errorf("the flag table of %s differs from --help (run go test ./cmd/pricing-engine -run TestConfigurationDoc -update-doc):\ngot:\n%s\nwant:\n%s", configDocPath, got, want)
	for _, e := range entries {
		if !strings.Contains(got, "`--"+e.name+"`") {
			t.Errorf("flag --%s is missing from %s", e.name, configDocPath)
		}
	}
}
