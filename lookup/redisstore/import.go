package redisstore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/rueidis"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/money"
)

// Import tuning: keys per pipelined DoMulti, how many DoMultis run at
// once, and the most key-value pairs in one MSET.
const (
	importChunk   = 4096
	importWriters = 4
	msetPairs     = 512
)

// ImportOptions tune [Import].
type ImportOptions struct {
	// Replace also removes the product keys (when a catalog is given) and
	// the market keys (when markets are given) that are not in the data.
	// Keys under other prefixes are never touched.
	Replace bool
	// Progress, when set, is told how many keys were written out of how
	// many; it is called from several goroutines, one call at a time per
	// goroutine, and must be safe for concurrent use.
	Progress func(done, total int64)
}

// ImportResult counts what [Import] did.
type ImportResult struct {
	Written  int64 // keys written
	Products int64 // product keys among those to write
	Markets  int64 // market keys among those to write
	Removed  int64 // keys removed by Replace
}

// Import writes a catalog and markets (either may be nil) into the store
// that o names (URL, Password, TLS, Prefix), under the key schema of
// [Keys]. Every value is checked ([lookup.CheckPrice],
// [lookup.CheckMultiplier]) before anything is written: a value out of
// range writes nothing. The keys go out in pipelined MSETs (on a Redis
// Cluster, one per hash slot); then, with Replace, the keys of the given kinds that are not in the data
// are removed (SCAN on every node, so that Redis keeps serving meanwhile).
//
// On an error after the writes started, the result counts the keys
// written so far. Errors never carry the password.
func Import(ctx context.Context, o Options, cat *lookup.MemoryCatalog, mk *lookup.MemoryMarkets, opt ImportOptions) (ImportResult, error) {
	var res ImportResult
	keys := NewKeys(o.Prefix)
	kvs, err := importPairs(keys, cat, mk, &res)
	if err != nil {
		return res, err
	}
	client, err := Dial(ctx, o)
	if err != nil {
		return res, err
	}
	defer client.Close()
	total := res.Products + res.Markets
	written, err := runChunks(ctx, client, msetChunks(client, kvs), func(n int64) {
		if opt.Progress != nil {
			opt.Progress(n, total)
		}
	})
	res.Written = written
	if err != nil {
		return res, fmt.Errorf("cannot write keys: %w", err)
	}
	if !opt.Replace {
		return res, nil
	}
	if cat != nil {
		n, err := removeMissing(ctx, client, keys.ProductPrefix(), func(id string) bool {
			_, ok := cat.BasePriceNow([]byte(id))
			return ok
		})
		res.Removed += n
		if err != nil {
			return res, err
		}
	}
	if mk != nil {
		keep := make(map[string]bool, mk.Len())
		mk.Range(func(loc string, _ money.Decimal) bool { keep[loc] = true; return true })
		n, err := removeMissing(ctx, client, keys.MarketPrefix(), func(loc string) bool { return keep[loc] })
		res.Removed += n
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// importPairs checks every value and returns the keys and values to
// write (key, value, key, value...), counting them in res.
func importPairs(keys Keys, cat *lookup.MemoryCatalog, mk *lookup.MemoryMarkets, res *ImportResult) ([]string, error) {
	var (
		kvs []string
		err error
	)
	if cat != nil {
		kvs = make([]string, 0, 2*cat.Len())
		cat.Range(func(id string, p money.Decimal) bool {
			if cerr := lookup.CheckPrice(p); cerr != nil {
				err = fmt.Errorf("cannot import product %q: base price %s: %w", id, p, cerr)
				return false
			}
			kvs = append(kvs, keys.Product(id), p.String())
			res.Products++
			return true
		})
	}
	if mk != nil && err == nil {
		mk.Range(func(loc string, v money.Decimal) bool {
			if cerr := lookup.CheckMultiplier(v); cerr != nil {
				err = fmt.Errorf("cannot import market %q: multiplier %s: %w", loc, v, cerr)
				return false
			}
			kvs = append(kvs, keys.Market(loc), v.String())
			res.Markets++
			return true
		})
	}
	return kvs, err
}

// chunk is one pipelined DoMulti and how many keys it writes.
type chunk struct {
	cmds rueidis.Commands
	keys int64
}

// msetChunks turns key-value pairs into MSETs of up to msetPairs pairs,
// gathered in chunks of about importChunk keys. On a cluster, where one
// MSET may only touch one hash slot, the pairs are first grouped by the
// slot rueidis computes for each key (a cluster client's builder carries
// it in the command; rueidis then sends each MSET to its node).
func msetChunks(client rueidis.Client, kvs []string) []chunk {
	groups := [][]string{kvs}
	if client.Mode() == rueidis.ClientModeCluster {
		bySlot := make(map[uint16][]string)
		for i := 0; i < len(kvs); i += 2 {
			get := client.B().Get().Key(kvs[i]).Build()
			sl := get.Slot()
			bySlot[sl] = append(bySlot[sl], kvs[i], kvs[i+1])
		}
		groups = groups[:0]
		for _, g := range bySlot {
			groups = append(groups, g)
		}
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
