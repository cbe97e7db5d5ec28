package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"golang.org/x/term"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
	"github.com/pricing-engine/pricing-engine/money"
)

// Import tuning: commands per pipelined DoMulti, and how many run at once.
const (
	importChunk   = 4096
	importWriters = 4
)

const importUsage = `Usage: pricing-engine import --store URL (--catalog FILE | --markets FILE | --embedded) [--replace] [flags]

Loads catalog and markets CSV files (the formats of --catalog/--markets)
into the Redis store as <prefix>product:<id> and <prefix>market:<location>.
Every row of every file is validated before anything is written: a bad row
exits 2 naming the file, the line and the reason, and nothing is written.
--replace also removes the products (and, with --markets, the markets)
that are not in the files. Prints how many keys were written and removed.

`

// importConfig is the import subcommand's flags.
type importConfig struct {
	store    storeConfig
	catalog  string
	markets  string
	embedded bool
	replace  bool
}

// runImport is the import subcommand: 0 done, 1 the store failed, 2 bad
// flags or files (nothing written).
func runImport(args []string, getenv func(string) (string, bool), stdout, stderr io.Writer) int {
	var c importConfig
	fs := flag.NewFlagSet("pricing-engine import", flag.ContinueOnError)
	c.store.registerConn(fs)
	fs.StringVar(&c.catalog, "catalog", "", "catalog CSV file (product_id,base_price)")
	fs.StringVar(&c.markets, "markets", "", "markets CSV file (location,multiplier)")
	boolFlag(fs, &c.embedded, "embedded", "import the data built into the binary (catalog and markets)")
	boolFlag(fs, &c.replace, "replace", "also remove the products (and markets, when given) that are not in the files")
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), importUsage)
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(fs.Output(), "  --%s [%s]\n    \t%s (default %q)\n", f.Name, envName(f.Name), f.Usage, f.DefValue)
		})
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "pricing-engine import: %v\n", err)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = stdout.Write(usage.Bytes())
			return 0
		}
		return fail(flagParseError(err))
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if err := envFallback(fs, getenv, false); err != nil {
		return fail(err)
	}
	if err := c.validate(); err != nil {
		return fail(err)
	}
	cat, mk, err := c.load()
	if err != nil {
		return fail(err) // names the file, the line and the reason
	}
	o, err := c.store.options(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	client, err := redisstore.Dial(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "pricing-engine import: %v\n", err)
		return 1
	}
	defer client.Close()
	start := time.Now()
	res, err := importData(ctx, client, c.store.prefix, cat, mk, c.replace, progressTo(stderr))
	if err != nil {
		fmt.Fprintf(stderr, "pricing-engine import: %v (wrote %d keys before the failure)\n", err, res.written)
		return 1
	}
	fmt.Fprintf(stdout, "imported into %s in %s: wrote %d keys (%d products, %d markets), removed %d keys\n",
		c.store.redacted(), time.Since(start).Round(time.Millisecond), res.written, res.products, res.markets, res.removed)
	return 0
}

func (c *importConfig) validate() error {
	var errs []error
	if !c.store.redis() {
		errs = append(errs, errors.New("--store must be a redis:// or rediss:// URL"))
	}
	if err := c.store.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.embedded && (c.catalog != "" || c.markets != "") {
		errs = append(errs, errors.New("--embedded excludes --catalog and --markets"))
	}
	if !c.embedded && c.catalog == "" && c.markets == "" {
		errs = append(errs, errors.New("nothing to import: give --catalog, --markets or --embedded"))
	}
	return errors.Join(errs...)
}

// load reads and validates every row of the files (nil for a file not
// given).
func (c *importConfig) load() (*lookup.MemoryCatalog, *lookup.MemoryMarkets, error) {
	if c.embedded {
		return lookup.Default()
	}
	var (
		cat *lookup.MemoryCatalog
		mk  *lookup.MemoryMarkets
		err error
	)
	if c.catalog != "" {
		if cat, err = lookup.LoadCatalogFile(c.catalog); err != nil {
			return nil, nil, err
		}
	}
	if c.markets != "" {
		if mk, err = lookup.LoadMarketsFile(c.markets); err != nil {
			return nil, nil, err
		}
	}
	return cat, mk, nil
}

// importResult counts what an import did.
type importResult struct {
	written, products, markets, removed int64
}

// progressFunc is told how many keys were written out of how many.
type progressFunc func(done, total int64)

// progressTo reports progress on w when w is a terminal (nothing
// otherwise), at most every 100 ms.
func progressTo(w io.Writer) progressFunc {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	var mu sync.Mutex
	var last time.Time
	return func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if done < total && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "\rwriting keys: %d/%d (%d%%)", done, total, done*100/max(total, 1))
		if done == total {
			fmt.Fprintln(w)
		}
	}
}

// importData writes cat and mk (either may be nil) with pipelined MSETs
// (on a cluster, one MSET per hash slot), then with replace removes the
// keys of the given kinds that are not in them.
func importData(ctx context.Context, client rueidis.Client, prefix string, cat *lookup.MemoryCatalog, mk *lookup.MemoryMarkets, replace bool, progress progressFunc) (importResult, error) {
	var res importResult
	var kvs []string // key, value, key, value...
	if cat != nil {
		kvs = make([]string, 0, 2*cat.Len())
		cat.Range(func(id string, p money.Decimal) bool {
			kvs = append(kvs, prefix+"product:"+id, p.String())
			res.products++
			return true
		})
	}
	if mk != nil {
		mk.Range(func(loc string, v money.Decimal) bool {
			kvs = append(kvs, prefix+"market:"+loc, v.String())
			res.markets++
			return true
		})
	}
	cluster, err := isCluster(ctx, client)
	if err != nil {
		return res, err
	}
	total := res.products + res.markets
	written, err := runChunks(ctx, client, msetChunks(client, kvs, cluster), func(n int64) {
		if progress != nil {
			progress(n, total)
		}
	})
	res.written = written
	if err != nil {
		return res, fmt.Errorf("cannot write keys: %w", err)
	}
	if !replace {
		return res, nil
	}
	if cat != nil {
		n, err := removeMissing(ctx, client, prefix+"product:", func(id string) bool {
			_, ok := cat.BasePriceNow([]byte(id))
			return ok
		})
		res.removed += n
		if err != nil {
			return res, err
		}
	}
	if mk != nil {
		keep := make(map[string]bool, mk.Len())
		mk.Range(func(loc string, _ money.Decimal) bool { keep[loc] = true; return true })
		n, err := removeMissing(ctx, client, prefix+"market:", func(loc string) bool { return keep[loc] })
		res.removed += n
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// isCluster asks the server whether it runs Redis Cluster.
func isCluster(ctx context.Context, client rueidis.Client) (bool, error) {
	info, err := client.Do(ctx, client.B().Info().Section("cluster").Build()).ToString()
	if err != nil {
		return false, fmt.Errorf("cannot ask the store for its mode: %w", err)
	}
	return strings.Contains(info, "cluster_enabled:1"), nil
}

// msetPairs is the most key-value pairs in one MSET.
const msetPairs = 512

// chunk is one pipelined DoMulti and how many keys it writes.
type chunk struct {
	cmds rueidis.Commands
	keys int64
}

// msetChunks turns key-value pairs into MSET commands (grouped by hash
// slot on a cluster, where one MSET may only touch one slot), gathered in
// chunks of about importChunk keys.
func msetChunks(client rueidis.Client, kvs []string, cluster bool) []chunk {
	var groups [][]string
	if cluster {
		bySlot := make(map[uint16][]string)
		for i := 0; i < len(kvs); i += 2 {
			sl := keySlot(kvs[i])
			bySlot[sl] = append(bySlot[sl], kvs[i], kvs[i+1])
		}
		for _, g := range bySlot {
			groups = append(groups, g)
		}
	} else {
		groups = [][]string{kvs}
	}
	var out []chunk
	cur := chunk{}
	for _, g := range groups {
		for len(g) > 0 {
			n := min(len(g), 2*msetPairs)
			b := client.B().Mset().KeyValue()
			for i := 0; i < n; i += 2 {
				b = b.KeyValue(g[i], g[i+1])
			}
			cur.cmds = append(cur.cmds, b.Build())
			cur.keys += int64(n / 2)
			g = g[n:]
			if cur.keys >= importChunk {
				out = append(out, cur)
				cur = chunk{}
			}
		}
	}
	if len(cur.cmds) > 0 {
		out = append(out, cur)
	}
	return out
}

// runChunks sends the chunks (each one pipelined DoMulti), importWriters
// at a time, and returns how many keys were written; it stops at the
// first error.
func runChunks(ctx context.Context, client rueidis.Client, chunks []chunk, progress func(int64)) (int64, error) {
	var (
		done     atomic.Int64
		next     atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < importWriters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if int(i) >= len(chunks) || ctx.Err() != nil {
					return
				}
				for _, r := range client.DoMulti(ctx, chunks[i].cmds...) {
					if err := r.Error(); err != nil {
						errOnce.Do(func() { firstErr = err; cancel() })
						return
					}
				}
				progress(done.Add(chunks[i].keys))
			}
		}()
	}
	wg.Wait()
	return done.Load(), firstErr
}

// removeMissing deletes the keys under keyPrefix whose id keep rejects,
// scanning every node (SCAN, so that Redis keeps serving meanwhile).
func removeMissing(ctx context.Context, client rueidis.Client, keyPrefix string, keep func(id string) bool) (int64, error) {
	var doomed []string
	pattern := globEscape(keyPrefix) + "*"
	for addr, node := range client.Nodes() {
		var cursor uint64
		for {
			e, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(pattern).Count(10_000).Build()).AsScanEntry()
			if err != nil {
				if strings.Contains(err.Error(), "READONLY") {
					break
				}
				return 0, fmt.Errorf("cannot scan %s: %w", addr, err)
			}
			for _, k := range e.Elements {
				if !keep(strings.TrimPrefix(k, keyPrefix)) {
					doomed = append(doomed, k)
				}
			}
			cursor = e.Cursor
			if cursor == 0 {
				break
			}
		}
	}
	var removed int64
	cmds := make(rueidis.Commands, 0, importChunk)
	flush := func() error {
		for _, r := range client.DoMulti(ctx, cmds...) {
			n, err := r.AsInt64()
			if err != nil {
				return fmt.Errorf("cannot remove keys: %w", err)
			}
			removed += n
		}
		cmds = cmds[:0]
		return nil
	}
	seen := make(map[string]bool, len(doomed))
	for _, k := range doomed {
		if seen[k] { // a replica lists its primary's keys again
			continue
		}
		seen[k] = true
		cmds = append(cmds, client.B().Unlink().Key(k).Build())
		if len(cmds) == importChunk {
			if err := flush(); err != nil {
				return removed, err
			}
		}
	}
	if len(cmds) > 0 {
		if err := flush(); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// globEscape quotes the characters SCAN MATCH treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// keySlot is Redis Cluster's hash slot of key: CRC16 (XMODEM) of the key,
// or of its {hash tag} when it has a non-empty one, modulo 16384.
func keySlot(key string) uint16 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(key); k++ {
		crc ^= uint16(key[k]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % 16384
}
