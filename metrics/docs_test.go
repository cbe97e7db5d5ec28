package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestOperationsDocListsEveryFamily checks that docs/OPERATIONS.md has a
// table row for every family this package registers: the service's, the
// rules' and the store's.
func TestOperationsDocListsEveryFamily(t *testing.T) {
	doc, err := os.ReadFile("../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	s := New(BuildInfo{})
	NewRules(s.Registry, func() RulesStats { return RulesStats{} })
	NewStore(s.Registry, func() StoreStats { return StoreStats{} })
	NewTrace(s.Registry, func() TraceStats { return TraceStats{} })
	NewAdmin(s.Registry, func() int { return 0 })
	NewHistory(s.Registry, func() HistoryStats { return HistoryStats{} })
	TLSCertificate(s.Registry, time.Now)
	mfs, err := s.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	// Families with no sample yet are not gathered: take every
	// described name as well.
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	ch := make(chan *prometheus.Desc, 256)
	for _, c := range []prometheus.Collector{s.duration, s.lookup, s.rejected, s.acceptErrs} {
		c.Describe(ch)
	}
	NewRules(prometheus.NewRegistry(), func() RulesStats { return RulesStats{} }).Describe(ch)
	close(ch)
	for d := range ch {
		if m := fq.FindStringSubmatch(d.String()); m != nil {
			names[m[1]] = true
		}
	}
	n := 0
	for name := range names {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			continue // one row for the runtime collectors
		}
		n++
		if !strings.Contains(string(doc), "| `"+name+"` |") {
			t.Errorf("docs/OPERATIONS.md has no row for %s", name)
		}
	}
	if n < 29 {
		t.Errorf("only %d families checked; the collectors were not all seen", n)
	}
}
