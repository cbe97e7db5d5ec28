// Command fasthttp is the fasthttp + fastjson reference server of the
// benchmarks: POST /api/v1/price written the way a performance-minded Go
// programmer would write it with fasthttp.
//
// It decodes the body with pricing.Decoder (fastjson, one parser per
// pooled state), prices with the shared pricing.Engine (in memory, or the
// seed latency profile: fasthttp runs each connection on its own worker
// goroutine, so the handler simply blocks), and appends the reply with
// pricing.AppendQuote into a pooled buffer, so that the steady state does
// not allocate. Errors use the pricing package's bodies.
//
//	fasthttp --addr 127.0.0.1:8000 --lookup-latency none
package main

import (
	"context"
	"errors"
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
	req pricing.Request
	q   pricing.Quote
	buf []byte
}

type handler struct {
	engine *pricing.Engine
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
	err := st.dec.Decode(ctx.PostBody(), &st.req)
	if err == nil {
		if h.engine.Inline() {
			err = h.engine.PriceInline(&st.req, &st.q)
		} else {
			err = h.engine.Price(context.Background(), &st.req, &st.q)
		}
	}
	if err != nil {
		var pe *pricing.Error
		if !errors.As(err, &pe) {
			ctx.SetStatusCode(fasthttp.StatusInternalServerError)
			ctx.SetBody(pricing.AppendDetail(st.buf[:0], err.Error()))
			return
		}
		if pe.RetryAfter > 0 {
			ctx.Response.Header.Set("Retry-After", strconv.Itoa(pe.RetryAfter))
		}
		ctx.SetStatusCode(pe.Status)
		st.buf = pe.AppendJSON(st.buf[:0])
		ctx.SetBody(st.buf)
		return
	}
	st.buf = pricing.AppendQuote(st.buf[:0], &st.q)
	ctx.SetBody(st.buf) // copies into the response's own buffer
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
