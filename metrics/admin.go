package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Admin is the admin write API's collectors. It is safe for concurrent
// use.
type Admin struct {
	writes       *prometheus.CounterVec
	refused      *prometheus.CounterVec
	audit        prometheus.Counter
	reloadErrors prometheus.Counter
	tlsErrors    prometheus.Counter
}

// Admin write outcomes that append an audit entry (the others change
// nothing).
var auditOutcomes = [...]string{"created", "updated", "deleted"}

// NewAdmin registers the admin API's collectors on reg; tokens is called
// once per scrape for the number of tokens in use (nil: the gauge is not
// exported).
func NewAdmin(reg prometheus.Registerer, tokens func() int) *Admin {
	a := &Admin{
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricing_admin_writes_total",
			Help: "Admin API writes by outcome (created, updated, deleted, replayed, precondition_failed, precondition_required, idempotency_key_reused, invalid, not_found, error); a batch item counts once.",
		}, []string{"outcome"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricing_admin_auth_refused_total",
			Help: "Admin API requests refused before routing, by reason (unauthorized: no or unknown token, 401; forbidden: read token on a write, 403; disabled: no tokens file, 403).",
		}, []string{"reason"}),
		audit: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pricing_admin_audit_entries_appended_total",
			Help: "Audit entries this replica appended (one per applied write; bounded storage per entry, see docs/ADMIN.md).",
		}),
		reloadErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pricing_admin_tokens_reload_errors_total",
			Help: "Re-reads of the admin tokens file that failed; the previous tokens stayed in use.",
		}),
		tlsErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pricing_admin_tls_reload_errors_total",
			Help: "Re-reads of the admin listener's TLS certificate and key that failed; the previous certificate stayed in use.",
		}),
	}
	reg.MustRegister(a.writes, a.refused, a.audit, a.reloadErrors, a.tlsErrors)
	if tokens != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "pricing_admin_tokens",
			Help: "Admin tokens in use (from --admin-tokens-file).",
		}, func() float64 { return float64(tokens()) }))
	}
	for _, o := range auditOutcomes {
		a.writes.WithLabelValues(o)
	}
	for _, r := range [...]string{"unauthorized", "forbidden"} {
		a.refused.WithLabelValues(r)
	}
	return a
}

// Write counts one write by outcome.
func (a *Admin) Write(outcome string) {
	a.writes.WithLabelValues(outcome).Inc()
	for _, o := range auditOutcomes {
		if o == outcome {
			a.audit.Inc()
		}
	}
}

// Refused counts one refused request by reason.
func (a *Admin) Refused(reason string) { a.refused.WithLabelValues(reason).Inc() }

// ReloadError counts a failed re-read of the tokens file.
func (a *Admin) ReloadError() { a.reloadErrors.Inc() }

// TLSReloadError counts a failed re-read of the admin TLS certificate.
func (a *Admin) TLSReloadError() { a.tlsErrors.Inc() }

// TLSCertificate registers on reg the expiry of the admin listener's
// certificate in use; notAfter is called once per scrape. Call it once,
// only when the admin listener serves TLS.
func TLSCertificate(reg prometheus.Registerer, notAfter func() time.Time) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "pricing_admin_tls_cert_expiry_timestamp_seconds",
		Help: "When the admin listener's TLS certificate in use expires (its NotAfter, Unix seconds); absent without --admin-tls-cert-file.",
	}, func() float64 { return float64(notAfter().Unix()) }))
}
