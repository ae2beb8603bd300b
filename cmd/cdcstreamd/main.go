package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
	// The IANA time zone database, embedded: selector zone ids are validated against it
	// (server/zones.go) and a static image may have none on disk.
	_ "time/tzdata"
)

func main() {
	pinLocalZone()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "cdcstreamd:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "cdcstreamd:", err)
		os.Exit(1)
	}
}

// usageError marks errors in flags or environment (exit status 2).
type usageError struct{ error }

// run is the whole program: it returns when ctx is cancelled (after a graceful shutdown) or
// when start-up fails.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	logger := newLogger(cfg, stderr)
	_ = stdout
	return serve(ctx, cfg, logger, nil)
}

// pinLocalZone makes the process's local time zone a fixed UTC zone. neo4j-go-driver builds
// LOCAL DATETIME and LOCAL TIME values in time.Local and reads their wall clock back; in a zone
// with daylight saving time, a value inside a DST gap would silently move by an hour. A fixed
// zone has no gaps. It is a distinct *time.Location (not time.UTC), so a ZONED DATETIME whose
// zone id is "UTC" stays distinguishable from a local value. Logs are then in UTC too.
func pinLocalZone() {
	time.Local = time.FixedZone("UTC", 0)
}
