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
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
)

const importUsage = `Usage: pricing-engine import --store URL (--catalog FILE | --markets FILE | --embedded | --history FILE) [--replace] [flags]

Loads catalog and markets CSV files (the formats of --catalog/--markets)
into the Redis store as <prefix>product:<id> and <prefix>market:<location>,
and a price history (--history: product_id,user_location,date,lowest_price
with date YYYY-MM-DD, a UTC day) into the store's history, so that prior
prices of announced reductions count the days before the engine ran.
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
	history  string
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
	fs.StringVar(&c.history, "history", "", "price history CSV file (product_id,user_location,date,lowest_price; date YYYY-MM-DD UTC): the lowest price of each day, backfilled from the system being replaced (see docs/RULES.md)")
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
	var hist *lookup.History
	if c.history != "" {
		if hist, err = lookup.LoadHistoryFile(c.history, time.Now()); err != nil {
			return fail(err)
		}
	}
	o, err := c.store.options(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return fail(err)
	}
	start := time.Now()
	if cat != nil || mk != nil {
		res, err := redisstore.Import(context.Background(), o, cat, mk, redisstore.ImportOptions{Replace: c.replace, Progress: progressTo(stderr)})
		if err != nil {
			fmt.Fprintf(stderr, "pricing-engine import: %v (wrote %d keys before the failure)\n", err, res.Written)
			return 1
		}
		fmt.Fprintf(stdout, "imported into %s in %s: wrote %d keys (%d products, %d markets), removed %d keys\n",
			c.store.redacted(), time.Since(start).Round(time.Millisecond), res.Written, res.Products, res.Markets, res.Removed)
	}
	if hist != nil {
		start = time.Now()
		n, err := redisstore.ImportHistory(context.Background(), o, hist)
		if err != nil {
			fmt.Fprintf(stderr, "pricing-engine import: %v (sent %d history rows before the failure)\n", err, n)
			return 1
		}
		fmt.Fprintf(stdout, "imported history into %s in %s: %d rows (%d rows older than %d days left out)\n",
			c.store.redacted(), time.Since(start).Round(time.Millisecond), n, hist.Old, lookup.HistoryDays)
	}
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
	if !c.embedded && c.catalog == "" && c.markets == "" && c.history == "" {
		errs = append(errs, errors.New("nothing to import: give --catalog, --markets, --embedded or --history"))
	}
	if c.replace && !c.embedded && c.catalog == "" && c.markets == "" {
		errs = append(errs, errors.New("--replace applies to --catalog, --markets and --embedded; a history is only ever lowered"))
	}
	return errors.Join(errs...)
}

// load reads and validates every row of the files (nil for a file not
// given).
func (c *importConfig) load() (*lookup.MemoryCatalog, *lookup.MemoryMarkets, error) {
	if !c.embedded && c.catalog == "" && c.markets == "" {
		return nil, nil, nil // a history only
	}
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

// progressTo reports progress on w when w is a terminal (nil otherwise),
// at most every 100 ms; it is safe for concurrent use.
func progressTo(w io.Writer) func(done, total int64) {
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
