package loadtest

import (
	"errors"
)

// Batch workload: with Workload.Batch = N > 0 every request is a POST of
// {"items":[...]} with N items (to /api/v1/prices), each item rendered
// from BodyTemplate with its own draw of product, location and member flag
// (the same distribution as single requests). A 200 reply must be
// {"items":[...]} with one result per item, in order, each passing the
// single request's check (checkQuote).

// MaxBatch bounds Workload.Batch: the server's limit of items per batch.
const MaxBatch = 100

// Reasons a batch reply is refused, beside the single check's. Constants,
// so that the check allocates nothing, even when it fails.
var (
	errBatchSyntax = errors.New(`body is not {"items":[...]}`)
	errBatchCount  = errors.New("reply has a different number of items than the request")
	errBatchItem   = errors.New(`item answered {"error":...}`)
)

// batchOpen and batchClose frame the items of a batch request body.
const (
	batchOpen  = `{"items":[`
	batchClose = `]}`
)

// appendBatchRequest appends the full batch request for infos (one item
// each) to dst, rendering the body into scratch first. It returns dst and
// scratch for reuse.
func (r *renderer) appendBatchRequest(dst, scratch []byte, infos []reqInfo) ([]byte, []byte) {
	body := append(scratch[:0], batchOpen...)
	for i, info := range infos {
		if i > 0 {
			body = append(body, ',')
		}
		body = r.appendBody(body, info)
	}
	body = append(body, batchClose...)
	return r.appendHead(dst, body), body
}

// scanBatch calls item(i, v) for each element v of the "items" array of
// the JSON object b, in order, and returns how many there were. Other keys
// are skipped. It stops at the first error of its own (the body is not an
// object with an "items" array) and returns it; item's results are not its
// concern. It allocates nothing.
func scanBatch(b []byte, item func(i int, v []byte)) (int, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, errBatchSyntax
	}
	i = skipSpace(b, i+1)
	n, found := 0, false
	if i < len(b) && b[i] == '}' {
		return 0, errBatchSyntax
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return n, errBatchSyntax
		}
		kEnd := stringEnd(b, i+1)
		if kEnd < 0 {
			return n, errBatchSyntax
		}
		key := b[i+1 : kEnd]
		i = skipSpace(b, kEnd+1)
		if i >= len(b) || b[i] != ':' {
			return n, errBatchSyntax
		}
		i = skipSpace(b, i+1)
		if string(key) == "items" {
			if found || i >= len(b) || b[i] != '[' {
				return n, errBatchSyntax
			}
			found = true
			var err error
			if n, i, err = scanItems(b, i, item); err != nil {
				return n, err
			}
		} else {
			_, _, next := scanValue(b, i)
			if next < 0 {
				return n, errBatchSyntax
			}
			i = next
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return n, errBatchSyntax
		}
		if b[i] == '}' {
			if skipSpace(b, i+1) != len(b) || !found {
				return n, errBatchSyntax
			}
			return n, nil
		}
		if b[i] != ',' {
			return n, errBatchSyntax
		}
		i = skipSpace(b, i+1)
	}
}

// scanItems scans the array at b[i] == '[', calling item for each element
// (objects only). It returns the number of elements and the index after
// the array.
func scanItems(b []byte, i int, item func(i int, v []byte)) (int, int, error) {
	n := 0
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return 0, i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '{' {
			return n, 0, errBatchSyntax
		}
		start, end, next := scanValue(b, i)
		if next < 0 || b[end-1] != '}' { // scanValue does not pair bracket kinds
			return n, 0, errBatchSyntax
		}
		item(n, b[start:end])
		n++
		i = skipSpace(b, next)
		if i >= len(b) {
			return n, 0, errBatchSyntax
		}
		if b[i] == ']' {
			return n, i + 1, nil
		}
		if b[i] != ',' {
			return n, 0, errBatchSyntax
		}
		i = skipSpace(b, i+1)
	}
}

// isErrorItem reports whether the item object v is a per-item error,
// {"error":...}.
func isErrorItem(v []byte) bool {
	i := skipSpace(v, 1)
	const key = `"error"`
	return len(v)-i >= len(key) && string(v[i:i+len(key)]) == key
}

// batchCheck is the state of one batch reply check. It lives in the
// worker and is reused, so that checking allocates nothing.
type batchCheck struct {
	r     *renderer
	infos []reqInfo
	bad   int   // items that failed their check
	first int   // index of the first bad item, -1 if none
	err   error // why the first bad item failed
	fn    func(i int, v []byte)
}

func newBatchCheck(r *renderer) *batchCheck {
	c := &batchCheck{r: r}
	c.fn = c.item
	return c
}

func (c *batchCheck) item(i int, v []byte) {
	if i >= len(c.infos) {
		return // counted as a count mismatch by check
	}
	var err error
	if isErrorItem(v) {
		err = errBatchItem
	} else {
		err = c.r.checkQuote(v, c.infos[i])
	}
	if err != nil {
		if c.bad == 0 {
			c.first, c.err = i, err
		}
		c.bad++
	}
}

// check checks a 200 batch reply body against the items it answers. It
// returns how many items failed (all of them when the body as a whole is
// wrong), the index of the first bad item (-1 when the body as a whole is
// wrong or none failed) and the reason.
func (c *batchCheck) check(body []byte, infos []reqInfo) (bad, first int, err error) {
	c.infos, c.bad, c.first, c.err = infos, 0, -1, nil
	n, err := scanBatch(body, c.fn)
	c.infos = nil
	switch {
	case err != nil:
		return len(infos), -1, err
	case n != len(infos):
		return len(infos), -1, errBatchCount
	}
	return c.bad, c.first, c.err
}
