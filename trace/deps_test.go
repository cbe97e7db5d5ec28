package trace

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies enforces the package's never-rules: tracing knows
// neither the pricing domain nor connections.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	const mod = "github.com/pricing-engine/pricing-engine/"
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{mod + "pricing", mod + "server", mod + "lookup", mod + "rules", "github.com/panjf2000/gnet"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("trace depends on %s", dep)
			}
		}
	}
	if !strings.Contains(string(out), "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp") {
		t.Error("the dependency list lacks otlptracehttp: the check saw nothing")
	}
}
