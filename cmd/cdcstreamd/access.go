package main

import (
	"log/slog"

	"github.com/cdcstream/cdcstream/internal/auth"
	"github.com/cdcstream/cdcstream/server"
)

// loadTokens loads --auth-tokens-file; nil without tokens.
func loadTokens(h *hardeningConfig, logger *slog.Logger) (*auth.Store, error) {
	if h.authTokensFile == "" {
		return nil, nil
	}
	store, err := auth.Load(h.authTokensFile)
	if err != nil {
		return nil, err
	}
	logger.Info("auth tokens loaded", "file", h.authTokensFile, "tokens", store.Tokens().Len(), "names", store.Tokens().Names())
	return store, nil
}

// interceptors authenticate calls by bearer token; nil without tokens.
func (hd *hardening) interceptors() *auth.Interceptors {
	if hd.tokens == nil {
		return nil
	}
	return auth.NewInterceptors(hd.tokens, auth.WithLogger(hd.logger))
}

// admission authorises calls by database and enforces --max-subscriptions-per-token, inside
// the service on the database it will read; nil (admit everything) without tokens.
func (hd *hardening) admission() server.Admission {
	if hd.tokens == nil {
		return nil
	}
	return hd.tokens.Admission(auth.WithLogger(hd.logger),
		auth.WithMaxSubscriptionsPerToken(hd.cfg.maxSubscriptionsPerToken))
}

// reloadTokens re-reads the tokens file (SIGHUP); a failure keeps the tokens in force.
func (hd *hardening) reloadTokens() {
	if hd.tokens == nil {
		return
	}
	if err := hd.tokens.Reload(); err != nil {
		hd.logger.Error("SIGHUP: auth tokens NOT reloaded; the previous tokens stay in force", "file", hd.cfg.authTokensFile, "err", err)
		return
	}
	t := hd.tokens.Tokens()
	hd.logger.Info("SIGHUP: auth tokens reloaded", "file", hd.cfg.authTokensFile, "tokens", t.Len(), "names", t.Names())
}
