// Command neo4jsim runs the Neo4j CDC simulator as a standalone Bolt 5.8 server: the real
// Neo4j drivers (Go, Python, JavaScript, Java) connect to it with bolt:// or neo4j:// and
// call db.cdc.current(), db.cdc.earliest() and db.cdc.query(). An optional workload
// generator commits transactions so that there are changes to read.
//
// Usage:
//
//	neo4jsim [--listen 127.0.0.1:7687] [--user neo4j] [--password password]
//	         [--database neo4j]... [--capture-mode FULL|DIFF] [--workload-rate 0]
//	         [--seed 1] [--retention 0]
//
// It logs one line per connection and per error to stderr and stops cleanly on SIGINT or
// SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/cdcstream/cdcstream/internal/neo4jsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "neo4jsim:", err)
		}
		os.Exit(2)
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	if v == "" {
		return errors.New("empty database name")
	}
	*l = append(*l, v)
	return nil
}

// run parses args, serves until ctx is done, then shuts the server down.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("neo4jsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:7687", "host:port to serve Bolt on")
	user := fs.String("user", "neo4j", "user name (an admin)")
	password := fs.String("password", "password", "password of --user")
	var databases stringList
	fs.Var(&databases, "database", "database name; repeat for several (default neo4j); the first is the default database")
	captureMode := fs.String("capture-mode", "FULL", "CDC enrichment mode: FULL or DIFF")
	rate := fs.Float64("workload-rate", 0, "workload transactions per second per database (0 = no workload)")
	seed := fs.Int64("seed", 1, "workload seed (deterministic changes)")
	retention := fs.Int("retention", 0, "transactions kept in each CDC log (0 = all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	mode := strings.ToUpper(*captureMode)
	if mode != neo4jsim.ModeFull && mode != neo4jsim.ModeDiff {
		return fmt.Errorf("--capture-mode must be FULL or DIFF, not %q", *captureMode)
	}
	if *rate < 0 || *retention < 0 {
		return errors.New("--workload-rate and --retention must not be negative")
	}
	if *user == "" {
		return errors.New("--user must not be empty")
	}
	if len(databases) == 0 {
		databases = stringList{"neo4j"}
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	dbms := neo4jsim.NewDBMS(neo4jsim.Config{
		Users:       []neo4jsim.User{{Name: *user, Password: *password, Admin: true}},
		Databases:   databases,
		CaptureMode: mode,
		Retention:   *retention,
	})
	srv, err := neo4jsim.NewServer(dbms, *listen, neo4jsim.WithLogger(logger))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "neo4jsim serving %s and %s (databases %s, capture mode %s)\n",
		srv.BoltURI(), srv.RoutingURI(), databases.String(), mode)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	// errs receives the first workload failure; it is buffered so no workload blocks.
	errs := make(chan error, len(databases))
	if *rate > 0 {
		for i, name := range dbms.DatabaseNames() {
			// The workload's connection metadata names this server, as a local client would see it.
			w := neo4jsim.NewWorkload(dbms.Database(name), *seed+int64(i), neo4jsim.WithSession(neo4jsim.Session{
				User: *user, ClientAddr: "127.0.0.1:50000", ServerAddr: srv.Addr(), TxMetadata: map[string]any{"app": "neo4jsim-workload"}}))
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := w.Run(ctx, *rate); err != nil {
					logger.Error("workload failed", "database", name, "err", err)
					errs <- fmt.Errorf("workload on %s: %w", name, err)
					cancel()
				}
			}()
		}
	}
	<-ctx.Done()
	wg.Wait()
	closeErr := srv.Close()
	logger.Info("neo4jsim stopped")
	select {
	case err := <-errs:
		return err
	default:
		return closeErr
	}
}
