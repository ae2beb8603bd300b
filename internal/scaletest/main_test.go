package scaletest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/cdcstream/cdcstream/internal/proctest"
)

// requireEnv, when "1", turns a missing HAProxy into a test failure (CI sets it).
const requireEnv = "CDCSTREAM_REQUIRE_POLYGLOT"

// installHint is the one command that installs what these tests need.
const installHint = "run `make scale-deps` (installs Debian's haproxy)"

// repoRoot is the module root (where go.mod is), set by TestMain.
var repoRoot string

func TestMain(m *testing.M) {
	code := func() int {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err == nil {
			_, err = os.Stat(filepath.Join(root, "go.mod"))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "scaletest: module root not found:", err)
			return 1
		}
		repoRoot = root
		defer proctest.Remove()
		return m.Run()
	}()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// haproxyBinary returns the haproxy executable ($CDCSTREAM_HAPROXY, else haproxy on PATH or in
// /usr/sbin), or reports it missing: a skip naming the reason and the install command, or,
// with CDCSTREAM_REQUIRE_POLYGLOT=1, a failure.
func haproxyBinary(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("CDCSTREAM_HAPROXY")}
	if candidates[0] == "" {
		candidates = []string{"haproxy", "/usr/sbin/haproxy"} // /usr/sbin is not on every PATH
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "haproxy is not installed: " + installHint
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("%s (%s=1, so this is a failure, not a skip)", msg, requireEnv)
	}
	fmt.Printf("scaletest: %s SKIPPED, NOT PASSED: %s\n", t.Name(), msg)
	t.Skipf("SKIPPED, NOT PASSED: %s", msg)
	return ""
}
