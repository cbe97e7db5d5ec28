package server

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

// fieldErrors lists the Field of every FieldError joined in err.
func fieldErrors(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var out []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a *FieldError", e)
		}
		out = append(out, fe.Field)
	}
	return out
}

// TestConfigValidate holds the table of bounds: which values each of
// Validate (zero means default) and ValidateExplicit (every value given)
// rejects, by field.
func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name     string
		set      func(*Config)
		lenient  []string // fields Validate rejects
		explicit []string // fields ValidateExplicit rejects
	}{
		{"defaults", func(*Config) {}, nil, nil},
		{"negative loops", func(c *Config) { c.Loops = -1 }, []string{"Loops"}, []string{"Loops"}},
		{"zero loops", func(c *Config) { c.Loops = 0 }, nil, nil},
		{"zero max conns", func(c *Config) { c.MaxConns = 0 }, nil, nil},
		{"negative max conns", func(c *Config) { c.MaxConns = -1 }, []string{"MaxConns"}, []string{"MaxConns"}},
		{"zero pipeline", func(c *Config) { c.MaxPipeline = 0 }, nil, []string{"MaxPipeline"}},
		{"pipeline 1024", func(c *Config) { c.MaxPipeline = 1024 }, nil, nil},
		{"pipeline 1025", func(c *Config) { c.MaxPipeline = 1025 }, []string{"MaxPipeline"}, []string{"MaxPipeline"}},
		{"zero pool", func(c *Config) { c.PoolSize = 0 }, nil, []string{"PoolSize"}},
		{"zero max waiting", func(c *Config) { c.MaxWaiting = 0 }, nil, []string{"MaxWaiting"}},
		{"negative max waiting", func(c *Config) { c.MaxWaiting = -1 }, []string{"MaxWaiting"}, []string{"MaxWaiting"}},
		{"negative inbound", func(c *Config) { c.MaxInboundBytes = -1 }, []string{"MaxInboundBytes"}, []string{"MaxInboundBytes"}},
		{"zero outbound", func(c *Config) { c.MaxOutboundBytes = 0 }, nil, []string{"MaxOutboundBytes"}},
		{"negative queue target", func(c *Config) { c.QueueTarget = -time.Millisecond }, nil, nil},
		{"zero queue target", func(c *Config) { c.QueueTarget = 0 }, nil, []string{"QueueTarget"}},
		{"zero header bytes", func(c *Config) { c.Limits.MaxHeaderBytes = 0 }, nil, []string{"Limits.MaxHeaderBytes"}},
		{"negative headers", func(c *Config) { c.Limits.MaxHeaders = -3 }, []string{"Limits.MaxHeaders"}, []string{"Limits.MaxHeaders"}},
		{"negative target", func(c *Config) { c.Limits.MaxTargetBytes = -1 }, []string{"Limits.MaxTargetBytes"}, []string{"Limits.MaxTargetBytes"}},
		{"negative chunk meta", func(c *Config) { c.Limits.MaxChunkMetaBytes = -1 }, []string{"Limits.MaxChunkMetaBytes"}, []string{"Limits.MaxChunkMetaBytes"}},
		{"zero body", func(c *Config) { c.Limits.MaxBodyBytes = 0 }, nil, []string{"Limits.MaxBodyBytes"}},
		{"negative header timeout", func(c *Config) { c.HeaderTimeout = -time.Second }, []string{"HeaderTimeout"}, []string{"HeaderTimeout"}},
		{"zero body timeout", func(c *Config) { c.BodyTimeout = 0 }, nil, []string{"BodyTimeout"}},
		{"zero idle timeout", func(c *Config) { c.IdleTimeout = 0 }, nil, []string{"IdleTimeout"}},
		{"negative write timeout", func(c *Config) { c.WriteTimeout = -1 }, []string{"WriteTimeout"}, []string{"WriteTimeout"}},
		{"zero tick", func(c *Config) { c.TickInterval = 0 }, nil, []string{"TickInterval"}},
		{"zero drain delay", func(c *Config) { c.DrainDelay = 0 }, nil, nil},
		{"negative drain delay", func(c *Config) { c.DrainDelay = -time.Second }, []string{"DrainDelay"}, []string{"DrainDelay"}},
		{"zero drain grace", func(c *Config) { c.DrainIdleGrace = 0 }, nil, []string{"DrainIdleGrace"}},
		{"zero buffered", func(c *Config) { c.MaxBufferedBytes = 0 }, nil, nil},
		{"negative buffered", func(c *Config) { c.MaxBufferedBytes = -1 }, []string{"MaxBufferedBytes"}, []string{"MaxBufferedBytes"}},
		{"all reported", func(c *Config) { c.Loops, c.PoolSize, c.IdleTimeout = -1, -1, -1 },
			[]string{"Loops", "PoolSize", "IdleTimeout"}, []string{"Loops", "PoolSize", "IdleTimeout"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.set(&c)
			if got := fieldErrors(t, c.Validate()); !slices.Equal(got, tc.lenient) {
				t.Errorf("Validate: fields %q, want %q", got, tc.lenient)
			}
			if got := fieldErrors(t, c.ValidateExplicit()); !slices.Equal(got, tc.explicit) {
				t.Errorf("ValidateExplicit: fields %q, want %q", got, tc.explicit)
			}
		})
	}
}

// TestConfigFieldError checks the message of a FieldError and that every
// numeric field has a row in the table (a field without one would go
// unchecked).
func TestConfigFieldError(t *testing.T) {
	c := DefaultConfig()
	c.IdleTimeout = -2 * time.Second
	err := c.Validate()
	if got, want := err.Error(), "invalid IdleTimeout -2s: must be positive"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Value != "-2s" || fe.Reason != "must be positive" {
		t.Errorf("FieldError %+v", fe)
	}

	// Every numeric field of Config (and of its Limits) has a row.
	var numeric []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for f := range t.Fields() {
			switch f.Type.Kind() {
			case reflect.Struct:
				walk(prefix+f.Name+".", f.Type)
			case reflect.Int, reflect.Int64:
				numeric = append(numeric, prefix+f.Name)
			}
		}
	}
	walk("", reflect.TypeFor[Config]())
	var rows []string
	for _, r := range fieldRules {
		rows = append(rows, r.field)
	}
	slices.Sort(numeric)
	slices.Sort(rows)
	if !slices.Equal(numeric, rows) {
		t.Errorf("numeric fields %q\nhave rows %q", numeric, rows)
	}
}
