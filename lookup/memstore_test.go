package lookup

import (
	"context"
	"strconv"
	"sync"
	"testing"
)

func newTestMemoryStore(t *testing.T) *MemoryStore {
	t.Helper()
	cat, mk, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return NewMemoryStore(cat, mk, MemoryStoreOptions{})
}

func answer(s *MemoryStore, product, location string) (string, string, error) {
	c := &Call{ProductID: []byte(product), Location: []byte(location)}
	s.Answer(c)
	return c.Base.String(), c.Mult.String(), c.Err
}

// TestMemoryStoreWritesServed checks that writes are what Lookup answers,
// the default market included, across an overlay fold.
func TestMemoryStoreWritesServed(t *testing.T) {
	s := newTestMemoryStore(t)
	ctx := context.Background()
	put := func(kind, id, v string) {
		t.Helper()
		out, err := s.Write(ctx, &Write{Ref: Ref{Kind: kind, ID: id}, Op: OpPut, Value: v, Actor: "t"})
		if err != nil || (out.Status != WriteCreated && out.Status != WriteUpdated) {
			t.Fatalf("put %s %s: %+v %v", kind, id, out, err)
		}
	}
	put(KindProduct, "P-1", "12.5")
	put(KindMarket, "*", "2")
	put(KindMarket, "NY", "3")
	if b, m, err := answer(s, "P-1", "NY"); b != "12.5" || m != "3" || err != nil {
		t.Errorf("P-1 NY = %s %s %v", b, m, err)
	}
	if _, m, _ := answer(s, "P-1", "NOWHERE"); m != "2" {
		t.Errorf("default market %s, want 2", m)
	}
	if _, err := s.Write(ctx, &Write{Ref: Ref{Kind: KindMarket, ID: "*"}, Op: OpDelete}); err != nil {
		t.Fatal(err)
	}
	if _, m, _ := answer(s, "P-1", "NOWHERE"); m != "1" {
		t.Errorf("default market after its delete %s, want 1", m)
	}
	// Past the fold bound, every write is still served.
	for i := range overlayFold + 10 {
		put(KindProduct, "N-"+strconv.Itoa(i), strconv.Itoa(i+1))
	}
	for _, i := range []int{0, overlayFold / 2, overlayFold + 9} {
		if b, _, err := answer(s, "N-"+strconv.Itoa(i), "NY"); b != strconv.Itoa(i+1) || err != nil {
			t.Errorf("N-%d = %s %v", i, b, err)
		}
	}
	if b, _, _ := answer(s, "P-1", "NY"); b != "12.5" {
		t.Errorf("P-1 after the fold = %s", b)
	}
	if _, err := s.Write(ctx, &Write{Ref: Ref{Kind: KindProduct, ID: "P-1"}, Op: OpDelete}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := answer(s, "P-1", "NY"); err == nil {
		t.Error("deleted product answered")
	}
	if _, err := s.Write(ctx, &Write{Ref: Ref{Kind: KindProduct, ID: "P-2"}, Op: OpPut, Value: "0"}); err == nil {
		t.Error("a zero price was written")
	}
}

// TestMemoryStoreAnswerAllocs pins the hot path: a Lookup allocates
// nothing, also with changed entries in the overlay.
func TestMemoryStoreAnswerAllocs(t *testing.T) {
	s := newTestMemoryStore(t)
	if _, err := s.Write(context.Background(), &Write{Ref: Ref{Kind: KindProduct, ID: "P-1"}, Op: OpPut, Value: "1"}); err != nil {
		t.Fatal(err)
	}
	b := s.NewBatcher()
	c := &Call{ProductID: []byte("P-1"), Location: []byte("NY")}
	if n := testing.AllocsPerRun(100, func() { b.Lookup(c) }); n != 0 {
		t.Errorf("%v allocations per Lookup, want 0", n)
	}
}

// TestMemoryStoreConcurrent races readers against writers (run with
// -race): every read sees some written value, versions count every win.
func TestMemoryStoreConcurrent(t *testing.T) {
	s := newTestMemoryStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &Call{ProductID: []byte("P-1"), Location: []byte("NY")}
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.Reset()
				c.ProductID, c.Location = append(c.ProductID, "P-1"...), append(c.Location, "NY"...)
				s.Answer(c)
				if c.Err != nil || c.Base.Sign() <= 0 {
					t.Errorf("read %v %v", c.Base, c.Err)
					return
				}
			}
		}()
	}
	const writers, each = 4, 50
	wins := make([]int, writers)
	var ww sync.WaitGroup
	for w := range writers {
		ww.Add(1)
		go func() {
			defer ww.Done()
			for i := range each {
				rec, _ := s.Read(ctx, Ref{Kind: KindProduct, ID: "P-1"})
				out, err := s.Write(ctx, &Write{Ref: Ref{Kind: KindProduct, ID: "P-1"}, Op: OpPut, Value: strconv.Itoa(i + 1),
					Cond: CondVersion, Version: rec.Version})
				if err != nil {
					t.Error(err)
					return
				}
				if out.Status == WriteUpdated {
					wins[w]++
				}
			}
		}()
	}
	ww.Wait()
	close(stop)
	wg.Wait()
	total := 0
	for _, n := range wins {
		total += n
	}
	rec, _ := s.Read(ctx, Ref{Kind: KindProduct, ID: "P-1"})
	if rec.Version != uint64(total) {
		t.Errorf("version %d, wins %d", rec.Version, total)
	}
}

func TestRefCheck(t *testing.T) {
	for _, tc := range []struct {
		ref Ref
		ok  bool
	}{
		{Ref{KindProduct, "P-1"}, true},
		{Ref{KindMarket, "*"}, true},
		{Ref{KindProduct, ""}, false},
		{Ref{KindProduct, ".."}, false},
		{Ref{KindProduct, "a/b"}, false},
		{Ref{KindProduct, "a{b}"}, false},
		{Ref{KindProduct, "a\x00"}, false},
		{Ref{KindProduct, string(make([]byte, MaxKeyLen+1))}, false},
		{Ref{"other", "x"}, false},
	} {
		if err := tc.ref.Check(); (err == nil) != tc.ok {
			t.Errorf("Check(%+v) = %v, want ok %v", tc.ref, err, tc.ok)
		}
	}
	if r, err := ParseRef("market:NY"); err != nil || r != (Ref{KindMarket, "NY"}) {
		t.Errorf("ParseRef = %+v %v", r, err)
	}
	if _, err := ParseRef("productP-1"); err == nil {
		t.Error("ParseRef accepted a key without kind")
	}
}
