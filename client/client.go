package client

import (
	"io"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Defaults of the client options.
const (
	// DefaultInitialBackoff is the first reconnect delay bound (see WithBackoff).
	DefaultInitialBackoff = 100 * time.Millisecond
	// DefaultMaxBackoff caps the reconnect delay bound (see WithBackoff).
	DefaultMaxBackoff = 30 * time.Second
	// DefaultMaxInternalRetries is how many consecutive INTERNAL errors are retried.
	DefaultMaxInternalRetries = 5
	// DefaultCheckpointInterval is the server's checkpoint interval when the request sets none.
	DefaultCheckpointInterval = 10 * time.Second
	// watchdogIntervals is how many checkpoint intervals of silence trip the watchdog.
	watchdogIntervals = 3
)

// ExpiredPolicy says what a Subscription does when the server reports that its cursor fell out
// of Neo4j's retained change log (OUT_OF_RANGE, reason CURSOR_EXPIRED).
type ExpiredPolicy int

const (
	// ExpiredFail ends the subscription: Err returns a *CursorExpiredError holding the status
	// and the earliest retained cursor. The default.
	ExpiredFail ExpiredPolicy = iota
	// ExpiredRestartEarliest restarts from the earliest retained change and reports the gap
	// (see Subscription.Gap).
	ExpiredRestartEarliest
	// ExpiredRestartNow restarts from the current head of the log and reports the gap (see
	// Subscription.Gap).
	ExpiredRestartNow
)

// String names the policy.
func (p ExpiredPolicy) String() string {
	switch p {
	case ExpiredFail:
		return "fail"
	case ExpiredRestartEarliest:
		return "restart-earliest"
	case ExpiredRestartNow:
		return "restart-now"
	default:
		return "unknown"
	}
}

// Client opens resuming change-stream subscriptions over one gRPC connection. It is safe for
// concurrent use; it owns no resources (the caller owns and closes the connection).
type Client struct {
	rpc  cdcstreamv1.ChangeStreamServiceClient
	opts options
}

// options holds the client configuration, defaults filled in before user options.
type options struct {
	logger             *slog.Logger
	initialBackoff     time.Duration
	maxBackoff         time.Duration
	maxInternalRetries int
	maxRetries         int
	expiredPolicy      ExpiredPolicy
	watchdog           time.Duration // 0: 3 checkpoint intervals of the request
	callOptions        []grpc.CallOption
	maxChangeBytes     int // largest change reassembled from fragments
	// clock times the backoff and the watchdog; tests replace it so that nothing waits.
	clock clock
	// jitter returns a uniformly random duration in [0, d]; tests replace it.
	jitter func(d time.Duration) time.Duration
}

// Option configures a Client.
type Option func(*options)

// WithLogger logs reconnects (Info), retried errors (Warn) and terminal errors (Warn) to l.
// Default: nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithBackoff sets the reconnect backoff: before the n-th consecutive reconnect (n from 0) the
// subscription waits a uniformly random time in [0, min(max, initial*2^n)] ("full jitter").
// A google.rpc.RetryInfo delay sent by the server replaces that wait. Receiving any message
// resets n. Defaults: 100ms and 30s; non-positive values keep the defaults, and max is raised
// to initial if it is smaller.
func WithBackoff(initial, max time.Duration) Option {
	return func(o *options) {
		if initial > 0 {
			o.initialBackoff = initial
		}
		if max > 0 {
			o.maxBackoff = max
		}
		if o.maxBackoff < o.initialBackoff {
			o.maxBackoff = o.initialBackoff
		}
	}
}

// WithMaxInternalRetries sets how many consecutive INTERNAL (or UNKNOWN) errors, without a
// message in between, are retried before the subscription ends with the last one. Default 5;
// 0 stops at the first; negative values keep the default.
func WithMaxInternalRetries(n int) Option {
	return func(o *options) {
		if n >= 0 {
			o.maxInternalRetries = n
		}
	}
}

// WithMaxRetries bounds the consecutive failed attempts of every retryable kind (UNAVAILABLE,
// RESOURCE_EXHAUSTED, transport errors, watchdog trips, INTERNAL) without a message in between;
// when the bound is passed the subscription ends with the last error. Default 0: unbounded,
// the caller's context is the only limit. WithMaxInternalRetries still applies to INTERNAL.
func WithMaxRetries(n int) Option {
	return func(o *options) {
		if n >= 0 {
			o.maxRetries = n
		}
	}
}

// WithExpiredPolicy sets what happens when the cursor expires. Default ExpiredFail.
func WithExpiredPolicy(p ExpiredPolicy) Option {
	return func(o *options) {
		if p >= ExpiredFail && p <= ExpiredRestartNow {
			o.expiredPolicy = p
		}
	}
}

// WithWatchdog sets how long a stream may stay silent (no change, no checkpoint) before the
// subscription drops it and reconnects. Default: 3 times the request's checkpoint_interval (10s
// when unset), so 30s. Non-positive values keep the default.
func WithWatchdog(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.watchdog = d
		}
	}
}

// WithCallOptions adds gRPC call options to every RPC the client makes (for example
// grpc.PerRPCCredentials or grpc.MaxCallRecvMsgSize). Default: none.
func WithCallOptions(opts ...grpc.CallOption) Option {
	return func(o *options) { o.callOptions = append(o.callOptions, opts...) }
}

// WithMaxChangeBytes bounds the size (protobuf encoding) of a change the subscription
// reassembles from ChangeFragment messages, the form in which the server sends a change too
// large for one gRPC message. A larger change ends the subscription with a
// *ChangeTooLargeError before any of it is buffered. Default DefaultMaxChangeBytes (128 MiB);
// non-positive values keep the default. It does not raise gRPC's receive limit, and need not:
// fragments are at most 1 MiB.
func WithMaxChangeBytes(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxChangeBytes = n
		}
	}
}

// withClock replaces the clock of the backoff and the watchdog (tests).
func withClock(c clock) Option {
	return func(o *options) { o.clock = c }
}

// withJitter replaces the jitter source (tests).
func withJitter(f func(d time.Duration) time.Duration) Option {
	return func(o *options) { o.jitter = f }
}

// New returns a Client that subscribes over conn (typically a *grpc.ClientConn).
func New(conn grpc.ClientConnInterface, opts ...Option) *Client {
	o := options{
		logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
		initialBackoff:     DefaultInitialBackoff,
		maxBackoff:         DefaultMaxBackoff,
		maxInternalRetries: DefaultMaxInternalRetries,
		maxChangeBytes:     DefaultMaxChangeBytes,
		clock:              systemClock{},
		jitter:             fullJitter,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return &Client{rpc: cdcstreamv1.NewChangeStreamServiceClient(conn), opts: o}
}
