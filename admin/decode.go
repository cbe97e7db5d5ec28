package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/money"
)

// MaxChanges bounds the items of one POST /admin/v1/changes.
const MaxChanges = 1000

// fieldError is one entry of a FastAPI/pydantic v2 validation error list.
type fieldError struct {
	Type  string         `json:"type"`
	Loc   []any          `json:"loc"`
	Msg   string         `json:"msg"`
	Input any            `json:"input,omitempty"`
	Ctx   map[string]any `json:"ctx,omitempty"`
}

// badJSONError is a body that is not a JSON object (400).
type badJSONError struct{ msg string }

func (e *badJSONError) Error() string { return "invalid JSON: " + e.msg }

// decodeObject parses body as one JSON object and returns its members
// (the last of repeated names wins, as in encoding/json).
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, &badJSONError{"empty body"}
	}
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &badJSONError{fmt.Sprintf("%s at offset %d", se.Error(), se.Offset)}
		}
		return nil, &badJSONError{"malformed"}
	}
	if trimmed[0] != '{' {
		return nil, &badJSONError{"the body must be a JSON object"}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, &badJSONError{err.Error()}
	}
	return m, nil
}

// valueField names the value member of a kind's body.
func valueField(kind string) string {
	if kind == lookup.KindMarket {
		return "multiplier"
	}
	return "base_price"
}

// idField names the id member of a kind's reply.
func idField(kind string) string {
	if kind == lookup.KindMarket {
		return "location"
	}
	return "product_id"
}

// decimalValue checks one decimal member (a JSON number or a string
// holding a decimal) for kind and returns its text as it will be stored.
// loc is the member's location for the error.
func decimalValue(kind string, raw json.RawMessage, loc []any) (string, *fieldError) {
	raw = bytes.TrimSpace(raw)
	var text string
	var input any
	switch {
	case len(raw) > 0 && raw[0] == '"':
		if err := json.Unmarshal(raw, &text); err != nil {
			return "", &fieldError{Type: "string_type", Loc: loc, Msg: "Input should be a valid string"}
		}
		input = truncate(text)
	case len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9'):
		text = string(raw)
		input = json.Number(truncate(text))
	default:
		return "", &fieldError{Type: "decimal_type", Loc: loc, Msg: "Decimal input should be an integer, float, string or Decimal object", Input: rawInput(raw)}
	}
	if len(text) > lookup.MaxValueLen {
		return "", &fieldError{Type: "decimal_parsing", Loc: loc, Msg: "Input should be a valid decimal", Input: input}
	}
	d, err := money.Parse(text)
	if err != nil {
		return "", &fieldError{Type: "decimal_parsing", Loc: loc, Msg: "Input should be a valid decimal", Input: input}
	}
	hi := lookup.MaxPriceUnits
	if kind == lookup.KindMarket {
		hi = lookup.MaxMultiplierUnits
	}
	if err := lookup.CheckValue(kind, text); err != nil {
		if d.Sign() <= 0 {
			return "", &fieldError{Type: "greater_than", Loc: loc, Msg: "Input should be greater than 0", Input: input, Ctx: map[string]any{"gt": 0}}
		}
		return "", &fieldError{Type: "less_than_equal", Loc: loc, Msg: "Input should be less than or equal to " + strconv.Itoa(hi), Input: input, Ctx: map[string]any{"le": hi}}
	}
	return text, nil
}

// rawInput is a short rendering of a bad member for an error's input.
func rawInput(raw json.RawMessage) any {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	switch x := v.(type) {
	case map[string]any, []any:
		return truncate(string(raw))
	default:
		return x
	}
}

// decodeValue decodes the body of PUT /admin/v1/{products|markets}/{id}:
// exactly one member, the value.
func decodeValue(kind string, body []byte) (string, []fieldError, error) {
	m, err := decodeObject(body)
	if err != nil {
		return "", nil, err
	}
	want := valueField(kind)
	var errs []fieldError
	for name, raw := range m {
		if name != want {
			errs = append(errs, fieldError{Type: "extra_forbidden", Loc: []any{"body", name}, Msg: "Extra inputs are not permitted", Input: rawInput(raw)})
		}
	}
	raw, ok := m[want]
	if !ok {
		errs = append(errs, fieldError{Type: "missing", Loc: []any{"body", want}, Msg: "Field required"})
		return "", sortErrs(errs), nil
	}
	val, fe := decimalValue(kind, raw, []any{"body", want})
	if fe != nil {
		errs = append(errs, *fe)
	}
	return val, sortErrs(errs), nil
}

// sortErrs orders errors by location, for stable replies.
func sortErrs(errs []fieldError) []fieldError {
	for i := 1; i < len(errs); i++ {
		for j := i; j > 0 && fmt.Sprint(errs[j].Loc) < fmt.Sprint(errs[j-1].Loc); j-- {
			errs[j], errs[j-1] = errs[j-1], errs[j]
		}
	}
	return errs
}

// decodeVersion decodes the body of POST .../revert: {"version":"5"}
// (a string or a number).
func decodeVersion(body []byte) (uint64, []fieldError, error) {
	m, err := decodeObject(body)
	if err != nil {
		return 0, nil, err
	}
	var errs []fieldError
	for name, raw := range m {
		if name != "version" {
			errs = append(errs, fieldError{Type: "extra_forbidden", Loc: []any{"body", name}, Msg: "Extra inputs are not permitted", Input: rawInput(raw)})
		}
	}
	raw, ok := m["version"]
	if !ok {
		errs = append(errs, fieldError{Type: "missing", Loc: []any{"body", "version"}, Msg: "Field required"})
		return 0, sortErrs(errs), nil
	}
	v, fe := versionValue(raw, []any{"body", "version"})
	if fe != nil {
		errs = append(errs, *fe)
	}
	return v, sortErrs(errs), nil
}

// versionValue reads a version: a positive integer as a JSON number or
// string.
func versionValue(raw json.RawMessage, loc []any) (uint64, *fieldError) {
	raw = bytes.TrimSpace(raw)
	text := string(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if json.Unmarshal(raw, &text) != nil {
			text = ""
		}
	}
	v, err := strconv.ParseUint(text, 10, 64)
	if err != nil || v == 0 {
		return 0, &fieldError{Type: "int_parsing", Loc: loc, Msg: "Input should be a valid version (a positive integer)", Input: rawInput(raw)}
	}
	return v, nil
}

// ifMatchValue reads a batch item's "if_match", the twin of the If-Match
// header: a version as a JSON number or string ("0" names an entry that
// exists but was never written through the API, as ETag "0" does), or
// "*" (the entry exists, whatever its version).
func ifMatchValue(raw json.RawMessage, loc []any) (lookup.Cond, uint64, *fieldError) {
	raw = bytes.TrimSpace(raw)
	text := string(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if json.Unmarshal(raw, &text) != nil {
			text = ""
		}
		if text == "*" {
			return lookup.CondExists, 0, nil
		}
	}
	v, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		return lookup.CondVersion, 0, &fieldError{Type: "int_parsing", Loc: loc, Msg: `Input should be a version (an integer, 0 for an entry never written through the API) or "*"`, Input: rawInput(raw)}
	}
	return lookup.CondVersion, v, nil
}

// change is one decoded item of POST /admin/v1/changes.
type change struct {
	ref     lookup.Ref
	value   string
	delete  bool
	cond    lookup.Cond
	version uint64
	errs    []fieldError // the item is refused (422) when set
	raw     []byte       // the item's JSON, for its idempotency fingerprint
}

// decodeChanges decodes the body of POST /admin/v1/changes:
// {"changes":[item, ...]} with 1..MaxChanges items. Whole-body problems
// are an error (400) or field errors (422); an item's problems are in its
// change.errs.
func decodeChanges(body []byte) ([]change, []fieldError, error) {
	m, err := decodeObject(body)
	if err != nil {
		return nil, nil, err
	}
	var errs []fieldError
	for name, raw := range m {
		if name != "changes" {
			errs = append(errs, fieldError{Type: "extra_forbidden", Loc: []any{"body", name}, Msg: "Extra inputs are not permitted", Input: rawInput(raw)})
		}
	}
	raw, ok := m["changes"]
	if !ok {
		errs = append(errs, fieldError{Type: "missing", Loc: []any{"body", "changes"}, Msg: "Field required"})
		return nil, sortErrs(errs), nil
	}
	var items []json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '[' || json.Unmarshal(t, &items) != nil {
		errs = append(errs, fieldError{Type: "list_type", Loc: []any{"body", "changes"}, Msg: "Input should be a valid list"})
		return nil, sortErrs(errs), nil
	}
	switch {
	case len(items) == 0:
		errs = append(errs, fieldError{Type: "too_short", Loc: []any{"body", "changes"}, Msg: "List should have at least 1 item after validation, not 0", Ctx: map[string]any{"field_type": "List", "min_length": 1, "actual_length": 0}})
	case len(items) > MaxChanges:
		errs = append(errs, fieldError{Type: "too_long", Loc: []any{"body", "changes"}, Msg: fmt.Sprintf("List should have at most %d items after validation, not %d", MaxChanges, len(items)), Ctx: map[string]any{"field_type": "List", "max_length": MaxChanges, "actual_length": len(items)}})
	}
	if len(errs) > 0 {
		return nil, sortErrs(errs), nil
	}
	out := make([]change, len(items))
	for i, it := range items {
		out[i] = decodeChange(i, it)
	}
	return out, nil, nil
}

// decodeChange decodes one item: product_id + base_price or location +
// multiplier (or "delete": true instead of the value), with "if_match"
// or "if_none_match": "*".
func decodeChange(i int, raw json.RawMessage) change {
	c := change{raw: raw}
	loc := func(name string) []any { return []any{"body", "changes", i, name} }
	var m map[string]json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &m) != nil {
		c.errs = []fieldError{{Type: "model_type", Loc: []any{"body", "changes", i}, Msg: "Input should be a valid dictionary or object", Input: rawInput(raw)}}
		return c
	}
	_, isProduct := m["product_id"]
	_, isMarket := m["location"]
	switch {
	case isProduct && isMarket:
		c.errs = append(c.errs, fieldError{Type: "extra_forbidden", Loc: loc("location"), Msg: "Give product_id or location, not both"})
		return c
	case isMarket:
		c.ref.Kind = lookup.KindMarket
	default:
		c.ref.Kind = lookup.KindProduct
	}
	idName, valName := idField(c.ref.Kind), valueField(c.ref.Kind)
	for name, v := range m {
		switch name {
		case idName, valName, "if_match", "if_none_match", "delete":
		default:
			c.errs = append(c.errs, fieldError{Type: "extra_forbidden", Loc: loc(name), Msg: "Extra inputs are not permitted", Input: rawInput(v)})
		}
	}
	if idRaw, ok := m[idName]; !ok {
		c.errs = append(c.errs, fieldError{Type: "missing", Loc: loc(idName), Msg: "Field required"})
	} else if json.Unmarshal(idRaw, &c.ref.ID) != nil {
		c.errs = append(c.errs, fieldError{Type: "string_type", Loc: loc(idName), Msg: "Input should be a valid string", Input: rawInput(idRaw)})
	} else if err := c.ref.Check(); err != nil {
		c.errs = append(c.errs, fieldError{Type: "value_error", Loc: loc(idName), Msg: "Value error, " + err.Error(), Input: truncate(c.ref.ID)})
	}
	if d, ok := m["delete"]; ok {
		if json.Unmarshal(d, &c.delete) != nil {
			c.errs = append(c.errs, fieldError{Type: "bool_type", Loc: loc("delete"), Msg: "Input should be a valid boolean", Input: rawInput(d)})
		}
	}
	valRaw, hasVal := m[valName]
	switch {
	case c.delete && hasVal:
		c.errs = append(c.errs, fieldError{Type: "extra_forbidden", Loc: loc(valName), Msg: "A delete takes no value"})
	case !c.delete && !hasVal:
		c.errs = append(c.errs, fieldError{Type: "missing", Loc: loc(valName), Msg: "Field required"})
	case hasVal:
		v, fe := decimalValue(c.ref.Kind, valRaw, loc(valName))
		if fe != nil {
			c.errs = append(c.errs, *fe)
		}
		c.value = v
	}
	if im, ok := m["if_match"]; ok {
		cond, v, fe := ifMatchValue(im, loc("if_match"))
		if fe != nil {
			c.errs = append(c.errs, *fe)
		}
		c.cond, c.version = cond, v
	}
	if inm, ok := m["if_none_match"]; ok {
		var s string
		if json.Unmarshal(inm, &s) != nil || s != "*" {
			c.errs = append(c.errs, fieldError{Type: "literal_error", Loc: loc("if_none_match"), Msg: "Input should be '*'", Input: rawInput(inm)})
		} else if c.cond != lookup.CondNone {
			c.errs = append(c.errs, fieldError{Type: "extra_forbidden", Loc: loc("if_none_match"), Msg: "Give if_match or if_none_match, not both"})
		} else {
			c.cond = lookup.CondAbsent
		}
	}
	c.errs = sortErrs(c.errs)
	return c
}
