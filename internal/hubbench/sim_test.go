package hubbench

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/cdcstream/cdcstream/internal/neo4jsim"
)

// The simulator's one admin user and database, which every client of the benchmarks uses.
const (
	simUser     = "neo4j"
	simPassword = "password"
	simDatabase = "neo4j"
)

// demoRate is the demo workload's rate in transactions per second: the load under which the
// issue's figures were taken.
const demoRate = 100

// quietLogger discards logs: the benchmarks judge by counters and what clients receive.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// sim is a simulator serving Bolt on 127.0.0.1 port 0, closed when the benchmark ends.
type sim struct {
	srv *neo4jsim.Server
	db  *neo4jsim.Database
	// w is the one demo workload writing to db (two would collide on its keys), used by
	// preload and then by runWorkload.
	w *neo4jsim.Workload
}

func startSim(tb testing.TB) *sim {
	tb.Helper()
	dbms := neo4jsim.NewDBMS(neo4jsim.Config{
		Users:       []neo4jsim.User{{Name: simUser, Password: simPassword, Admin: true}},
		Databases:   []string{simDatabase},
		CaptureMode: neo4jsim.ModeFull,
	})
	srv, err := neo4jsim.NewServer(dbms, "127.0.0.1:0", neo4jsim.WithLogger(quietLogger()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	s := &sim{srv: srv, db: dbms.Database(simDatabase)}
	s.w = s.workload(1)
	return s
}

// workload returns the demo workload (what cmd/neo4jsim and cdcstreamd --demo run): the same
// session and transaction metadata, so the changes are those of the measurements.
func (s *sim) workload(seed int64) *neo4jsim.Workload {
	return neo4jsim.NewWorkload(s.db, seed, neo4jsim.WithSession(neo4jsim.Session{
		User: simUser, ClientAddr: "127.0.0.1:50000", ServerAddr: s.srv.Addr(),
		TxMetadata: map[string]any{"app": "neo4jsim-workload"}}))
}

// changes returns the number of changes in the log, all of which a reader from EARLIEST sees.
func (s *sim) changes(tb testing.TB) int {
	tb.Helper()
	from, err := s.db.Earliest()
	if err != nil {
		tb.Fatal(err)
	}
	_, n, err := s.db.QueryIter(neo4jsim.User{Name: simUser, Admin: true}, from, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// preload commits demo workload transactions until the log holds at least n changes and
// returns the number it holds.
func (s *sim) preload(tb testing.TB, n int) int {
	tb.Helper()
	for {
		have := s.changes(tb)
		if have >= n {
			return have
		}
		// A transaction makes 1.5 changes on average: stepping (n-have)/2 at a time overshoots
		// by at most a few changes.
		for range max(1, (n-have)/2) {
			if _, err := s.w.Step(); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// runWorkload runs the demo workload at rate until the benchmark ends; preload must not be
// called after it.
func (s *sim) runWorkload(tb testing.TB, rate float64) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1) // the workload's result; buffered so Run never blocks on it
	go func() { done <- s.w.Run(ctx, rate) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("workload: %v", err)
		}
	})
}

// statements is the simulator's count of Bolt RUN requests so far: every statement any
// client sent (the workload writes in process and sends none).
func (s *sim) statements() int64 { return s.srv.Stats().Statements }

// openDriver returns a neo4j-go-driver v5 driver to the simulator, closed when the benchmark
// ends.
func openDriver(tb testing.TB, uri string) neo4j.DriverWithContext {
	tb.Helper()
	drv, err := neo4j.NewDriverWithContext(uri, neo4j.BasicAuth(simUser, simPassword, ""))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := drv.VerifyConnectivity(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = drv.Close(context.Background()) })
	return drv
}
