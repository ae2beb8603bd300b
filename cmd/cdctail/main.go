// Command cdctail follows a cdcstream change stream and prints one JSON object per change,
// shaped like a Neo4j CDC record (id, txId, seq, event, metadata) plus the database. It resumes
// by itself through the client library and, with --checkpoint-file, continues after a restart
// exactly where the previous run stopped.
//
// Exit codes: 0 ok (including --max-events reached and interruption), 1 other errors, 2 bad
// flags, 3 server unreachable, 4 cursor expired.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // zone ids in temporal values render with their offsets on any host

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/cdcstream/cdcstream/client"
	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Exit codes, as documented in the usage text.
const (
	exitOK          = 0
	exitOther       = 1
	exitUsage       = 2
	exitUnreachable = 3
	exitExpired     = 4
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stdout)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "cdctail:", err)
		fmt.Fprintln(stderr, "Run 'cdctail -help' for usage.")
		return exitUsage
	}
	conn, err := dial(ctx, cfg, stderr)
	if err != nil {
		var ue unreachableError
		if errors.As(err, &ue) {
			fmt.Fprintln(stderr, "cdctail:", err)
			return exitUnreachable
		}
		fmt.Fprintln(stderr, "cdctail:", err)
		return exitUsage
	}
	defer conn.Close()

	c := client.New(conn,
		client.WithExpiredPolicy(cfg.expiredPolicy),
		client.WithMaxRetries(cfg.maxRetries),
	)
	var subOpts []client.SubscribeOption
	if cfg.checkpointFile != "" {
		subOpts = append(subOpts, client.WithCheckpointStore(client.NewFileStore(cfg.checkpointFile)))
	}
	sub := c.Subscribe(ctx, cfg.request(), subOpts...)
	defer sub.Close()

	out := newPrinter(stdout, cfg.format)
	changes := 0
	for sub.Receive() {
		msg := sub.Msg()
		var perr error
		switch {
		case sub.Gap() != nil:
			perr = out.gap(sub.Gap())
		case msg.GetChange() != nil:
			perr = out.change(msg.GetChange())
			changes++
		case msg.GetTransactionEnd() != nil:
			perr = out.transactionEnd(msg.GetTransactionEnd())
		case msg.GetCheckpoint() != nil && cfg.checkpoints:
			perr = out.checkpoint(msg.GetCheckpoint())
		case msg.GetSnapshotRecord() != nil:
			perr = out.snapshotRecord(msg.GetSnapshotRecord())
		case msg.GetSnapshotEnd() != nil:
			perr = out.snapshotEnd(msg.GetSnapshotEnd())
		case msg.GetSnapshotProgress() != nil && cfg.checkpoints:
			perr = out.snapshotProgress(msg.GetSnapshotProgress())
		}
		if perr != nil {
			fmt.Fprintln(stderr, "cdctail: write output:", perr)
			return exitOther
		}
		if cfg.checkpointFile != "" {
			if err := sub.Commit(ctx); err != nil {
				if ctx.Err() != nil {
					// Interrupted (SIGINT/SIGTERM) while saving: the change is printed and its
					// cursor may not be saved, so it may print again next run (at least once,
					// as documented), but the run ends normally.
					return exitOK
				}
				fmt.Fprintln(stderr, "cdctail: commit checkpoint:", err)
				return exitOther
			}
		}
		if cfg.maxEvents > 0 && changes >= cfg.maxEvents && (!cfg.transactionMarkers || msg.GetTransactionEnd() != nil) {
			// With --transaction-markers the run ends after the marker of the transaction that
			// reached the limit, so every transaction printed is whole.
			return exitOK
		}
	}
	return exitCode(sub.Err(), stderr)
}

// exitCode reports the error that ended the subscription and maps it to an exit code.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return exitOK
	case client.IsCursorExpired(err):
		fmt.Fprintln(stderr, "cdctail:", err)
		if c := client.EarliestCursor(err); c != nil {
			fmt.Fprintf(stderr, "cdctail: the earliest retained cursor is %q; continue with --from %s, or --earliest\n", c.GetId(), c.GetId())
		}
		return exitExpired
	case status.Code(err) == codes.Unavailable:
		fmt.Fprintln(stderr, "cdctail: server unavailable:", describe(err))
		return exitUnreachable
	default:
		fmt.Fprintln(stderr, "cdctail:", describe(err))
		return exitOther
	}
}

// describe renders an error for stderr: "Code: message (reason REASON)" for gRPC statuses.
func describe(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return err.Error()
	}
	msg := st.Code().String() + ": " + st.Message()
	if r := client.Reason(err); r != "" {
		msg += " (reason " + r + ")"
	}
	return msg
}

// request builds the SubscribeRequest the flags describe.
func (c *config) request() *cdcstreamv1.SubscribeRequest {
	req := &cdcstreamv1.SubscribeRequest{Database: c.database, Selectors: c.selectors, Patterns: c.patterns, Snapshot: c.snapshot,
		TransactionMarkers: c.transactionMarkers}
	switch {
	case c.from != "":
		req.Start = &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: &cdcstreamv1.Cursor{Id: c.from, Database: c.database}}
	case c.earliest:
		req.Start = &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST}
	}
	if c.checkpointInterval > 0 {
		req.CheckpointInterval = durationpb.New(c.checkpointInterval)
	}
	return req
}
