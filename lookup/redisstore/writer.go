package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/pricing-engine/pricing-engine/lookup"
)

// writeScript applies one governed write atomically. It touches only the
// value key and its companions (one Cluster slot, see [Keys.Meta]):
//
//	KEYS: value, meta, audit, idempotency
//	ARGV: op (put|del), value, cond (none|version|exists|absent), version,
//	      actor, request id, audit kind ("" derives it), fingerprint ("":
//	      no idempotency key), idempotency TTL ms, retention ms,
//	      max entries per key, audit key (product:P-1)
//
// It returns {status, exists (1|0), value, version, at ms, by, replayed
// (1|0), audit id}, where status is created, updated, deleted, conflict,
// notfound or reused. With a fingerprint, every outcome but reused is
// remembered under the idempotency key, so a repeat gets the first reply. The time is the server's (TIME), so every replica
// writes on one clock.
var writeScript = rueidis.NewLuaScript(`
local fp = ARGV[8]
if fp ~= '' then
  local h = redis.call('HMGET', KEYS[4], 'fp', 'status', 'exists', 'value', 'version', 'at', 'by', 'id')
  if h[1] then
    if h[1] ~= fp then return {'reused', '0', '', '0', '0', '', '0', ''} end
    return {h[2], h[3], h[4], h[5], h[6], h[7], '1', h[8]}
  end
end
local cur = redis.call('GET', KEYS[1])
local m = redis.call('HMGET', KEYS[2], 'version', 'at', 'by')
local ver = tonumber(m[1]) or 0
local exists = cur ~= false
local function remember(r)
  if fp ~= '' then
    redis.call('HSET', KEYS[4], 'fp', fp, 'status', r[1], 'exists', r[2], 'value', r[3], 'version', r[4], 'at', r[5], 'by', r[6], 'id', r[8])
    redis.call('PEXPIRE', KEYS[4], ARGV[9])
  end
  return r
end
local function state(status)
  return remember({status, exists and '1' or '0', cur or '', string.format('%d', ver), m[2] or '0', m[3] or '', '0', ''})
end
local cond = ARGV[3]
if (cond == 'version' and (not exists or ver ~= tonumber(ARGV[4]))) or
   (cond == 'exists' and not exists) or (cond == 'absent' and exists) then
  return state('conflict')
end
local op = ARGV[1]
if op == 'del' and not exists then return state('notfound') end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nows = string.format('%d', now)
local nv = string.format('%d', ver + 1)
local status, kind
if op == 'put' then
  redis.call('SET', KEYS[1], ARGV[2])
  if exists then status, kind = 'updated', 'update' else status, kind = 'created', 'create' end
else
  redis.call('DEL', KEYS[1])
  status, kind = 'deleted', 'delete'
end
if ARGV[7] ~= '' then kind = ARGV[7] end
local retention = tonumber(ARGV[10])
redis.call('HSET', KEYS[2], 'version', nv, 'at', nows, 'by', ARGV[5])
if op == 'del' then redis.call('PEXPIRE', KEYS[2], retention) else redis.call('PERSIST', KEYS[2]) end
local entry = {'at', nows, 'actor', ARGV[5], 'kind', kind, 'key', ARGV[12], 'version', nv, 'request_id', ARGV[6]}
if exists then table.insert(entry, 'before'); table.insert(entry, cur) end
if op == 'put' then table.insert(entry, 'after'); table.insert(entry, ARGV[2]) end
local id = redis.call('XADD', KEYS[3], 'MINID', '~', string.format('%d', now - retention), '*', unpack(entry))
redis.call('XTRIM', KEYS[3], 'MAXLEN', '~', ARGV[11])
redis.call('PEXPIRE', KEYS[3], retention)
local after, ex = '', '0'
if op == 'put' then after, ex = ARGV[2], '1' end
return remember({status, ex, after, nv, nows, ARGV[5], '0', id})
`)

// readScript reads a value and its version in one step.
//
//	KEYS: value, meta
//
// It returns {exists (1|0), value, version, at ms, by}.
var readScript = rueidis.NewLuaScriptReadOnly(`
local cur = redis.call('GET', KEYS[1])
local m = redis.call('HMGET', KEYS[2], 'version', 'at', 'by')
return {cur and '1' or '0', cur or '', m[1] or '0', m[2] or '0', m[3] or ''}
`)

// WriterOptions configure the governed writes of a [Store] ([Store.Writer]).
type WriterOptions struct {
	// AuditRetention is how long audit entries are kept
	// (lookup.DefaultAuditRetention when 0).
	AuditRetention time.Duration
	// AuditMaxPerKey bounds the entries kept per key, approximately
	// (lookup.DefaultAuditMaxPerKey when 0).
	AuditMaxPerKey int
}

// Writer is the governed write side of a [Store] ([lookup.Writer]): each
// write is one Lua script on the value key's slot, so it works the same
// on a standalone server, behind Sentinel and on a Cluster. It is safe for
// concurrent use and lives as long as its Store.
type Writer struct {
	client    rueidis.Client // nil when st is set
	st        *Store         // the Store whose client is used, once connected
	keys      Keys
	retention time.Duration
	maxPerKey int
}

var _ lookup.Writer = (*Writer)(nil)

// Writer returns the store's governed write side.
// The Store may not be connected yet (Redis down at start): until it is,
// every call fails with an error matching [lookup.ErrUnavailable].
func (s *Store) Writer(o WriterOptions) *Writer {
	w := NewWriter(nil, s.keys, o)
	w.st = s
	return w
}

// conn returns the client to use, or an error while the Store has not
// connected.
func (w *Writer) conn() (rueidis.Client, error) {
	if w.st == nil {
		return w.client, nil
	}
	// client is set once, before connected (see Store).
	if !w.st.connected.Load() {
		return nil, fmt.Errorf("store not connected yet: %w", lookup.ErrUnavailable)
	}
	return w.st.client, nil
}

// NewWriter returns a Writer on client with the key schema keys (for the
// tools that have a client but no Store).
func NewWriter(client rueidis.Client, keys Keys, o WriterOptions) *Writer {
	w := &Writer{client: client, keys: keys, retention: o.AuditRetention, maxPerKey: o.AuditMaxPerKey}
	if w.retention <= 0 {
		w.retention = lookup.DefaultAuditRetention
	}
	if w.maxPerKey <= 0 {
		w.maxPerKey = lookup.DefaultAuditMaxPerKey
	}
	return w
}

// Read implements [lookup.Writer].
func (w *Writer) Read(ctx context.Context, ref lookup.Ref) (lookup.Record, error) {
	vk := w.keys.Value(ref)
	client, err := w.conn()
	if err != nil {
		return lookup.Record{}, fmt.Errorf("cannot read %s: %w", vk, err)
	}
	v, err := readScript.Exec(ctx, client, []string{vk, w.keys.Meta(vk)}, nil).AsStrSlice()
	if err != nil {
		return lookup.Record{}, fmt.Errorf("cannot read %s: %w", vk, wrongType(vk, err))
	}
	if len(v) != 5 {
		return lookup.Record{}, fmt.Errorf("cannot read %s: script returned %d values", vk, len(v))
	}
	return record(v[0], v[1], v[2], v[3], v[4])
}

func record(exists, value, version, atMs, by string) (lookup.Record, error) {
	r := lookup.Record{Exists: exists == "1", Value: value, UpdatedBy: by}
	var err error
	if r.Version, err = strconv.ParseUint(version, 10, 64); err != nil {
		return r, fmt.Errorf("cannot parse version %q: %w", version, err)
	}
	ms, err := strconv.ParseInt(atMs, 10, 64)
	if err != nil {
		return r, fmt.Errorf("cannot parse time %q: %w", atMs, err)
	}
	if ms > 0 {
		r.UpdatedAt = time.UnixMilli(ms).UTC()
	}
	return r, nil
}

// wrongType returns err, marked as a [lookup.InvalidValueError] for
// valueKey when Redis refused the script's command on a key of another
// type (a hash where the price's string belongs): the price path answers
// 502 for such a value, and so does the admin API.
func wrongType(valueKey string, err error) error {
	if re, ok := rueidis.IsRedisErr(err); ok && strings.HasPrefix(re.Error(), "WRONGTYPE") {
		return fmt.Errorf("%w: %w", &lookup.InvalidValueError{Key: valueKey}, err)
	}
	return err
}

// condWord is the script's name of a precondition.
func condWord(c lookup.Cond) (string, bool) {
	switch c {
	case lookup.CondNone:
		return "none", true
	case lookup.CondVersion:
		return "version", true
	case lookup.CondExists:
		return "exists", true
	case lookup.CondAbsent:
		return "absent", true
	}
	return "", false
}

// writeStatus maps the script's status word.
func writeStatus(s string) (lookup.WriteStatus, bool) {
	switch s {
	case "created":
		return lookup.WriteCreated, true
	case "updated":
		return lookup.WriteUpdated, true
	case "deleted":
		return lookup.WriteDeleted, true
	case "conflict":
		return lookup.WriteConflict, true
	case "notfound":
		return lookup.WriteNotFound, true
	case "reused":
		return lookup.WriteKeyReused, true
	}
	return 0, false
}

// Write implements [lookup.Writer]. The reply comes after Redis executed
// the script: the value is in Redis and its invalidation on its way to
// every tracking replica.
func (w *Writer) Write(ctx context.Context, wr *lookup.Write) (lookup.Outcome, error) {
	if wr.Op == lookup.OpPut {
		if err := lookup.CheckValue(wr.Ref.Kind, wr.Value); err != nil {
			return lookup.Outcome{}, fmt.Errorf("cannot write %s: %w", wr.Ref, err)
		}
	}
	cond, ok := condWord(wr.Cond)
	if !ok {
		return lookup.Outcome{}, fmt.Errorf("cannot write %s: unknown condition %d", wr.Ref, wr.Cond)
	}
	op := "put"
	if wr.Op == lookup.OpDelete {
		op = "del"
	}
	vk := w.keys.Value(wr.Ref)
	keys := []string{vk, w.keys.Meta(vk), w.keys.Audit(vk), w.keys.Idempotency(vk, wr.IdempotencyKey)}
	fp := ""
	if wr.IdempotencyKey != "" {
		fp = wr.Fingerprint
		if fp == "" {
			fp = "-"
		}
	}
	args := []string{
		op, wr.Value, cond, strconv.FormatUint(wr.Version, 10),
		wr.Actor, wr.RequestID, wr.AuditKind, fp,
		strconv.FormatInt(lookup.IdempotencyTTL.Milliseconds(), 10),
		strconv.FormatInt(w.retention.Milliseconds(), 10),
		strconv.Itoa(w.maxPerKey), wr.Ref.String(),
	}
	client, err := w.conn()
	if err != nil {
		return lookup.Outcome{}, fmt.Errorf("cannot write %s: %w", vk, err)
	}
	if wr.IdempotencyKey != "" {
		owner, err := w.claim(ctx, client, wr)
		if err != nil {
			return lookup.Outcome{}, fmt.Errorf("cannot write %s: %w", vk, err)
		}
		if owner != wr.Ref.String() {
			return lookup.Outcome{Status: lookup.WriteKeyReused}, nil
		}
	}
	v, err := writeScript.Exec(ctx, client, keys, args).AsStrSlice()
	if err != nil {
		return lookup.Outcome{}, fmt.Errorf("cannot write %s: %w", vk, wrongType(vk, err))
	}
	if len(v) != 8 {
		return lookup.Outcome{}, fmt.Errorf("cannot write %s: script returned %d values", vk, len(v))
	}
	st, ok := writeStatus(v[0])
	if !ok {
		return lookup.Outcome{}, fmt.Errorf("cannot write %s: script returned status %q", vk, v[0])
	}
	if st == lookup.WriteKeyReused {
		return lookup.Outcome{Status: st}, nil
	}
	rec, err := record(v[1], v[2], v[3], v[4], v[5])
	if err != nil {
		return lookup.Outcome{}, fmt.Errorf("cannot write %s: %w", vk, err)
	}
	return lookup.Outcome{Status: st, Record: rec, Replayed: v[6] == "1"}, nil
}

// claim returns the entry wr's idempotency key belongs to: wr's own when
// this is its first use (it is then claimed for IdempotencyTTL), else the
// entry it was first used on. The claim is one SET NX GET on a key of its
// own slot, ahead of the entry's script: of two writes racing with one
// key on two entries, exactly one proceeds. A claim whose write then fails
// stays: a retry of the same request on the same entry proceeds.
func (w *Writer) claim(ctx context.Context, client rueidis.Client, wr *lookup.Write) (string, error) {
	ref := wr.Ref.String()
	cmd := client.B().Set().Key(w.keys.IdempotencyOwner(wr.IdempotencyKey)).Value(ref).Nx().Get().
		PxMilliseconds(lookup.IdempotencyTTL.Milliseconds()).Build()
	owner, err := client.Do(ctx, cmd).ToString()
	if rueidis.IsRedisNil(err) {
		return ref, nil // claimed now
	}
	if err != nil {
		return "", fmt.Errorf("cannot claim the idempotency key: %w", err)
	}
	return owner, nil
}

// Audit implements [lookup.Writer]: XREVRANGE on the key's stream.
func (w *Writer) Audit(ctx context.Context, q lookup.AuditQuery) ([]lookup.AuditEntry, string, error) {
	limit := min(max(q.Limit, 1), lookup.MaxAuditLimit)
	end := "+"
	if q.Cursor != "" {
		if _, ok := lookup.ParseAuditID(q.Cursor); !ok {
			return nil, "", lookup.ErrBadCursor
		}
		end = "(" + q.Cursor
	}
	from := time.Now().Add(-w.retention)
	if q.Since.After(from) {
		from = q.Since
	}
	start := strconv.FormatInt(max(from.UnixMilli(), 0), 10)
	vk := w.keys.Value(q.Ref)
	client, err := w.conn()
	if err != nil {
		return nil, "", fmt.Errorf("cannot read the audit of %s: %w", vk, err)
	}
	xs, err := client.Do(ctx, client.B().Xrevrange().Key(w.keys.Audit(vk)).End(end).Start(start).Count(int64(limit+1)).Build()).AsXRange()
	if err != nil && !rueidis.IsRedisNil(err) {
		return nil, "", fmt.Errorf("cannot read the audit of %s: %w", vk, err)
	}
	next := ""
	if len(xs) > limit {
		xs = xs[:limit]
		next = xs[limit-1].ID
	}
	out := make([]lookup.AuditEntry, 0, len(xs))
	for _, x := range xs {
		e, err := auditEntry(x)
		if err != nil {
			return nil, "", fmt.Errorf("cannot read the audit of %s: %w", vk, err)
		}
		out = append(out, e)
	}
	return out, next, nil
}

// auditPage is how many entries AuditVersion reads per round trip.
const auditPage = 200

// AuditVersion implements [lookup.Writer]: it walks the key's stream from
// the newest entry back to version v.
func (w *Writer) AuditVersion(ctx context.Context, ref lookup.Ref, v uint64) (lookup.AuditEntry, bool, error) {
	vk := w.keys.Value(ref)
	client, err := w.conn()
	if err != nil {
		return lookup.AuditEntry{}, false, fmt.Errorf("cannot read the audit of %s: %w", vk, err)
	}
	end := "+"
	for {
		xs, err := client.Do(ctx, client.B().Xrevrange().Key(w.keys.Audit(vk)).End(end).Start("-").Count(auditPage).Build()).AsXRange()
		if err != nil && !rueidis.IsRedisNil(err) {
			return lookup.AuditEntry{}, false, fmt.Errorf("cannot read the audit of %s: %w", vk, err)
		}
		for _, x := range xs {
			e, err := auditEntry(x)
			if err != nil {
				return lookup.AuditEntry{}, false, fmt.Errorf("cannot read the audit of %s: %w", vk, err)
			}
			if e.Version == v {
				return e, true, nil
			}
			if e.Version < v {
				return lookup.AuditEntry{}, false, nil
			}
		}
		if len(xs) < auditPage {
			return lookup.AuditEntry{}, false, nil
		}
		end = "(" + xs[len(xs)-1].ID
	}
}

var errBadEntry = errors.New("malformed audit entry")

func auditEntry(x rueidis.XRangeEntry) (lookup.AuditEntry, error) {
	f := x.FieldValues
	e := lookup.AuditEntry{ID: x.ID, Actor: f["actor"], Kind: f["kind"], Key: f["key"], RequestID: f["request_id"]}
	ms, err := strconv.ParseInt(f["at"], 10, 64)
	if err != nil {
		return e, fmt.Errorf("%w %s: at %q", errBadEntry, x.ID, f["at"])
	}
	e.At = time.UnixMilli(ms).UTC()
	if e.Version, err = strconv.ParseUint(f["version"], 10, 64); err != nil {
		return e, fmt.Errorf("%w %s: version %q", errBadEntry, x.ID, f["version"])
	}
	if b, ok := f["before"]; ok {
		e.Before = &b
	}
	if a, ok := f["after"]; ok {
		e.After = &a
	}
	return e, nil
}
