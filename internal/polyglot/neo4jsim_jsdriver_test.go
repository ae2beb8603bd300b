package polyglot

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/internal/proctest"
)

// The official Neo4j JavaScript driver (npm neo4j-driver, pinned in
// examples/neo4jsim-js/package-lock.json) against the simulator, started in this process on
// 127.0.0.1:0 with its admin API beside it. The node:test suites in examples/neo4jsim-js
// assert on what the driver returns;
// this test runs them, requires every suite and case by name to report ok in node's TAP
// output, and checks on the simulator's side that the JavaScript writes reached its CDC log.

// neo4jsimJSCases are the node:test cases, by file, that must pass. A case renamed or
// removed in JavaScript fails this test instead of silently dropping out.
var neo4jsimJSCases = map[string][]string{
	"auth.test.js": {
		"a wrong driver password is Unauthorized",
		"a wrong session password on a new connection is Unauthorized",
		"a wrong session password on a pooled connection fails, and the driver recovers",
	},
	"faults.test.js": {
		"an injected transient failure is retried by executeRead",
		"an injected client error is not retried and keeps its code",
		"after the admin API drops every connection the driver reconnects",
	},
	"cdc_examples.test.js": {
		"the Python CDCService loop, ported, follows changes and keeps its cursor at current",
		"Neo4j's JavaScript CDC example follows changes from db.cdc.earliest",
		"the @neo4j/graphql poll statement returns the current id, the events and their count",
		"@neo4j/graphql's CDCApi poller follows changes, moves its cursor to current and recovers a pruned cursor",
	},
	"writes_reads.test.js": {
		"CREATE, MERGE, SET, REMOVE and DELETE through executeWrite arrive as CDC events with metadata and keys",
		"graph reads return nodes, relationships and counts",
		"a key constraint violation fails the write with Neo4j's code and leaves no change",
	},
}

var neo4jsimJSSuite once

// neo4jsimJS copies examples/neo4jsim-js to the run's directory, installs its locked
// dependencies there with `npm ci`, and returns the directory.
func neo4jsimJS(t testing.TB) string {
	t.Helper()
	return neo4jsimJSSuite.get(t, func() (string, string, error) {
		return prepareNodeExample("neo4jsim-js", 15, "node:test with --test-reporter")
	})
}

// tapLine is a test point of node's TAP reporter, at any nesting depth.
var tapLine = regexp.MustCompile(`^\s*(not ok|ok) \d+ - (.*?)(?: # (SKIP|TODO).*)?$`)

// tapResults maps each test point's name to "ok", "not ok", "SKIP" or "TODO".
func tapResults(out string) map[string]string {
	res := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		m := tapLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		verdict := m[1]
		if m[3] != "" {
			verdict = m[3]
		}
		res[m[2]] = verdict
	}
	return res
}

func TestNeo4jJSDriverAgainstTheSimulator(t *testing.T) {
	dir := neo4jsimJS(t)
	dbms := neo4jsim.NewDBMS(neo4jsim.Config{
		Users:     []neo4jsim.User{{Name: "neo4j", Password: "password", Admin: true}, {Name: "reader", Password: "secret"}},
		Databases: []string{"neo4j", "scratch"},
	})
	db := dbms.Database("neo4j")
	for _, name := range dbms.DatabaseNames() {
		for _, label := range []string{"Person", "Company"} {
			if err := dbms.Database(name).CreateNodeKey(label, "id"); err != nil {
				t.Fatal(err)
			}
		}
	}
	simLog := &proctest.Log{}
	srv, err := neo4jsim.NewServer(dbms, "127.0.0.1:0", neo4jsim.WithLogger(slog.New(slog.NewTextHandler(simLog, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	adminAPI := httptest.NewServer(srv.AdminHandler())
	defer adminAPI.Close()
	earliest, err := db.Earliest()
	if err != nil {
		t.Fatal(err)
	}

	files := make([]string, 0, len(neo4jsimJSCases))
	for f := range neo4jsimJSCases {
		files = append(files, f)
	}
	slices.Sort(files)
	env := []string{"NEO4JSIM_URI=" + srv.BoltURI(), "NEO4JSIM_USER=neo4j", "NEO4JSIM_PASSWORD=password",
		"NEO4JSIM_DATABASE=neo4j", "NEO4JSIM_READER=reader", "NEO4JSIM_READER_PASSWORD=secret", "NEO4JSIM_ADMIN=" + adminAPI.URL, "NEO4JSIM_SCRATCH_DATABASE=scratch"}
	// One node process per file, one after the other: the suites share the simulator, and
	// node --test runs files in parallel (--test-concurrency needs Node.js 20).
	var outputs strings.Builder
	for _, f := range files {
		out, runErr := run(dir, env, 5*time.Minute, "node", "--test", "--test-reporter=tap", f)
		fmt.Fprintf(&outputs, "== node --test %s\n%s\n", f, out)
		results := tapResults(out)
		for _, name := range neo4jsimJSCases[f] {
			if got := results[name]; got != "ok" {
				t.Errorf("%s: %q: %s", f, name, map[string]string{"": "did not run"}[got]+got)
			}
		}
		for name, verdict := range results {
			if verdict != "ok" {
				t.Errorf("%s: node test %q: %s", f, name, verdict)
			}
		}
		if !strings.Contains(out, "\n# fail 0") || runErr != nil {
			status := "no failure reported"
			if runErr != nil {
				status, _, _ = strings.Cut(runErr.Error(), "\n")
			}
			t.Errorf("%s: node --test did not pass (%s)", f, status)
		}
	}
	if t.Failed() {
		t.Logf("node output:\n%s\nsimulator log:\n%s", outputs.String(), simLog.String())
		return
	}
	if testing.Verbose() {
		t.Logf("node output:\n%s", outputs.String())
	}

	// The simulator's side: the JavaScript transactions are in the CDC log with their metadata
	// and the user of the session that wrote them.
	recs, err := db.Query(neo4jsim.User{Name: "neo4j", Admin: true}, earliest, nil)
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string]int{}
	for _, r := range recs {
		md, _ := r.Metadata["txMetadata"].(map[string]any)
		if md["app"] == "neo4jsim-js" {
			steps[fmt.Sprint(md["step"])]++
			if r.Metadata["authenticatedUser"] != "neo4j" {
				t.Errorf("record %s: authenticatedUser %v", r.ID, r.Metadata["authenticatedUser"])
			}
		}
	}
	want := map[string]int{"create": 3, "merge": 1, "set": 1, "delete": 2, "read-setup": 3, "count": 1}
	if fmt.Sprint(steps) != fmt.Sprint(want) {
		t.Errorf("records written by the JavaScript app, by step: %v, want %v", steps, want)
	}
}
