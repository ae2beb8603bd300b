package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The polyglot install's verification (examples/verify-deps.sh through `make polyglot-verify`,
// the last step of `make polyglot-deps`), run as the install runs it.

// verify runs `make polyglot-verify` in the repository with env added, returning its output
// and whether it succeeded.
func verify(t *testing.T, env ...string) (string, bool) {
	t.Helper()
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mk, "--no-print-directory", "polyglot-verify")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// requirePolyglot reports whether a missing polyglot dependency is a failure (CI sets
// CDCSTREAM_REQUIRE_POLYGLOT=1, as for the polyglot tests) rather than a skip.
func requirePolyglot() bool { return os.Getenv("CDCSTREAM_REQUIRE_POLYGLOT") == "1" }

// TestVerifyDepsPasses: on a machine where `make polyglot-deps` ran, every check passes.
func TestVerifyDepsPasses(t *testing.T) {
	out, ok := verify(t)
	if !ok {
		if !requirePolyglot() {
			t.Skipf("polyglot dependencies not installed (run make polyglot-deps; CI requires them):\n%s", out)
		}
		t.Fatalf("make polyglot-verify failed after make polyglot-deps:\n%s", out)
	}
	for _, want := range []string{"well-known types", "python3 imports the generated modules", "javac compiles", "node ", "npm ", "grpc-health-probe answers"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// pathWithout builds a PATH directory holding every command of the current PATH (symlinked)
// except those in drop, and with those in copies copied (so that a program that finds its
// data next to its own executable, as protoc does with ../include, no longer finds it).
func pathWithout(t *testing.T, drop, copies []string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bin")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range drop {
		seen[d] = true
	}
	for _, c := range copies {
		p, err := exec.LookPath(c)
		if err != nil {
			if requirePolyglot() {
				t.Fatalf("%s not installed after make polyglot-deps", c)
			}
			t.Skipf("%s not installed: nothing to verify without it (run make polyglot-deps)", c)
		}
		if err := copyFile(p, filepath.Join(dir, c)); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, c), 0o755); err != nil {
			t.Fatal(err)
		}
		seen[c] = true
	}
	for _, pd := range filepath.SplitList(os.Getenv("PATH")) {
		entries, _ := os.ReadDir(pd)
		for _, e := range entries {
			if seen[e.Name()] || e.IsDir() {
				continue
			}
			seen[e.Name()] = true
			if err := os.Symlink(filepath.Join(pd, e.Name()), filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// TestVerifyDepsFailsWithoutWellKnownTypes reproduces the fresh machine of issue 13 without
// uninstalling anything: protoc is there, the well-known types are not (an empty include
// directory, and a protoc copied out of /usr/bin so that it cannot find /usr/include by
// itself). The install must fail, naming the package and the file.
func TestVerifyDepsFailsWithoutWellKnownTypes(t *testing.T) {
	bin := pathWithout(t, nil, []string{"protoc"})
	empty := t.TempDir()

	// The simulation is faithful: this protoc alone cannot import the well-known types.
	proto := filepath.Join(t.TempDir(), "x.proto")
	if err := os.WriteFile(proto, []byte("syntax = \"proto3\";\nimport \"google/protobuf/timestamp.proto\";\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(bin, "protoc"), "-I", filepath.Dir(proto), "-I", empty, "--descriptor_set_out=/dev/null", proto).CombinedOutput(); err == nil {
		t.Fatalf("the copied protoc still finds the well-known types; the test proves nothing:\n%s", out)
	}

	out, ok := verify(t, "PATH="+bin, "PROTOC_INCLUDE="+empty)
	if ok {
		t.Fatalf("make polyglot-verify passed without the well-known types:\n%s", out)
	}
	for _, want := range []string{"FAIL", "google/protobuf/timestamp.proto", "libprotobuf-dev", "check(s) FAILED"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestVerifyDepsFailsWithoutNode: node and npm missing from PATH fail the install, naming the
// packages.
func TestVerifyDepsFailsWithoutNode(t *testing.T) {
	bin := pathWithout(t, []string{"node", "npm", "nodejs"}, nil)
	out, ok := verify(t, "PATH="+bin)
	if ok {
		t.Fatalf("make polyglot-verify passed without node:\n%s", out)
	}
	for _, want := range []string{"FAIL: node does not answer (install: nodejs npm)", "FAIL: npm does not answer"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
