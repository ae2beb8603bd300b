package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/internal/proctest"
)

// Helpers of the tests that run the real binaries (secrets_test.go, tls_e2e_test.go).

// binaries builds cdcstreamd and cdctail once per test run.
func binaries(t *testing.T) (cdcstreamd, cdctail string) {
	t.Helper()
	p := proctest.Build(t, "github.com/cdcstream/cdcstream/cmd/cdcstreamd", "github.com/cdcstream/cdcstream/cmd/cdctail")
	return p[0], p[1]
}

// startProc runs cdcstreamd with env added to the environment and waits until it listens.
func startProc(t *testing.T, env []string, args ...string) *proctest.Daemon {
	t.Helper()
	bin, _ := binaries(t)
	return proctest.StartDaemon(t, bin, env, args...)
}

// startSim starts a Neo4j simulator on loopback whose user "cdc" has password, with n
// committed transactions, and returns it with its workload (for more transactions).
func startSim(t *testing.T, password string, n int) (*neo4jsim.Server, *neo4jsim.Workload) {
	t.Helper()
	dbms := neo4jsim.NewDBMS(neo4jsim.Config{
		Users:       []neo4jsim.User{{Name: "cdc", Password: password, Admin: true}},
		Databases:   []string{"neo4j"},
		CaptureMode: "FULL",
	})
	sim, err := neo4jsim.NewServer(dbms, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	w := neo4jsim.NewWorkload(dbms.Database("neo4j"), 1)
	for i := 0; i < n; i++ {
		if _, err := w.Step(); err != nil {
			t.Fatal(err)
		}
	}
	return sim, w
}

// writeAtomically replaces file with content (as an operator's config management would).
func writeAtomically(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(file+".tmp", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(file+".tmp", file); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened", what)
		}
		time.Sleep(10 * time.Millisecond) // polling an external process; no event to wait on
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	proctest.Remove()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// scrapeMetrics GETs a daemon's /metrics and returns the exposition text.
func scrapeMetrics(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return text
}
