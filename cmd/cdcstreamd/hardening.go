package main

// Production hardening (issue 6): TLS and mutual TLS, bearer tokens per database, limits per
// token and stream rotation, Prometheus metrics, OpenTelemetry tracing, reload on SIGHUP.
// Everything wraps the service from the outside (interceptors, server options, a Source
// decorator); serve.go calls into this file at a few marked places.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/cdcstream/cdcstream/internal/auth"
	"github.com/cdcstream/cdcstream/internal/limits"
	"github.com/cdcstream/cdcstream/internal/metrics"
	"github.com/cdcstream/cdcstream/internal/neo4jcdc"
	"github.com/cdcstream/cdcstream/internal/tlsconfig"
	"github.com/cdcstream/cdcstream/internal/tracing"
	"github.com/cdcstream/cdcstream/server"
)

// defaultMaxRecvMsgSize is the largest request accepted (gRPC's own default).
const defaultMaxRecvMsgSize = 4 << 20

// hardeningConfig holds the hardening flags.
type hardeningConfig struct {
	tlsCert, tlsKey, tlsClientCA string
	authTokensFile               string
	metricsListen                string
	maxSubscriptionsPerToken     int
	maxStreamAge                 time.Duration
	maxRecvMsgSize               int
	neo4jUseLeader               bool
}

// addHardeningFlags defines the hardening flags on fs, with CDCSTREAM_* environment variables
// as defaults.
func addHardeningFlags(fs *flag.FlagSet, getenv func(string) string) *hardeningConfig {
	h := &hardeningConfig{}
	num := func(key string, def int) int {
		if n, err := strconv.Atoi(getenv(key)); err == nil {
			return n
		}
		return def
	}
	dur := func(key string, def time.Duration) time.Duration {
		if d, err := time.ParseDuration(getenv(key)); err == nil {
			return d
		}
		return def
	}
	boolean := func(key string) bool {
		b, _ := strconv.ParseBool(getenv(key))
		return b
	}
	fs.StringVar(&h.tlsCert, "tls-cert", envOr(getenv, "CDCSTREAM_TLS_CERT", ""), "PEM certificate file: serve TLS (with --tls-key; reloaded on SIGHUP) (env CDCSTREAM_TLS_CERT)")
	fs.StringVar(&h.tlsKey, "tls-key", envOr(getenv, "CDCSTREAM_TLS_KEY", ""), "PEM private key file of --tls-cert (env CDCSTREAM_TLS_KEY)")
	fs.StringVar(&h.tlsClientCA, "tls-client-ca", envOr(getenv, "CDCSTREAM_TLS_CLIENT_CA", ""), "PEM CA file: require client certificates signed by it (mutual TLS) (env CDCSTREAM_TLS_CLIENT_CA)")
	fs.StringVar(&h.authTokensFile, "auth-tokens-file", envOr(getenv, "CDCSTREAM_AUTH_TOKENS_FILE", ""), `JSON file of bearer tokens [{"name","token","databases"}]; reloaded on SIGHUP (env CDCSTREAM_AUTH_TOKENS_FILE)`)
	fs.StringVar(&h.metricsListen, "metrics-listen", envOr(getenv, "CDCSTREAM_METRICS_LISTEN", ""), "address serving Prometheus /metrics, e.g. 127.0.0.1:9095; empty = off (env CDCSTREAM_METRICS_LISTEN)")
	fs.IntVar(&h.maxSubscriptionsPerToken, "max-subscriptions-per-token", num("CDCSTREAM_MAX_SUBSCRIPTIONS_PER_TOKEN", 0), "maximum concurrent subscriptions per token; 0 = no limit (env CDCSTREAM_MAX_SUBSCRIPTIONS_PER_TOKEN)")
	fs.DurationVar(&h.maxStreamAge, "max-stream-age", dur("CDCSTREAM_MAX_STREAM_AGE", 0), "rotate streams after this age (±10%) with a final checkpoint and UNAVAILABLE/STREAM_ROTATED; 0 = never (env CDCSTREAM_MAX_STREAM_AGE)")
	fs.IntVar(&h.maxRecvMsgSize, "max-recv-msg-size", num("CDCSTREAM_MAX_RECV_MSG_SIZE", defaultMaxRecvMsgSize), "largest request message in bytes (env CDCSTREAM_MAX_RECV_MSG_SIZE)")
	fs.BoolVar(&h.neo4jUseLeader, "neo4j-use-leader", boolean("CDCSTREAM_NEO4J_USE_LEADER"), "run CDC queries on the cluster leader (freshest, loads the leader) instead of any reader (env CDCSTREAM_NEO4J_USE_LEADER)")
	return h
}

// validate checks the hardening flags; a nil config (no flags parsed) is valid.
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
	if h.maxSubscriptionsPerToken < 0 {
		errs = append(errs, fmt.Errorf("--max-subscriptions-per-token %d: must not be negative", h.maxSubscriptionsPerToken))
	}
	if h.maxSubscriptionsPerToken > 0 && h.authTokensFile == "" {
		errs = append(errs, errors.New("--max-subscriptions-per-token needs --auth-tokens-file"))
	}
	if h.maxStreamAge != 0 && h.maxStreamAge < time.Second {
		errs = append(errs, fmt.Errorf("--max-stream-age %v: must be 0 (off) or at least 1s", h.maxStreamAge))
	}
	if h.maxRecvMsgSize < 1024 || h.maxRecvMsgSize > 64<<20 {
		errs = append(errs, fmt.Errorf("--max-recv-msg-size %d: must be within 1KiB..64MiB", h.maxRecvMsgSize))
	}
	return errors.Join(errs...)
}

// hardening is the running hardening of one serve call.
type hardening struct {
	cfg      *hardeningConfig
	database string // the server's default database
	logger   *slog.Logger
	tls      *tlsconfig.Server // nil without TLS
	tokens   *auth.Store       // nil without tokens
	metrics  *metrics.Metrics
	tracing  *tracing.Tracing
	limiter  *limits.Limiter
}

// startHardening loads certificates and tokens and sets up metrics and tracing. It logs loudly
// when the service listens beyond loopback without TLS or without tokens.
func startHardening(ctx context.Context, h *hardeningConfig, listen, database string, logger *slog.Logger) (*hardening, error) {
	if h == nil {
		h = &hardeningConfig{maxRecvMsgSize: defaultMaxRecvMsgSize}
	}
	hd := &hardening{cfg: h, database: database, logger: logger}
	if h.tlsCert != "" {
		var opts []tlsconfig.ServerOption
		if h.tlsClientCA != "" {
			opts = append(opts, tlsconfig.WithClientCA(h.tlsClientCA))
		}
		s, err := tlsconfig.NewServer(h.tlsCert, h.tlsKey, opts...)
		if err != nil {
			return nil, err
		}
		hd.tls = s
	}
	if h.authTokensFile != "" {
		store, err := auth.Load(h.authTokensFile)
		if err != nil {
			return nil, err
		}
		hd.tokens = store
		logger.Info("auth tokens loaded", "file", h.authTokensFile, "tokens", store.Tokens().Len(), "names", store.Tokens().Names())
	}
	tr, err := tracing.Setup(ctx)
	if err != nil {
		return nil, err
	}
	hd.tracing = tr
	if tr.Enabled() {
		logger.Info("tracing to OTLP", "endpoint", tr.Endpoint())
	}
	hd.metrics = metrics.New(metrics.WithDefaultDatabase(database))
	hd.limiter = limits.New(
		limits.WithMaxPerPrincipal(h.maxSubscriptionsPerToken),
		limits.WithMaxStreamAge(h.maxStreamAge),
		limits.WithPrincipal(auth.NameFromContext),
		limits.WithLogger(logger))
	hd.warnInsecure(listen)
	return hd, nil
}

// warnInsecure logs at Warn (and on every start) what is exposed without protection.
func (hd *hardening) warnInsecure(listen string) {
	if loopbackOnly(listen) {
		return
	}
	if hd.tls == nil {
		hd.logger.Warn("INSECURE: listening beyond loopback WITHOUT TLS: streams, and any bearer tokens, travel in clear text; set --tls-cert and --tls-key", "address", listen)
	}
	if hd.tokens == nil {
		hd.logger.Warn("INSECURE: listening beyond loopback WITHOUT authentication: anyone who can connect reads every database's changes; set --auth-tokens-file", "address", listen)
	}
}

// loopbackOnly reports whether the listen address accepts loopback connections only.
func loopbackOnly(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// neo4jOptions are the options hardening adds to the Neo4j source.
func (hd *hardening) neo4jOptions() []neo4jcdc.Option {
	if hd.cfg.neo4jUseLeader {
		return []neo4jcdc.Option{neo4jcdc.WithAccessMode(neo4jcdc.AccessWrite)}
	}
	return nil
}

// wrapSource instruments the source with metrics and tracing spans.
func (hd *hardening) wrapSource(src server.Source) server.Source {
	var s server.Source = metrics.InstrumentSource(src, hd.metrics)
	if hd.tracing.Enabled() {
		s = tracing.TraceSource(s, hd.tracing.TracerProvider())
	}
	return s
}

// serverOptions are the grpc.Server options: credentials, message size, interceptors (gRPC
// metrics first so refused calls count, then authentication, then stream metrics, then
// limits, whose final checkpoint the stream metrics see) and the tracing stats handler.
func (hd *hardening) serverOptions() []grpc.ServerOption {
	unary := []grpc.UnaryServerInterceptor{hd.metrics.UnaryInterceptor()}
	stream := []grpc.StreamServerInterceptor{hd.metrics.GRPCStreamInterceptor()}
	if hd.tokens != nil {
		ai := auth.NewInterceptors(hd.tokens, auth.WithDefaultDatabase(hd.database), auth.WithLogger(hd.logger))
		unary = append(unary, ai.UnaryInterceptor())
		stream = append(stream, ai.StreamInterceptor())
	}
	stream = append(stream, hd.metrics.StreamInterceptor(), hd.limiter.StreamInterceptor())
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(hd.cfg.maxRecvMsgSize),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	}
	if hd.tls != nil {
		opts = append(opts, grpc.Creds(hd.tls.Credentials()))
	}
	return append(opts, hd.tracing.ServerOptions()...)
}

// start runs the background parts until ctx is done: the metrics HTTP server (when
// --metrics-listen is set) and the SIGHUP reloader. Call it after registering the services on
// gs. The goroutines are tracked by bg.
func (hd *hardening) start(ctx context.Context, gs *grpc.Server, bg *sync.WaitGroup) error {
	hd.metrics.InitializeGRPC(gs)
	if hd.cfg.metricsListen != "" {
		lis, err := net.Listen("tcp", hd.cfg.metricsListen)
		if err != nil {
			return fmt.Errorf("--metrics-listen %s: %w", hd.cfg.metricsListen, err)
		}
		hd.logger.Info("serving metrics", "address", "http://"+lis.Addr().String()+"/metrics")
		bg.Add(1)
		go func() {
			defer bg.Done()
			if err := hd.metrics.Serve(ctx, lis); err != nil {
				hd.logger.Error("metrics server stopped", "err", err)
			}
		}()
	}
	if hd.tls != nil || hd.tokens != nil {
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
					hd.reload()
				}
			}
		}()
	}
	return nil
}

// reload re-reads tokens and certificates; failures keep what is in force and are logged.
func (hd *hardening) reload() {
	if hd.tokens != nil {
		if err := hd.tokens.Reload(); err != nil {
			hd.logger.Error("SIGHUP: auth tokens NOT reloaded; the previous tokens stay in force", "file", hd.cfg.authTokensFile, "err", err)
		} else {
			t := hd.tokens.Tokens()
			hd.logger.Info("SIGHUP: auth tokens reloaded", "file", hd.cfg.authTokensFile, "tokens", t.Len(), "names", t.Names())
		}
	}
	if hd.tls != nil {
		if err := hd.tls.Reload(); err != nil {
			hd.logger.Error("SIGHUP: TLS certificate NOT reloaded; the previous one stays in force", "err", err)
		} else {
			hd.logger.Info("SIGHUP: TLS certificate reloaded", "cert", hd.cfg.tlsCert)
		}
	}
}

// stop flushes traces.
func (hd *hardening) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hd.tracing.Shutdown(ctx); err != nil {
		hd.logger.Warn("flushing traces", "err", err)
	}
}
