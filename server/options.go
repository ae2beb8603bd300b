package server

import (
	"context"
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
	// MinPollInterval and MaxPollInterval bound WithPollInterval.
	MinPollInterval = time.Millisecond
	MaxPollInterval = time.Minute
	// DefaultBatchLimit is the maximum number of changes one poll fetches.
	DefaultBatchLimit = 1000
	// MaxBatchLimit bounds WithBatchLimit (at least 1).
	MaxBatchLimit = 100000
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
	// MaxMaxSelectors bounds WithMaxSelectors (at least 1).
	MaxMaxSelectors = 10000
	// DefaultMaxSelectorBytes is the default limit of the encoded size of a request's
	// selectors; MinMaxSelectorBytes and MaxMaxSelectorBytes bound WithMaxSelectorBytes.
	DefaultMaxSelectorBytes = 64 << 10
	MinMaxSelectorBytes     = 1 << 10
	MaxMaxSelectorBytes     = 16 << 20
	// MinMaxStreamAge is the shortest maximum stream age (WithMaxStreamAge); 0 means off.
	MinMaxStreamAge = time.Second
	// DefaultSendTimeout is how long one Send may stay blocked (the client does not read)
	// before the stream is ended; MinSendTimeout and MaxSendTimeout bound WithSendTimeout.
	DefaultSendTimeout = time.Minute
	MinSendTimeout     = 100 * time.Millisecond
	MaxSendTimeout     = time.Hour
	// DefaultFutureCursorTimeout is how long a stream's polls may be answered ErrFutureCursor
	// in a row before the stream ends with CURSOR_IN_FUTURE; MinFutureCursorTimeout and
	// MaxFutureCursorTimeout bound WithFutureCursorTimeout.
	DefaultFutureCursorTimeout = time.Minute
	MinFutureCursorTimeout     = 100 * time.Millisecond
	MaxFutureCursorTimeout     = time.Hour
	// DefaultTailWindowBytes is the default bound of each database's shared tail window, in
	// encoded bytes of the changes it holds; MinTailWindowBytes and MaxTailWindowBytes bound
	// WithTailWindowBytes.
	DefaultTailWindowBytes = 64 << 20
	MinTailWindowBytes     = 64 << 10
	MaxTailWindowBytes     = 64 << 30
	// DefaultMaxInFlightBytes is the default bound of the bytes in flight across all streams
	// (WithMaxInFlightBytes); MinMaxInFlightBytes and MaxMaxInFlightBytes bound it.
	DefaultMaxInFlightBytes = 256 << 20
	MinMaxInFlightBytes     = 1 << 20
	MaxMaxInFlightBytes     = 64 << 30
	// DefaultMaxMessageBytes is the largest SubscribeResponse sent whole: 4 MiB, the receive
	// limit gRPC applies by default in every language, so that only a change no client at
	// default limits could receive goes out as ChangeFragment messages. MinMaxMessageBytes and
	// MaxMaxMessageBytes bound WithMaxMessageBytes.
	DefaultMaxMessageBytes = 4 << 20
	MinMaxMessageBytes     = 16 << 10
	MaxMaxMessageBytes     = 64 << 20
	// FragmentBytes is the largest ChangeFragment message (or the maximum message size, when
	// that is smaller).
	FragmentBytes = 1 << 20
	// DefaultSnapshotChunkSize is how many entities one snapshot chunk reads (the bound of a
	// snapshotting subscription's memory); MaxSnapshotChunkSize bounds WithSnapshotChunkSize
	// (at least 1).
	DefaultSnapshotChunkSize = 1000
	MaxSnapshotChunkSize     = 100000
	// DefaultMaxSnapshots is the default limit of subscriptions taking a snapshot at once.
	DefaultMaxSnapshots = 4
)

// AdmissionRequest is what an admission function decides on.
type AdmissionRequest struct {
	// Method is the full gRPC method name, e.g.
	// cdcstreamv1.ChangeStreamService_Subscribe_FullMethodName.
	Method string
	// Database is the validated, lower-cased database the call will read: the request's, its
	// cursor's, or the server's default.
	Database string
}

// Admission decides whether a validated call may proceed: authorisation by database and
// per-principal limits (the principal comes from ctx, set by an authenticating interceptor).
// It returns a release function, called once when the call ends (nil means nothing to
// release), or an error wrapping ErrPermissionDenied or ErrTooManySubscriptions, whose text
// becomes the status message. It must be safe for concurrent use.
type Admission func(ctx context.Context, req AdmissionRequest) (release func(), err error)

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
	maxSelectorBytes   int
	maxStreamAge       time.Duration
	sendTimeout        time.Duration
	futureTimeout      time.Duration
	maxMessageBytes    int
	logSampleRate      int
	sharedTail         bool
	tailWindowBytes    int64
	maxInFlightBytes   int64
	snapshotChunk      int
	maxSnapshots       int
	admission          Admission
	observers          observers
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
		maxSelectorBytes:   DefaultMaxSelectorBytes,
		sendTimeout:        DefaultSendTimeout,
		futureTimeout:      DefaultFutureCursorTimeout,
		maxMessageBytes:    DefaultMaxMessageBytes,
		logSampleRate:      DefaultLogSampleRate,
		sharedTail:         true,
		tailWindowBytes:    DefaultTailWindowBytes,
		maxInFlightBytes:   DefaultMaxInFlightBytes,
		snapshotChunk:      DefaultSnapshotChunkSize,
		maxSnapshots:       DefaultMaxSnapshots,
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

// WithMaxSelectorBytes limits the encoded size of one request's selectors (all of them
// together); larger ones are INVALID_ARGUMENT (reason INVALID_SELECTOR) before any Neo4j call,
// so a client cannot make every poll carry megabytes of selector parameters. Names, keys and
// element ids inside selectors are also limited to 1024 bytes each. Default 64 KiB; allowed
// 1 KiB..16 MiB.
func WithMaxSelectorBytes(n int) Option {
	return func(o *options) { o.maxSelectorBytes = n }
}

// WithMaxStreamAge ends every Subscribe stream after about d (jittered by ±10 %): it sends a
// final Checkpoint with its newest cursor and ends with UNAVAILABLE, reason STREAM_ROTATED
// and RetryInfo 0s, so the client resumes at once, possibly on another replica behind a load
// balancer. Default 0: streams never rotate; otherwise at least MinMaxStreamAge.
func WithMaxStreamAge(d time.Duration) Option {
	return func(o *options) { o.maxStreamAge = d }
}

// WithSendTimeout bounds how long one Send to a client may stay blocked: a client that does not
// read (its HTTP/2 flow-control window stays full) is cut off after d with UNAVAILABLE, reason
// SEND_TIMEOUT, and its stream, poller and buffered batches are freed. It also bounds how long
// rotation waits for a blocked Send; shutdown waits at most a second for one. Default 1m;
// allowed 100ms..1h.
func WithSendTimeout(d time.Duration) Option {
	return func(o *options) { o.sendTimeout = d }
}

// WithFutureCursorTimeout bounds how long a stream's polls may be answered "cursor in the
// future" (Neo4j's FutureIdentifier) in a row: a lagging cluster member catches up within
// seconds, a forged cursor (or one from a database restored from an older backup) never does.
// After d the stream ends with OUT_OF_RANGE, reason CURSOR_IN_FUTURE. Until a poll succeeded,
// no Checkpoint certifies a client's cursor. Default 1m; allowed 100ms..1h.
func WithFutureCursorTimeout(d time.Duration) Option {
	return func(o *options) { o.futureTimeout = d }
}

// WithMaxMessageBytes sets the largest SubscribeResponse a stream sends whole (its protobuf
// size). A change whose message would be larger is sent as ChangeFragment messages of at most
// min(n, FragmentBytes) bytes each, which the client reassembles (the Go client library does),
// so that no change, however large, exceeds a client's receive limit and wedges its stream.
// Clients that do not know ChangeFragment skip such a change, which they could not have
// received whole either as long as n is not above their receive limit. Default 4 MiB, gRPC's
// default receive limit; allowed 16 KiB..64 MiB (lower it for clients with lower limits; raise
// it only when every client accepts that much).
func WithMaxMessageBytes(n int) Option {
	return func(o *options) { o.maxMessageBytes = n }
}

// WithSnapshotChunkSize sets how many entities one snapshot chunk reads from Neo4j (one
// read transaction, LIMIT n): a snapshotting subscription holds at most one chunk of records.
// Larger chunks mean fewer queries and watermark windows, smaller ones less memory and a
// shorter re-send after a resume. Default 1000; allowed 1..100000.
func WithSnapshotChunkSize(n int) Option {
	return func(o *options) { o.snapshotChunk = n }
}

// WithMaxSnapshots limits the subscriptions taking a snapshot at once on this Server; more
// fail with RESOURCE_EXHAUSTED (reason TOO_MANY_SNAPSHOTS, RetryInfo 5s) before any Neo4j
// read. Snapshots read the whole graph, so this is what many new consumers may cost Neo4j
// together. Default 4; at least 1.
func WithMaxSnapshots(n int) Option {
	return func(o *options) { o.maxSnapshots = n }
}

// WithLogSampleRate bounds the log lines of ended and refused RPCs: at most n per ErrorInfo
// reason and second are logged, the rest of each second is counted and reported as one
// "log lines suppressed" line (LogSampler). Refusals are counted exactly by Observer.Refused.
// Default 10; allowed 1..100000.
func WithLogSampleRate(n int) Option {
	return func(o *options) { o.logSampleRate = n }
}

// WithSharedTail turns the shared tail on or off (docs/architecture.md, "The shared tail").
// On (the default), each database has one tail reader that polls Neo4j once, without
// selectors, whenever the head moves, and serves every subscription whose cursor is inside its
// window, evaluating selectors in process (Matcher); subscriptions behind the window poll
// Neo4j themselves until they join it. Off, every subscription polls Neo4j itself with its
// selectors: Neo4j filters, and its statements grow with the number of active subscriptions.
func WithSharedTail(on bool) Option {
	return func(o *options) { o.sharedTail = on }
}

// WithTailWindowBytes bounds each database's shared tail window, in encoded bytes of the
// changes it holds (the decoded events it also keeps take about as much again). A subscription
// whose position the window evicted reads Neo4j itself until it joins again. Default 64 MiB;
// allowed 64 KiB..64 GiB.
func WithTailWindowBytes(n int64) Option {
	return func(o *options) { o.tailWindowBytes = n }
}

// WithMaxInFlightBytes bounds the bytes in flight across all streams: the encoded changes
// that per-subscription polls read from Neo4j and that are not sent yet. A poll waits while
// the budget is spent (so the bound is exceeded by at most one batch per polling stream).
// Changes served from a shared tail window are counted by the window, not here. Default
// 256 MiB; allowed 1 MiB..64 GiB.
func WithMaxInFlightBytes(n int64) Option {
	return func(o *options) { o.maxInFlightBytes = n }
}

// WithAdmission sets the function every Subscribe and GetCursor consults after validating the
// request and before any Neo4j call or subscription slot (see Admission). Default: every call
// is admitted. A nil function means the default.
func WithAdmission(a Admission) Option {
	return func(o *options) { o.admission = a }
}

// WithObserver adds an Observer of stream events (metrics); several may be added, and each
// sees every event. The Server's own counters (Stats) are always kept. A nil Observer is
// ignored.
func WithObserver(obs Observer) Option {
	return func(o *options) {
		if obs != nil {
			o.observers = append(o.observers, obs)
		}
	}
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
// timers, retry backoff, the future-cursor timeout, log sampling and Checkpoint.server_time
// (not the send timeout, which measures wall time blocked in the transport). Default: the system clock. A nil clock
// means the default.
func WithClock(c Clock) Option {
	return func(o *options) {
		if c == nil {
			c = systemClock{}
		}
		o.clock = c
	}
}

// CheckOptions reports whether New would accept opts, with the error New would return. Flag
// parsers use it so that their range checks are the server's own.
func CheckOptions(opts ...Option) error {
	o := applyOptions(opts)
	return o.validate()
}

// applyOptions applies opts, in order, to the defaults.
func applyOptions(opts []Option) options {
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// validate reports the first invalid option and normalises the default database name.
func (o *options) validate() error {
	var errs []error
	if name, ok := normaliseDatabase(o.defaultDatabase); ok {
		o.defaultDatabase = name
	} else {
		errs = append(errs, fmt.Errorf("default database %q is not a valid database name", o.defaultDatabase))
	}
	if o.pollInterval < MinPollInterval || o.pollInterval > MaxPollInterval {
		errs = append(errs, fmt.Errorf("poll interval %v outside %v..%v", o.pollInterval, MinPollInterval, MaxPollInterval))
	}
	if o.batchLimit < 1 || o.batchLimit > MaxBatchLimit {
		errs = append(errs, fmt.Errorf("batch limit %d outside 1..%d", o.batchLimit, MaxBatchLimit))
	}
	if o.checkpointInterval < MinCheckpointInterval || o.checkpointInterval > MaxCheckpointInterval {
		errs = append(errs, fmt.Errorf("default checkpoint interval %v outside %v..%v",
			o.checkpointInterval, MinCheckpointInterval, MaxCheckpointInterval))
	}
	if o.maxSubscriptions < 1 {
		errs = append(errs, fmt.Errorf("max subscriptions %d is less than 1", o.maxSubscriptions))
	}
	if o.maxSelectors < 1 || o.maxSelectors > MaxMaxSelectors {
		errs = append(errs, fmt.Errorf("max selectors %d outside 1..%d", o.maxSelectors, MaxMaxSelectors))
	}
	if o.maxSelectorBytes < MinMaxSelectorBytes || o.maxSelectorBytes > MaxMaxSelectorBytes {
		errs = append(errs, fmt.Errorf("max selector bytes %d outside %d..%d", o.maxSelectorBytes, MinMaxSelectorBytes, MaxMaxSelectorBytes))
	}
	if o.maxStreamAge != 0 && o.maxStreamAge < MinMaxStreamAge {
		errs = append(errs, fmt.Errorf("max stream age %v: must be 0 (off) or at least %v", o.maxStreamAge, MinMaxStreamAge))
	}
	if o.sendTimeout < MinSendTimeout || o.sendTimeout > MaxSendTimeout {
		errs = append(errs, fmt.Errorf("send timeout %v outside %v..%v", o.sendTimeout, MinSendTimeout, MaxSendTimeout))
	}
	if o.futureTimeout < MinFutureCursorTimeout || o.futureTimeout > MaxFutureCursorTimeout {
		errs = append(errs, fmt.Errorf("future-cursor timeout %v outside %v..%v", o.futureTimeout, MinFutureCursorTimeout, MaxFutureCursorTimeout))
	}
	if o.maxMessageBytes < MinMaxMessageBytes || o.maxMessageBytes > MaxMaxMessageBytes {
		errs = append(errs, fmt.Errorf("max message bytes %d outside %d..%d", o.maxMessageBytes, MinMaxMessageBytes, MaxMaxMessageBytes))
	}
	if o.logSampleRate < MinLogSampleRate || o.logSampleRate > MaxLogSampleRate {
		errs = append(errs, fmt.Errorf("log sample rate %d outside %d..%d", o.logSampleRate, MinLogSampleRate, MaxLogSampleRate))
	}
	if o.tailWindowBytes < MinTailWindowBytes || o.tailWindowBytes > MaxTailWindowBytes {
		errs = append(errs, fmt.Errorf("tail window bytes %d outside %d..%d", o.tailWindowBytes, MinTailWindowBytes, MaxTailWindowBytes))
	}
	if o.maxInFlightBytes < MinMaxInFlightBytes || o.maxInFlightBytes > MaxMaxInFlightBytes {
		errs = append(errs, fmt.Errorf("max in-flight bytes %d outside %d..%d", o.maxInFlightBytes, MinMaxInFlightBytes, MaxMaxInFlightBytes))
	}
	if o.snapshotChunk < 1 || o.snapshotChunk > MaxSnapshotChunkSize {
		errs = append(errs, fmt.Errorf("snapshot chunk size %d outside 1..%d", o.snapshotChunk, MaxSnapshotChunkSize))
	}
	if o.maxSnapshots < 1 {
		errs = append(errs, fmt.Errorf("max snapshots %d is less than 1", o.maxSnapshots))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("server: invalid options: %w", err)
	}
	return nil
}
