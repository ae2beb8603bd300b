package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cdcstream/cdcstream/client"
	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server/pattern"
)

// errHelp ends run successfully after -help printed the usage.
var errHelp = errors.New("help requested")

// usageText heads the flag list of -help.
const usageText = `Usage: cdctail [flags]

cdctail follows a cdcstream change stream and prints one JSON object per change, shaped like a
Neo4j CDC record: {"id", "txId", "seq", "event", "metadata", "database"}. Temporal values are
ISO-8601 strings, integers are exact, bytes are base64, points are {"srid","x","y","z"}.

Start: --checkpoint-file's stored cursor if any, else --from, else --earliest, else now.
--transaction-markers prints {"transactionEnd": {"txId", "commitTime", "changeCount",
"cursor"}} after each transaction's last change: apply the changes before it as one unit;
--max-events then exits after the marker of the transaction that reached the limit.
--snapshot initial first prints the current state ({"snapshot": ...} lines, then one
{"snapshotEnd": ...}), then the changes after it; --snapshot only exits 0 after the state.

Selectors are JSON of the cdcstream.v1.Selector message (protojson), OR-ed when repeated:
  --selector '{"node": {"labels": ["Person"], "operation": "OPERATION_UPDATE"}}'
  --selector '{"relationship": {"type": "KNOWS", "key": {"id": {"integerValue": "42"}}}}'

Patterns are selectors in the grammar of Neo4j's Kafka connector (docs/patterns.md), OR-ed with
--selector and with each other; {prop}, {+prop}, {-prop} and {*} choose the properties sent:
  --pattern '(:Person{name,-age})'
  --pattern '(:Person{id: 42})-[:KNOWS{since}]->(:Person)'

Exit codes: 0 ok (also --max-events reached, interrupted), 1 other error, 2 bad flags,
3 server unreachable, 4 cursor expired (the earliest retained cursor is printed on stderr).

Flags:
`

// config is the parsed command line.
type config struct {
	address            string
	database           string
	from               string
	earliest           bool
	selectors          []*cdcstreamv1.Selector
	patterns           []string
	checkpointFile     string
	maxEvents          int
	checkpoints        bool
	format             string
	checkpointInterval time.Duration
	expiredPolicy      client.ExpiredPolicy
	maxRetries         int
	connectTimeout     time.Duration
	tls                bool
	tlsCA              string
	tlsCert            string
	tlsKey             string
	tlsServerName      string
	tokenFile          string
	snapshot           cdcstreamv1.SnapshotMode
	transactionMarkers bool
}

// parseFlags parses args; errors are usage errors (exit 2), errHelp after -help printed the
// usage to stdout.
func parseFlags(args []string, stdout io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("cdctail", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run reports parse errors itself, in one line
	fs.Usage = func() {}
	stringFlag(fs, &c.address, "address", "a", "127.0.0.1:50051", "cdcstream server `host:port`")
	stringFlag(fs, &c.database, "database", "d", "", "Neo4j `database` to follow (default: the server's default database)")
	stringFlag(fs, &c.from, "from", "f", "", "start strictly after this cursor `id` (from a change, a checkpoint or GetCursor)")
	fs.BoolVar(&c.earliest, "earliest", false, "start at the earliest retained change")
	fs.Func("selector", "a Selector as protojson `JSON`; repeatable (OR)", func(s string) error {
		sel, err := decodeSelector(s)
		if err != nil {
			return err
		}
		c.selectors = append(c.selectors, sel)
		return nil
	})
	fs.Func("pattern", "a selector in the Kafka connector's pattern `grammar`, e.g. '(:Person{name,-age})'; repeatable (OR)", func(s string) error {
		// The server parses it too; checking here turns a typo into exit 2 before connecting.
		if _, err := pattern.Parse(s); err != nil {
			return err
		}
		c.patterns = append(c.patterns, s)
		return nil
	})
	fs.StringVar(&c.checkpointFile, "checkpoint-file", "", "store the cursor in this `file` after each message and start from it when it exists")
	fs.IntVar(&c.maxEvents, "max-events", 0, "exit 0 after `n` changes (0: follow forever)")
	fs.BoolVar(&c.checkpoints, "checkpoints", false, `also print checkpoints as {"checkpoint": {...}} lines`)
	fs.BoolVar(&c.transactionMarkers, "transaction-markers", false, `print {"transactionEnd": {...}} after the last change of each transaction`)
	fs.StringVar(&c.format, "format", "json", "output `format`: json (one object per line) or pretty (indented)")
	fs.DurationVar(&c.checkpointInterval, "checkpoint-interval", 0, "ask the server for a checkpoint after this much silence (1s..5m; default: the server's, 10s)")
	snapshot := fs.String("snapshot", "", "start with the current state: initial (then the changes) or only (then exit 0); none by default")
	expired := fs.String("on-expired", "fail", "when the cursor expired: fail (exit 4), earliest or now (restart there and print a {\"gap\": {...}} line)")
	fs.IntVar(&c.maxRetries, "max-retries", 0, "give up after `n` consecutive failed reconnects (0: retry forever)")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", 10*time.Second, "how long to wait for the first connection before exiting with code 3")
	fs.BoolVar(&c.tls, "tls", false, "connect with TLS (implied by the other --tls-* flags)")
	fs.StringVar(&c.tlsCA, "tls-ca", "", "trust the CA certificates in this PEM `file` instead of the system roots")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "client certificate PEM `file` for mutual TLS (with --tls-key)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "client private key PEM `file` for mutual TLS (with --tls-cert)")
	fs.StringVar(&c.tlsServerName, "tls-server-name", "", "verify the server certificate against this `name` instead of the address's host")
	fs.StringVar(&c.tokenFile, "token-file", "", "send the token in this `file` as 'authorization: Bearer <token>' metadata")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprint(stdout, usageText)
			fs.PrintDefaults()
			return nil, errHelp
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if c.from != "" && c.earliest {
		return nil, errors.New("--from and --earliest are exclusive")
	}
	mode, err := parseSnapshotMode(*snapshot)
	if err != nil {
		return nil, err
	}
	c.snapshot = mode
	if mode != cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_NONE && (c.from != "" || c.earliest) {
		return nil, errors.New("--snapshot starts at the current state: not with --from or --earliest")
	}
	if c.format != "json" && c.format != "pretty" {
		return nil, fmt.Errorf("--format %q: want json or pretty", c.format)
	}
	if c.maxEvents < 0 || c.maxRetries < 0 {
		return nil, errors.New("--max-events and --max-retries must not be negative")
	}
	if c.checkpointInterval != 0 && (c.checkpointInterval < time.Second || c.checkpointInterval > 5*time.Minute) {
		return nil, fmt.Errorf("--checkpoint-interval %v: allowed range is 1s..5m", c.checkpointInterval)
	}
	if c.connectTimeout <= 0 {
		return nil, errors.New("--connect-timeout must be positive")
	}
	switch *expired {
	case "fail":
		c.expiredPolicy = client.ExpiredFail
	case "earliest":
		c.expiredPolicy = client.ExpiredRestartEarliest
	case "now":
		c.expiredPolicy = client.ExpiredRestartNow
	default:
		return nil, fmt.Errorf("--on-expired %q: want fail, earliest or now", *expired)
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if c.tlsCA != "" || c.tlsCert != "" || c.tlsServerName != "" {
		c.tls = true
	}
	return c, nil
}

// stringFlag registers a string flag under a long and a short name.
func stringFlag(fs *flag.FlagSet, p *string, long, short, value, usage string) {
	fs.StringVar(p, long, value, usage)
	fs.StringVar(p, short, value, "short for --"+long)
}

// decodeSelector parses one --selector value: protojson of cdcstream.v1.Selector with exactly
// one kind set. Unknown fields are errors, so typos do not silently widen the selection.
func decodeSelector(s string) (*cdcstreamv1.Selector, error) {
	sel := &cdcstreamv1.Selector{}
	if err := protojson.Unmarshal([]byte(s), sel); err != nil {
		return nil, fmt.Errorf("not a cdcstream.v1.Selector: %s", strings.TrimSpace(err.Error()))
	}
	if sel.GetKind() == nil {
		return nil, errors.New(`a selector needs one of "entity", "node" or "relationship"`)
	}
	return sel, nil
}
