package polyglot

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// requireEnv, when "1", turns a missing language runtime or tool into a test failure (CI sets it).
const requireEnv = "CDCSTREAM_REQUIRE_POLYGLOT"

// installHint is the one command that installs everything these tests need.
const installHint = "run `make polyglot-deps`"

var (
	// artifacts is a directory shared by all tests of one run, for built binaries and generated
	// stubs; TestMain creates and removes it.
	artifacts string
	// repoRoot is the module root (where go.mod is).
	repoRoot string
)

func TestMain(m *testing.M) {
	code := func() int {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			fmt.Fprintln(os.Stderr, "polyglot:", err)
			return 1
		}
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
			fmt.Fprintln(os.Stderr, "polyglot: module root not found:", err)
			return 1
		}
		repoRoot = root
		dir, err := os.MkdirTemp("", "cdcstream-polyglot-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "polyglot:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		artifacts = dir
		code := m.Run()
		if skipped := skips(); len(skipped) > 0 {
			fmt.Printf("polyglot: %d test(s) SKIPPED, NOT PASSED:\n", len(skipped))
			for _, s := range skipped {
				fmt.Printf("polyglot:   %s\n", s)
			}
		}
		return code
	}()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// missing reports that a runtime or tool is not installed: a skip that names the reason and
// the install command, or, with CDCSTREAM_REQUIRE_POLYGLOT=1, a failure.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("%s (%s=1, so this is a failure, not a skip)", msg, requireEnv)
	}
	skipMu.Lock()
	skipped = append(skipped, t.Name()+": "+msg)
	skipMu.Unlock()
	t.Skipf("SKIPPED, NOT PASSED: %s", msg)
}

var (
	// skipMu guards skipped.
	skipMu sync.Mutex
	// skipped lists the tests skipped for a missing tool, with the reason, for the run's summary.
	skipped []string
)

// skips returns the tests skipped so far.
func skips() []string {
	skipMu.Lock()
	defer skipMu.Unlock()
	return append([]string(nil), skipped...)
}

// once memoises a preparation step (building a binary, generating stubs) across the tests of a
// run. A failed step is reported to every test that needs it.
type once struct {
	once sync.Once
	val  string
	// skip is set when the step could not run because something is not installed.
	skip string
	err  error
}

// get runs prepare the first time and reports its outcome to t every time.
func (o *once) get(t testing.TB, prepare func() (val, skip string, err error)) string {
	t.Helper()
	o.once.Do(func() { o.val, o.skip, o.err = prepare() })
	if o.skip != "" {
		missing(t, "%s", o.skip)
	}
	if o.err != nil {
		t.Fatal(o.err)
	}
	return o.val
}

// run executes a command with a deadline and returns its combined diagnostics on failure.
func run(dir string, env []string, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// goTool returns the go command that runs these tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

var cdcstreamdBinary once

// cdcstreamd builds cmd/cdcstreamd once per run and returns the binary's path.
func cdcstreamd(t testing.TB) string {
	t.Helper()
	return cdcstreamdBinary.get(t, func() (string, string, error) {
		bin := filepath.Join(artifacts, "cdcstreamd")
		if _, err := run(repoRoot, nil, 5*time.Minute, goTool(), "build", "-o", bin, "./cmd/cdcstreamd"); err != nil {
			return "", "", err
		}
		return bin, "", nil
	})
}

var grpcurlBinary once

// grpcurl builds grpcurl (a tool of the module, pinned in go.mod) once per run.
func grpcurl(t testing.TB) string {
	t.Helper()
	return grpcurlBinary.get(t, func() (string, string, error) {
		bin := filepath.Join(artifacts, "grpcurl")
		if _, err := run(repoRoot, nil, 5*time.Minute, goTool(), "build", "-o", bin, "github.com/fullstorydev/grpcurl/cmd/grpcurl"); err != nil {
			return "", "", err
		}
		return bin, "", nil
	})
}

// healthProbeVersion is the grpc-health-probe release the tests use. It cannot be a tool of
// the module (its dependencies would move the module's), so it is installed on its own.
const healthProbeVersion = "v0.4.62"

var healthProbeBinary once

// healthProbe returns grpc-health-probe: $CDCSTREAM_HEALTH_PROBE, or bin/grpc-health-probe
// (installed by `make polyglot-deps`), or a `go install` from the module proxy into the run's
// temporary directory.
func healthProbe(t testing.TB) string {
	t.Helper()
	return healthProbeBinary.get(t, func() (string, string, error) {
		for _, p := range []string{os.Getenv("CDCSTREAM_HEALTH_PROBE"), filepath.Join(repoRoot, "bin", "grpc-health-probe")} {
			if p == "" {
				continue
			}
			if _, err := os.Stat(p); err == nil {
				return p, "", nil
			}
		}
		gobin := filepath.Join(artifacts, "gobin")
		out, err := run(artifacts, []string{"GOBIN=" + gobin}, 5*time.Minute, goTool(), "install", "github.com/grpc-ecosystem/grpc-health-probe@"+healthProbeVersion)
		if err != nil {
			return "", fmt.Sprintf("grpc-health-probe %s not installed and `go install` failed (%s): %s",
				healthProbeVersion, strings.TrimSpace(out), installHint), nil
		}
		return filepath.Join(gobin, "grpc-health-probe"), "", nil
	})
}
