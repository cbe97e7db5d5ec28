package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// DemandCounter is the store's shared demand counter (it satisfies
// package demand's SharedCounter, whose methods take only standard
// types, without this package importing it): the demand counts
// of every replica summed in Redis, one hash per time bucket,
//
//	demand:<prefix><window ms>:<bucket>   field: the counter's key, value: requests
//
// outside the store's tracked prefix, so that counting never invalidates
// anybody's client-side cache. A bucket's hash expires two windows after
// it was last added to. Add sends one pipelined HINCRBY per key plus one
// PEXPIRE in a single round trip per node; Totals reads the window's
// buckets with one pipelined HGETALL each, one round trip per node.
//
// The demand merger calls it from one goroutine, at most a few times a
// bucket, never per request; it is also safe for concurrent use. Keys are
// opaque strings, stored as they are.
type DemandCounter struct {
	client rueidis.Client
	base   string // key prefix of the bucket hashes
	settle *rueidis.Lua
	st     *Store // client is nil while st had not connected when d was made
}

// settledMark is the field that marks a period's multipliers as settled
// (keys are never empty, so it names none): an empty proposal is settled
// too.
const settledMark = ""

// settleScript stores a period's proposed multipliers unless some are
// stored already, and returns what is stored. KEYS[1] is the period's
// hash; ARGV[1] its lifetime in ms, then field, value pairs. One key, so
// Redis Cluster runs it on the key's node; it runs atomically, so the
// first proposal of a period wins as a whole.
const settleScript = `if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], '', '1')
  for i = 2, #ARGV, 2 do
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return redis.call('HGETALL', KEYS[1])`

// MaxDemandBuckets bounds the buckets one Totals call reads (one
// pipelined HGETALL each): four windows of the merger's twelve buckets.
const MaxDemandBuckets = 48

// NewDemandCounter returns the shared demand counters of st (which must
// stay open while they are used).
func NewDemandCounter(st *Store) *DemandCounter {
	base := "demand:" + st.prefix
	if strings.HasPrefix(base, st.prefix) {
		// A prefix such as "demand:" would track the counters too.
		base = "pe-demand:" + st.prefix
	}
	return &DemandCounter{client: st.client, base: base, settle: rueidis.NewLuaScript(settleScript), st: st}
}

// ready returns d with the store's client, once the store has connected
// (Open does not wait for Redis): until then an error.
func (d *DemandCounter) ready() (*DemandCounter, error) {
	if d.client != nil {
		return d, nil
	}
	if !d.st.connected.Load() {
		return d, fmt.Errorf("cannot count demand in the store %s: it has not answered yet", d.st.redacted)
	}
	return &DemandCounter{client: d.st.client, base: d.base, settle: d.settle, st: d.st}, nil
}

// bucketKey is the hash of one bucket of one window length.
func (d *DemandCounter) bucketKey(window time.Duration, bucket int64) string {
	return d.base + strconv.FormatInt(window.Milliseconds(), 10) + ":" + strconv.FormatInt(bucket, 10)
}

// periodKey is the hash of one period's multipliers.
func (d *DemandCounter) periodKey(window time.Duration, period int64) string {
	return d.base + strconv.FormatInt(window.Milliseconds(), 10) + ":m:" + strconv.FormatInt(period, 10)
}

// Add adds counts (key -> requests) of one bucket: HINCRBY of every count
// into the bucket's hash and PEXPIRE of two windows, pipelined. counts is
// only read.
func (d *DemandCounter) Add(ctx context.Context, window time.Duration, bucket int64, counts map[string]int64) error {
	if len(counts) == 0 {
		return nil
	}
	d, err := d.ready()
	if err != nil {
		return err
	}
	key := d.bucketKey(window, bucket)
	cmds := make(rueidis.Commands, 0, len(counts)+1)
	for k, c := range counts {
		cmds = append(cmds, d.client.B().Hincrby().Key(key).Field(k).Increment(c).Build())
	}
	cmds = append(cmds, d.client.B().Pexpire().Key(key).Milliseconds(2*window.Milliseconds()).Build())
	for _, r := range d.client.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("cannot add demand counts to %s: %w", key, err)
		}
	}
	return nil
}

// Totals calls fn for every key with its count summed over the buckets
// first..last (at most MaxDemandBuckets), read in one pipelined round
// trip.
func (d *DemandCounter) Totals(ctx context.Context, window time.Duration, first, last int64, fn func(key string, count int64)) error {
	if last < first {
		return nil
	}
	if n := last - first + 1; n > MaxDemandBuckets {
		return fmt.Errorf("cannot read demand counts: %d buckets asked, at most %d", n, MaxDemandBuckets)
	}
	d, err := d.ready()
	if err != nil {
		return err
	}
	cmds := make(rueidis.Commands, 0, last-first+1)
	for b := first; b <= last; b++ {
		cmds = append(cmds, d.client.B().Hgetall().Key(d.bucketKey(window, b)).Build())
	}
	sums := make(map[string]int64)
	for i, r := range d.client.DoMulti(ctx, cmds...) {
		m, err := r.AsIntMap()
		if err != nil {
			return fmt.Errorf("cannot read demand counts of bucket %d: %w", first+int64(i), err)
		}
		for k, v := range m {
			sums[k] += v
		}
	}
	for k, v := range sums {
		fn(k, v)
	}
	return nil
}

// Multipliers settles the smoothed multipliers of one period: with a
// non-nil propose (key -> multiplier as a decimal; keys at 1 left out) it
// stores propose unless the period has multipliers stored already, as
// one atomic script; with a nil propose it only reads. It then calls fn
// for every key stored for the period and reports whether the period is
// settled (something, possibly an empty proposal, is stored). propose is
// only read.
func (d *DemandCounter) Multipliers(ctx context.Context, window time.Duration, period int64, propose map[string]string, fn func(key, multiplier string)) (bool, error) {
	d, err := d.ready()
	if err != nil {
		return false, err
	}
	key := d.periodKey(window, period)
	var r rueidis.RedisResult
	if propose == nil {
		r = d.client.Do(ctx, d.client.B().Hgetall().Key(key).Build())
	} else {
		args := make([]string, 0, 1+2*len(propose))
		args = append(args, strconv.FormatInt(3*window.Milliseconds(), 10))
		for k, v := range propose {
			args = append(args, k, v)
		}
		r = d.settle.Exec(ctx, d.client, []string{key}, args)
	}
	m, err := r.AsStrMap()
	if err != nil {
		return false, fmt.Errorf("cannot settle demand multipliers of %s: %w", key, err)
	}
	if _, ok := m[settledMark]; !ok {
		return false, nil
	}
	for k, v := range m {
		if k != settledMark {
			fn(k, v)
		}
	}
	return true, nil
}
