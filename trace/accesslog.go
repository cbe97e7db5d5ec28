package trace

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Bounds of the access log's buffering.
const (
	// DefaultAccessChunk is the size of one chunk of formatted lines; a
	// loop hands a chunk to the writer when the next line does not fit, or
	// at Flush.
	DefaultAccessChunk = 32 << 10
	// DefaultAccessChunks is how many chunks exist in all: when every
	// chunk is full or being written, lines are dropped and counted.
	DefaultAccessChunks = 64
	// maxPathInLog bounds the bytes of a path written to a line, and
	// maxShortInLog those of the method and the source.
	maxPathInLog  = 512
	maxShortInLog = 16
	// maxLineBytes bounds one formatted line: the fixed text and numbers,
	// and escaping multiplies a byte by at most six (\u00XX, \ufffd).
	maxLineBytes = 256 + 6*(maxPathInLog+2*maxShortInLog)
)

// AccessLogConfig configures an AccessLog.
type AccessLogConfig struct {
	// Dest is "stderr" or a file path (opened for append, created 0644).
	Dest string
	// Sample is the share of requests logged, in [0, 1], decided on the
	// trace id like the trace sampler (so with equal ratios the logged
	// requests are the traced ones).
	Sample float64
	// ChunkSize and Chunks bound the buffering; zero means the default.
	// ChunkSize is at least 8 KiB.
	ChunkSize, Chunks int
	// Logger receives write failures (at most one line a second).
	Logger *slog.Logger
}

// AccessLogStats are the access log's counters since start.
type AccessLogStats struct {
	Written uint64 // lines written
	Dropped uint64 // lines dropped because every buffer was in use
	Errors  uint64 // failed writes (their lines are lost)
}

// AccessLog writes one JSON line per logged request from a goroutine of
// its own; event loops format lines into chunks (AccessLogLoop) and never
// wait for the writer. Its methods are safe for concurrent use.
type AccessLog struct {
	sampler Sampler
	path    string // "" for stderr
	chunk   int
	free    chan []byte
	full    chan []byte
	reopen  chan chan error
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	log     *slog.Logger

	// w and f belong to the writer goroutine (Close reads f after it
	// ended).
	w io.Writer
	f *os.File

	written, dropped, errs atomic.Uint64
}

// OpenAccessLog opens the destination and starts the writer goroutine;
// Close stops it.
func OpenAccessLog(cfg AccessLogConfig) (*AccessLog, error) {
	s, err := NewSampler(cfg.Sample, false)
	if err != nil {
		return nil, fmt.Errorf("cannot use access log sample: %w", err)
	}
	n := orInt(cfg.Chunks, DefaultAccessChunks)
	a := &AccessLog{
		sampler: s,
		chunk:   max(orInt(cfg.ChunkSize, DefaultAccessChunk), 2*maxLineBytes),
		free:    make(chan []byte, n),
		full:    make(chan []byte, n),
		reopen:  make(chan chan error),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		log:     cfg.Logger,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	switch cfg.Dest {
	case "", "off":
		return nil, fmt.Errorf("cannot open access log %q: not a destination", cfg.Dest)
	case "stderr":
		a.w = os.Stderr
	default:
		a.path = cfg.Dest
		f, err := openAppend(a.path)
		if err != nil {
			return nil, err
		}
		a.f, a.w = f, f
	}
	for range n {
		a.free <- make([]byte, 0, a.chunk)
	}
	go a.run()
	return a, nil
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open access log: %w", err)
	}
	return f, nil
}

// Stats returns the counters.
func (a *AccessLog) Stats() AccessLogStats {
	return AccessLogStats{Written: a.written.Load(), Dropped: a.dropped.Load(), Errors: a.errs.Load()}
}

// Reopen closes and reopens the file (after logrotate moved it) between
// two writes and reports the outcome; a no-op for stderr. On failure the
// old file stays in use.
func (a *AccessLog) Reopen() error {
	if a.path == "" {
		return nil
	}
	r := make(chan error, 1)
	select {
	case a.reopen <- r:
		return <-r
	case <-a.done:
		return fmt.Errorf("cannot reopen access log: closed")
	}
}

// Close writes the chunks handed over so far and stops the writer; lines
// still in a loop's unflushed chunk are lost, so flush loops first.
func (a *AccessLog) Close() error {
	a.once.Do(func() { close(a.stop) })
	<-a.done
	if a.f != nil {
		if err := a.f.Close(); err != nil {
			return fmt.Errorf("cannot close access log: %w", err)
		}
	}
	return nil
}

func (a *AccessLog) run() {
	defer close(a.done)
	var lastLog time.Time
	write := func(c []byte) {
		if _, err := a.w.Write(c); err != nil {
			a.errs.Add(1)
			if now := time.Now(); now.Sub(lastLog) >= time.Second {
				lastLog = now
				a.log.Warn("cannot write access log", "err", err)
			}
		}
		a.free <- c[:0]
	}
	for {
		select {
		case c := <-a.full:
			write(c)
		case r := <-a.reopen:
			// Chunks handed over before the request belong to the old
			// file.
			for drained := false; !drained; {
				select {
				case c := <-a.full:
					write(c)
				default:
					drained = true
				}
			}
			r <- a.doReopen()
		case <-a.stop:
			for {
				select {
				case c := <-a.full:
					write(c)
					continue
				default:
				}
				return
			}
		}
	}
}

func (a *AccessLog) doReopen() error {
	f, err := openAppend(a.path)
	if err != nil {
		return err
	}
	old := a.f
	a.f, a.w = f, f
	if err := old.Close(); err != nil {
		return fmt.Errorf("cannot close rotated access log: %w", err)
	}
	return nil
}

// NewLoop returns a loop's half of the log. Not safe for concurrent use.
func (a *AccessLog) NewLoop() *AccessLogLoop { return &AccessLogLoop{a: a} }

// AccessLogLoop formats lines for one event loop.
type AccessLogLoop struct {
	a   *AccessLog
	cur []byte
}

// Entry is what one access log line says. Byte fields are read during Log
// only.
type Entry struct {
	Time     time.Time
	ID       TraceID
	Method   []byte
	Path     []byte
	Status   int
	Duration time.Duration
	Bytes    int
	Source   string
	Remote   netip.AddrPort
}

// Sampled reports whether the request with trace id id is logged.
func (l *AccessLogLoop) Sampled(id TraceID) bool { return l != nil && l.a.sampler.Ratio(id) }

// Log formats e as one JSON line into the loop's chunk, handing the chunk
// to the writer first when a line of the longest possible length might not
// fit. When no chunk is free the line is dropped and counted. It does not
// allocate.
func (l *AccessLogLoop) Log(e *Entry) {
	if l.cur != nil && cap(l.cur)-len(l.cur) < maxLineBytes {
		l.Flush()
	}
	if l.cur == nil && !l.take() {
		l.a.dropped.Add(1)
		return
	}
	l.cur = appendEntry(l.cur, e)
	l.a.written.Add(1)
}

func (l *AccessLogLoop) take() bool {
	select {
	case c := <-l.a.free:
		l.cur = c
		return true
	default:
		return false
	}
}

// Flush hands the loop's chunk to the writer if it holds a line. Call it
// when the loop goes idle (after a batch of replies) so that lines reach
// the destination promptly.
func (l *AccessLogLoop) Flush() {
	if len(l.cur) == 0 {
		return
	}
	// full has room for every chunk, so this never waits.
	l.a.full <- l.cur
	l.cur = nil
}

func appendEntry(b []byte, e *Entry) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	b = append(b, `","request_id":"`...)
	b = e.ID.AppendHex(b)
	b = append(b, `","method":"`...)
	b = appendJSONString(b, e.Method, maxShortInLog)
	b = append(b, `","path":"`...)
	b = appendJSONString(b, e.Path, maxPathInLog)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"duration_us":`...)
	b = strconv.AppendInt(b, e.Duration.Microseconds(), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, int64(e.Bytes), 10)
	if e.Source != "" {
		b = append(b, `,"source":"`...)
		b = appendJSONString(b, []byte(e.Source), maxShortInLog)
		b = append(b, '"')
	}
	if e.Remote.IsValid() {
		b = append(b, `,"remote":"`...)
		b = e.Remote.AppendTo(b)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as the inside of a JSON string, at most limit
// input bytes: quotes, backslashes and control bytes escaped, invalid
// UTF-8 replaced by U+FFFD.
func appendJSONString(b, s []byte, limit int) []byte {
	if len(s) > limit {
		s = s[:limit]
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, `\u00`...)
				b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return b
}
