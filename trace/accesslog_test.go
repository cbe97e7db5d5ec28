package trace

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openTestLog(t *testing.T, cfg AccessLogConfig) *AccessLog {
	t.Helper()
	a, err := OpenAccessLog(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestAccessLogLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	a := openTestLog(t, AccessLogConfig{Dest: path, Sample: 1})
	l := a.NewLoop()
	id := TraceID{0x4b, 0xf9}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	tests := []struct {
		e    Entry
		want map[string]any
	}{
		{Entry{Time: at, ID: id, Method: []byte("POST"), Path: []byte("/api/v1/price"), Status: 200, Duration: 1500 * time.Microsecond,
			Bytes: 120, Source: "live", Remote: netip.MustParseAddrPort("127.0.0.1:5000")},
			map[string]any{"time": "2026-01-02T03:04:05.000006Z", "request_id": id.String(), "method": "POST", "path": "/api/v1/price",
				"status": 200.0, "duration_us": 1500.0, "bytes": 120.0, "source": "live", "remote": "127.0.0.1:5000"}},
		{Entry{Time: at, ID: id, Method: []byte("GET"), Path: []byte("/a\"b\\c\x01\xff/é"), Status: 404},
			map[string]any{"time": "2026-01-02T03:04:05.000006Z", "request_id": id.String(), "method": "GET", "path": "/a\"b\\c\x01\ufffd/é",
				"status": 404.0, "duration_us": 0.0, "bytes": 0.0}},
		{Entry{Time: at, Method: []byte("GET"), Path: []byte("/" + strings.Repeat("x", 2000)), Remote: netip.MustParseAddrPort("[::1]:80")},
			map[string]any{"time": "2026-01-02T03:04:05.000006Z", "request_id": TraceID{}.String(), "method": "GET", "path": "/" + strings.Repeat("x", maxPathInLog-1),
				"status": 0.0, "duration_us": 0.0, "bytes": 0.0, "remote": "[::1]:80"}},
	}
	for i := range tests {
		l.Log(&tests[i].e)
	}
	l.Flush()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	if len(lines) != len(tests) {
		t.Fatalf("%d lines", len(lines))
	}
	for i, tt := range tests {
		if len(lines[i]) != len(tt.want) {
			t.Errorf("line %d: %v, want %v", i, lines[i], tt.want)
		}
		for k, v := range tt.want {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, lines[i][k], v)
			}
		}
	}
	if s := a.Stats(); s.Written != 3 || s.Dropped != 0 || s.Errors != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestAccessLogDrops: with every chunk held by a loop, another loop's lines
// are dropped and counted, never waited for.
func TestAccessLogDrops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	a := openTestLog(t, AccessLogConfig{Dest: path, Sample: 1, Chunks: 1})
	l1, l2 := a.NewLoop(), a.NewLoop()
	e := Entry{Method: []byte("GET"), Path: []byte("/")}
	l1.Log(&e) // takes the only chunk
	l2.Log(&e)
	l2.Log(&e)
	if s := a.Stats(); s.Written != 1 || s.Dropped != 2 {
		t.Fatalf("stats %+v", s)
	}
	l1.Flush()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(readLines(t, path)); n != 1 {
		t.Fatalf("%d lines", n)
	}
}

// TestAccessLogFillsChunks: more lines than a chunk holds go out in
// several chunks, none lost.
func TestAccessLogFillsChunks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	a := openTestLog(t, AccessLogConfig{Dest: path, Sample: 1, ChunkSize: 1, Chunks: 4})
	l := a.NewLoop()
	e := Entry{Method: []byte("GET"), Path: []byte("/" + strings.Repeat("y", 300))}
	for i := range 500 {
		e.Status = i
		l.Log(&e)
		if i%50 == 0 {
			l.Flush()
		}
	}
	l.Flush()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, path)
	s := a.Stats()
	if uint64(len(lines)) != s.Written || s.Written+s.Dropped != 500 || s.Written == 0 {
		t.Fatalf("%d lines, stats %+v", len(lines), s)
	}
}

// TestAccessLogReopen: after a rename (logrotate), Reopen moves writing to
// a new file at the configured path.
func TestAccessLogReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	a := openTestLog(t, AccessLogConfig{Dest: path, Sample: 1})
	l := a.NewLoop()
	e := Entry{Method: []byte("GET"), Path: []byte("/before")}
	l.Log(&e)
	l.Flush()
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	// Reopen is served after the chunk handed over before it.
	if err := a.Reopen(); err != nil {
		t.Fatal(err)
	}
	e.Path = []byte("/after")
	l.Log(&e)
	l.Flush()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Reopen(); err == nil {
		t.Fatal("reopen after close")
	}
	old, cur := readLines(t, path+".1"), readLines(t, path)
	if len(old) != 1 || old[0]["path"] != "/before" || len(cur) != 1 || cur[0]["path"] != "/after" {
		t.Fatalf("rotated %v, current %v", old, cur)
	}
}

func TestAccessLogConfig(t *testing.T) {
	for _, cfg := range []AccessLogConfig{{Dest: "off", Sample: 1}, {Dest: "stderr", Sample: 2}, {Dest: "/nonexistent/dir/x.log", Sample: 1}} {
		if a, err := OpenAccessLog(cfg); err == nil {
			a.Close()
			t.Errorf("%+v accepted", cfg)
		}
	}
	a := openTestLog(t, AccessLogConfig{Dest: "stderr", Sample: 0.5})
	l := a.NewLoop()
	g := NewIDGen()
	n := 0
	for range 10000 {
		if l.Sampled(g.TraceID()) {
			n++
		}
	}
	if n < 4500 || n > 5500 {
		t.Fatalf("sample 0.5 logged %d of 10000", n)
	}
	if err := a.Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	var off *AccessLogLoop
	if off.Sampled(TraceID{1}) {
		t.Fatal("a nil loop logs")
	}
}

func TestAccessLogDoesNotAllocate(t *testing.T) {
	a := openTestLog(t, AccessLogConfig{Dest: filepath.Join(t.TempDir(), "a.log"), Sample: 1})
	defer a.Close()
	l := a.NewLoop()
	e := Entry{Time: time.Now(), ID: TraceID{1}, Method: []byte("POST"), Path: []byte("/api/v1/price"), Status: 200,
		Duration: time.Millisecond, Bytes: 100, Source: "live", Remote: netip.MustParseAddrPort("10.0.0.1:1234")}
	allocs := testing.AllocsPerRun(5000, func() { l.Log(&e) })
	l.Flush()
	if allocs != 0 {
		t.Fatalf("%v allocations per line", allocs)
	}
}
