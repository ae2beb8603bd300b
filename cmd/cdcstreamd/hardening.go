package main

// Production hardening: TLS and mutual TLS (tls.go), bearer tokens, authorisation and per-token
// limits (access.go), Prometheus metrics and OpenTelemetry tracing (observability.go), stream
// rotation, and reload on SIGHUP. This file holds their flags and the one SIGHUP loop; the
// service itself enforces authorisation, limits and rotation through its options.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/cdcstream/cdcstream/internal/auth"
	"github.com/cdcstream/cdcstream/internal/metrics"
	"github.com/cdcstream/cdcstream/internal/tlsconfig"
	"github.com/cdcstream/cdcstream/internal/tracing"
	"github.com/cdcstream/cdcstream/server"
)

// defaultMaxRecvMsgSize is the largest request accepted (gRPC's own default).
const defaultMaxRecvMsgSize = 4 << 20

// hardeningConfig holds the hardening flags.
type hardeningConfig struct {
	tlsCert, tlsKey, tlsClientCA  string
	authTokensFile                string
	metricsListen                 string
	metricsTLSCert, metricsTLSKey string
	metricsTokenFile              string
	maxSubscriptionsPerToken      int
	// perTokenExplicit says --max-subscriptions-per-token (or its env var) was given; without
	// it, tokens get defaultPerTokenLimit (resolvePerToken).
	perTokenExplicit    bool
	maxStreamAge        time.Duration
	sendTimeout         time.Duration
	futureCursorTimeout time.Duration
	logSampleRate       int
	maxRecvMsgSize      int
	neo4jUseLeader      bool
	transport           transportConfig // connection and stream bounds (transport.go)
}

// addHardeningFlags defines the hardening flags on fs, with CDCSTREAM_* environment variables
// as defaults.
func addHardeningFlags(fs *flag.FlagSet, getenv func(string) string) *hardeningConfig {
	h := &hardeningConfig{}
	fs.StringVar(&h.tlsCert, "tls-cert", envOr(getenv, "CDCSTREAM_TLS_CERT", ""), "PEM certificate file: serve TLS (with --tls-key; reloaded on SIGHUP) (env CDCSTREAM_TLS_CERT)")
	fs.StringVar(&h.tlsKey, "tls-key", envOr(getenv, "CDCSTREAM_TLS_KEY", ""), "PEM private key file of --tls-cert (env CDCSTREAM_TLS_KEY)")
	fs.StringVar(&h.tlsClientCA, "tls-client-ca", envOr(getenv, "CDCSTREAM_TLS_CLIENT_CA", ""), "PEM CA file: require client certificates signed by it (mutual TLS) (env CDCSTREAM_TLS_CLIENT_CA)")
	fs.StringVar(&h.authTokensFile, "auth-tokens-file", envOr(getenv, "CDCSTREAM_AUTH_TOKENS_FILE", ""), `JSON file of bearer tokens [{"name","token","databases"}]; reloaded on SIGHUP (env CDCSTREAM_AUTH_TOKENS_FILE)`)
	fs.StringVar(&h.metricsListen, "metrics-listen", envOr(getenv, "CDCSTREAM_METRICS_LISTEN", ""), "address serving Prometheus /metrics, e.g. 127.0.0.1:9095; empty = off (env CDCSTREAM_METRICS_LISTEN)")
	fs.StringVar(&h.metricsTLSCert, "metrics-tls-cert", envOr(getenv, "CDCSTREAM_METRICS_TLS_CERT", ""), "PEM certificate file: serve /metrics over TLS (with --metrics-tls-key; may be --tls-cert's; reloaded on SIGHUP) (env CDCSTREAM_METRICS_TLS_CERT)")
	fs.StringVar(&h.metricsTLSKey, "metrics-tls-key", envOr(getenv, "CDCSTREAM_METRICS_TLS_KEY", ""), "PEM private key file of --metrics-tls-cert (env CDCSTREAM_METRICS_TLS_KEY)")
	fs.StringVar(&h.metricsTokenFile, "metrics-token-file", envOr(getenv, "CDCSTREAM_METRICS_TOKEN_FILE", ""), "file holding the bearer token /metrics requires (Authorization: Bearer); reloaded on SIGHUP (env CDCSTREAM_METRICS_TOKEN_FILE)")
	fs.IntVar(&h.maxSubscriptionsPerToken, "max-subscriptions-per-token", envInt(getenv, "CDCSTREAM_MAX_SUBSCRIPTIONS_PER_TOKEN", 0), "maximum concurrent subscriptions per token; 0 = no limit; unset with --auth-tokens-file = max(1, --max-subscriptions/4) (env CDCSTREAM_MAX_SUBSCRIPTIONS_PER_TOKEN)")
	h.perTokenExplicit = getenv("CDCSTREAM_MAX_SUBSCRIPTIONS_PER_TOKEN") != ""
	fs.DurationVar(&h.maxStreamAge, "max-stream-age", envDuration(getenv, "CDCSTREAM_MAX_STREAM_AGE", 0),
		fmt.Sprintf("rotate streams after this age (±10%%, at least %v) with a final checkpoint and UNAVAILABLE/STREAM_ROTATED; 0 = never (env CDCSTREAM_MAX_STREAM_AGE)", server.MinMaxStreamAge))
	fs.DurationVar(&h.sendTimeout, "send-timeout", envDuration(getenv, "CDCSTREAM_SEND_TIMEOUT", server.DefaultSendTimeout),
		fmt.Sprintf("end a stream whose client does not read for this long (UNAVAILABLE/SEND_TIMEOUT), %v..%v (env CDCSTREAM_SEND_TIMEOUT)", server.MinSendTimeout, server.MaxSendTimeout))
	fs.DurationVar(&h.futureCursorTimeout, "future-cursor-timeout", envDuration(getenv, "CDCSTREAM_FUTURE_CURSOR_TIMEOUT", server.DefaultFutureCursorTimeout),
		fmt.Sprintf("end a stream whose cursor Neo4j keeps answering as in the future for this long (OUT_OF_RANGE/CURSOR_IN_FUTURE), %v..%v (env CDCSTREAM_FUTURE_CURSOR_TIMEOUT)", server.MinFutureCursorTimeout, server.MaxFutureCursorTimeout))
	fs.IntVar(&h.logSampleRate, "log-sample-rate", envInt(getenv, "CDCSTREAM_LOG_SAMPLE_RATE", server.DefaultLogSampleRate),
		fmt.Sprintf("log at most this many ended or refused calls per reason and second (the rest counted in one line; cdcstream_refusals_total counts all), %d..%d (env CDCSTREAM_LOG_SAMPLE_RATE)", server.MinLogSampleRate, server.MaxLogSampleRate))
	fs.IntVar(&h.maxRecvMsgSize, "max-recv-msg-size", envInt(getenv, "CDCSTREAM_MAX_RECV_MSG_SIZE", defaultMaxRecvMsgSize), "largest request message in bytes (env CDCSTREAM_MAX_RECV_MSG_SIZE)")
	fs.BoolVar(&h.neo4jUseLeader, "neo4j-use-leader", envBool(getenv, "CDCSTREAM_NEO4J_USE_LEADER"), "run CDC queries on the cluster leader (freshest, loads the leader) instead of any reader (env CDCSTREAM_NEO4J_USE_LEADER)")
	addTransportFlags(fs, getenv, &h.transport)
	return h
}

// defaultPerTokenLimit is the per-token subscription limit when tokens are on and
// --max-subscriptions-per-token is not given: a quarter of the server's slots (at least 1), so
// that no single tenant can take every slot.
func defaultPerTokenLimit(maxSubscriptions int) int { return max(1, maxSubscriptions/4) }

// resolvePerToken applies defaultPerTokenLimit after fs was parsed: with --auth-tokens-file and
// neither the flag nor CDCSTREAM_MAX_SUBSCRIPTIONS_PER_TOKEN given. An explicit 0 stays 0 (no
// per-token limit, the operator's choice).
func (h *hardeningConfig) resolvePerToken(fs *flag.FlagSet, maxSubscriptions int) {
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "max-subscriptions-per-token" {
			h.perTokenExplicit = true
		}
	})
	if !h.perTokenExplicit && h.authTokensFile != "" {
		h.maxSubscriptionsPerToken = defaultPerTokenLimit(maxSubscriptions)
	}
}

// streamAge is --max-stream-age (0 for a nil config).
func (h *hardeningConfig) streamAge() time.Duration {
	if h == nil {
		return 0
	}
	return h.maxStreamAge
}

// validate checks the hardening flags that the packages behind them do not check themselves
// (--max-stream-age is the server's: config.validate asks it); a nil config is valid.
func (h *hardeningConfig) validate() error {
	if h == nil {
		return nil
	}
	var errs []error
	if (h.tlsCert == "") != (h.tlsKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if h.tlsClientCA != "" && h.tlsCert == "" {
		errs = append(errs, errors.New("--tls-client-ca needs --tls-cert and --tls-key"))
	}
	if (h.metricsTLSCert == "") != (h.metricsTLSKey == "") {
		errs = append(errs, errors.New("--metrics-tls-cert and --metrics-tls-key go together"))
	}
	if (h.metricsTLSCert != "" || h.metricsTokenFile != "") && h.metricsListen == "" {
		errs = append(errs, errors.New("--metrics-tls-cert and --metrics-token-file need --metrics-listen"))
	}
	if h.maxSubscriptionsPerToken < 0 {
		errs = append(errs, fmt.Errorf("--max-subscriptions-per-token %d: must not be negative", h.maxSubscriptionsPerToken))
	}
	if h.maxSubscriptionsPerToken > 0 && h.authTokensFile == "" {
		errs = append(errs, errors.New("--max-subscriptions-per-token needs --auth-tokens-file"))
	}
	if h.maxRecvMsgSize < 1024 || h.maxRecvMsgSize > 64<<20 {
		errs = append(errs, fmt.Errorf("--max-recv-msg-size %d: must be within 1KiB..64MiB", h.maxRecvMsgSize))
	}
	if err := h.transport.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// hardening is the running hardening of one serve call.
type hardening struct {
	cfg     *hardeningConfig
	logger  *slog.Logger
	tls     *tlsconfig.Server // nil without TLS
	tokens  *auth.Store       // nil without tokens
	metrics *metrics.Metrics
	// transport counts connections, rejected requests and panics (on metrics' registry).
	transport *metrics.Transport
	tracing   *tracing.Tracing
	// guard reads every call's requests (guard.go).
	guard *requestGuard
	// metricsTLS and metricsToken protect /metrics; nil when not configured.
	metricsTLS   *tlsconfig.Server
	metricsToken *metricsToken
	// neo4jPasswordFile is checked with the other secret files (checks.go); set by build.
	neo4jPasswordFile string
}

// startHardening loads certificates and tokens and sets up metrics and tracing. It logs loudly
// when the service listens beyond loopback without TLS or without tokens.
func startHardening(ctx context.Context, h *hardeningConfig, listen string, logger *slog.Logger) (*hardening, error) {
	if h == nil {
		h = &hardeningConfig{maxRecvMsgSize: defaultMaxRecvMsgSize, sendTimeout: server.DefaultSendTimeout,
			futureCursorTimeout: server.DefaultFutureCursorTimeout, logSampleRate: server.DefaultLogSampleRate,
			transport: defaultTransport()}
	}
	hd := &hardening{cfg: h, logger: logger}
	var err error
	if hd.tls, err = loadTLS(h); err != nil {
		return nil, err
	}
	if hd.tokens, err = loadTokens(h, logger); err != nil {
		return nil, err
	}
	if hd.metricsTLS, err = loadMetricsTLS(h); err != nil {
		return nil, err
	}
	if hd.metricsToken, err = loadMetricsToken(h.metricsTokenFile); err != nil {
		return nil, err
	}
	if hd.tracing, err = startTracing(ctx, logger); err != nil {
		return nil, err
	}
	hd.metrics = metrics.New()
	hd.transport = metrics.NewTransport(hd.metrics.Registry())
	hd.guard = newRequestGuard(h.transport.firstMessageTimeout, hd.transport)
	hd.warnInsecure(listen)
	return hd, nil
}

// serviceOptions are the options hardening gives the service: admission (tokens), the
// metrics observer and stream rotation.
func (hd *hardening) serviceOptions() []server.Option {
	return []server.Option{
		server.WithAdmission(hd.admission()),
		server.WithObserver(hd.metrics.Observer()),
		server.WithMaxStreamAge(hd.cfg.maxStreamAge),
		server.WithSendTimeout(hd.cfg.sendTimeout),
		server.WithFutureCursorTimeout(hd.cfg.futureCursorTimeout),
		server.WithLogSampleRate(hd.cfg.logSampleRate),
	}
}

// serverOptions are the grpc.Server options: the transport bounds, credentials, message size,
// interceptors (gRPC metrics first so refused calls count, then panic recovery so that a
// panic is counted as INTERNAL, then authentication) and the tracing stats handler.
func (hd *hardening) serverOptions() []grpc.ServerOption {
	recoverUnary, recoverStream := recoveryInterceptors(hd.logger, hd.transport)
	unary := []grpc.UnaryServerInterceptor{hd.metrics.UnaryInterceptor(), recoverUnary}
	stream := []grpc.StreamServerInterceptor{hd.guard.metricsStreamInterceptor(hd.metrics.GRPCStreamInterceptor()), recoverStream}
	if ai := hd.interceptors(); ai != nil {
		unary = append(unary, ai.UnaryInterceptor())
		stream = append(stream, ai.StreamInterceptor())
	}
	opts := append(hd.cfg.transport.serverOptions(),
		grpc.ForceServerCodecV2(newGuardCodec(hd.guard)),
		grpc.MaxRecvMsgSize(hd.cfg.maxRecvMsgSize),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	)
	if hd.tls != nil {
		opts = append(opts, grpc.Creds(hd.tls.Credentials()))
	}
	return append(opts, hd.tracing.ServerOptions()...)
}

// start runs the background parts until ctx is done: the metrics HTTP server (when
// --metrics-listen is set) and the SIGHUP reloader, which also repeats the file checks
// (checks.go). Call it after registering the services on
// gs. The goroutines are tracked by bg.
func (hd *hardening) start(ctx context.Context, gs *grpc.Server, bg *sync.WaitGroup) error {
	if err := hd.serveMetrics(ctx, gs, bg); err != nil {
		return err
	}
	if hd.tls == nil && hd.tokens == nil && hd.metricsTLS == nil && hd.metricsToken == nil {
		return nil
	}
	// hup receives SIGHUP; signal.Stop releases it when ctx ends.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	bg.Add(1)
	go func() {
		defer bg.Done()
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				hd.reloadTokens()
				hd.reloadTLS()
				hd.reloadMetricsAuth()
				hd.checkFiles(time.Now())
			}
		}
	}()
	return nil
}

// registrar is where services are registered on gs: through the request guard.
func (hd *hardening) registrar(gs *grpc.Server) grpc.ServiceRegistrar {
	return guardRegistrar{ServiceRegistrar: gs, g: hd.guard}
}

// listener caps lis at --max-connections, counted in the transport metrics.
func (hd *hardening) listener(lis net.Listener) net.Listener {
	return newLimitListener(lis, hd.cfg.transport.maxConnections, hd.transport)
}

// stop flushes traces.
func (hd *hardening) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hd.tracing.Shutdown(ctx); err != nil {
		hd.logger.Warn("flushing traces", "err", err)
	}
}
