package main

import (
	"net"
	"strings"

	"github.com/cdcstream/cdcstream/internal/tlsconfig"
)

// loadTLS loads --tls-cert/--tls-key (and --tls-client-ca for mutual TLS); nil without TLS.
func loadTLS(h *hardeningConfig) (*tlsconfig.Server, error) {
	if h.tlsCert == "" {
		return nil, nil
	}
	var opts []tlsconfig.ServerOption
	if h.tlsClientCA != "" {
		opts = append(opts, tlsconfig.WithClientCA(h.tlsClientCA))
	}
	return tlsconfig.NewServer(h.tlsCert, h.tlsKey, opts...)
}

// reloadTLS re-reads the certificate (SIGHUP); a failure keeps the one in force and is logged.
func (hd *hardening) reloadTLS() {
	if hd.tls == nil {
		return
	}
	if err := hd.tls.Reload(); err != nil {
		hd.logger.Error("SIGHUP: TLS certificate NOT reloaded; the previous one stays in force", "err", err)
		return
	}
	hd.logger.Info("SIGHUP: TLS certificate reloaded", "cert", hd.cfg.tlsCert)
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
