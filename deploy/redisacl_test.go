package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pricing-engine/pricing-engine/internal/redistest"
	"github.com/pricing-engine/pricing-engine/lookup"
	"github.com/pricing-engine/pricing-engine/lookup/redisstore"
	"github.com/pricing-engine/pricing-engine/money"
)

// Redis users of redis.yaml, and the Secret keys of their passwords.
const (
	readUser  = "pricing-read"
	writeUser = "pricing-write"
)

// redisACL is what the manifests say about the Redis users: the --user
// directives of the pricing-redis container with the kubelet's $(VAR)
// references replaced by the Secret values they name, and those values.
type redisACL struct {
	users   [][]string        // each: the words after --user
	secret  map[string]string // Secret pricing-store key -> value used in the test
	urlRead string            // the Secret's url
	urlW    string            // the Secret's write-url
}

// manifestACL reads the users out of redis.yaml. Every password key of the
// Secret gets a fresh random value, as an operator would set.
func manifestACL(t *testing.T) redisACL {
	t.Helper()
	m := loadManifests(t)
	sts := m.statefulSets["pricing-redis"]
	secret := m.secrets["pricing-store"]
	if sts == nil || secret == nil {
		t.Fatal("want the StatefulSet pricing-redis and the Secret pricing-store")
	}
	acl := redisACL{secret: map[string]string{}, urlRead: secret.StringData["url"], urlW: secret.StringData["write-url"]}
	for k := range secret.StringData {
		if strings.HasSuffix(k, "password") {
			var b [16]byte
			_, _ = rand.Read(b[:])
			acl.secret[k] = hex.EncodeToString(b[:])
		}
	}
	c := sts.Spec.Template.Spec.Containers[0]
	vars := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "pricing-store" {
			continue
		}
		v, ok := acl.secret[e.ValueFrom.SecretKeyRef.Key]
		if !ok {
			t.Fatalf("redis env %s names Secret key %q, which is no password key of pricing-store", e.Name, e.ValueFrom.SecretKeyRef.Key)
		}
		vars[e.Name] = v
	}
	expand := func(s string) string {
		for name, v := range vars {
			s = strings.ReplaceAll(s, "$("+name+")", v)
		}
		if strings.Contains(s, "$(") {
			t.Fatalf("redis arg %q references a variable the container does not define", s)
		}
		return s
	}
	for i := 0; i < len(c.Args); i++ {
		if c.Args[i] != "--user" {
			continue
		}
		var words []string
		for i+1 < len(c.Args) && !strings.HasPrefix(c.Args[i+1], "--") {
			i++
			words = append(words, expand(c.Args[i]))
		}
		acl.users = append(acl.users, words)
	}
	return acl
}

// args are the redis-server arguments of the users.
func (a redisACL) args() []string {
	var out []string
	for _, u := range a.users {
		out = append(append(out, "--user"), u...)
	}
	return out
}

// userURL is the Secret URL key pointed at addr, keeping its user name.
func userURL(t *testing.T, raw, addr string) (string, string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if u.User == nil || u.User.Username() == "" {
		t.Fatalf("store URL %q names no user", raw)
	}
	u.Host = addr
	return u.String(), u.User.Username()
}

// TestRedisUsersShape checks the users' rules before any server sees them:
// each starts from reset (nothing inherited), the serving user reads the
// prices only through a read-only key pattern, and nobody gets every
// command or every key.
func TestRedisUsersShape(t *testing.T) {
	acl := manifestACL(t)
	byName := map[string][]string{}
	for _, u := range acl.users {
		if len(u) < 2 || u[1] != "reset" {
			t.Errorf("--user %v: want the name, then reset first", u)
			continue
		}
		byName[u[0]] = u[1:]
		for _, w := range u[1:] {
			switch w {
			case "allcommands", "+@all", "allkeys", "~*", "nopass", "%RW~*", "%R~*", "%W~*":
				t.Errorf("user %s is granted %q", u[0], w)
			}
			if strings.HasPrefix(w, "+@") {
				t.Errorf("user %s is granted the category %q: list the commands", u[0], w)
			}
		}
	}
	for _, name := range []string{readUser, writeUser} {
		if byName[name] == nil {
			t.Fatalf("no --user %s in redis.yaml", name)
		}
	}
	for _, w := range byName[readUser] {
		if strings.HasPrefix(w, "~pricing:") || strings.HasPrefix(w, "%W~pricing:") || strings.HasPrefix(w, "%RW~pricing:") {
			t.Errorf("%s may write the price keys (%q): want %%R~pricing:*", readUser, w)
		}
	}
	if _, u := userURL(t, acl.urlRead, "x:1"); u != readUser {
		t.Errorf("Secret url's user = %q, want %s (serving reads only)", u, readUser)
	}
	if _, u := userURL(t, acl.urlW, "x:1"); u != writeUser {
		t.Errorf("Secret write-url's user = %q, want %s", u, writeUser)
	}
}

// TestRedisUsersAgainstRedis starts redis-server 7 with the users exactly
// as redis.yaml declares them and checks each with the engine's own
// client: the serving user serves (client-side cache with tracking, the
// shared demand counters) and cannot change a price; the write user
// imports and changes prices and cannot touch other keys or run
// administrative commands.
func TestRedisUsersAgainstRedis(t *testing.T) {
	acl := manifestACL(t)
	srv := redistest.Start(t, redistest.Options{Password: acl.secret["password"], Args: acl.args()})
	readURL, _ := userURL(t, acl.urlRead, srv.Addr())
	writeURL, _ := userURL(t, acl.urlW, srv.Addr())
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// The write user loads the data as the import Job does.
	wo := redisstore.Options{URL: writeURL, Password: acl.secret["write-password"], Logger: quiet}
	cat, mk, err := lookup.Default()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := redisstore.Import(ctx, wo, cat, mk, redisstore.ImportOptions{Replace: true}); err != nil {
		t.Fatalf("import as %s: %v", writeUser, err)
	}

	// The serving user: a store with the client-side cache on (CLIENT
	// TRACKING BCAST on the prefix), as the engine opens it.
	st, err := redisstore.Open(ctx, redisstore.Options{
		URL: readURL, Password: acl.secret["read-password"], CacheEntries: 1000, Logger: quiet,
	})
	if err != nil {
		t.Fatalf("open the store as %s: %v", readUser, err)
	}
	defer st.Close()
	b := st.NewBatcher()
	if base, mult := lookupNow(t, b, "P-1", "NY"); base != "50.99" || mult != "1.1" {
		t.Fatalf("%s served P-1/NY = %s x %s, want 50.99 x 1.1", readUser, base, mult)
	}
	// A write by the write user is delivered to the serving user's cache
	// (its tracking works under its ACL).
	wc, err := srv.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	if _, err := wc.Do("AUTH", writeUser, acl.secret["write-password"]); err != nil {
		t.Fatalf("AUTH %s: %v", writeUser, err)
	}
	if _, err := wc.Do("SET", "pricing:product:P-1", "52.99"); err != nil {
		t.Fatalf("SET as %s: %v", writeUser, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		base, _ := lookupNow(t, b, "P-1", "NY")
		if base == "52.99" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still serves P-1 at %s 5 s after the write user changed it to 52.99", readUser, base)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// The serving replicas write the shared demand counters.
	dc := redisstore.NewDemandCounter(st)
	if err := dc.Add(ctx, time.Minute, 7, map[string]int64{"P-1|NY": 3}); err != nil {
		t.Fatalf("demand counters as %s: %v", readUser, err)
	}
	var got int64
	if err := dc.Totals(ctx, time.Minute, 7, 7, func(_ string, n int64) { got += n }); err != nil || got != 3 {
		t.Fatalf("demand totals as %s = %d, %v; want 3", readUser, got, err)
	}

	// The serving replicas share the price history.
	hs := redisstore.NewHistoryStore(st)
	day := time.Now().Unix() / 86400
	if err := hs.Lower(ctx, day, map[string]string{"\x03P-1NY": "49.99 49.99"}); err != nil {
		t.Fatalf("price history as %s: %v", readUser, err)
	}
	var lows []string
	if err := hs.Read(ctx, map[int64]string{day: ""}, func(_ int64, _, v string) { lows = append(lows, v) }); err != nil || len(lows) != 1 || lows[0] != "49.99 49.99" {
		t.Fatalf("price history read as %s = %q, %v", readUser, lows, err)
	}
	// The write user backfills it (import --history).
	backfill := &lookup.History{Rows: []lookup.HistoryRow{{Product: "P-2", Location: "NY", Day: day - 1, Lowest: money.New(4999, 2)}}}
	if n, err := redisstore.ImportHistory(ctx, wo, backfill); err != nil || n != 1 {
		t.Fatalf("history import as %s = %d, %v", writeUser, n, err)
	}

	rc, err := srv.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Do("AUTH", readUser, acl.secret["read-password"]); err != nil {
		t.Fatalf("AUTH %s: %v", readUser, err)
	}
	for _, tc := range []struct {
		user string
		conn *redistest.Conn
		cmd  []string
	}{
		{readUser, rc, []string{"SET", "pricing:product:P-1", "1.00"}},
		{readUser, rc, []string{"MSET", "pricing:product:P-1", "1.00"}},
		{readUser, rc, []string{"DEL", "pricing:product:P-1"}},
		{readUser, rc, []string{"HINCRBY", "pricing:product:P-1", "x", "1"}},
		{readUser, rc, []string{"PEXPIRE", "pricing:market:NY", "1"}},
		{readUser, rc, []string{"EVAL", "return redis.call('SET', KEYS[1], '1.00')", "1", "pricing:product:P-1"}},
		{readUser, rc, []string{"XADD", "{pricing:product:P-1}:audit", "*", "a", "b"}},
		{readUser, rc, []string{"FLUSHALL"}},
		{readUser, rc, []string{"CONFIG", "SET", "maxmemory", "1"}},
		{writeUser, wc, []string{"SET", "other:key", "1"}},
		{writeUser, wc, []string{"HINCRBY", "demand:pricing:60000:7", "x", "1"}},
		{writeUser, wc, []string{"FLUSHALL"}},
		{writeUser, wc, []string{"KEYS", "*"}},
		{writeUser, wc, []string{"CONFIG", "SET", "maxmemory", "1"}},
		{writeUser, wc, []string{"ACL", "SETUSER", writeUser, "allcommands"}},
		{writeUser, wc, []string{"EVAL", "return redis.call('SET', 'other:key', '1')", "0"}},
	} {
		if r, err := tc.conn.Do(tc.cmd...); !refused(err) {
			t.Errorf("%s: %v = %q, %v; want it refused by the ACL", tc.user, tc.cmd, r, err)
		}
	}
	if v := srv.MustDo("GET", "pricing:product:P-1"); v != "52.99" {
		t.Errorf("P-1 = %q after the refused writes, want 52.99", v)
	}
	// The admin API's writer (one Lua script per write on the value key
	// and its companions) works as the write user: value, version, audit
	// entry and idempotency record; and fails as the serving user.
	wcli, err := redisstore.Dial(ctx, wo)
	if err != nil {
		t.Fatal(err)
	}
	defer wcli.Close()
	ref := lookup.Ref{Kind: lookup.KindProduct, ID: "P-1"}
	write := &lookup.Write{Ref: ref, Op: lookup.OpPut, Value: "53.99", Cond: lookup.CondExists,
		Actor: "acl-test", RequestID: "r-1", IdempotencyKey: "k-1", Fingerprint: "f-1"}
	w := redisstore.NewWriter(wcli, st.Keys(), redisstore.WriterOptions{})
	if out, err := w.Write(ctx, write); err != nil || out.Status != lookup.WriteUpdated {
		t.Fatalf("governed write as %s = %+v, %v; want updated", writeUser, out, err)
	}
	if rec, err := w.Read(ctx, ref); err != nil || rec.Value != "53.99" || rec.Version != 1 {
		t.Errorf("governed read as %s = %+v, %v; want 53.99 at version 1", writeUser, rec, err)
	}
	if entries, _, err := w.Audit(ctx, lookup.AuditQuery{Ref: ref, Limit: 10}); err != nil || len(entries) != 1 || entries[0].Actor != "acl-test" {
		t.Errorf("audit as %s = %+v, %v; want the one entry", writeUser, entries, err)
	}
	if out, err := w.Write(ctx, write); err != nil || !out.Replayed {
		t.Errorf("repeated write as %s = %+v, %v; want the idempotent replay", writeUser, out, err)
	}
	served := redisstore.NewWriter(st.Client(), st.Keys(), redisstore.WriterOptions{})
	write.Value, write.IdempotencyKey = "1.00", ""
	if out, err := served.Write(ctx, write); err == nil {
		t.Errorf("governed write as %s = %+v; want it refused", readUser, out)
	}
	if v := srv.MustDo("GET", "pricing:product:P-1"); v != "53.99" {
		t.Errorf("P-1 = %q after the serving user's write, want 53.99", v)
	}
}

// lookupNow looks up one product and location through b and waits for
// the answer.
func lookupNow(t *testing.T, b lookup.Batcher, product, location string) (base, mult string) {
	t.Helper()
	done := make(chan struct{}, 1)
	c := &lookup.Call{
		ProductID: []byte(product), Location: []byte(location),
		Deadline: time.Now().Add(2 * time.Second),
		Done:     func(*lookup.Call) { done <- struct{}{} },
	}
	if !b.Lookup(c) {
		b.Flush()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("lookup not answered 10 s after it was sent")
		}
	}
	if c.Err != nil {
		t.Fatalf("lookup %s/%s: %v", product, location, c.Err)
	}
	return c.Base.String(), c.Mult.String()
}

// refused reports whether err is Redis refusing a command by ACL: NOPERM,
// or the error a script gets when it touches a key its user may not.
func refused(err error) bool {
	return err != nil && (strings.HasPrefix(err.Error(), "NOPERM") ||
		strings.Contains(err.Error(), "user executing the script can't access"))
}
