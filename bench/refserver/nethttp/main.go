// Command nethttp is the net/http + encoding/json reference server of the
// benchmarks: POST /api/v1/price written the way a careful Go programmer
// would write it with the standard library alone.
//
// It decodes the body with encoding/json into a struct, prices it with the
// shared pricing.Engine (in memory, or the seed latency profile), and
// encodes the reply with encoding/json (numbers as json.Number so that
// they keep their exact decimal form). It implements the happy path and
// the common errors (400, 404, 405, 413, 422 in a simplified shape, 503),
// not the whole contract: it is a reference for speed, not a product.
//
//	nethttp --addr 127.0.0.1:8000 --lookup-latency none
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/pricing-engine/pricing-engine/bench/refserver/internal/ref"
	"github.com/pricing-engine/pricing-engine/pricing"
)

// priceRequest is the request body.
type priceRequest struct {
	ProductID     string `json:"product_id"`
	UserLocation  string `json:"user_location"`
	IsPrimeMember bool   `json:"is_prime_member"`
}

// priceResponse is the reply body, fields in the contract's order.
type priceResponse struct {
	ProductID        string      `json:"product_id"`
	FinalPrice       json.Number `json:"final_price"`
	BasePrice        json.Number `json:"base_price"`
	MarketMultiplier json.Number `json:"market_multiplier"`
	DiscountRate     json.Number `json:"discount_rate"`
	Source           string      `json:"source"`
}

type detail struct {
	Detail string `json:"detail"`
}

type handler struct {
	engine *ref.Engine
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != ref.Path {
		writeJSON(w, http.StatusNotFound, detail{"Not Found"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, detail{"Method Not Allowed"})
		return
	}
	var in priceRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, ref.MaxBody)).Decode(&in); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, detail{"Request Entity Too Large"})
			return
		}
		writeJSON(w, http.StatusBadRequest, detail{"invalid JSON: " + err.Error()})
		return
	}
	for _, f := range [...]struct{ name, v string }{{pricing.FieldProductID, in.ProductID}, {pricing.FieldUserLocation, in.UserLocation}} {
		if len(f.v) < pricing.MinFieldLen || len(f.v) > pricing.MaxFieldLen {
			writeJSON(w, http.StatusUnprocessableEntity, detail{fmt.Sprintf("%s must be %d..%d bytes", f.name, pricing.MinFieldLen, pricing.MaxFieldLen)})
			return
		}
	}
	var x pricing.Exchange
	x.Req = pricing.Request{ProductID: []byte(in.ProductID), Location: []byte(in.UserLocation), Member: in.IsPrimeMember}
	h.engine.Price(r.Context(), &x)
	if x.Status != http.StatusOK {
		if x.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(x.RetryAfter))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(x.Status)
		_, _ = w.Write(x.Body)
		return
	}
	q := &x.Quote
	writeJSON(w, http.StatusOK, priceResponse{
		ProductID:        string(q.ProductID),
		FinalPrice:       json.Number(q.Final.String()),
		BasePrice:        json.Number(q.Base.String()),
		MarketMultiplier: json.Number(q.Multiplier.String()),
		DiscountRate:     json.Number(q.Discount.String()),
		Source:           q.Source,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func main() {
	opts, err := ref.ParseFlags("nethttp", os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	engine, err := ref.NewEngine(opts.Latency)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Addr:              opts.Addr,
		Handler:           &handler{engine: engine},
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	log.Printf("nethttp listening on %s (lookup latency %s)", opts.Addr, opts.Latency)
	log.Fatal(srv.ListenAndServe())
}
