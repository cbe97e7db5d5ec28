package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/yaml"

	"github.com/pricing-engine/pricing-engine/metrics"
)

// Drain budget of the binary (flags --drain-delay and --shutdown-timeout).
const (
	drainDelay      = 5 * time.Second
	shutdownTimeout = 20 * time.Second
)

// exposedMetrics is exposed, computed once.
var exposedMetrics = sync.OnceValue(exposed)

// exposed returns the metric families the server registers (package
// metrics is the one place for their names), with whether each is a
// histogram; "up" is added, as Prometheus synthesises it for every target.
func exposed() map[string]bool {
	set := metrics.New(metrics.BuildInfo{})
	// Vectors only show in a gather once they have a child.
	set.Request("GET", "/healthz", 200).Observe(0)
	metrics.NewAdmin(set.Registry, func() int { return 0 })
	metrics.TLSCertificate(set.Registry, time.Now)
	families, err := set.Registry.Gather()
	if err != nil {
		panic(err)
	}
	m := map[string]bool{"up": false}
	for _, f := range families {
		m[f.GetName()] = f.GetType() == dto.MetricType_HISTOGRAM
	}
	return m
}

type probe struct {
	HTTPGet *struct {
		Path string `json:"path"`
		Port any    `json:"port"`
	} `json:"httpGet"`
}

type container struct {
	Name  string   `json:"name"`
	Image string   `json:"image"`
	Args  []string `json:"args"`
	Ports []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
	} `json:"ports"`
	Resources struct {
		Requests map[string]string `json:"requests"`
		Limits   map[string]string `json:"limits"`
	} `json:"resources"`
	LivenessProbe  *probe `json:"livenessProbe"`
	ReadinessProbe *probe `json:"readinessProbe"`
	Lifecycle      struct {
		PreStop *struct {
			Sleep *struct {
				Seconds int `json:"seconds"`
			} `json:"sleep"`
			Exec any `json:"exec"`
		} `json:"preStop"`
	} `json:"lifecycle"`
	SecurityContext struct {
		RunAsNonRoot             *bool  `json:"runAsNonRoot"`
		RunAsUser                *int64 `json:"runAsUser"`
		ReadOnlyRootFilesystem   *bool  `json:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool  `json:"allowPrivilegeEscalation"`
		Capabilities             struct {
			Drop []string `json:"drop"`
		} `json:"capabilities"`
	} `json:"securityContext"`
}

type deployment struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Replicas *int `json:"replicas"`
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Template struct {
			Metadata struct {
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
			Spec struct {
				TerminationGracePeriodSeconds *int `json:"terminationGracePeriodSeconds"`
				SecurityContext               struct {
					RunAsNonRoot *bool  `json:"runAsNonRoot"`
					RunAsUser    *int64 `json:"runAsUser"`
				} `json:"securityContext"`
				Containers []container `json:"containers"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
}

// readYAML decodes a manifest into v, a partial struct holding the fields a
// test checks (other fields are ignored here; TestManifestsStrict decodes
// every manifest strictly into the k8s.io/api types).
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("cannot parse %s: %v", path, err)
	}
}

func TestDeployment(t *testing.T) {
	var d deployment
	readYAML(t, "kubernetes/deployment.yaml", &d)
	if d.APIVersion != "apps/v1" || d.Kind != "Deployment" {
		t.Fatalf("deployment.yaml is %s %s, want apps/v1 Deployment", d.APIVersion, d.Kind)
	}
	// The HorizontalPodAutoscaler owns the count (at least 2, checked in
	// TestHorizontalPodAutoscaler): a fixed count would be reset by every
	// kubectl apply.
	if d.Spec.Replicas != nil {
		t.Errorf("replicas = %d, want none: hpa.yaml owns the replica count", *d.Spec.Replicas)
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template's labels", k, v)
		}
	}
	ann := d.Spec.Template.Metadata.Annotations
	for k, want := range map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "8001", "prometheus.io/path": "/metrics"} {
		if ann[k] != want {
			t.Errorf("annotation %s = %q, want %q", k, ann[k], want)
		}
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]

	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != 8000 || ports["admin"] != 8001 {
		t.Errorf("container ports = %v, want http 8000 and admin 8001", ports)
	}

	for _, res := range []string{"cpu", "memory"} {
		if c.Resources.Requests[res] == "" || c.Resources.Limits[res] == "" {
			t.Errorf("resources: %s needs a request and a limit, have %v / %v", res, c.Resources.Requests, c.Resources.Limits)
		}
	}

	for _, tc := range []struct {
		name  string
		probe *probe
		path  string
	}{
		{"liveness", c.LivenessProbe, "/healthz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
	} {
		if tc.probe == nil || tc.probe.HTTPGet == nil {
			t.Errorf("%s probe: want httpGet", tc.name)
			continue
		}
		port := tc.probe.HTTPGet.Port
		if tc.probe.HTTPGet.Path != tc.path || (port != "admin" && port != float64(8001)) {
			t.Errorf("%s probe = GET %s on port %v, want GET %s on the admin port 8001", tc.name, tc.probe.HTTPGet.Path, port, tc.path)
		}
	}

	pre := c.Lifecycle.PreStop
	if pre == nil || pre.Sleep == nil || pre.Exec != nil {
		t.Fatal("preStop: want the sleep action (not exec sleep: distroless has no sleep binary)")
	}
	preStop := time.Duration(pre.Sleep.Seconds) * time.Second
	if preStop <= 0 {
		t.Errorf("preStop sleep = %v, want > 0", preStop)
	}
	// Flags given in args override the defaults in the budget.
	delay, deadline := drainDelay, shutdownTimeout
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--drain-delay="); ok {
			delay = mustDuration(t, v)
		}
		if v, ok := strings.CutPrefix(a, "--shutdown-timeout="); ok {
			deadline = mustDuration(t, v)
		}
	}
	if pod.TerminationGracePeriodSeconds == nil {
		t.Fatal("terminationGracePeriodSeconds is not set")
	}
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if need := preStop + delay + deadline; grace <= need {
		t.Errorf("terminationGracePeriodSeconds = %v, want more than preStop %v + drain delay %v + shutdown timeout %v = %v", grace, preStop, delay, deadline, need)
	}

	sc := c.SecurityContext
	switch {
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("container securityContext.runAsNonRoot must be true")
	case sc.RunAsUser == nil || *sc.RunAsUser != 65532:
		t.Error("container securityContext.runAsUser must be 65532 (distroless nonroot)")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("securityContext.readOnlyRootFilesystem must be true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("securityContext.allowPrivilegeEscalation must be false")
	}
	if !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("securityContext.capabilities.drop = %v, want [ALL]", sc.Capabilities.Drop)
	}
	if ps := pod.SecurityContext; ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser != 65532 {
		t.Error("pod securityContext must set runAsNonRoot and runAsUser 65532")
	}
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("bad duration %q in args: %v", s, err)
	}
	return d
}

func TestService(t *testing.T) {
	var s struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			Selector map[string]string `json:"selector"`
			Ports    []struct {
				Name       string `json:"name"`
				Port       int    `json:"port"`
				TargetPort any    `json:"targetPort"`
			} `json:"ports"`
		} `json:"spec"`
	}
	readYAML(t, "kubernetes/service.yaml", &s)
	if s.APIVersion != "v1" || s.Kind != "Service" {
		t.Fatalf("service.yaml is %s %s, want v1 Service", s.APIVersion, s.Kind)
	}
	var d deployment
	readYAML(t, "kubernetes/deployment.yaml", &d)
	for k, v := range s.Spec.Selector {
		if d.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("service selector %s=%s matches no pod label", k, v)
		}
	}
	got := map[string]int{}
	for _, p := range s.Spec.Ports {
		got[p.Name] = p.Port
		if p.TargetPort != p.Name {
			t.Errorf("port %s: targetPort %v, want the container port name %q", p.Name, p.TargetPort, p.Name)
		}
	}
	if got["http"] != 8000 || got["admin"] != 8001 || len(got) != 2 {
		t.Errorf("service ports = %v, want http 8000 and admin 8001", got)
	}
}

func TestHorizontalPodAutoscaler(t *testing.T) {
	var h struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			ScaleTargetRef struct {
				Kind string `json:"kind"`
				Name string `json:"name"`
			} `json:"scaleTargetRef"`
			MinReplicas int `json:"minReplicas"`
			MaxReplicas int `json:"maxReplicas"`
			Metrics     []struct {
				Type     string `json:"type"`
				Resource struct {
					Name   string `json:"name"`
					Target struct {
						Type               string `json:"type"`
						AverageUtilization int    `json:"averageUtilization"`
					} `json:"target"`
				} `json:"resource"`
			} `json:"metrics"`
		} `json:"spec"`
	}
	readYAML(t, "kubernetes/hpa.yaml", &h)
	if h.APIVersion != "autoscaling/v2" || h.Kind != "HorizontalPodAutoscaler" {
		t.Fatalf("hpa.yaml is %s %s, want autoscaling/v2 HorizontalPodAutoscaler", h.APIVersion, h.Kind)
	}
	if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != "pricing-engine" {
		t.Errorf("scaleTargetRef = %+v, want Deployment pricing-engine", h.Spec.ScaleTargetRef)
	}
	if h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas <= h.Spec.MinReplicas {
		t.Errorf("replicas %d..%d, want min >= 2 and max > min", h.Spec.MinReplicas, h.Spec.MaxReplicas)
	}
	cpu := false
	for _, m := range h.Spec.Metrics {
		if m.Type == "Resource" && m.Resource.Name == "cpu" && m.Resource.Target.Type == "Utilization" &&
			m.Resource.Target.AverageUtilization > 0 && m.Resource.Target.AverageUtilization <= 100 {
			cpu = true
		}
	}
	if !cpu {
		t.Error("hpa: want a CPU utilization metric")
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	var p struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			MinAvailable   any `json:"minAvailable"`
			MaxUnavailable any `json:"maxUnavailable"`
			Selector       struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
		} `json:"spec"`
	}
	readYAML(t, "kubernetes/pdb.yaml", &p)
	if p.APIVersion != "policy/v1" || p.Kind != "PodDisruptionBudget" {
		t.Fatalf("pdb.yaml is %s %s, want policy/v1 PodDisruptionBudget", p.APIVersion, p.Kind)
	}
	if (p.Spec.MinAvailable == nil) == (p.Spec.MaxUnavailable == nil) {
		t.Error("pdb: set exactly one of minAvailable and maxUnavailable")
	}
	if p.Spec.Selector.MatchLabels["app.kubernetes.io/name"] != "pricing-engine" {
		t.Errorf("pdb selector = %v, want app.kubernetes.io/name=pricing-engine", p.Spec.Selector.MatchLabels)
	}
}

// promtool runs promtool with args in dir prometheus/ and fails the test with
// its output if it fails. It skips the test when promtool is not installed.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus); CI installs it")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = "prometheus"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPrometheusConfig(t *testing.T) {
	out := promtool(t, "check", "config", "prometheus.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool check config printed no SUCCESS:\n%s", out)
	}
	data, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"job_name: pricing-engine", `"127.0.0.1:8001"`, "metrics_path: /metrics"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("prometheus.yml lacks %s", want)
		}
	}
}

func TestPrometheusKubernetesConfig(t *testing.T) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus); CI installs it")
	}
	cmd := exec.Command(bin, "check", "config", "prometheus-kubernetes.yml")
	cmd.Dir = "prometheus"
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(string(out), "field kubernetes_sd_configs not found") {
		t.Skipf("this promtool was built without Kubernetes service discovery (Debian's is):\n%s", out)
	}
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}

func TestAlertRules(t *testing.T) {
	promtool(t, "check", "rules", "alerts.yml")
	out := promtool(t, "test", "rules", "alerts_test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules printed no SUCCESS:\n%s", out)
	}
}

// TestAlertRulesCover checks that the rules file has the four alerts the
// runbook in docs/OPERATIONS.md describes and that their queries name known
// metrics. It needs no promtool.
func TestAlertRulesCover(t *testing.T) {
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert  string `json:"alert"`
				Record string `json:"record"`
				Expr   string `json:"expr"`
				For    string `json:"for"`
			} `json:"rules"`
		} `json:"groups"`
	}
	readYAML(t, "prometheus/alerts.yml", &rules)
	alerts := map[string]string{}
	records := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				records[r.Record] = true
			}
			if r.Alert != "" {
				alerts[r.Alert] = r.For
			}
			for _, name := range metricNames(r.Expr) {
				if !records[name] && !knownMetric(name) {
					t.Errorf("rule %s%s: unknown metric %s", r.Alert, r.Record, name)
				}
			}
		}
	}
	for name, wantFor := range map[string]string{
		"PricingLatencyP95High":     "5m",
		"PricingErrorRatioHigh":     "5m",
		"PricingRequestsRejected":   "5m",
		"PricingPoolQueueDeep":      "5m",
		"PricingLookupsWaitingHigh": "5m",
		"PricingInstanceDown":       "1m",
	} {
		got, ok := alerts[name]
		if !ok {
			t.Errorf("alert %s is missing", name)
		} else if got != wantFor {
			t.Errorf("alert %s: for %q, want %q", name, got, wantFor)
		}
	}
}

// identRE matches a PromQL identifier, recording-rule colons included, and
// tells whether a label matcher or range selector follows it.
var identRE = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*\s*[{\[]?`)

// quotedRE matches PromQL string literals, which hold no series names.
var quotedRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// metricNames returns the series names a PromQL expression selects: every
// identifier followed by a label matcher or range selector, every identifier
// with one of the project's metric prefixes, and every recording-rule name
// (one with a colon).
func metricNames(expr string) []string {
	var names []string
	for _, m := range identRE.FindAllString(quotedRE.ReplaceAllString(expr, `""`), -1) {
		name := strings.TrimRight(m, "{[ \t\n")
		selected := len(name) < len(strings.TrimSpace(m)) || strings.ContainsRune(name, ':')
		for _, prefix := range []string{"http_", "pricing_", "go_", "process_"} {
			selected = selected || strings.HasPrefix(name, prefix)
		}
		if selected {
			names = append(names, name)
		}
	}
	return names
}

// knownMetric reports whether name is a known series, allowing the
// _bucket, _count and _sum series of histograms.
func knownMetric(name string) bool {
	known := exposedMetrics()
	if _, ok := known[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && known[base] {
			return true
		}
	}
	return false
}

func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("grafana", "pricing-engine.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&dash); err != nil {
		t.Fatalf("cannot parse dashboard: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard needs a uid, a title and panels")
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		selects := false
		for _, tg := range p.Targets {
			names := metricNames(tg.Expr)
			if len(names) == 0 && !regexp.MustCompile(`^[0-9.]+$`).MatchString(tg.Expr) {
				t.Errorf("panel %q: query %q names no metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				if !knownMetric(n) {
					t.Errorf("panel %q: query %q names unknown metric %s", p.Title, tg.Expr, n)
				}
				selects = true
				used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")] = true
			}
		}
		if !selects {
			t.Errorf("panel %q selects no metric", p.Title)
		}
	}
	for _, want := range []string{"http_request_duration_seconds", "pricing_requests_in_flight", "pricing_connections_open",
		"pricing_pool_queue_depth", "pricing_pool_workers_busy", "pricing_lookups_waiting", "pricing_lookups_waiting_limit",
		"pricing_lookup_duration_seconds", "pricing_requests_rejected_total"} {
		if !used[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`up{job="x"} == 0`, []string{"up"}},
		{`histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{a="b"}[5m])))`, []string{"http_request_duration_seconds_bucket"}},
		{`max_over_time(pricing_pool_queue_depth[5m]) > 1000`, []string{"pricing_pool_queue_depth"}},
		{`pricing:http_requests:error_ratio_5m > 0.01`, []string{"pricing:http_requests:error_ratio_5m"}},
		{`sum by (code) (rate(x_total {code=~"5.."} [1m]))`, []string{"x_total"}},
		{`rate(foo[1m]) / bar`, []string{"foo"}},
		{`0.15`, nil},
	}
	for _, tt := range tests {
		if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
	for name, want := range map[string]bool{
		"http_request_duration_seconds_bucket": true, "pricing_build_info": true,
		"pricing_build_info_count": false, "http_requests_total": false,
	} {
		if got := knownMetric(name); got != want {
			t.Errorf("knownMetric(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestDockerfile checks the properties the Kubernetes manifests and the
// Makefile's release target rely on.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	for _, want := range []string{
		"FROM golang:1.26 AS build",
		"CGO_ENABLED=0 go build -trimpath",
		`-ldflags "-s -w -X main.version=$VERSION -X main.revision=$REVISION"`,
		"-o /out/pricing-engine ./cmd/pricing-engine",
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"USER 65532:65532",
		"EXPOSE 8000 8001",
		`CMD ["/pricing-engine", "healthcheck"]`,
		`ENTRYPOINT ["/pricing-engine"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	if _, err := os.Stat("../.dockerignore"); err != nil {
		t.Errorf("no .dockerignore: %v", err)
	}
}
