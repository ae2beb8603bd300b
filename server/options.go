package server

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults and limits of the options.
const (
	// DefaultDatabase is the database used when a request names none.
	DefaultDatabase = "neo4j"
	// DefaultPollInterval is the wait between polls that returned less than a full batch, and
	// the period of the shared per-database head probe.
	DefaultPollInterval = 500 * time.Millisecond
	// DefaultBatchLimit is the maximum number of changes one poll fetches.
	DefaultBatchLimit = 1000
	// DefaultCheckpointInterval is the quiet time after which a stream gets a Checkpoint when
	// the request leaves checkpoint_interval unset.
	DefaultCheckpointInterval = 10 * time.Second
	// MinCheckpointInterval and MaxCheckpointInterval bound checkpoint_interval (and
	// WithDefaultCheckpointInterval).
	MinCheckpointInterval = time.Second
	MaxCheckpointInterval = 5 * time.Minute
	// DefaultMaxSubscriptions is the default limit of concurrently open Subscribe streams.
	DefaultMaxSubscriptions = 1000
	// DefaultMaxSelectors is the default limit of selectors in one SubscribeRequest.
	DefaultMaxSelectors = 64
)

// Option configures a Server. Options are applied in order by New; the last one wins.
type Option func(*options)

// options is the validated configuration of a Server.
type options struct {
	defaultDatabase    string
	pollInterval       time.Duration
	batchLimit         int
	checkpointInterval time.Duration
	maxSubscriptions   int
	maxSelectors       int
	logger             *slog.Logger
	clock              Clock
}

func defaultOptions() options {
	return options{
		defaultDatabase:    DefaultDatabase,
		pollInterval:       DefaultPollInterval,
		batchLimit:         DefaultBatchLimit,
		checkpointInterval: DefaultCheckpointInterval,
		maxSubscriptions:   DefaultMaxSubscriptions,
		maxSelectors:       DefaultMaxSelectors,
		logger:             slog.New(slog.DiscardHandler),
		clock:              systemClock{},
	}
}

// WithDefaultDatabase sets the database used when a request names none and has no cursor.
// Default "neo4j". The name must be a valid Neo4j database name; it is lower-cased.
func WithDefaultDatabase(name string) Option {
	return func(o *options) { o.defaultDatabase = name }
}

// WithPollInterval sets how long a subscription waits after a poll that returned less than a
// full batch, and how often the shared head probe of each database runs (one
// db.cdc.current() per database per interval, whatever the number of subscribers).
// Default 500ms; allowed 1ms..1m.
func WithPollInterval(d time.Duration) Option {
	return func(o *options) { o.pollInterval = d }
}

// WithBatchLimit sets the maximum number of changes fetched by one poll. A full batch is
// followed at once by the next poll. Default 1000; allowed 1..100000.
func WithBatchLimit(n int) Option {
	return func(o *options) { o.batchLimit = n }
}

// WithDefaultCheckpointInterval sets the quiet time after which a stream receives a Checkpoint
// when the request leaves checkpoint_interval unset. Default 10s; allowed 1s..5m (the same
// range requests may ask for).
func WithDefaultCheckpointInterval(d time.Duration) Option {
	return func(o *options) { o.checkpointInterval = d }
}

// WithMaxSubscriptions limits the Subscribe streams open at once on this Server; further
// streams fail with RESOURCE_EXHAUSTED (reason TOO_MANY_SUBSCRIPTIONS). Default 1000; at least 1.
func WithMaxSubscriptions(n int) Option {
	return func(o *options) { o.maxSubscriptions = n }
}

// WithMaxSelectors limits the number of selectors in one SubscribeRequest; more are
// INVALID_ARGUMENT (reason INVALID_SELECTOR). Default 64; allowed 1..10000.
func WithMaxSelectors(n int) Option {
	return func(o *options) { o.maxSelectors = n }
}

// WithLogger sets the logger. Client-caused stream ends are logged at Debug, server-side
// failures at Warn or Error. Default: discard. A nil logger means the default.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		o.logger = l
	}
}

// WithClock replaces the wall clock, for tests. It drives poll waits, head probes, checkpoint
// timers, retry backoff and Checkpoint.server_time. Default: the system clock. A nil clock
// means the default.
func WithClock(c Clock) Option {
	return func(o *options) {
		if c == nil {
			c = systemClock{}
		}
		o.clock = c
	}
}

// validate reports the first invalid option and normalises the default database name.
func (o *options) validate() error {
	var errs []error
	if name, ok := normaliseDatabase(o.defaultDatabase); ok {
		o.defaultDatabase = name
	} else {
		errs = append(errs, fmt.Errorf("default database %q is not a valid database name", o.defaultDatabase))
	}
	if o.pollInterval < time.Millisecond || o.pollInterval > time.Minute {
		errs = append(errs, fmt.Errorf("poll interval %v outside 1ms..1m", o.pollInterval))
	}
	if o.batchLimit < 1 || o.batchLimit > 100000 {
		errs = append(errs, fmt.Errorf("batch limit %d outside 1..100000", o.batchLimit))
	}
	if o.checkpointInterval < MinCheckpointInterval || o.checkpointInterval > MaxCheckpointInterval {
		errs = append(errs, fmt.Errorf("default checkpoint interval %v outside %v..%v",
			o.checkpointInterval, MinCheckpointInterval, MaxCheckpointInterval))
	}
	if o.maxSubscriptions < 1 {
		errs = append(errs, fmt.Errorf("max subscriptions %d is less than 1", o.maxSubscriptions))
	}
	if o.maxSelectors < 1 || o.maxSelectors > 10000 {
		errs = append(errs, fmt.Errorf("max selectors %d outside 1..10000", o.maxSelectors))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("server: invalid options: %w", err)
	}
	return nil
}
