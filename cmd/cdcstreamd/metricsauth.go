package main

// Protection of /metrics: TLS (--metrics-tls-cert, --metrics-tls-key; they may name the gRPC
// certificate's files) and a bearer token (--metrics-token-file: Prometheus'
// authorization.credentials_file). Both are reloaded on SIGHUP.

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/cdcstream/cdcstream/internal/tlsconfig"

	"github.com/cdcstream/cdcstream/internal/metrics"
)

// metricsToken is the bearer token /metrics requires. It is safe for concurrent use.
type metricsToken struct {
	file string
	// mu guards token.
	mu    sync.RWMutex
	token []byte
}

// loadMetricsToken reads --metrics-token-file; nil without it.
func loadMetricsToken(file string) (*metricsToken, error) {
	if file == "" {
		return nil, nil
	}
	t := &metricsToken{file: file}
	return t, t.reload()
}

// reload re-reads the token file; on error the token in force stays.
func (t *metricsToken) reload() error {
	b, err := os.ReadFile(t.file)
	if err != nil {
		return fmt.Errorf("--metrics-token-file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 16 {
		return fmt.Errorf("--metrics-token-file %s: the token must be at least 16 characters", t.file)
	}
	t.mu.Lock()
	t.token = []byte(tok)
	t.mu.Unlock()
	return nil
}

// authorize wraps h: requests without "Authorization: Bearer <token>" get 401.
func (t *metricsToken) authorize(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		t.mu.RLock()
		want := t.token
		t.mu.RUnlock()
		if !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cdcstream metrics"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// loadMetricsTLS loads --metrics-tls-cert/--metrics-tls-key; nil without them.
func loadMetricsTLS(h *hardeningConfig) (*tlsconfig.Server, error) {
	if h.metricsTLSCert == "" {
		return nil, nil
	}
	s, err := tlsconfig.NewServer(h.metricsTLSCert, h.metricsTLSKey)
	if err != nil {
		return nil, fmt.Errorf("--metrics-tls-cert: %w", err)
	}
	return s, nil
}

// metricsTLSConfig is s's configuration for HTTP/1.1 scrapers (Prometheus' default).
func metricsTLSConfig(s *tlsconfig.Server) *tls.Config {
	base := s.Config()
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := base.GetConfigForClient(hello)
			if err != nil {
				return nil, err
			}
			c = c.Clone()
			c.NextProtos = []string{"http/1.1"}
			return c, nil
		},
	}
}

// reloadMetricsAuth re-reads the metrics certificate and token (SIGHUP); a failure keeps
// what is in force and is logged.
func (hd *hardening) reloadMetricsAuth() {
	if hd.metricsTLS != nil {
		if err := hd.metricsTLS.Reload(); err != nil {
			hd.logger.Error("SIGHUP: metrics TLS certificate NOT reloaded; the previous one stays in force", "err", err)
		} else {
			hd.logger.Info("SIGHUP: metrics TLS certificate reloaded", "cert", hd.cfg.metricsTLSCert)
		}
	}
	if hd.metricsToken != nil {
		if err := hd.metricsToken.reload(); err != nil {
			hd.logger.Error("SIGHUP: metrics token NOT reloaded; the previous one stays in force", "err", err)
		} else {
			hd.logger.Info("SIGHUP: metrics token reloaded", "file", hd.cfg.metricsTokenFile)
		}
	}
}

// serveMetricsHTTP serves /metrics on lis (with TLS and the token when configured) until ctx
// is done, then shuts down, waiting at most 5s for scrapes in flight.
func (hd *hardening) serveMetricsHTTP(ctx context.Context, lis net.Listener) error {
	var wrap func(http.Handler) http.Handler
	if hd.metricsToken != nil {
		wrap = hd.metricsToken.authorize
	}
	if hd.metricsTLS != nil {
		lis = tls.NewListener(lis, metricsTLSConfig(hd.metricsTLS))
	}
	// Failed handshakes and bad requests are the client's doing: Debug, so that they cannot
	// flood the log.
	return hd.metrics.Serve(ctx, lis, metrics.WithHandlerWrap(wrap),
		metrics.WithErrorLog(slog.NewLogLogger(hd.logger.Handler(), slog.LevelDebug)))
}
