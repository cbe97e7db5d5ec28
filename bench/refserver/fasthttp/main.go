// Command fasthttp is the fasthttp + fastjson reference server of the
// benchmarks: POST /api/v1/price written the way a performance-minded Go
// programmer would write it with fasthttp.
//
// It decodes the body with pricing.Decoder (one per pooled state), prices with the shared pricing.Engine (in memory, or the
// seed latency profile: fasthttp runs each connection on its own worker
// goroutine, so the handler simply blocks), and appends the reply with
// pricing.AppendQuote into a pooled buffer, so that the steady state does
// not allocate. Errors use the pricing package's bodies.
//
//	fasthttp --addr 127.0.0.1:8000 --lookup-latency none
package main

import (
	"context"
	"log"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/pricing-engine/pricing-engine/bench/refserver/internal/ref"
	"github.com/pricing-engine/pricing-engine/pricing"
	"github.com/valyala/fasthttp"
)

// state is the per-request scratch space, pooled.
type state struct {
	dec pricing.Decoder
	x   pricing.Exchange
}

type handler struct {
	engine *ref.Engine
	states sync.Pool // *state
}

func (h *handler) serve(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	if string(ctx.Path()) != ref.Path {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetBodyString(`{"detail":"Not Found"}`)
		return
	}
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", fasthttp.MethodPost)
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		ctx.SetBodyString(`{"detail":"Method Not Allowed"}`)
		return
	}
	st := h.states.Get().(*state)
	defer h.states.Put(st)
	x := &st.x
	if err := st.dec.Decode(ctx.PostBody(), &x.Req); err != nil {
		x.Fail(err)
	} else {
		h.engine.Price(context.Background(), x)
	}
	if x.RetryAfter > 0 {
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(x.RetryAfter))
	}
	ctx.SetStatusCode(x.Status)
	ctx.SetBody(x.Body) // copies into the response's own buffer
}

func main() {
	opts, err := ref.ParseFlags("fasthttp", os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	engine, err := ref.NewEngine(opts.Latency)
	if err != nil {
		log.Fatal(err)
	}
	h := &handler{engine: engine}
	h.states.New = func() any { return new(state) }
	srv := &fasthttp.Server{
		Handler:            h.serve,
		Name:               "fasthttp",
		IdleTimeout:        time.Minute,
		ReadTimeout:        time.Minute,
		MaxRequestBodySize: ref.MaxBody,
		ReadBufferSize:     8 << 10,
		Concurrency:        200_000,
		Logger:             quiet{},
	}
	log.Printf("fasthttp listening on %s (lookup latency %s)", opts.Addr, opts.Latency)
	log.Fatal(srv.ListenAndServe(opts.Addr))
}

// quiet drops fasthttp's per-connection error logs.
type quiet struct{}

func (quiet) Printf(string, ...any) {}
