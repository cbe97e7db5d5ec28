package main

import (
	"io"
	"strings"
	"testing"
)

// badValues is one rejected value for every flag that has a bound, and
// the reason the message must give. TestConfigRejects gives each one as a
// flag and as its PRICING_* variable.
var badValues = []struct{ flag, value, reason string }{
	{"loops", "-1", "must be 0 (GOMAXPROCS) or positive"},
	{"max-conns", "-1", "must be positive, or 0 for the default"},
	{"max-buffered-bytes", "-1", "must be positive, or 0 for the default"},
	{"max-pipeline", "0", "must be positive"},
	{"max-pipeline", "1025", "must be at most 1024"},
	{"max-waiting", "0", "must be positive"},
	{"pool-size", "0", "must be positive"},
	{"queue-target", "0s", "must not be 0"},
	{"max-outbound-bytes", "0", "must be positive"},
	{"max-inbound-bytes", "-5", "must be positive"},
	{"max-header-bytes", "0", "must be positive"},
	{"max-headers", "0", "must be positive"},
	{"max-body-bytes", "0", "must be positive"},
	{"header-timeout", "0s", "must be positive"},
	{"body-timeout", "-1s", "must be positive"},
	{"idle-timeout", "0s", "must be positive"},
	{"write-timeout", "0s", "must be positive"},
	{"drain-delay", "-1s", "must not be negative"},
	{"drain-idle-grace", "0s", "must be positive"},
	{"lookup-deadline", "0s", "must be positive"},
	{"shutdown-timeout", "1s", "must exceed --drain-delay 5s"},
	{"log-format", `"xml"`, "want text or json"},
	{"log-level", `"loud"`, "want debug, info, warn or error"},
	{"lookup-latency", `"bogus"`, "cannot parse latency profile"},
}

// TestConfigRejects checks that every bad value, given as a flag or as its
// variable, is rejected with one message naming the flag (and the variable
// it came from), the value and the reason.
func TestConfigRejects(t *testing.T) {
	for _, tc := range badValues {
		raw := strings.Trim(tc.value, `"`)
		want := "invalid --" + tc.flag + " " + tc.value + ": " + tc.reason
		t.Run(tc.flag+"="+raw+"/flag", func(t *testing.T) {
			_, err := parseConfig([]string{"--" + tc.flag + "=" + raw}, noEnv, io.Discard)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v\nwant %q", err, want)
			}
		})
		t.Run(tc.flag+"="+raw+"/env", func(t *testing.T) {
			env := envName(tc.flag)
			want := "invalid --" + tc.flag + " " + tc.value + " (from " + env + "): " + tc.reason
			_, err := parseConfig(nil, mapEnv(env, raw), io.Discard)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v\nwant %q", err, want)
			}
		})
	}
}

// TestConfigParseErrors checks that a value that does not parse gives the
// same message as a flag and as its variable (which adds where it came
// from).
func TestConfigParseErrors(t *testing.T) {
	for _, tc := range []struct{ flag, value, reason string }{
		{"idle-timeout", "abc", "want a duration such as 500ms, 10s or 1m30s"},
		{"max-pipeline", "lots", "want a whole number"},
		{"max-buffered-bytes", "1e9", "want a whole number"},
		{"pprof", "maybe", "want true or false (or 1 or 0)"},
	} {
		_, err := parseConfig([]string{"--" + tc.flag + "=" + tc.value}, noEnv, io.Discard)
		want := "invalid --" + tc.flag + ` "` + tc.value + `": ` + tc.reason
		if err == nil || err.Error() != want {
			t.Errorf("flag: error %v\nwant %q", err, want)
		}
		env := envName(tc.flag)
		_, err = parseConfig(nil, mapEnv(env, tc.value), io.Discard)
		want = "invalid --" + tc.flag + ` "` + tc.value + `" (from ` + env + "): " + tc.reason
		if err == nil || err.Error() != want {
			t.Errorf("env: error %v\nwant %q", err, want)
		}
	}
	// Not a value error: passed through.
	if _, err := parseConfig([]string{"--no-such-flag"}, noEnv, io.Discard); err == nil || !strings.Contains(err.Error(), "no-such-flag") {
		t.Errorf("unknown flag: %v", err)
	}
}

// TestConfigEveryServerFlagBounded checks that every flag that sets a
// server.Config field has a row in badValues or is known to accept
// anything that parses, so a bound the server adds is seen here.
func TestConfigEveryServerFlagBounded(t *testing.T) {
	var c config
	c.flagSet()
	tested := map[string]bool{}
	for _, b := range badValues {
		tested[b.flag] = true
	}
	for field, name := range c.fieldFlags {
		if !tested[name] {
			t.Errorf("--%s (server.Config.%s) has no rejected value in badValues", name, field)
		}
	}
	if len(c.fieldFlags) < 17 {
		t.Errorf("%d flags map to server fields, want the 17 numeric ones", len(c.fieldFlags))
	}
}

// TestConfigAccepts checks values at the edges that are valid.
func TestConfigAccepts(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"--loops=0", "--max-conns=0", "--max-buffered-bytes=0", "--drain-delay=0s", "--shutdown-timeout=1s"},
		{"--max-pipeline=1024", "--queue-target=-1ms"},
	} {
		if _, err := parseConfig(args, noEnv, io.Discard); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
}

func noEnv(string) (string, bool) { return "", false }

func mapEnv(kv ...string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1], true
			}
		}
		return "", false
	}
}
