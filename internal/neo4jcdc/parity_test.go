package neo4jcdc_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"google.golang.org/protobuf/encoding/prototext"
	"pgregory.net/rapid"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/neo4jcdc"
	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/server"
)

// TestSelectorParity is the differential test of server.Matcher (docs/semantics.md,
// "Selectors evaluated in process"): on random workloads written with Cypher through the
// real driver (creates, property updates and removals, label changes, deletes,
// relationships, several users, tx metadata, FULL and DIFF capture, switching mid-stream),
// the changes server.Matcher selects from the unfiltered log are exactly, in order, the
// changes db.cdc.query returns for the same selectors. Subtest "sim" runs on the simulator
// in every run; subtest "neo4j" runs the same property on a real Neo4j Enterprise server
// when NEO4J_TEST_URI is set (make test-neo4j), and is skipped by name otherwise. The number
// of random cases is rapid's (-rapid.checks, default 100; -short divides it by 5).
func TestSelectorParity(t *testing.T) {
	t.Run("sim", func(t *testing.T) { runParity(t, newSimParity(t)) })
	t.Run("neo4j", func(t *testing.T) {
		uri := os.Getenv("NEO4J_TEST_URI")
		if uri == "" {
			t.Skip("real Neo4j not configured: set NEO4J_TEST_URI, NEO4J_TEST_USER, NEO4J_TEST_PASSWORD (and NEO4J_TEST_DATABASE, default neo4j) to run this case against Neo4j Enterprise")
		}
		runParity(t, newNeo4jParity(t, uri))
	})
}

// parityTarget is a Neo4j the parity property runs against.
type parityTarget struct {
	src      *neo4jcdc.Source
	database string
	// writers run transactions as different users; the first is the admin.
	writers []parityWriter
	// setMode switches the database's capture mode to "FULL" or "DIFF".
	setMode func(t *rapid.T, mode string)
	// users are the user names the metadata can carry (for selectors).
	users []string
}

// parityWriter writes as one user (authenticated, and executing unless impersonating).
type parityWriter struct {
	driver neo4j.DriverWithContext
	// impersonate is the executing user, or "".
	impersonate string
}

const (
	parityUserPassword = "secret"
	parityLimit        = 100_000
)

func newSimParity(t *testing.T) *parityTarget {
	s := startSim(t, func(c *neo4jsim.Config) {
		c.Users = append(c.Users, neo4jsim.User{Name: "alice", Password: parityUserPassword},
			neo4jsim.User{Name: "bob", Password: parityUserPassword})
	})
	db := s.dbms.Database("neo4j")
	uri := s.srv.BoltURI()
	pt := &parityTarget{
		src:      open(t, uri),
		database: "neo4j",
		users:    []string{adminUser, "alice", "bob"},
		setMode: func(t *rapid.T, mode string) {
			if err := db.SetCaptureMode(mode); err != nil {
				t.Fatalf("capture mode %s: %v", mode, err)
			}
		},
	}
	admin := parityDriver(t, uri, adminUser, adminPassword)
	pt.writers = []parityWriter{
		{driver: admin},
		{driver: admin, impersonate: "alice"},
		{driver: parityDriver(t, uri, "bob", parityUserPassword)},
	}
	pt.setup(t)
	return pt
}

func newNeo4jParity(t *testing.T, uri string) *parityTarget {
	user, password, database := os.Getenv("NEO4J_TEST_USER"), os.Getenv("NEO4J_TEST_PASSWORD"), os.Getenv("NEO4J_TEST_DATABASE")
	if database == "" {
		database = "neo4j"
	}
	d := parityDriver(t, uri, user, password)
	pt := &parityTarget{
		src:      openAs(t, uri, user, password),
		database: database,
		users:    []string{user},
		writers:  []parityWriter{{driver: d}},
		setMode: func(t *rapid.T, mode string) {
			// ALTER DATABASE runs against the system database; WAIT returns once the option
			// is in force. DIFF<->FULL keeps change ids valid.
			q := "ALTER DATABASE `" + strings.ReplaceAll(database, "`", "``") + "` SET OPTION txLogEnrichment '" + mode + "' WAIT"
			_, err := neo4j.ExecuteQuery(context.Background(), d, q, nil,
				neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase("system"))
			if err != nil {
				t.Fatalf("capture mode %s: %v", mode, err)
			}
		},
	}
	pt.setup(t)
	return pt
}

// parityDriver opens a driver that closes at cleanup.
func parityDriver(t *testing.T, uri, user, password string) neo4j.DriverWithContext {
	t.Helper()
	d, err := neo4j.NewDriverWithContext(uri, neo4j.BasicAuth(user, password, ""))
	if err != nil {
		t.Fatalf("driver %s: %v", uri, err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

// setup creates the key constraints of the workload's schema (parityNodeKeys, parityRelKey).
func (pt *parityTarget) setup(t *testing.T) {
	t.Helper()
	stmts := []string{
		"CREATE CONSTRAINT parity_person_key IF NOT EXISTS FOR (n:" + labelPerson + ") REQUIRE n.pid IS NODE KEY",
		"CREATE CONSTRAINT parity_company_key IF NOT EXISTS FOR (n:" + labelCompany + ") REQUIRE (n.cid, n.size) IS NODE KEY",
		"CREATE CONSTRAINT parity_knows_key IF NOT EXISTS FOR ()-[r:" + typeKnows + "]-() REQUIRE r.rid IS RELATIONSHIP KEY",
	}
	for _, q := range stmts {
		_, err := neo4j.ExecuteQuery(context.Background(), pt.writers[0].driver, q, nil, neo4j.EagerResultTransformer,
			neo4j.ExecuteQueryWithDatabase(pt.database))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// runParity checks the property: for each random workload and each random selector list,
// in-process matching over the unfiltered log equals db.cdc.query's filtering.
func runParity(t *testing.T, pt *parityTarget) {
	var st parityStats
	defer func() { t.Logf("%+v", st) }()
	rapid.Check(t, func(rt *rapid.T) {
		st.checks++
		c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		mode := rapid.SampledFrom([]string{"FULL", "DIFF"}).Draw(rt, "mode")
		pt.setMode(rt, mode)
		w := newParityWorkload(pt)
		w.wipe(c, rt)
		from, err := pt.src.Current(c, pt.database)
		if err != nil {
			rt.Fatalf("current: %v", err)
		}
		txs := rapid.IntRange(3, 10).Draw(rt, "transactions")
		switchAt := rapid.IntRange(0, txs).Draw(rt, "switch capture mode before transaction (txs: never)")
		for i := range txs {
			if i == switchAt {
				mode = map[string]string{"FULL": "DIFF", "DIFF": "FULL"}[mode]
				pt.setMode(rt, mode)
			}
			w.transaction(c, rt)
		}
		all := poll(c, rt, pt, from, nil)
		if len(all) == 0 {
			return // every change of the workload cancelled out (net effect)
		}
		st.changes += len(all)
		lastTx := all[len(all)-1].GetTxId()
		for round := range rapid.IntRange(4, 12).Draw(rt, "selector lists") {
			sels := w.focusedSelectors(rt, fmt.Sprintf("selectors %d", round), all)
			m, err := server.NewMatcher(sels)
			if err != nil {
				rt.Fatalf("NewMatcher: %v", err)
			}
			var want []*cdcstreamv1.ChangeEvent
			for _, ev := range all {
				if _, ok := m.Match(ev); ok {
					want = append(want, ev)
				}
			}
			var got []*cdcstreamv1.ChangeEvent
			for _, ev := range poll(c, rt, pt, from, sels) {
				if ev.GetTxId() <= lastTx { // a real server may have other writers
					got = append(got, ev)
				}
			}
			st.rounds++
			switch len(want) {
			case 0:
				st.selectedNone++
			case len(all):
				st.selectedAll++
			}
			if a, b := changeKeys(want), changeKeys(got); a != b {
				rt.Fatalf("in-process matching and db.cdc.query disagree\nselectors:\n%s\nin process: %s\ndb.cdc.query: %s\nlog:\n%s",
					describeSelectors(sels), a, b, describeLog(all))
			}
		}
	})
}

// parityStats shows that the random cases are not trivial: how many selector lists
// selected none, some or all of a workload's changes.
type parityStats struct {
	checks, changes, rounds, selectedNone, selectedAll int
}

// poll reads every change after from with the given selectors in one poll.
func poll(c context.Context, t *rapid.T, pt *parityTarget, from string, sels []*cdcstreamv1.Selector) []*cdcstreamv1.ChangeEvent {
	b, err := pt.src.Poll(c, server.PollRequest{Database: pt.database, From: from, Selectors: sels, Limit: parityLimit})
	if err != nil {
		t.Fatalf("poll with %d selectors: %v", len(sels), err)
	}
	if len(b.Changes) == parityLimit {
		t.Fatalf("poll returned %d changes, the limit: the workload is too large", len(b.Changes))
	}
	return b.Changes
}

// changeKeys renders the (txId, seq) sequence of changes.
func changeKeys(evs []*cdcstreamv1.ChangeEvent) string {
	var b strings.Builder
	b.WriteString("[")
	for i, ev := range evs {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%d/%d", ev.GetTxId(), ev.GetSeq())
	}
	b.WriteString("]")
	return b.String()
}

func describeSelectors(sels []*cdcstreamv1.Selector) string {
	var b strings.Builder
	for i, s := range sels {
		fmt.Fprintf(&b, "  [%d] %s\n", i, prototext.MarshalOptions{}.Format(s))
	}
	return b.String()
}

func describeLog(evs []*cdcstreamv1.ChangeEvent) string {
	var b strings.Builder
	for _, ev := range evs {
		c := &cdcstreamv1.ChangeEvent{TxId: ev.GetTxId(), Seq: ev.GetSeq(), Event: ev.GetEvent(), Metadata: &cdcstreamv1.Metadata{
			ExecutingUser: ev.GetMetadata().GetExecutingUser(), AuthenticatedUser: ev.GetMetadata().GetAuthenticatedUser(),
			CaptureMode: ev.GetMetadata().GetCaptureMode(), TxMetadata: ev.GetMetadata().GetTxMetadata()}}
		fmt.Fprintf(&b, "  %s\n", prototext.MarshalOptions{}.Format(c))
	}
	return b.String()
}
