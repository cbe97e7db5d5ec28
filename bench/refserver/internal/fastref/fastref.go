// Package fastref is the fasthttp front the Redis reference servers share:
// POST /api/v1/price decoded, priced and encoded by a pricing.Engine whose
// source blocks the request's goroutine, as ordinary fasthttp code does.
// The servers differ only in how their source reaches Redis.
package fastref

import (
	"log"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/pricing-engine/pricing-engine/bench/refserver/internal/ref"
	"github.com/pricing-engine/pricing-engine/pricing"
)

// state is the per-request scratch space, pooled.
type state struct {
	dec pricing.Decoder
	x   pricing.Exchange
}

// ListenAndServe serves engine on addr under the server name until the
// listener fails; it returns that error. engine must be safe for
// concurrent use (pricing.Engine is); the handler runs on fasthttp's
// worker goroutines.
func ListenAndServe(name, addr string, engine *pricing.Engine) error {
	var states sync.Pool
	states.New = func() any { return new(state) }
	handler := func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		if string(ctx.Path()) != ref.Path || !ctx.IsPost() {
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			ctx.SetBodyString(`{"detail":"Not Found"}`)
			return
		}
		st := states.Get().(*state)
		defer states.Put(st)
		engine.ServeWait(&st.x, &st.dec, ctx.PostBody())
		if st.x.RetryAfter > 0 {
			ctx.Response.Header.Set("Retry-After", strconv.Itoa(st.x.RetryAfter))
		}
		ctx.SetStatusCode(st.x.Status)
		ctx.SetBody(st.x.Body) // copies into the response's own buffer
	}
	srv := &fasthttp.Server{Handler: handler, Name: name, IdleTimeout: time.Minute, ReadTimeout: time.Minute,
		MaxRequestBodySize: ref.MaxBody, Concurrency: 200_000}
	log.Printf("%s listening on %s", name, addr)
	return srv.ListenAndServe(addr)
}
