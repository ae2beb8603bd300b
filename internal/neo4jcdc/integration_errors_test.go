package neo4jcdc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"

	"github.com/cdcstream/cdcstream/internal/neo4jcdc"
	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/server"
)

// Error classes end to end: the real driver against the simulator.

func TestIntegrationErrors(t *testing.T) {
	s := startSim(t, func(c *neo4jsim.Config) { c.Databases = []string{"neo4j", "other", "off"} })
	db := s.dbms.Database("neo4j")
	src := open(t, s.srv.BoltURI())
	c := ctx(t)
	before := must(src.Current(c, "neo4j"))(t)
	for i := range 5 {
		write(t, db, neo4jsim.Session{}, func(tx *neo4jsim.Tx) error {
			_, err := tx.CreateNode(nil, map[string]any{"i": int64(i)})
			return err
		})
	}
	b := must(src.Poll(c, server.PollRequest{Database: "neo4j", From: before, Selectors: nil, Limit: 2}))(t)
	oldCursor := b.Changes[0].GetCursor().GetId()
	otherCursor := must(src.Current(c, "other"))(t)
	if err := s.dbms.Database("off").SetCaptureMode("OFF"); err != nil {
		t.Fatal(err)
	}

	check := func(t *testing.T, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("err = %v, want %v", err, want)
		}
		for _, other := range []error{server.ErrInvalidCursor, server.ErrCursorExpired, server.ErrFutureCursor,
			server.ErrInvalidSelector, server.ErrCDCDisabled, server.ErrDatabaseNotFound, server.ErrNeo4jAuth, server.ErrNeo4jUnavailable} {
			if other != want && errors.Is(err, other) {
				t.Fatalf("err = %v is also %v", err, other)
			}
		}
	}
	poll := func(database, from string) error {
		_, err := src.Poll(c, server.PollRequest{Database: database, From: from, Selectors: nil, Limit: 10})
		return err
	}
	t.Run("garbage cursor", func(t *testing.T) { check(t, poll("neo4j", "not-a-cursor"), server.ErrInvalidCursor) })
	t.Run("cursor of another database", func(t *testing.T) { check(t, poll("neo4j", otherCursor), server.ErrInvalidCursor) })
	t.Run("CDC off", func(t *testing.T) {
		check(t, poll("off", ""), server.ErrCDCDisabled)
		_, err := src.Current(c, "off")
		check(t, err, server.ErrCDCDisabled)
		_, err = src.Earliest(c, "off")
		check(t, err, server.ErrCDCDisabled)
	})
	t.Run("unknown database", func(t *testing.T) {
		check(t, poll("nope", ""), server.ErrDatabaseNotFound)
		_, err := src.Current(c, "nope")
		check(t, err, server.ErrDatabaseNotFound)
	})
	t.Run("pruned cursor", func(t *testing.T) {
		db.Prune(1)
		check(t, poll("neo4j", oldCursor), server.ErrCursorExpired)
	})
	t.Run("future cursor", func(t *testing.T) {
		// A member that has not yet seen the cursor's transaction: a second DBMS with the
		// same store UUID and a shorter log.
		uuid := "0c0ffee0-0000-4000-8000-000000000001"
		ahead := startSim(t, func(c *neo4jsim.Config) { c.DatabaseUUIDs = map[string]string{"neo4j": uuid} })
		behind := startSim(t, func(c *neo4jsim.Config) { c.DatabaseUUIDs = map[string]string{"neo4j": uuid} })
		for range 3 {
			write(t, ahead.dbms.Database("neo4j"), neo4jsim.Session{}, func(tx *neo4jsim.Tx) error {
				_, err := tx.CreateNode(nil, nil)
				return err
			})
		}
		cur := must(open(t, ahead.srv.BoltURI()).Current(c, "neo4j"))(t)
		_, err := open(t, behind.srv.BoltURI()).Poll(c, server.PollRequest{Database: "neo4j", From: cur, Selectors: nil, Limit: 10})
		check(t, err, server.ErrFutureCursor)
	})
	t.Run("not an admin", func(t *testing.T) {
		reader := openAs(t, s.srv.BoltURI(), "reader", "secret")
		check(t, func() error {
			_, err := reader.Poll(c, server.PollRequest{Database: "neo4j", From: "", Selectors: nil, Limit: 10})
			return err
		}(), server.ErrNeo4jAuth)
	})
	t.Run("wrong password", func(t *testing.T) {
		_, err := neo4jcdc.Open(c, s.srv.BoltURI(), adminUser, "wrong")
		check(t, err, server.ErrNeo4jAuth)
	})
	t.Run("transient failure retried", func(t *testing.T) {
		retrying := open(t, s.srv.BoltURI(), neo4jcdc.WithMaxRetryTime(20*time.Second))
		head := must(retrying.Current(c, "neo4j"))(t)
		s.srv.FailNext(1, "Neo.TransientError.Transaction.DeadlockDetected", "injected")
		got, err := retrying.Poll(c, server.PollRequest{Database: "neo4j", From: head, Selectors: nil, Limit: 10})
		if err != nil || got.Current != head {
			t.Fatalf("Poll after one transient failure = %v, %v; want success at %q", got, err, head)
		}
	})
	t.Run("transient failures exhaust retries", func(t *testing.T) {
		s.srv.FailNext(1000, "Neo.TransientError.Transaction.DeadlockDetected", "injected")
		t.Cleanup(func() { s.srv.FailNext(0, "", "") })
		check(t, poll("neo4j", ""), server.ErrNeo4jUnavailable)
	})
	t.Run("dropped connections are redialled", func(t *testing.T) {
		head := must(src.Current(c, "neo4j"))(t)
		s.srv.DropConnections()
		got, err := src.Poll(c, server.PollRequest{Database: "neo4j", From: head, Selectors: nil, Limit: 10})
		if err != nil || got.Current != head {
			t.Fatalf("Poll after dropped connections = %v, %v; want success at %q", got, err, head)
		}
	})
	t.Run("through neo4j:// routing", func(t *testing.T) {
		routed := open(t, s.srv.RoutingURI())
		for _, tc := range []struct {
			database, from string
			want           error
		}{
			{"neo4j", "not-a-cursor", server.ErrInvalidCursor},
			{"neo4j", oldCursor, server.ErrCursorExpired},
			{"off", "", server.ErrCDCDisabled},
			{"nope", "", server.ErrDatabaseNotFound},
		} {
			_, err := routed.Poll(c, server.PollRequest{Database: tc.database, From: tc.from, Selectors: nil, Limit: 10})
			check(t, err, tc.want)
		}
		_, err := openAs(t, s.srv.RoutingURI(), "reader", "secret").Poll(c, server.PollRequest{Database: "neo4j", From: "", Selectors: nil, Limit: 10})
		check(t, err, server.ErrNeo4jAuth)
	})
	t.Run("caller cancels", func(t *testing.T) {
		cc, cancel := context.WithCancel(c)
		cancel()
		_, err := src.Poll(cc, server.PollRequest{Database: "neo4j", From: "", Selectors: nil, Limit: 10})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("bad limit", func(t *testing.T) {
		if _, err := src.Poll(c, server.PollRequest{Database: "neo4j", From: "", Selectors: nil, Limit: 0}); err == nil {
			t.Fatal("Poll with limit 0 succeeded")
		}
	})
	t.Run("simulator closed", func(t *testing.T) {
		gone := startSim(t)
		goneSrc := open(t, gone.srv.BoltURI())
		if err := goneSrc.Ping(c); err != nil {
			t.Fatalf("Ping before close: %v", err)
		}
		if err := gone.srv.Close(); err != nil {
			t.Fatal(err)
		}
		check(t, poll2(c, goneSrc), server.ErrNeo4jUnavailable)
		check(t, goneSrc.Ping(c), server.ErrNeo4jUnavailable)
		_, err := neo4jcdc.Open(c, gone.srv.BoltURI(), adminUser, adminPassword)
		check(t, err, server.ErrNeo4jUnavailable)
	})
}

// TestIntegrationNew covers a caller-owned driver: New uses it, Close leaves it open, and a
// driver with a wrong password yields ErrNeo4jAuth from every call.
func TestIntegrationNew(t *testing.T) {
	s := startSim(t)
	c := ctx(t)
	newDriver := func(password string) neo4j.DriverWithContext {
		d, err := neo4j.NewDriverWithContext(s.srv.BoltURI(), neo4j.BasicAuth(adminUser, password, ""),
			func(cfg *config.Config) { cfg.MaxTransactionRetryTime = 300 * time.Millisecond })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := d.Close(context.Background()); err != nil {
				t.Errorf("closing driver: %v", err)
			}
		})
		return d
	}
	d := newDriver(adminPassword)
	src := neo4jcdc.New(d, neo4jcdc.WithTxTimeout(5*time.Second))
	head := must(src.Current(c, "neo4j"))(t)
	if err := src.Close(c); err != nil {
		t.Fatal(err)
	}
	if err := d.VerifyConnectivity(c); err != nil {
		t.Fatalf("the caller's driver was closed by Source.Close: %v", err)
	}
	if b, err := src.Poll(c, server.PollRequest{Database: "neo4j", From: head, Selectors: nil, Limit: 5}); err != nil || b.Current != head {
		t.Fatalf("Poll = %v, %v", b, err)
	}

	bad := neo4jcdc.New(newDriver("wrong"))
	if err := bad.Ping(c); !errors.Is(err, server.ErrNeo4jAuth) {
		t.Errorf("Ping with a wrong password: %v, want ErrNeo4jAuth", err)
	}
	if _, err := bad.Poll(c, server.PollRequest{Database: "neo4j", From: head, Selectors: nil, Limit: 5}); !errors.Is(err, server.ErrNeo4jAuth) {
		t.Errorf("Poll with a wrong password: %v, want ErrNeo4jAuth", err)
	}
	if _, err := bad.Earliest(c, "neo4j"); !errors.Is(err, server.ErrNeo4jAuth) {
		t.Errorf("Earliest with a wrong password: %v, want ErrNeo4jAuth", err)
	}
}

func poll2(c context.Context, src *neo4jcdc.Source) error {
	_, err := src.Poll(c, server.PollRequest{Database: "neo4j", From: "", Selectors: nil, Limit: 10})
	return err
}
