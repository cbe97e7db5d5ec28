package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/lookup"
)

// TestWriterBeforeConnected: a Store opened while Redis is down hands out
// a Writer whose calls fail with ErrUnavailable (the admin API's 503)
// until Redis answers; then the same Writer writes, with its audit.
func TestWriterBeforeConnected(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	srv.Kill()
	s := open(t, Options{URL: srv.URL()})
	w := s.Writer(WriterOptions{})
	ref := lookup.Ref{Kind: lookup.KindProduct, ID: "P-W"}
	ctx := context.Background()
	put := &lookup.Write{Ref: ref, Op: lookup.OpPut, Value: "1.50", Cond: lookup.CondAbsent, Actor: "t"}
	if _, err := w.Write(ctx, put); !errors.Is(err, lookup.ErrUnavailable) {
		t.Fatalf("Write before connected: %v", err)
	}
	if _, err := w.Read(ctx, ref); !errors.Is(err, lookup.ErrUnavailable) {
		t.Fatalf("Read before connected: %v", err)
	}
	if _, _, err := w.Audit(ctx, lookup.AuditQuery{Ref: ref, Limit: 10}); !errors.Is(err, lookup.ErrUnavailable) {
		t.Fatalf("Audit before connected: %v", err)
	}
	srv.Restart()
	eventually(t, 5*time.Second, "connected", func() bool { ok, _ := s.Ready(); return ok })
	out, err := w.Write(ctx, put)
	if err != nil || out.Status != lookup.WriteCreated || out.Record.Version != 1 {
		t.Fatalf("Write after connected: %+v %v", out, err)
	}
	if got := srv.MustDo("GET", "pricing:product:P-W"); got != "1.50" {
		t.Errorf("value %q", got)
	}
	if got := srv.MustDo("HGET", "{pricing:product:P-W}:meta", "version"); got != "1" {
		t.Errorf("meta version %q", got)
	}
	es, _, err := w.Audit(ctx, lookup.AuditQuery{Ref: ref, Limit: 10})
	if err != nil || len(es) != 1 || es[0].Kind != "create" || es[0].After == nil || *es[0].After != "1.50" || es[0].Before != nil {
		t.Fatalf("audit %+v %v", es, err)
	}
}
