package main

import (
	"bufio"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// shellWords splits a command line the way sh does for the simple cases
// the Makefile and Dockerfile use: blanks separate words, double quotes
// group them.
func shellWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		inQ   bool
		have  bool
	)
	for _, r := range s {
		switch {
		case r == '"':
			inQ = !inQ
			have = true
		case !inQ && (r == ' ' || r == '\t'):
			if have {
				words = append(words, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if inQ {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if have {
		words = append(words, cur.String())
	}
	return words, nil
}

// makeVar matches a Make variable reference, $(NAME).
var makeVar = regexp.MustCompile(`\$\(([A-Z_]+)\)`)

// makefileRelease returns the environment and go build flags of the
// Makefile's release target, with $(VAR) written as $VAR.
func makefileRelease(t *testing.T) (env, flags []string) {
	t.Helper()
	data, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	var recipe string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	inRelease := false
	for sc.Scan() {
		line := sc.Text()
		if m := regexp.MustCompile(`^(RELEASE_ENV|RELEASE_FLAGS)\s*:=\s*(.*)$`).FindStringSubmatch(line); m != nil {
			vars[m[1]] = makeVar.ReplaceAllString(strings.TrimSpace(m[2]), "$$$1")
		}
		switch {
		case strings.HasPrefix(line, "release:"):
			inRelease = true
		case inRelease && strings.HasPrefix(line, "\t"):
			recipe += strings.TrimSpace(line)
		default:
			inRelease = false
		}
	}
	if vars["RELEASE_ENV"] == "" || vars["RELEASE_FLAGS"] == "" {
		t.Fatalf("Makefile lacks RELEASE_ENV or RELEASE_FLAGS (found %v)", vars)
	}
	if !strings.Contains(recipe, "$(RELEASE_ENV) $(GO) build $(RELEASE_FLAGS)") {
		t.Fatalf("the release recipe %q does not build with $(RELEASE_ENV) and $(RELEASE_FLAGS)", recipe)
	}
	if env, err = shellWords(vars["RELEASE_ENV"]); err != nil {
		t.Fatal(err)
	}
	if flags, err = shellWords(vars["RELEASE_FLAGS"]); err != nil {
		t.Fatal(err)
	}
	return env, flags
}

// dockerfileRelease returns the environment and go build flags of the
// Dockerfile's build step (between "go build" and "-o").
func dockerfileRelease(t *testing.T) (env, flags []string) {
	t.Helper()
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, skipping comments (which quote the command too).
	var logical []string
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		trimmed := strings.TrimRight(line, " \t")
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	var found []string
	for _, l := range logical {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, " go build ") {
			words, err := shellWords(l)
			if err != nil {
				t.Fatal(err)
			}
			found = words
		}
	}
	if found == nil {
		t.Fatal("Dockerfile has no RUN ... go build step")
	}
	g := slices.Index(found, "go")
	if g < 0 || g+1 >= len(found) || found[g+1] != "build" {
		t.Fatalf("cannot find `go build` in %q", found)
	}
	for i := g - 1; i >= 0 && strings.Contains(found[i], "=") && !strings.HasPrefix(found[i], "-"); i-- {
		env = append([]string{found[i]}, env...)
	}
	o := slices.Index(found[g+2:], "-o")
	if o < 0 {
		t.Fatalf("no -o in the Dockerfile's go build: %q", found)
	}
	return env, found[g+2 : g+2+o]
}

// TestE2EReleaseBuild builds the binary with the release flags (the same in
// the Makefile and the Dockerfile), and checks that it is static, stripped
// and stamped.
func TestE2EReleaseBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binary: skipped with -short")
	}
	mkEnv, mkFlags := makefileRelease(t)
	dkEnv, dkFlags := dockerfileRelease(t)
	if !slices.Equal(mkEnv, dkEnv) || !slices.Equal(mkFlags, dkFlags) {
		t.Fatalf("release flags differ:\nMakefile:   %q %q\nDockerfile: %q %q", mkEnv, mkFlags, dkEnv, dkFlags)
	}
	t.Logf("release build: %q go build %q", mkEnv, mkFlags)

	const version, revision = "v9.8.7-e2e", "0123456789abcdef"
	stamp := strings.NewReplacer("$VERSION", version, "$REVISION", revision)
	bin := filepath.Join(t.TempDir(), "pricing-engine")
	args := []string{"build"}
	for _, f := range mkFlags {
		args = append(args, stamp.Replace(f))
	}
	args = append(args, "-o", bin, ".")
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), mkEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("not an ELF file: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %v: the binary is not static", p.Type)
		}
	}
	for _, name := range []string{".interp", ".dynamic"} {
		if f.Section(name) != nil {
			t.Errorf("section %s: the binary is not static", name)
		}
	}
	if f.Section(".symtab") != nil {
		t.Error("section .symtab: the binary is not stripped (-s)")
	}

	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("build settings CGO_ENABLED=%q -trimpath=%q, want 0 and true", settings["CGO_ENABLED"], settings["-trimpath"])
	}

	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("version: %v", err)
	}
	if want := "pricing-engine " + version + " (" + revision + ")\n"; string(out) != want {
		t.Errorf("version printed %q, want %q", out, want)
	}
}
