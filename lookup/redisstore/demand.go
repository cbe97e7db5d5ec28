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
	st     *Store // client is nil while st had not connected when d was made
}

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
	return &DemandCounter{client: st.client, base: base, st: st}
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
	return &DemandCounter{client: d.st.client, base: d.base, st: d.st}, nil
}

// bucketKey is the hash of one bucket of one window length.
func (d *DemandCounter) bucketKey(window time.Duration, bucket int64) string {
	return d.base + strconv.FormatInt(window.Milliseconds(), 10) + ":" + strconv.FormatInt(bucket, 10)
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
