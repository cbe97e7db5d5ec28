package pricing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pricing-engine/pricing-engine/money"
)

// batchBody builds {"items":[item x n]<tail>}.
func batchBody(n int, item, tail string) string {
	return `{"items":[` + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + `]` + tail + `}`
}

type wantItem struct {
	pid, loc        string
	member, explain bool
	err             string // the rendered item error; "" for a good item
}

func TestDecodeBatchOK(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		explain bool
		items   []wantItem
	}{
		{"two items", `{"items":[{"product_id":"P-1","user_location":"NY","is_prime_member":true},{"product_id":"P-2","user_location":"LA"}]}`,
			false, []wantItem{{pid: "P-1", loc: "NY", member: true}, {pid: "P-2", loc: "LA"}}},
		{"explain for all", ` { "explain" : true , "items" : [ {"product_id":"P-1","user_location":"NY"} ] } `,
			true, []wantItem{{pid: "P-1", loc: "NY", explain: true}}},
		{"explain per item", `{"items":[{"product_id":"P-1","user_location":"NY","explain":"yes"},{"product_id":"P-2","user_location":"NY"}],"explain":0}`,
			false, []wantItem{{pid: "P-1", loc: "NY", explain: true}, {pid: "P-2", loc: "NY"}}},
		{"lax values, unknown fields", `{"x":[1,{"y":null}],"items":[{"product_id":"P-1","user_location":"NY","is_prime_member":"On","z":"\u00e9"}],"explain":"off"}`,
			false, []wantItem{{pid: "P-1", loc: "NY", member: true}}},
		{"escapes (full path)", `{"items":[{"product_id":"P-\u0031","user_location":"N\/Y","is_prime_member":1.0}],"explain":1e0}`,
			true, []wantItem{{pid: "P-1", loc: "N/Y", member: true, explain: true}}},
		{"BOM", "\xef\xbb\xbf" + `{"items":[{"product_id":"P-1","user_location":"NY"}]}`,
			false, []wantItem{{pid: "P-1", loc: "NY"}}},
		{"duplicate items key, last wins", `{"items":[{"product_id":"P-1","user_location":"NY"}],"items":[{"product_id":"P-2","user_location":"LA"}]}`,
			false, []wantItem{{pid: "P-2", loc: "LA"}}},
		{"a bad item among good ones", `{"items":[{"product_id":"P-1","user_location":"NY"},{"user_location":"NY"},{"product_id":"P-3","user_location":"LA","is_prime_member":"maybe"},7,{"product_id":"P-5","user_location":"SF"}]}`,
			false, []wantItem{
				{pid: "P-1", loc: "NY"},
				{err: `{"error":{"status":422,"detail":[{"type":"missing","loc":["body","items",1,"product_id"],"msg":"Field required","input":{"user_location":"NY"}}]}}`},
				{err: `{"error":{"status":422,"detail":[{"type":"bool_parsing","loc":["body","items",2,"is_prime_member"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]}}`},
				{err: `{"error":{"status":422,"detail":[{"type":"model_type","loc":["body","items",3],"msg":"Input should be a valid dictionary or instance of PriceRequest","input":7,"ctx":{"class_name":"PriceRequest"}}]}}`},
				{pid: "P-5", loc: "SF"},
			}},
		{"an item with two bad fields", `{"items":[{"product_id":"","user_location":null,"explain":[]}]}`,
			false, []wantItem{{err: `{"error":{"status":422,"detail":[` +
				`{"type":"string_too_short","loc":["body","items",0,"product_id"],"msg":"String should have at least 1 character","input":"","ctx":{"min_length":1}},` +
				`{"type":"string_type","loc":["body","items",0,"user_location"],"msg":"Input should be a valid string","input":null},` +
				`{"type":"bool_type","loc":["body","items",0,"explain"],"msg":"Input should be a valid boolean","input":[]}]}}`}}},
	}
	var d Decoder
	var b Batch
	for _, tt := range tests {
		if err := d.DecodeBatch([]byte(tt.body), &b); err != nil {
			t.Errorf("%s: DecodeBatch: %v", tt.name, err)
			continue
		}
		checkBatch(t, tt.name, &b, tt.explain, tt.items)
	}
}

func checkBatch(t *testing.T, name string, b *Batch, explain bool, items []wantItem) {
	t.Helper()
	if b.Explain != explain || b.Len() != len(items) || len(b.Errs) != len(items) {
		t.Errorf("%s: explain %v, %d items, %d errs; want %v, %d", name, b.Explain, b.Len(), len(b.Errs), explain, len(items))
		return
	}
	for i, w := range items {
		if w.err != "" {
			got := strings.TrimPrefix(string(AppendBatchItemError(nil, i, b.Errs[i])), ",")
			if b.Errs[i] == nil || got != w.err {
				t.Errorf("%s: item %d error\n got %s\nwant %s", name, i, got, w.err)
			}
			continue
		}
		r := &b.Items[i]
		if b.Errs[i] != nil || string(r.ProductID) != w.pid || string(r.Location) != w.loc || r.Member != w.member || r.Explain != w.explain {
			t.Errorf("%s: item %d = {%q %q %v %v} err %v, want {%q %q %v %v}", name, i,
				r.ProductID, r.Location, r.Member, r.Explain, b.Errs[i], w.pid, w.loc, w.member, w.explain)
		}
	}
}

func TestDecodeBatchRequestErrors(t *testing.T) {
	item := `{"product_id":"P-1","user_location":"NY"}`
	tests := []struct {
		name, body string
		status     int
		want       string // the whole body, or its prefix when it ends in "..."
	}{
		{"malformed", `{"items":[` + item, 400, `{"detail":"invalid JSON: unexpected end of input, expected ',' or ']' in an array at offset 51"}`},
		{"raw TAB in an item", `{"items":[{"product_id":"P` + "\t" + `1","user_location":"NY"}]}`, 400,
			`{"detail":"invalid JSON: raw control character byte 0x09 in a string (escape it) at offset 26"}`},
		{"NaN explain", `{"items":[` + item + `],"explain":NaN}`, 400, `{"detail":"invalid JSON: unexpected 'N': not a JSON value (NaN, Infinity, '+' and a bare '.' are not JSON numbers) at offset 63"}`},
		{"BOM offsets", "\xef\xbb\xbf" + `{"items":x}`, 400, `{"detail":"invalid JSON: unexpected 'x', expected a value at offset 12"}`},
		{"not an object", `[` + item + `]`, 400, `{"detail":"invalid JSON: expected an object at the top level, got array"}`},
		{"missing items", `{"item":[]}`, 422, `{"detail":[{"type":"missing","loc":["body","items"],"msg":"Field required","input":{"item":[]}}]}`},
		{"items not a list", `{"items":{"product_id":"P-1"}}`, 422,
			`{"detail":[{"type":"list_type","loc":["body","items"],"msg":"Input should be a valid list","input":{"product_id":"P-1"}}]}`},
		{"items null", `{"items":null}`, 422, `{"detail":[{"type":"list_type","loc":["body","items"],"msg":"Input should be a valid list","input":null}]}`},
		{"empty", `{"items":[]}`, 422,
			`{"detail":[{"type":"too_short","loc":["body","items"],"msg":"List should have at least 1 item after validation, not 0","input":[],"ctx":{"field_type":"List","min_length":1,"actual_length":0}}]}`},
		{"101 items", batchBody(101, item, ""), 422,
			`{"detail":[{"type":"too_long","loc":["body","items"],"msg":"List should have at most 100 items after validation, not 101","input":[` + item + `,...`},
		{"explain not a boolean", `{"items":[` + item + `],"explain":"maybe"}`, 422,
			`{"detail":[{"type":"bool_parsing","loc":["body","explain"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]}`},
		{"explain null and no items", `{"explain":null}`, 422, `{"detail":[` +
			`{"type":"missing","loc":["body","items"],"msg":"Field required","input":{"explain":null}},` +
			`{"type":"bool_type","loc":["body","explain"],"msg":"Input should be a valid boolean","input":null}]}`},
		{"bad items are not looked at when explain is bad", `{"items":[1,{}],"explain":2}`, 422,
			`{"detail":[{"type":"bool_parsing","loc":["body","explain"],"msg":"Input should be a valid boolean, unable to interpret input","input":2}]}`},
	}
	var d Decoder
	var b Batch
	for _, tt := range tests {
		err := d.DecodeBatch([]byte(tt.body), &b)
		var pe *Error
		if !errors.As(err, &pe) || pe.Status != tt.status {
			t.Errorf("%s: DecodeBatch = %v, want a %d *Error", tt.name, err, tt.status)
			continue
		}
		got := string(pe.AppendJSON(nil))
		if prefix, ok := strings.CutSuffix(tt.want, "..."); ok && !strings.HasPrefix(got, prefix) || !ok && got != tt.want {
			t.Errorf("%s: body\n got %s\nwant %s", tt.name, got, tt.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("%s: body is not JSON: %s", tt.name, got)
		}
	}
	// 101 items: the ctx names the length, after the 101 inputs.
	err := d.DecodeBatch([]byte(batchBody(101, item, "")), &b)
	if got := string(err.(*Error).AppendJSON(nil)); !strings.HasSuffix(got, `],"ctx":{"field_type":"List","max_length":100,"actual_length":101}}]}`) {
		t.Errorf("101 items: body ends %s", got[max(0, len(got)-120):])
	}
}

// TestDecodeBatchBounds: 1 and 100 items are taken, on the fast path and
// on the full path alike; and reusing a Batch leaves nothing behind.
func TestDecodeBatchBounds(t *testing.T) {
	var d Decoder
	var b Batch
	for _, tt := range []struct {
		item string
		fast bool
	}{
		{`{"product_id":"P-1","user_location":"NY","is_prime_member":true}`, true},
		{`{"product_id":"P-\u0031","user_location":"NY","is_prime_member":true}`, false},
	} {
		for _, n := range []int{1, 2, MaxBatchItems} {
			body := []byte(batchBody(n, tt.item, `,"explain":true`))
			var fast Batch
			if got := scanBatch(body, &fast); got != tt.fast {
				t.Errorf("scanBatch(%d x %s) = %v, want %v", n, tt.item, got, tt.fast)
			}
			if err := d.DecodeBatch(body, &b); err != nil {
				t.Fatalf("%d items: %v", n, err)
			}
			want := make([]wantItem, n)
			for i := range want {
				want[i] = wantItem{pid: "P-1", loc: "NY", member: true, explain: true}
			}
			checkBatch(t, fmt.Sprintf("%d x %s", n, tt.item), &b, true, want)
		}
	}
	// A batch with a bad item, then a good one in the same Batch: the
	// earlier item error is gone.
	if err := d.DecodeBatch([]byte(`{"items":[{"product_id":"P-1","user_location":"NY"},{}]}`), &b); err != nil || b.Errs[1] == nil {
		t.Fatalf("bad item: err %v, errs %v", err, b.Errs)
	}
	if err := d.DecodeBatch([]byte(`{"items":[{"product_id":"P-1","user_location":"NY"},{"product_id":"P-2","user_location":"LA"}]}`), &b); err != nil {
		t.Fatal(err)
	}
	checkBatch(t, "reused", &b, false, []wantItem{{pid: "P-1", loc: "NY"}, {pid: "P-2", loc: "LA"}})
}

func TestAppendBatch(t *testing.T) {
	q := Quote{ProductID: []byte("P-123"), Final: money.New(4512, 2), Base: money.New(4999, 2),
		Multiplier: money.New(95, 2), Discount: money.New(5, 2), Source: SourceLive}
	dst := AppendBatchOpen([]byte("prefix"))
	dst = AppendBatchItemQuote(dst, 0, &q)
	dst = AppendBatchItemError(dst, 1, &Error{Status: StatusNotFound, Detail: `unknown product_id "P-X"`})
	dst = AppendBatchItemError(dst, 2, &Error{Status: StatusUnprocessableEntity, Fields: []FieldError{
		{Type: "missing", Loc: []string{"body", "product_id"}, Msg: "Field required", Input: []byte(`{}`)}}})
	dst = AppendBatchItemError(dst, 3, fmt.Errorf("cannot price: %w", &Error{Status: StatusServiceUnavailable, Detail: "catalog lookup timed out", RetryAfter: 1}))
	dst = AppendBatchItemError(dst, 4, errors.New("boom"))
	dst = AppendBatchItemQuote(dst, 5, &q)
	dst = AppendBatchClose(dst)
	want := `{"items":[` +
		`{"product_id":"P-123","final_price":45.12,"base_price":49.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"},` +
		`{"error":{"status":404,"detail":"unknown product_id \"P-X\""}},` +
		`{"error":{"status":422,"detail":[{"type":"missing","loc":["body","items",2,"product_id"],"msg":"Field required","input":{}}]}},` +
		`{"error":{"status":503,"detail":"catalog lookup timed out"}},` +
		`{"error":{"status":500,"detail":"internal server error"}},` +
		`{"product_id":"P-123","final_price":45.12,"base_price":49.99,"market_multiplier":0.95,"discount_rate":0.05,"source":"live"}]}`
	if got := string(dst); got != "prefix"+want {
		t.Errorf("batch reply\n got %s\nwant %s", got, want)
	}
	if !json.Valid(dst[len("prefix"):]) {
		t.Errorf("batch reply is not JSON")
	}
	// The same item, alone, renders as the single request's error would.
	single := (&Error{Status: StatusNotFound, Detail: `unknown product_id "P-X"`}).AppendJSON(nil)
	if got := AppendBatchItemError(nil, 0, &Error{Status: StatusNotFound, Detail: `unknown product_id "P-X"`}); !bytes.Contains(got, single[len(`{"detail":`):len(single)-1]) {
		t.Errorf("item error %s does not carry the single detail %s", got, single)
	}
}

// FuzzDecodeBatch holds DecodeBatch to the same line as Decode: 400
// exactly when refInvalid says so, every error body and item error is
// JSON, item counts within bounds; the fast path never takes a body the
// reference calls invalid, the full path (decodeBatchFull) alone draws the
// same line, and whatever the fast path takes, the full path takes alike.
func FuzzDecodeBatch(f *testing.F) {
	item := `{"product_id":"P-1","user_location":"NY","is_prime_member":true}`
	for _, s := range []string{
		batchBody(2, item, `,"explain":true`),
		batchBody(3, `{"product_id":"P-1","user_location":"NY","explain":"on","x":[1]}`, ""),
		`{"items":[{"user_location":"NY"},7,{"product_id":"P-\u0031","user_location":"NY"}]}`,
		`{"items":[]}`, `{"items":{}}`, `{}`, `{"items":[1],"explain":null}`,
		"\xef\xbb\xbf" + batchBody(1, item, ""),
		`{"items":[{"product_id":"N` + "\t" + `Y"}]}`,
		`{"items":[{"product_id":"P-1","user_location":"NY","is_prime_member":01}]}`,
		batchBody(101, `{}`, ""),
		batchBody(2, item, `,"quote":"on"`),
		`{"items":[{"product_id":"P-1","user_location":"NY","quote":1},{"product_id":"P-1","user_location":"NY","quote":"x"}],"quote":false}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var d Decoder
		var b Batch
		err := d.DecodeBatch(body, &b)
		var pe *Error
		bad400 := errors.As(err, &pe) && pe.Status == StatusBadRequest
		want := refInvalid(body)
		if bad400 != want {
			t.Fatalf("DecodeBatch(%q) = %v; want 400: %v", body, err, want)
		}
		skip := bomLen(body)
		var fast, full Batch
		fastOK := scanBatch(body[skip:], &fast)
		if fastOK && want {
			t.Fatalf("the fast path took %q, which is not JSON", body)
		}
		fullErr := d.decodeBatchFull(body, skip, &full)
		if got := errors.As(fullErr, &pe) && pe.Status == StatusBadRequest; got != want {
			t.Fatalf("decodeBatchFull(%q) = %v; want 400: %v", body, fullErr, want)
		}
		if err != nil {
			if !errors.As(err, &pe) || pe.Status != StatusBadRequest && pe.Status != StatusUnprocessableEntity {
				t.Fatalf("DecodeBatch error %v is not a 400/422 *Error", err)
			}
			if !json.Valid(pe.AppendJSON(nil)) {
				t.Fatalf("error body is not JSON: %s", pe.AppendJSON(nil))
			}
			return
		}
		if n := b.Len(); n < MinBatchItems || n > MaxBatchItems || len(b.Errs) != n {
			t.Fatalf("accepted %d items (%d errs)", n, len(b.Errs))
		}
		reply := AppendBatchOpen(nil)
		for i := range b.Items {
			if b.Errs[i] != nil {
				reply = AppendBatchItemError(reply, i, b.Errs[i])
				continue
			}
			r := &b.Items[i]
			if n := len(r.ProductID); n < MinFieldLen || n > MaxFieldLen || len(r.Location) < MinFieldLen || len(r.Location) > MaxFieldLen {
				t.Fatalf("item %d accepted with fields of %d and %d bytes", i, n, len(r.Location))
			}
			if b.Explain && !r.Explain || b.Quote && !r.Quote {
				t.Fatalf("item %d does not carry the batch's explain or quote", i)
			}
			reply = AppendBatchItemQuote(reply, i, &Quote{ProductID: r.ProductID, Source: SourceLive})
		}
		if reply = AppendBatchClose(reply); !json.Valid(reply) {
			t.Fatalf("reply is not JSON: %s", reply)
		}
		if !fastOK {
			return
		}
		if fullErr != nil {
			t.Fatalf("fast path took %q, full path: %v", body, fullErr)
		}
		if fast.Explain != full.Explain || fast.Quote != full.Quote || fast.Len() != full.Len() {
			t.Fatalf("%q: fast explain %v quote %v, %d items; full %v %v, %d", body, fast.Explain, fast.Quote, fast.Len(), full.Explain, full.Quote, full.Len())
		}
		for i := range fast.Items {
			a, c := &fast.Items[i], &full.Items[i]
			if full.Errs[i] != nil || !bytes.Equal(a.ProductID, c.ProductID) || !bytes.Equal(a.Location, c.Location) || a.Member != c.Member || a.Explain != c.Explain || a.Quote != c.Quote {
				t.Fatalf("%q item %d: fast %+v, full %+v (err %v)", body, i, *a, *c, full.Errs[i])
			}
		}
	})
}

var benchBatch20 = []byte(batchBody(20, `{"product_id":"P-123","user_location":"NY","is_prime_member":true}`, ""))

// BenchmarkDecodeBatch20 decodes a batch of 20 common items (the fast
// path).
func BenchmarkDecodeBatch20(b *testing.B) {
	benchDecodeBatch(b, benchBatch20)
}

// BenchmarkDecodeBatch20Full decodes a batch of 20 items that need the
// full path (an escape in each).
func BenchmarkDecodeBatch20Full(b *testing.B) {
	benchDecodeBatch(b, []byte(batchBody(20, `{"product_id":"P-\u0031","user_location":"NY","is_prime_member":true}`, "")))
}

func benchDecodeBatch(b *testing.B, body []byte) {
	var d Decoder
	var batch Batch
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.DecodeBatch(body, &batch); err != nil || batch.Len() != 20 || batch.Errs[19] != nil {
			b.Fatal(err, batch.Len())
		}
	}
}

// BenchmarkAppendBatch20 encodes a reply of 20 quotes.
func BenchmarkAppendBatch20(b *testing.B) {
	q := Quote{ProductID: []byte("P-123"), Final: money.New(5537, 2), Base: money.New(5299, 2),
		Multiplier: money.New(110, 2), Discount: money.New(5, 2), Source: SourceLive}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendBatchOpen(buf[:0])
		for i := range 20 {
			buf = AppendBatchItemQuote(buf, i, &q)
		}
		buf = AppendBatchClose(buf)
	}
	b.SetBytes(int64(len(buf)))
}

// TestOpenAPIExamples checks that the OpenAPI document's batch examples,
// and its invalid-JSON example of the single request, are what the
// decoder and the encoder write.
func TestOpenAPIExamples(t *testing.T) {
	raw, err := os.ReadFile("../apidocs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	type media struct {
		Examples map[string]struct{ Value json.RawMessage } `json:"examples"`
	}
	type operation struct {
		RequestBody struct{ Content map[string]media } `json:"requestBody"`
		Responses   map[string]struct{ Content map[string]media }
	}
	var doc struct {
		Paths map[string]struct{ Post operation }
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	example := func(op operation, status, name string) json.RawMessage {
		t.Helper()
		ex, ok := op.Responses[status].Content["application/json"].Examples[name]
		if !ok {
			t.Fatalf("no %s example %q", status, name)
		}
		return ex.Value
	}
	same := func(what string, got []byte, want json.RawMessage) {
		t.Helper()
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%s: %v: %s", what, err, got)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s:\n got %s\nwant %s", what, got, want)
		}
	}
	var d Decoder
	var b Batch
	batch := doc.Paths["/api/v1/prices"].Post
	for name, ex := range batch.RequestBody.Content["application/json"].Examples {
		if err := d.DecodeBatch(ex.Value, &b); err != nil || slices.ContainsFunc(b.Errs, func(e *Error) bool { return e != nil }) {
			t.Errorf("request example %s: %v %v", name, err, b.Errs)
		}
	}
	requestError := func(body string) []byte {
		t.Helper()
		var pe *Error
		if err := d.DecodeBatch([]byte(body), &b); !errors.As(err, &pe) {
			t.Fatalf("DecodeBatch(%s) = %v", body, err)
		}
		return pe.AppendJSON(nil)
	}
	same("400", requestError(`{"items":[{"product_id":"P-1","user_location":"NY"}`), example(batch, "400", "invalidJSON"))
	same("422 missing", requestError(`{}`), example(batch, "422", "missing"))
	same("422 empty", requestError(`{"items":[]}`), example(batch, "422", "empty"))
	same("422 explain", requestError(`{"items":[{"product_id":"P-1","user_location":"NY"}],"explain":"maybe"}`), example(batch, "422", "explainNotBoolean"))

	body := `{"items":[{"product_id":"P-123","user_location":"NY"},{"product_id":"P-X","user_location":"NY"},{"user_location":"NY"}]}`
	if err := d.DecodeBatch([]byte(body), &b); err != nil || b.Errs[2] == nil {
		t.Fatalf("DecodeBatch: %v %v", err, b.Errs)
	}
	reply := AppendBatchOpen(nil)
	reply = AppendBatchItemQuote(reply, 0, &Quote{ProductID: []byte("P-123"), Final: money.New(5537, 2), Base: money.New(5299, 2),
		Multiplier: money.New(110, 2), Discount: money.New(5, 2), Source: SourceLive})
	reply = AppendBatchItemError(reply, 1, &Error{Status: StatusNotFound, Detail: `unknown product_id "P-X"`})
	reply = AppendBatchItemError(reply, 2, b.Errs[2])
	same("200 mixed", AppendBatchClose(reply), example(batch, "200", "mixed"))

	var r Request
	var pe *Error
	if err := d.Decode([]byte(`{"product_id": `), &r); !errors.As(err, &pe) {
		t.Fatalf("Decode = %v", err)
	}
	same("single 400", pe.AppendJSON(nil), example(doc.Paths["/api/v1/price"].Post, "400", "invalidJSON"))
}

// TestBatchItems: the items of a batch body, as admission weighs it.
func TestBatchItems(t *testing.T) {
	item := `{"product_id":"P-1","user_location":"NY"}`
	tests := []struct {
		body string
		want int
	}{
		{batchBody(1, item, ""), 1},
		{batchBody(7, item, `,"explain":true`), 7},
		{batchBody(MaxBatchItems, item, ""), MaxBatchItems},
		{batchBody(MaxBatchItems+50, item, ""), MaxBatchItems},
		{`{"explain":false, "items" : [ 1 , "x,]" ,[2,3], {"items":[4,5]}, null ] }`, 5},
		{`{"x":{"items":[1,2,3]},"items":[{}, {}]}`, 2},
		{`{"x":"items","y":[1,2,3]}`, 1},
		{`{"items":[]}`, 1},
		{`{"items":[{"product_id":"P-\"],[1"}, {}]}`, 2},
		{"\xef\xbb\xbf" + batchBody(3, item, ""), 3},
		{`{"items":[{},{},{}`, 3}, // cut short: still counted, DecodeBatch refuses it
		{`[1,2,3]`, 1},
		{``, 1},
		{`{"items":[{"a":"\`, 1},
	}
	for _, tt := range tests {
		if got := BatchItems([]byte(tt.body)); got != tt.want {
			t.Errorf("BatchItems(%.60q) = %d, want %d", tt.body, got, tt.want)
		}
	}
	body := []byte(batchBody(MaxBatchItems, item, ""))
	if allocs := testing.AllocsPerRun(100, func() { BatchItems(body) }); allocs != 0 {
		t.Errorf("BatchItems allocates %v times", allocs)
	}
}

// FuzzBatchItems: any body weighs 1..MaxBatchItems without a panic, and a
// body DecodeBatch accepts weighs its items (unless a member name is
// spelt with escapes, which the lenient scan does not read).
func FuzzBatchItems(f *testing.F) {
	item := `{"product_id":"P-1","user_location":"NY"}`
	for _, s := range []string{
		batchBody(3, item, `,"explain":true`), `{"items":[1,"a",[],{}]}`, `{"items":[]}`, `{"x":[1],"items":[2]}`,
		`{"items":[{"product_id":"\"]"}]}`, "\xef\xbb\xbf" + batchBody(1, item, ""), `{"items":[1],"items":[1,2]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n := BatchItems(body)
		if n < 1 || n > MaxBatchItems {
			t.Fatalf("BatchItems(%q) = %d, outside [1, %d]", body, n, MaxBatchItems)
		}
		var d Decoder
		var b Batch
		if d.DecodeBatch(body, &b) != nil || bytes.Contains(body, []byte(`\`)) {
			return
		}
		if n != b.Len() {
			t.Fatalf("BatchItems(%q) = %d, DecodeBatch decoded %d items", body, n, b.Len())
		}
	})
}
