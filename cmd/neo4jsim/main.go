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
//	         [--fault-drop-every 0] [--fault-fail-fraction 0] [--fault-fail-code CODE]
//	         [--fault-fail-message MSG] [--fault-delay 0] [--fault-seed 1]
//	         [--admin-listen 127.0.0.1:PORT]
//
// The --fault-* flags put faults in force for the whole run (neo4jsim.FaultPlan): cut every
// Bolt connection every --fault-drop-every, fail a --fault-fail-fraction of the statements
// with --fault-fail-code (default Neo.TransientError.General.DatabaseUnavailable), delay every
// response by --fault-delay. The fail draws are seeded by --fault-seed: the k-th statement
// fails or not the same way on every run. --admin-listen (off by default, loopback only)
// serves the JSON admin API (neo4jsim.Server.AdminHandler) to inject faults and operate the
// CDC log while the server runs. internal/neo4jsim/README.md describes both.
//
// It logs one line per connection and per error to stderr and stops cleanly on SIGINT or
// SIGTERM. Invalid flags exit with status 2 and a message naming the flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

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
	var plan neo4jsim.FaultPlan
	fs.DurationVar(&plan.DropEvery, "fault-drop-every", 0, "cut every open Bolt connection once per interval, e.g. 5s (0 = never)")
	fs.Float64Var(&plan.FailFraction, "fault-fail-fraction", 0, "fraction of statements, 0 to 1, that fail with --fault-fail-code")
	fs.StringVar(&plan.FailCode, "fault-fail-code", neo4jsim.DefaultFaultCode, "Neo4j status code of the failed statements")
	fs.StringVar(&plan.FailMessage, "fault-fail-message", "", "message of the failed statements (default: Neo4j's message for the code)")
	fs.DurationVar(&plan.Delay, "fault-delay", 0, "delay every statement response by this much, sending NOOP keep-alives (0 = none)")
	fs.Int64Var(&plan.Seed, "fault-seed", 1, "seed of the --fault-fail-fraction draws (deterministic failures)")
	adminListen := fs.String("admin-listen", "", "loopback host:port for the JSON admin API, e.g. 127.0.0.1:7475 (default off)")
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
	if err := validatePlan(plan); err != nil {
		return err
	}
	if *adminListen != "" {
		if err := loopbackOnly(*adminListen); err != nil {
			return err
		}
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	dbms := neo4jsim.NewDBMS(neo4jsim.Config{
		Users:       []neo4jsim.User{{Name: *user, Password: *password, Admin: true}},
		Databases:   databases,
		CaptureMode: mode,
		Retention:   *retention,
	})
	srv, err := neo4jsim.NewServer(dbms, *listen, neo4jsim.WithLogger(logger), neo4jsim.WithFaultPlan(plan))
	if err != nil {
		return fmt.Errorf("--listen %q: %w", *listen, err)
	}
	fmt.Fprintf(stdout, "neo4jsim serving %s and %s (databases %s, capture mode %s)\n",
		srv.BoltURI(), srv.RoutingURI(), databases.String(), mode)
	if plan.DropEvery > 0 || plan.FailFraction > 0 || plan.Delay > 0 {
		fmt.Fprintf(stdout, "neo4jsim faults: drop every %v, fail %v of statements with %s (seed %d), delay %v\n",
			plan.DropEvery, plan.FailFraction, plan.FailCode, plan.Seed, plan.Delay)
	}
	var adminSrv *http.Server
	// adminDone receives the admin server's exit; buffered so it never blocks.
	adminDone := make(chan error, 1)
	if *adminListen != "" {
		ln, err := net.Listen("tcp", *adminListen)
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("--admin-listen: %w", err)
		}
		adminSrv = &http.Server{Handler: srv.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
		fmt.Fprintf(stdout, "neo4jsim admin API on http://%s\n", ln.Addr())
		go func() { adminDone <- adminSrv.Serve(ln) }()
	}

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
	if adminSrv != nil {
		shutCtx, shutCancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = adminSrv.Shutdown(shutCtx)
		shutCancel()
		if err := <-adminDone; !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin API failed", "err", err)
		}
	}
	closeErr := srv.Close()
	logger.Info("neo4jsim stopped")
	select {
	case err := <-errs:
		return err
	default:
		return closeErr
	}
}

// planFlags names the flag of each FaultPlan field.
var planFlags = map[string]string{"DropEvery": "--fault-drop-every", "FailFraction": "--fault-fail-fraction",
	"FailCode": "--fault-fail-code", "Delay": "--fault-delay"}

// validatePlan checks the --fault-* flags with the plan's own validation, naming the flag at
// fault.
func validatePlan(p neo4jsim.FaultPlan) error {
	err := p.Validate()
	var pe *neo4jsim.FaultPlanError
	if errors.As(err, &pe) && planFlags[pe.Field] != "" {
		return fmt.Errorf("%s %s", planFlags[pe.Field], pe.Reason)
	}
	return err
}

// loopbackOnly checks that addr is host:port on a loopback address: the admin API has no
// authentication.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--admin-listen %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--admin-listen %q: the admin API has no authentication, so it listens on loopback only (127.0.0.1, ::1 or localhost)", addr)
	}
	return nil
}
