package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/rueidis"

	"github.com/pricing-engine/pricing-engine/lookup"
)

// HistoryStore is the store's shared price history (it satisfies package
// history's Shared, whose methods take only standard types, without this
// package importing it): the lowest prices of every replica, one hash
// and one stream per UTC day,
//
//	history:{<prefix><day>}       hash: field = product x location key, value = "<price> <plain>"
//	history:{<prefix><day>}:log   stream: one entry per Lower that changed values, the changed fields
//
// where day counts days since 1970-01-01. Both keys of a day share a hash
// slot (the braces), so one Lua script updates them together on Redis
// Cluster; they live outside the store's tracked prefix, so that the
// history never invalidates anybody's client-side cache, and expire
// lookup.HistoryDays days after their day began. Lower runs that script
// (each part of each value becomes the lower of the stored and the
// given, and the changed fields are appended to the stream); Read reads
// a day in full with HSCAN, and afterwards only the stream's new entries.
//
// It is safe for concurrent use. Keys and values are opaque strings, kept
// as they are; a price part is compared as a number by the script (Lua
// doubles: exact for the prices of up to 15 significant digits that the
// store holds).
type HistoryStore struct {
	client rueidis.Client
	base   string // key prefix of the day keys, before the brace
	prefix string // the store's prefix, inside the braces
	lower  *rueidis.Lua
	st     *Store // client is nil while st had not connected when h was made
}

// historyLowerScript lowers a day's values. KEYS[1] is the day's hash,
// KEYS[2] its stream; ARGV[1] when they expire (Unix ms), then field,
// value pairs ("<price> <plain>", "-" for a part not recorded). It returns
// how many fields changed.
const historyLowerScript = `local changed = {}
for i = 2, #ARGV, 2 do
  local k, v = ARGV[i], ARGV[i + 1]
  local np, nq = string.match(v, '^(%S+) (%S+)$')
  if np then
    local cur = redis.call('HGET', KEYS[1], k)
    local out = v
    if cur then
      local cp, cq = string.match(cur, '^(%S+) (%S+)$')
      if cp then
        local p, q = np, nq
        if np == '-' or (cp ~= '-' and tonumber(cp) <= tonumber(np)) then p = cp end
        if nq == '-' or (cq ~= '-' and tonumber(cq) <= tonumber(nq)) then q = cq end
        out = p .. ' ' .. q
      end
    end
    if out ~= cur then
      redis.call('HSET', KEYS[1], k, out)
      changed[#changed + 1] = k
      changed[#changed + 1] = out
    end
  end
end
if #changed > 0 then
  redis.call('XADD', KEYS[2], '*', unpack(changed))
  redis.call('PEXPIREAT', KEYS[2], ARGV[1])
end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return #changed / 2`

// historyReadCount bounds the stream entries one incremental Read takes
// per day (the rest come at the next).
const historyReadCount = 1000

// NewHistoryStore returns the shared price history of st (which must stay
// open while it is used).
func NewHistoryStore(st *Store) *HistoryStore {
	return &HistoryStore{client: st.client, base: historyBase(st.prefix), prefix: st.prefix, lower: rueidis.NewLuaScript(historyLowerScript), st: st}
}

// historyBase is the start of the day keys: "history:", unless the
// store's prefix would then track them.
func historyBase(prefix string) string {
	if strings.HasPrefix(historyDayKey("history:", prefix, 0), prefix) {
		return "pe-history:"
	}
	return "history:"
}

// ready returns h with the store's client, once the store has connected;
// until then an error wrapping lookup.ErrUnavailable.
func (h *HistoryStore) ready() (*HistoryStore, error) {
	if h.client != nil {
		return h, nil
	}
	if !h.st.connected.Load() {
		return h, fmt.Errorf("cannot share the price history through the store %s: it has not answered yet: %w", h.st.redacted, lookup.ErrUnavailable)
	}
	c := *h
	c.client = h.st.client
	return &c, nil
}

// historyDayKey is the hash of one day; its stream is the same key + ":log".
func historyDayKey(base, prefix string, day int64) string {
	return base + "{" + prefix + strconv.FormatInt(day, 10) + "}"
}

// historyExpireAt is when a day's keys expire (Unix ms).
func historyExpireAt(day int64) string {
	return strconv.FormatInt((day+lookup.HistoryDays)*86_400_000, 10)
}

// Lower lowers the values of day to lows (key -> "<price> <plain>"), one
// script call: every part becomes the lower of the stored and the given.
// lows is only read.
func (h *HistoryStore) Lower(ctx context.Context, day int64, lows map[string]string) error {
	if len(lows) == 0 {
		return nil
	}
	h, err := h.ready()
	if err != nil {
		return err
	}
	key := historyDayKey(h.base, h.prefix, day)
	args := make([]string, 0, 1+2*len(lows))
	args = append(args, historyExpireAt(day))
	for k, v := range lows {
		args = append(args, k, v)
	}
	if err := h.lower.Exec(ctx, h.client, []string{key, key + ":log"}, args).Error(); err != nil {
		return fmt.Errorf("cannot record price history in %s: %w", key, err)
	}
	return nil
}

// Read calls fn for the values of each day of cursors stored or lowered
// after its cursor, and moves the cursor on: an empty cursor reads the
// day's hash in full (HSCAN) and becomes the stream's last entry as it
// was before the scan; others read the stream's entries after them (one
// pipelined round trip for all such days).
func (h *HistoryStore) Read(ctx context.Context, cursors map[int64]string, fn func(day int64, key, value string)) error {
	if len(cursors) == 0 {
		return nil
	}
	h, err := h.ready()
	if err != nil {
		return err
	}
	var days []int64
	var cmds rueidis.Commands
	for day, cur := range cursors {
		key := historyDayKey(h.base, h.prefix, day)
		if cur == "" {
			next, err := h.readAll(ctx, key, day, fn)
			if err != nil {
				return err
			}
			cursors[day] = next
			continue
		}
		days = append(days, day)
		cmds = append(cmds, h.client.B().Xrange().Key(key+":log").Start("("+cur).End("+").Count(historyReadCount).Build())
	}
	if len(cmds) == 0 {
		return nil
	}
	for i, r := range h.client.DoMulti(ctx, cmds...) {
		entries, err := r.AsXRange()
		if err != nil && !rueidis.IsRedisNil(err) {
			return fmt.Errorf("cannot read the price history of day %d: %w", days[i], err)
		}
		for _, e := range entries {
			for k, v := range e.FieldValues {
				fn(days[i], k, v)
			}
			cursors[days[i]] = e.ID
		}
	}
	return nil
}

// readAll reads one day's hash in full and returns the cursor to read its
// stream from afterwards.
func (h *HistoryStore) readAll(ctx context.Context, key string, day int64, fn func(day int64, key, value string)) (string, error) {
	last, err := h.client.Do(ctx, h.client.B().Xrevrange().Key(key+":log").End("+").Start("-").Count(1).Build()).AsXRange()
	if err != nil && !rueidis.IsRedisNil(err) {
		return "", fmt.Errorf("cannot read the price history of day %d: %w", day, err)
	}
	next := "0-0"
	if len(last) > 0 {
		next = last[0].ID
	}
	var cursor uint64
	for {
		e, err := h.client.Do(ctx, h.client.B().Hscan().Key(key).Cursor(cursor).Count(1000).Build()).AsScanEntry()
		if err != nil {
			return "", fmt.Errorf("cannot read the price history of day %d: %w", day, err)
		}
		for i := 0; i+1 < len(e.Elements); i += 2 {
			fn(day, e.Elements[i], e.Elements[i+1])
		}
		if cursor = e.Cursor; cursor == 0 {
			return next, nil
		}
	}
}

// HistoryKey is the history's key of product x location: a length byte,
// the product, the location (package history's Key; a test holds the two
// to the same bytes).
func HistoryKey(product, location string) string {
	return string([]byte{byte(len(product))}) + product + location
}

// ImportHistory lowers the store's price history (see [HistoryStore]) to
// the rows of h, already checked by [lookup.LoadHistory]: each row's
// lowest price becomes the day's lowest price (and lowest price without
// a reduction) unless the store holds a lower one. The rows go out in
// pipelined script calls of up to 1000 rows of one day. It returns how
// many rows were sent.
func ImportHistory(ctx context.Context, o Options, hist *lookup.History) (int64, error) {
	client, err := Dial(ctx, o)
	if err != nil {
		return 0, err
	}
	defer client.Close()
	prefix := NewKeys(o.Prefix).Prefix()
	base := historyBase(prefix)
	script := rueidis.NewLuaScript(historyLowerScript)
	byDay := map[int64][]string{}
	for _, r := range hist.Rows {
		v := r.Lowest.String()
		byDay[r.Day] = append(byDay[r.Day], HistoryKey(r.Product, r.Location), v+" "+v)
	}
	var sent int64
	for day, kvs := range byDay {
		key := historyDayKey(base, prefix, day)
		for len(kvs) > 0 {
			n := min(len(kvs), 2*1000)
			args := append([]string{historyExpireAt(day)}, kvs[:n]...)
			if err := script.Exec(ctx, client, []string{key, key + ":log"}, args).Error(); err != nil {
				return sent, fmt.Errorf("cannot import price history into %s: %w", key, err)
			}
			sent += int64(n / 2)
			kvs = kvs[n:]
		}
	}
	return sent, nil
}
