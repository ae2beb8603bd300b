package main

// Transport bounds: what one TCP connection, and the listener as a whole, may hold before any
// call reaches the service (docs/operations.md, "Threats and bounds"). The request guard
// (guard.go) bounds what a call may hold before its request message arrives.

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/cdcstream/cdcstream/internal/metrics"
)

// Defaults of the transport bounds.
const (
	defaultMaxConcurrentStreams  = 100
	defaultMaxHeaderListSize     = 16 << 10
	defaultHandshakeTimeout      = 10 * time.Second
	defaultFirstMessageTimeout   = 10 * time.Second
	defaultMaxConnections        = 10000
	defaultMaxConnectionIdle     = 15 * time.Minute
	defaultMaxConnectionAge      = 0 // never: streams are rotated by --max-stream-age instead
	defaultMaxConnectionAgeGrace = 0 // unbounded: after GOAWAY, streams end on their own
)

// Keepalive pings (not tunable): an idle connection is pinged after keepaliveTime and dropped
// when the ping is not answered within keepaliveTimeout; clients may ping every
// keepaliveMinClientTime, even with no stream.
const (
	keepaliveTime          = 30 * time.Second
	keepaliveTimeout       = 10 * time.Second
	keepaliveMinClientTime = 10 * time.Second
)

// transportConfig holds the transport flags.
type transportConfig struct {
	maxConcurrentStreams  int
	maxHeaderListSize     int
	handshakeTimeout      time.Duration
	firstMessageTimeout   time.Duration
	maxConnections        int
	maxConnectionIdle     time.Duration
	maxConnectionAge      time.Duration
	maxConnectionAgeGrace time.Duration
}

// defaultTransport is the transport configuration when no flags were parsed.
func defaultTransport() transportConfig {
	return transportConfig{
		maxConcurrentStreams:  defaultMaxConcurrentStreams,
		maxHeaderListSize:     defaultMaxHeaderListSize,
		handshakeTimeout:      defaultHandshakeTimeout,
		firstMessageTimeout:   defaultFirstMessageTimeout,
		maxConnections:        defaultMaxConnections,
		maxConnectionIdle:     defaultMaxConnectionIdle,
		maxConnectionAge:      defaultMaxConnectionAge,
		maxConnectionAgeGrace: defaultMaxConnectionAgeGrace,
	}
}

// addTransportFlags defines the transport flags on fs into t, with CDCSTREAM_* environment
// variables as defaults.
func addTransportFlags(fs *flag.FlagSet, getenv func(string) string, t *transportConfig) {
	fs.IntVar(&t.maxConcurrentStreams, "max-concurrent-streams", envInt(getenv, "CDCSTREAM_MAX_CONCURRENT_STREAMS", defaultMaxConcurrentStreams),
		"concurrent HTTP/2 streams (calls) per connection; more are refused with REFUSED_STREAM (env CDCSTREAM_MAX_CONCURRENT_STREAMS)")
	fs.IntVar(&t.maxHeaderListSize, "max-header-list-size", envInt(getenv, "CDCSTREAM_MAX_HEADER_LIST_SIZE", defaultMaxHeaderListSize),
		"largest request header block (metadata) in bytes, 1KiB..1MiB (env CDCSTREAM_MAX_HEADER_LIST_SIZE)")
	fs.DurationVar(&t.handshakeTimeout, "handshake-timeout", envDuration(getenv, "CDCSTREAM_HANDSHAKE_TIMEOUT", defaultHandshakeTimeout),
		"time a new connection has for its TLS and HTTP/2 handshake before it is closed (env CDCSTREAM_HANDSHAKE_TIMEOUT)")
	fs.DurationVar(&t.firstMessageTimeout, "first-message-timeout", envDuration(getenv, "CDCSTREAM_FIRST_MESSAGE_TIMEOUT", defaultFirstMessageTimeout),
		"time a call has to send its request message; then INVALID_ARGUMENT/INVALID_REQUEST (env CDCSTREAM_FIRST_MESSAGE_TIMEOUT)")
	fs.IntVar(&t.maxConnections, "max-connections", envInt(getenv, "CDCSTREAM_MAX_CONNECTIONS", defaultMaxConnections),
		"open TCP connections; more are closed at accept (env CDCSTREAM_MAX_CONNECTIONS)")
	fs.DurationVar(&t.maxConnectionIdle, "max-connection-idle", envDuration(getenv, "CDCSTREAM_MAX_CONNECTION_IDLE", defaultMaxConnectionIdle),
		"close a connection with no call for this long (GOAWAY); 0 = never (env CDCSTREAM_MAX_CONNECTION_IDLE)")
	fs.DurationVar(&t.maxConnectionAge, "max-connection-age", envDuration(getenv, "CDCSTREAM_MAX_CONNECTION_AGE", defaultMaxConnectionAge),
		"send GOAWAY to a connection this old (±10%), so clients reconnect for new calls; 0 = never (env CDCSTREAM_MAX_CONNECTION_AGE)")
	fs.DurationVar(&t.maxConnectionAgeGrace, "max-connection-age-grace", envDuration(getenv, "CDCSTREAM_MAX_CONNECTION_AGE_GRACE", defaultMaxConnectionAgeGrace),
		"after --max-connection-age, close the connection with its calls after this; 0 = wait for them (env CDCSTREAM_MAX_CONNECTION_AGE_GRACE)")
}

// validate checks the transport flags.
func (t *transportConfig) validate() error {
	var errs []error
	if t.maxConcurrentStreams < 1 {
		errs = append(errs, fmt.Errorf("--max-concurrent-streams %d: must be at least 1", t.maxConcurrentStreams))
	}
	if t.maxHeaderListSize < 1<<10 || t.maxHeaderListSize > 1<<20 {
		errs = append(errs, fmt.Errorf("--max-header-list-size %d: must be within 1KiB..1MiB", t.maxHeaderListSize))
	}
	if t.handshakeTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--handshake-timeout %v: must be positive", t.handshakeTimeout))
	}
	if t.firstMessageTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--first-message-timeout %v: must be positive", t.firstMessageTimeout))
	}
	if t.maxConnections < 1 {
		errs = append(errs, fmt.Errorf("--max-connections %d: must be at least 1", t.maxConnections))
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--max-connection-idle", t.maxConnectionIdle}, {"--max-connection-age", t.maxConnectionAge}, {"--max-connection-age-grace", t.maxConnectionAgeGrace}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v: must not be negative", d.flag, d.v))
		}
	}
	return errors.Join(errs...)
}

// serverOptions are the grpc.Server options of the transport bounds. grpc-go also runs at
// most maxConcurrentStreams handlers per connection, so streams reset right after their
// HEADERS (rapid reset) are bounded by the same number. A zero connection idle, age or grace
// is grpc-go's "never".
func (t *transportConfig) serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxConcurrentStreams(uint32(t.maxConcurrentStreams)),
		grpc.MaxHeaderListSize(uint32(t.maxHeaderListSize)),
		grpc.ConnectionTimeout(t.handshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle:     t.maxConnectionIdle,
			MaxConnectionAge:      t.maxConnectionAge,
			MaxConnectionAgeGrace: t.maxConnectionAgeGrace,
			Time:                  keepaliveTime,
			Timeout:               keepaliveTimeout,
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             keepaliveMinClientTime,
			PermitWithoutStream: true,
		}),
	}
}

// limitListener accepts at most max open connections: a connection accepted beyond that is
// closed at once (the client sees a reset and reconnects with backoff), so that an
// over-capacity burst costs no file descriptor beyond the cap and never waits in the accept
// queue behind connections that will only be closed by the handshake timeout.
type limitListener struct {
	net.Listener
	max     int
	metrics *metrics.Transport
	// mu guards open.
	mu   sync.Mutex
	open int
}

// newLimitListener caps lis at max open connections, counted in m.
func newLimitListener(lis net.Listener, max int, m *metrics.Transport) *limitListener {
	return &limitListener{Listener: lis, max: max, metrics: m}
}

// Accept returns the next connection while fewer than max are open; connections beyond the
// cap are closed and counted as rejected.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		full := l.open >= l.max
		if !full {
			l.open++
		}
		l.mu.Unlock()
		if full {
			c.Close()
			l.metrics.ConnectionRejected()
			continue
		}
		l.metrics.ConnectionOpened()
		return &limitedConn{Conn: c, l: l}, nil
	}
}

// release frees the slot of a closed connection.
func (l *limitListener) release() {
	l.mu.Lock()
	l.open--
	l.mu.Unlock()
	l.metrics.ConnectionClosed()
}

// limitedConn frees its listener slot on its first Close.
type limitedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

// Close closes the connection and frees its slot (once).
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.l.release)
	return err
}
