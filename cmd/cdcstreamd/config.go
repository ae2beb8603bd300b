package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cdcstream/cdcstream/server"
)

// config is everything cdcstreamd is told by flags and environment variables.
type config struct {
	listen             string
	neo4jURI           string
	neo4jUser          string
	neo4jPassword      string // only from NEO4J_PASSWORD or --neo4j-password-file
	neo4jPasswordFile  string
	database           string
	pollInterval       time.Duration
	batchLimit         int
	sharedTail         bool
	tailWindowBytes    int64
	maxInFlightBytes   int64
	snapshotChunk      int
	maxSnapshots       int
	checkpointInterval time.Duration
	maxSubscriptions   int
	maxSelectorBytes   int
	maxMessageBytes    int
	shutdownGrace      time.Duration
	logFormat          string
	logLevel           string
	demo               bool
	demoRate           float64
	demoSeed           int64
	demoPreload        int
	hardening          *hardeningConfig // TLS, tokens, metrics, limits (hardening.go)
}

// errHelp is returned when -h/--help was asked for; run prints usage and exits 0.
var errHelp = flag.ErrHelp

// envOr returns the environment variable's value when set, else def.
func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// envInt, envDuration and envBool read a typed environment variable as a flag's default;
// an unset or unparseable value gives def (the flag's own parsing then reports bad flags).
func envInt(getenv func(string) string, key string, def int) int {
	if n, err := strconv.Atoi(getenv(key)); err == nil {
		return n
	}
	return def
}

func envDuration(getenv func(string) string, key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(getenv(key)); err == nil {
		return d
	}
	return def
}

func envInt64(getenv func(string) string, key string, def int64) int64 {
	if n, err := strconv.ParseInt(getenv(key), 10, 64); err == nil {
		return n
	}
	return def
}

// envBoolOr is envBool with a default for an unset or unparsable variable.
func envBoolOr(getenv func(string) string, key string, def bool) bool {
	if b, err := strconv.ParseBool(getenv(key)); err == nil {
		return b
	}
	return def
}

func envBool(getenv func(string) string, key string) bool {
	b, _ := strconv.ParseBool(getenv(key))
	return b
}

// parseConfig reads flags, with environment variables as defaults, and validates them.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("cdcstreamd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "cdcstreamd serves Neo4j Change Data Capture as resumable gRPC streams.\n\nUsage: cdcstreamd [flags]\n\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nThe Neo4j password is read only from NEO4J_PASSWORD or --neo4j-password-file, never from a flag value.\n")
	}
	fs.StringVar(&c.listen, "listen", envOr(getenv, "CDCSTREAM_LISTEN", "127.0.0.1:50051"), "gRPC listen address (env CDCSTREAM_LISTEN)")
	fs.StringVar(&c.neo4jURI, "neo4j-uri", envOr(getenv, "NEO4J_URI", "neo4j://localhost:7687"), "Neo4j URI, bolt:// or neo4j:// (env NEO4J_URI)")
	fs.StringVar(&c.neo4jUser, "neo4j-user", envOr(getenv, "NEO4J_USERNAME", "neo4j"), "Neo4j user (env NEO4J_USERNAME)")
	fs.StringVar(&c.neo4jPasswordFile, "neo4j-password-file", envOr(getenv, "NEO4J_PASSWORD_FILE", ""), "file holding the Neo4j password (env NEO4J_PASSWORD_FILE); else env NEO4J_PASSWORD")
	fs.StringVar(&c.database, "database", envOr(getenv, "NEO4J_DATABASE", server.DefaultDatabase), "default database for requests that name none (env NEO4J_DATABASE)")
	fs.DurationVar(&c.pollInterval, "poll-interval", envDuration(getenv, "CDCSTREAM_POLL_INTERVAL", server.DefaultPollInterval),
		fmt.Sprintf("wait between polls of an idle subscription, %v..%v (env CDCSTREAM_POLL_INTERVAL)", server.MinPollInterval, server.MaxPollInterval))
	fs.IntVar(&c.batchLimit, "batch-limit", envInt(getenv, "CDCSTREAM_BATCH_LIMIT", server.DefaultBatchLimit),
		fmt.Sprintf("changes per Neo4j query (LIMIT), 1..%d (env CDCSTREAM_BATCH_LIMIT)", server.MaxBatchLimit))
	fs.BoolVar(&c.sharedTail, "shared-tail", envBoolOr(getenv, "CDCSTREAM_SHARED_TAIL", true),
		"one Neo4j read per database for all subscriptions, selectors evaluated in process; false: every subscription polls Neo4j with its selectors (env CDCSTREAM_SHARED_TAIL)")
	fs.Int64Var(&c.tailWindowBytes, "tail-window-bytes", envInt64(getenv, "CDCSTREAM_TAIL_WINDOW_BYTES", server.DefaultTailWindowBytes),
		fmt.Sprintf("encoded bytes of recent changes each database's shared tail keeps for its subscriptions, %d..%d (env CDCSTREAM_TAIL_WINDOW_BYTES)", server.MinTailWindowBytes, int64(server.MaxTailWindowBytes)))
	fs.Int64Var(&c.maxInFlightBytes, "max-inflight-bytes", envInt64(getenv, "CDCSTREAM_MAX_INFLIGHT_BYTES", server.DefaultMaxInFlightBytes),
		fmt.Sprintf("encoded bytes read by per-subscription polls and not sent yet, across all streams, %d..%d (env CDCSTREAM_MAX_INFLIGHT_BYTES)", server.MinMaxInFlightBytes, int64(server.MaxMaxInFlightBytes)))
	fs.IntVar(&c.snapshotChunk, "snapshot-chunk-size", envInt(getenv, "CDCSTREAM_SNAPSHOT_CHUNK_SIZE", server.DefaultSnapshotChunkSize),
		fmt.Sprintf("entities per snapshot read (LIMIT), the bound of a snapshotting stream's memory, 1..%d (env CDCSTREAM_SNAPSHOT_CHUNK_SIZE)", server.MaxSnapshotChunkSize))
	fs.IntVar(&c.maxSnapshots, "max-snapshots", envInt(getenv, "CDCSTREAM_MAX_SNAPSHOTS", server.DefaultMaxSnapshots),
		"maximum subscriptions taking a snapshot at once; more get RESOURCE_EXHAUSTED (env CDCSTREAM_MAX_SNAPSHOTS)")
	fs.DurationVar(&c.checkpointInterval, "checkpoint-interval", envDuration(getenv, "CDCSTREAM_CHECKPOINT_INTERVAL", server.DefaultCheckpointInterval),
		fmt.Sprintf("default quiet time before a checkpoint, %v..%v (env CDCSTREAM_CHECKPOINT_INTERVAL)", server.MinCheckpointInterval, server.MaxCheckpointInterval))
	fs.IntVar(&c.maxSubscriptions, "max-subscriptions", envInt(getenv, "CDCSTREAM_MAX_SUBSCRIPTIONS", server.DefaultMaxSubscriptions), "maximum concurrent subscriptions (env CDCSTREAM_MAX_SUBSCRIPTIONS)")
	fs.IntVar(&c.maxSelectorBytes, "max-selector-bytes", envInt(getenv, "CDCSTREAM_MAX_SELECTOR_BYTES", server.DefaultMaxSelectorBytes),
		fmt.Sprintf("largest encoded size of one request's selectors, %d..%d (env CDCSTREAM_MAX_SELECTOR_BYTES)", server.MinMaxSelectorBytes, server.MaxMaxSelectorBytes))
	fs.IntVar(&c.maxMessageBytes, "max-message-bytes", envInt(getenv, "CDCSTREAM_MAX_MESSAGE_BYTES", server.DefaultMaxMessageBytes),
		fmt.Sprintf("largest message sent whole (keep it at or below the clients' receive limit, gRPC's default is 4 MiB); a larger change goes out as fragments of at most 1 MiB that clients reassemble, %d..%d (env CDCSTREAM_MAX_MESSAGE_BYTES)", server.MinMaxMessageBytes, server.MaxMaxMessageBytes))
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", envDuration(getenv, "CDCSTREAM_SHUTDOWN_GRACE", 10*time.Second), "how long shutdown waits for streams to end (env CDCSTREAM_SHUTDOWN_GRACE)")
	fs.StringVar(&c.logFormat, "log-format", envOr(getenv, "CDCSTREAM_LOG_FORMAT", "text"), "log format: text or json (env CDCSTREAM_LOG_FORMAT)")
	fs.StringVar(&c.logLevel, "log-level", envOr(getenv, "CDCSTREAM_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env CDCSTREAM_LOG_LEVEL)")
	fs.BoolVar(&c.demo, "demo", false, "start an embedded Neo4j simulator with a demo workload and serve it (what `make run` does)")
	fs.Float64Var(&c.demoRate, "demo-rate", 2, "with --demo: workload transactions per second (0 = none)")
	fs.Int64Var(&c.demoSeed, "demo-seed", 1, "with --demo: workload seed (same seed, same changes)")
	fs.IntVar(&c.demoPreload, "demo-preload", 100, "with --demo: workload transactions committed before serving, so EARLIEST has history")
	c.hardening = addHardeningFlags(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	c.hardening.resolvePerToken(fs, c.maxSubscriptions)
	switch {
	case c.neo4jPasswordFile != "":
		b, err := os.ReadFile(c.neo4jPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("--neo4j-password-file: %w", err)
		}
		c.neo4jPassword = strings.TrimRight(string(b), "\r\n")
	default:
		c.neo4jPassword = getenv("NEO4J_PASSWORD")
	}
	return c, c.validate()
}

func (c *config) validate() error {
	var errs []error
	// The server's options are checked by the server's own validation, one flag at a time so
	// that the error names the flag.
	for _, f := range []struct {
		flag  string
		value any
		opt   server.Option
	}{
		{"--database", c.database, server.WithDefaultDatabase(c.database)},
		{"--poll-interval", c.pollInterval, server.WithPollInterval(c.pollInterval)},
		{"--batch-limit", c.batchLimit, server.WithBatchLimit(c.batchLimit)},
		{"--tail-window-bytes", c.tailWindowBytes, server.WithTailWindowBytes(c.tailWindowBytes)},
		{"--max-inflight-bytes", c.maxInFlightBytes, server.WithMaxInFlightBytes(c.maxInFlightBytes)},
		{"--snapshot-chunk-size", c.snapshotChunk, server.WithSnapshotChunkSize(c.snapshotChunk)},
		{"--max-snapshots", c.maxSnapshots, server.WithMaxSnapshots(c.maxSnapshots)},
		{"--checkpoint-interval", c.checkpointInterval, server.WithDefaultCheckpointInterval(c.checkpointInterval)},
		{"--max-subscriptions", c.maxSubscriptions, server.WithMaxSubscriptions(c.maxSubscriptions)},
		{"--max-selector-bytes", c.maxSelectorBytes, server.WithMaxSelectorBytes(c.maxSelectorBytes)},
		{"--max-message-bytes", c.maxMessageBytes, server.WithMaxMessageBytes(c.maxMessageBytes)},
		{"--max-stream-age", c.hardening.streamAge(), server.WithMaxStreamAge(c.hardening.streamAge())},
		{"--send-timeout", c.hardening.sendTimeout, server.WithSendTimeout(c.hardening.sendTimeout)},
		{"--future-cursor-timeout", c.hardening.futureCursorTimeout, server.WithFutureCursorTimeout(c.hardening.futureCursorTimeout)},
		{"--log-sample-rate", c.hardening.logSampleRate, server.WithLogSampleRate(c.hardening.logSampleRate)},
	} {
		if err := server.CheckOptions(f.opt); err != nil {
			errs = append(errs, fmt.Errorf("%s %v: %w", f.flag, f.value, err))
		}
	}
	if c.shutdownGrace < 0 {
		errs = append(errs, fmt.Errorf("--shutdown-grace %v: must not be negative", c.shutdownGrace))
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q: must be text or json", c.logFormat))
	}
	if _, err := parseLevel(c.logLevel); err != nil {
		errs = append(errs, err)
	}
	if c.demoPreload < 0 {
		errs = append(errs, fmt.Errorf("--demo-preload %d: must not be negative", c.demoPreload))
	}
	if c.demoRate < 0 {
		errs = append(errs, fmt.Errorf("--demo-rate %v: must not be negative", c.demoRate))
	}
	if err := c.hardening.validate(); err != nil {
		errs = append(errs, err)
	}
	if !c.demo && c.neo4jPassword == "" {
		errs = append(errs, errors.New("no Neo4j password: set NEO4J_PASSWORD or --neo4j-password-file (or use --demo)"))
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: must be debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger builds the process logger; secrets never reach it because config holds them in
// fields that are never logged.
func newLogger(c *config, w io.Writer) *slog.Logger {
	lvl, _ := parseLevel(c.logLevel)
	opts := &slog.HandlerOptions{Level: lvl}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
