package deploy

import (
	"bytes"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// manifests holds every object of the kustomization, decoded strictly.
type manifests struct {
	deployments  map[string]*appsv1.Deployment
	statefulSets map[string]*appsv1.StatefulSet
	services     map[string]*corev1.Service
	secrets      map[string]*corev1.Secret
	jobs         map[string]*batchv1.Job
	policies     map[string]*networkingv1.NetworkPolicy
	hpas         map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs         map[string]*policyv1.PodDisruptionBudget
}

// kustomizationFiles returns the resources listed in kustomization.yaml.
func kustomizationFiles(t *testing.T) []string {
	t.Helper()
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	data, err := os.ReadFile("kubernetes/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	return k.Resources
}

// splitDocuments splits a multi-document YAML file.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for doc := range bytes.SplitSeq(append([]byte("\n"), data...), []byte("\n---\n")) {
		if len(bytes.TrimSpace(stripComments(doc))) > 0 {
			docs = append(docs, doc)
		}
	}
	return docs
}

func stripComments(doc []byte) []byte {
	var out []byte
	for line := range bytes.SplitSeq(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(append(out, line...), '\n')
		}
	}
	return out
}

// decodeStrict decodes one manifest into the k8s.io/api type of its kind,
// refusing unknown and duplicate fields.
func decodeStrict(doc []byte, m *manifests) (kind, name string, err error) {
	var tm struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return "", "", err
	}
	kind, name = tm.APIVersion+"/"+tm.Kind, tm.Metadata.Name
	decode := func(v any) error { return yaml.UnmarshalStrict(doc, v) }
	switch kind {
	case "apps/v1/Deployment":
		v := new(appsv1.Deployment)
		err = decode(v)
		m.deployments[name] = v
	case "apps/v1/StatefulSet":
		v := new(appsv1.StatefulSet)
		err = decode(v)
		m.statefulSets[name] = v
	case "v1/Service":
		v := new(corev1.Service)
		err = decode(v)
		m.services[name] = v
	case "v1/Secret":
		v := new(corev1.Secret)
		err = decode(v)
		m.secrets[name] = v
	case "batch/v1/Job":
		v := new(batchv1.Job)
		err = decode(v)
		m.jobs[name] = v
	case "networking.k8s.io/v1/NetworkPolicy":
		v := new(networkingv1.NetworkPolicy)
		err = decode(v)
		m.policies[name] = v
	case "autoscaling/v2/HorizontalPodAutoscaler":
		v := new(autoscalingv2.HorizontalPodAutoscaler)
		err = decode(v)
		m.hpas[name] = v
	case "policy/v1/PodDisruptionBudget":
		v := new(policyv1.PodDisruptionBudget)
		err = decode(v)
		m.pdbs[name] = v
	default:
		return kind, name, errUnknownKind
	}
	return kind, name, err
}

var errUnknownKind = &unknownKindError{}

type unknownKindError struct{}

func (*unknownKindError) Error() string { return "kind not known to this test: add it to decodeStrict" }

// loadManifests decodes every resource of the kustomization strictly.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{
		deployments: map[string]*appsv1.Deployment{}, statefulSets: map[string]*appsv1.StatefulSet{},
		services: map[string]*corev1.Service{}, secrets: map[string]*corev1.Secret{}, jobs: map[string]*batchv1.Job{},
		policies: map[string]*networkingv1.NetworkPolicy{}, hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{},
	}
	for _, file := range kustomizationFiles(t) {
		data, err := os.ReadFile(filepath.Join("kubernetes", file))
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range splitDocuments(data) {
			if kind, name, err := decodeStrict(doc, m); err != nil {
				t.Errorf("%s document %d (%s %s): %v", file, i+1, kind, name, err)
			}
		}
	}
	return m
}

// TestManifestsStrict decodes every manifest into the official types with
// unknown fields refused, and checks that every YAML file beside
// kustomization.yaml is one of its resources (none forgotten).
func TestManifestsStrict(t *testing.T) {
	loadManifests(t)
	listed := kustomizationFiles(t)
	files, _ := filepath.Glob("kubernetes/*.yaml")
	for _, f := range files {
		base := filepath.Base(f)
		if base != "kustomization.yaml" && !slices.Contains(listed, base) {
			t.Errorf("%s is not in kustomization.yaml's resources", base)
		}
	}
}

// TestStrictDecoderRefusesTypos proves the decoder used above is strict.
func TestStrictDecoderRefusesTypos(t *testing.T) {
	m := &manifests{deployments: map[string]*appsv1.Deployment{}}
	for _, doc := range []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replica: 3}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: i, imagePullPolice: Always}]\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x, name: y}\n",
	} {
		if _, _, err := decodeStrict([]byte(doc), m); err == nil {
			t.Errorf("decodeStrict accepted %q", doc)
		}
	}
}

// TestStoreWiring checks how the engine and the import Job get the store:
// URLs from the Secret (naming a user, holding no password), passwords
// only as mounted files; serving as the read user, the admin API and the
// import as the write user (redis.yaml's ACL users).
func TestStoreWiring(t *testing.T) {
	m := loadManifests(t)
	secret := m.secrets["pricing-store"]
	if secret == nil {
		t.Fatal("no Secret pricing-store")
	}
	for _, key := range []string{"url", "write-url"} {
		raw := secret.StringData[key]
		if !strings.HasPrefix(raw, "redis://") && !strings.HasPrefix(raw, "rediss://") {
			t.Errorf("pricing-store %s = %q, want a redis:// or rediss:// URL", key, raw)
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Errorf("pricing-store %s: %v", key, err)
			continue
		}
		if _, ok := u.User.Password(); ok {
			t.Errorf("pricing-store %s carries a password: passwords belong in the password keys", key)
		}
	}
	for _, key := range []string{"password", "read-password", "write-password"} {
		if secret.StringData[key] == "" {
			t.Errorf("pricing-store has no %s", key)
		}
	}
	engine := m.deployments["pricing-engine"]
	job := m.jobs["pricing-import"]
	if engine == nil || job == nil {
		t.Fatal("want the Deployment pricing-engine and the Job pricing-import")
	}
	type storeEnv struct{ url, file, urlKey, passwordKey string }
	for _, tc := range []struct {
		name   string
		pod    *corev1.PodTemplateSpec
		stores []storeEnv
	}{
		{"deployment", &engine.Spec.Template, []storeEnv{
			{"PRICING_STORE", "PRICING_STORE_PASSWORD_FILE", "url", "read-password"},
			{"PRICING_ADMIN_STORE", "PRICING_ADMIN_STORE_PASSWORD_FILE", "write-url", "write-password"},
		}},
		{"import job", &job.Spec.Template, []storeEnv{
			{"PRICING_STORE", "PRICING_STORE_PASSWORD_FILE", "write-url", "write-password"},
		}},
	} {
		name, pod := tc.name, tc.pod
		c := pod.Spec.Containers[0]
		env := map[string]corev1.EnvVar{}
		for _, e := range c.Env {
			env[e.Name] = e
			if strings.Contains(strings.ToLower(e.Name), "password") && !strings.HasSuffix(e.Name, "_PASSWORD_FILE") {
				t.Errorf("%s: environment variable %s carries a password; mount it as a file", name, e.Name)
			}
		}
		for _, s := range tc.stores {
			store := env[s.url]
			if ref := store.ValueFrom; ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "pricing-store" || ref.SecretKeyRef.Key != s.urlKey {
				t.Errorf("%s: %s must come from secret pricing-store key %s", name, s.url, s.urlKey)
			}
			file := env[s.file].Value
			flagName := "--" + strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.file, "PRICING_")), "_", "-") + "="
			for _, a := range c.Args {
				if v, ok := strings.CutPrefix(a, flagName); ok {
					file = v
				}
			}
			if !mountsSecretKey(pod.Spec, c, "pricing-store", s.passwordKey, file) {
				t.Errorf("%s: the password file %q of %s is not the key %s of secret pricing-store mounted read-only", name, file, s.url, s.passwordKey)
			}
		}
		if mountsSecretKey(pod.Spec, c, "pricing-store", "password", "/var/run/secrets/pricing-store/password") {
			t.Errorf("%s mounts the operators' password (key password)", name)
		}
		for _, v := range pod.Spec.Volumes {
			if v.Secret == nil || v.Secret.SecretName != "pricing-store" {
				continue
			}
			for _, it := range v.Secret.Items {
				if it.Key == "password" {
					t.Errorf("%s: volume %s holds the operators' password (key password)", name, v.Name)
				}
			}
			if len(v.Secret.Items) == 0 {
				t.Errorf("%s: volume %s mounts every key of pricing-store; list the items it needs", name, v.Name)
			}
		}
		if pod.Labels[redisClientLabel] != "true" {
			t.Errorf("%s: pod lacks the label %s=true that lets it reach Redis", name, redisClientLabel)
		}
	}
	if !slices.Equal(job.Spec.Template.Spec.Containers[0].Args[:1], []string{"import"}) ||
		!slices.Contains(job.Spec.Template.Spec.Containers[0].Args, "--embedded") {
		t.Errorf("import job args = %v, want import ... --embedded", job.Spec.Template.Spec.Containers[0].Args)
	}
	if job.Spec.Template.Spec.Containers[0].Image != engine.Spec.Template.Spec.Containers[0].Image {
		t.Error("the import job must run the engine's image")
	}
	if m.services["pricing-engine"].Spec.Selector["app.kubernetes.io/name"] == job.Spec.Template.Labels["app.kubernetes.io/name"] {
		t.Error("the engine's Service selects the import job's pods")
	}

	redis := m.statefulSets["pricing-redis"]
	if redis == nil {
		t.Fatal("no StatefulSet pricing-redis")
	}
	if len(redis.Spec.VolumeClaimTemplates) == 0 {
		t.Error("pricing-redis has no PersistentVolumeClaim template")
	}
	if svc := m.services[redis.Spec.ServiceName]; svc == nil || svc.Spec.ClusterIP != "None" {
		t.Errorf("pricing-redis: serviceName %q must name a headless Service", redis.Spec.ServiceName)
	}
	args := strings.Join(redis.Spec.Template.Spec.Containers[0].Args, " ")
	for _, want := range []string{"--requirepass", "--maxmemory-policy noeviction"} {
		if !strings.Contains(args, want) {
			t.Errorf("redis args %q lack %s", args, want)
		}
	}
}

const redisClientLabel = "pricing-engine/redis-client"

// mountsSecretKey reports whether file is key of secret, mounted read-only
// into container c of pod.
func mountsSecretKey(pod corev1.PodSpec, c corev1.Container, secret, key, file string) bool {
	for _, vm := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok || !vm.ReadOnly {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name != vm.Name || v.Secret == nil || v.Secret.SecretName != secret {
				continue
			}
			for _, it := range v.Secret.Items {
				if it.Key == key && it.Path == rel {
					return true
				}
			}
		}
	}
	return false
}

// TestNetworkPolicies checks that only the Redis clients reach Redis, and
// only Prometheus the admin port.
func TestNetworkPolicies(t *testing.T) {
	m := loadManifests(t)
	redis := m.policies["pricing-redis"]
	if redis == nil {
		t.Fatal("no NetworkPolicy pricing-redis")
	}
	if redis.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"] != "pricing-redis" {
		t.Errorf("pricing-redis policy selects %v", redis.Spec.PodSelector.MatchLabels)
	}
	if len(redis.Spec.Ingress) != 1 || len(redis.Spec.Ingress[0].From) != 1 {
		t.Fatalf("pricing-redis policy: want exactly one ingress rule with one peer, have %+v", redis.Spec.Ingress)
	}
	peer := redis.Spec.Ingress[0].From[0]
	if peer.NamespaceSelector != nil || peer.IPBlock != nil || peer.PodSelector == nil ||
		len(peer.PodSelector.MatchLabels) != 1 || peer.PodSelector.MatchLabels[redisClientLabel] != "true" {
		t.Errorf("pricing-redis policy admits %+v, want only pods labelled %s=true in its namespace", peer, redisClientLabel)
	}
	// The label is on the engine and the import Job, on nothing else.
	for name, d := range m.deployments {
		if (d.Spec.Template.Labels[redisClientLabel] == "true") != (name == "pricing-engine") {
			t.Errorf("deployment %s: unexpected %s label", name, redisClientLabel)
		}
	}
	for name, s := range m.statefulSets {
		if s.Spec.Template.Labels[redisClientLabel] != "" {
			t.Errorf("statefulset %s carries %s", name, redisClientLabel)
		}
	}

	engine := m.policies["pricing-engine"]
	if engine == nil {
		t.Fatal("no NetworkPolicy pricing-engine")
	}
	for _, rule := range engine.Spec.Ingress {
		for _, p := range rule.Ports {
			if p.Port == nil || p.Port.String() != "admin" {
				continue
			}
			if len(rule.From) == 0 {
				t.Error("the admin port is open to every pod")
			}
			for _, f := range rule.From {
				if f.PodSelector == nil || f.PodSelector.MatchLabels["app.kubernetes.io/name"] != "prometheus" || f.IPBlock != nil {
					t.Errorf("the admin port admits %+v, want only Prometheus", f)
				}
			}
		}
	}
	for name, d := range m.deployments {
		if !policySelects(m, d.Spec.Template.Labels) {
			t.Errorf("deployment %s: no NetworkPolicy selects its pods", name)
		}
	}
	for name, s := range m.statefulSets {
		if !policySelects(m, s.Spec.Template.Labels) {
			t.Errorf("statefulset %s: no NetworkPolicy selects its pods", name)
		}
	}
}

func policySelects(m *manifests, labels map[string]string) bool {
	for _, p := range m.policies {
		all := true
		for k, v := range p.Spec.PodSelector.MatchLabels {
			all = all && labels[k] == v
		}
		if all {
			return true
		}
	}
	return false
}

// TestTopologySpread wants the engine spread over nodes and zones.
func TestTopologySpread(t *testing.T) {
	m := loadManifests(t)
	keys := map[string]bool{}
	for _, c := range m.deployments["pricing-engine"].Spec.Template.Spec.TopologySpreadConstraints {
		keys[c.TopologyKey] = true
	}
	for _, want := range []string{"kubernetes.io/hostname", "topology.kubernetes.io/zone"} {
		if !keys[want] {
			t.Errorf("no topology spread constraint on %s", want)
		}
	}
}

// TestKubeScore runs kube-score v1.20.0 over the manifests: no critical
// finding. Each check switched off with a kube-score/ignore annotation must
// have a comment right above the annotation saying why.
func TestKubeScore(t *testing.T) {
	bin, err := exec.LookPath("kube-score")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "kube-score")
		if _, err := os.Stat(bin); err != nil {
			t.Skip("kube-score is not installed (make test installs it: go install github.com/zegl/kube-score/cmd/kube-score@v1.20.0)")
		}
	}
	args := []string{"score", "--output-format", "ci"}
	for _, f := range kustomizationFiles(t) {
		args = append(args, filepath.Join("kubernetes", f))
	}
	out, _ := exec.Command(bin, args...).CombinedOutput() // exits 1 on findings
	var critical, warnings []string
	for line := range strings.SplitSeq(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "[CRITICAL]"):
			critical = append(critical, line)
		case strings.HasPrefix(line, "[WARNING]"):
			warnings = append(warnings, line)
		}
	}
	if !strings.Contains(string(out), "[OK]") {
		t.Fatalf("kube-score printed no result:\n%s", out)
	}
	for _, w := range warnings {
		t.Log(w)
	}
	for _, c := range critical {
		t.Error(c)
	}

	files, _ := filepath.Glob("kubernetes/*.yaml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		for i, line := range lines {
			if strings.Contains(line, "kube-score/ignore") && (i == 0 || !strings.HasPrefix(strings.TrimSpace(lines[i-1]), "#")) {
				t.Errorf("%s:%d: kube-score/ignore without a comment above it saying why", f, i+1)
			}
		}
	}
}

// TestEngineEnvironmentIsFlags checks that every PRICING_* variable the
// engine's pods set is one the binary reads: docs/CONFIGURATION.md's flag
// table, which cmd/pricing-engine's tests hold to --help.
func TestEngineEnvironmentIsFlags(t *testing.T) {
	doc, err := os.ReadFile("../docs/CONFIGURATION.md")
	if err != nil {
		t.Fatal(err)
	}
	m := loadManifests(t)
	pods := map[string]*corev1.PodTemplateSpec{}
	for name, d := range m.deployments {
		pods["deployment "+name] = &d.Spec.Template
	}
	for name, j := range m.jobs {
		pods["job "+name] = &j.Spec.Template
	}
	for name, pod := range pods {
		for _, c := range pod.Spec.Containers {
			for _, e := range c.Env {
				if strings.HasPrefix(e.Name, "PRICING_") && !strings.Contains(string(doc), "| `"+e.Name+"` |") {
					t.Errorf("%s: %s is no flag's variable (docs/CONFIGURATION.md)", name, e.Name)
				}
			}
		}
	}
}

// TestAdminTokensWiring checks that the engine reads its admin tokens from
// the Secret pricing-admin-tokens mounted read-only, and that the shipped
// Secret holds no token (each installation makes its own).
func TestAdminTokensWiring(t *testing.T) {
	m := loadManifests(t)
	secret := m.secrets["pricing-admin-tokens"]
	if secret == nil {
		t.Fatal("no Secret pricing-admin-tokens")
	}
	for line := range strings.SplitSeq(secret.StringData["tokens"], "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			t.Errorf("the shipped tokens file holds a token line %q: ship none", l)
		}
	}
	engine := m.deployments["pricing-engine"]
	c := engine.Spec.Template.Spec.Containers[0]
	var file string
	for _, e := range c.Env {
		if e.Name == "PRICING_ADMIN_TOKENS_FILE" {
			file = e.Value
		}
	}
	if !mountsSecretKey(engine.Spec.Template.Spec, c, "pricing-admin-tokens", "tokens", file) {
		t.Errorf("PRICING_ADMIN_TOKENS_FILE %q is not the key tokens of secret pricing-admin-tokens mounted read-only", file)
	}
}
