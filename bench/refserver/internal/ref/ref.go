// Package ref holds what the reference servers of the benchmarks share:
// their command line, the in-memory data and the pricing engine.
//
// Every reference server prices with the same [pricing.Engine] over
// [lookup.DefaultCatalog] and [lookup.DefaultMarkets], wrapped in the
// latency profile named by --lookup-latency, so that a benchmark compares
// HTTP layers and JSON codecs, not pricing code.
package ref

import (
	"flag"
	"fmt"
	"io"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/pricing"
)

// Path is the one route the reference servers answer.
const Path = "/api/v1/price"

// MaxBody bounds a request body, as the real server does by default.
const MaxBody = 64 << 10

// Options are the command-line options every reference server takes.
type Options struct {
	Addr    string // listen address, host:port
	Latency string // lookup latency profile: "none" or "seed" (see lookup.ParseProfile)
}

// ParseFlags parses args (without the program name) for the server called
// name. Usage goes to stderr.
func ParseFlags(name string, args []string, stderr io.Writer) (Options, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:8000", "listen address (host:port)")
	fs.StringVar(&o.Latency, "lookup-latency", "none", `lookup latency profile: "none" or "seed"`)
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	if fs.NArg() > 0 {
		return Options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, nil
}

// NewEngine returns the pricing engine over the embedded catalog and
// markets with the latency profile named latency.
func NewEngine(latency string) (*pricing.Engine, error) {
	prof, err := lookup.ParseProfile(latency)
	if err != nil {
		return nil, err
	}
	cat, err := lookup.DefaultCatalog()
	if err != nil {
		return nil, fmt.Errorf("cannot load catalog: %w", err)
	}
	mk, err := lookup.DefaultMarkets()
	if err != nil {
		return nil, fmt.Errorf("cannot load markets: %w", err)
	}
	return pricing.NewEngine(prof.WrapCatalog(cat), prof.WrapMarkets(mk), pricing.Config{}), nil
}
