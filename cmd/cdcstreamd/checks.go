package main

// Start-up (and SIGHUP) checks of the files cdcstreamd is given: a server certificate that
// has expired or expires soon, and a secret file that others than its owner may read. They
// warn; they never refuse to start (an operator may be mid-rotation).

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

// certExpiryWarning is how long before its expiry a server certificate is warned about.
const certExpiryWarning = 30 * 24 * time.Hour

// secretFile is a file holding a secret, with the flag that named it.
type secretFile struct{ flag, file string }

// secretFiles are the files of h holding secrets (keys, tokens, the Neo4j password).
func (hd *hardening) secretFiles() []secretFile {
	h := hd.cfg
	var fs []secretFile
	for _, f := range []secretFile{
		{"--tls-key", h.tlsKey},
		{"--auth-tokens-file", h.authTokensFile},
		{"--metrics-tls-key", h.metricsTLSKey},
		{"--metrics-token-file", h.metricsTokenFile},
		{"--neo4j-password-file", hd.neo4jPasswordFile},
	} {
		if f.file != "" {
			fs = append(fs, f)
		}
	}
	return fs
}

// checkFiles logs a warning for every server certificate that expired or expires within
// certExpiryWarning, and for every secret file readable or writable by its group or others.
func (hd *hardening) checkFiles(now time.Time) {
	for _, c := range []struct{ flag, file string }{{"--tls-cert", hd.cfg.tlsCert}, {"--metrics-tls-cert", hd.cfg.metricsTLSCert}} {
		if c.file == "" {
			continue
		}
		notAfter, err := certNotAfter(c.file)
		switch {
		case err != nil:
			hd.logger.Warn("cannot read the certificate's expiry", "flag", c.flag, "file", c.file, "err", err)
		case !now.Before(notAfter):
			hd.logger.Warn("TLS certificate EXPIRED: clients will refuse it; replace it and send SIGHUP", "flag", c.flag, "file", c.file, "not_after", notAfter)
		case notAfter.Sub(now) < certExpiryWarning:
			hd.logger.Warn("TLS certificate expires soon: replace it and send SIGHUP", "flag", c.flag, "file", c.file, "not_after", notAfter, "remaining", notAfter.Sub(now).Round(time.Minute))
		}
	}
	for _, f := range hd.secretFiles() {
		fi, err := os.Stat(f.file)
		if err != nil {
			continue // its loader reports it
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			hd.logger.Warn("secret file is accessible to others than its owner: chmod 600 it", "flag", f.flag, "file", f.file, "mode", fmt.Sprintf("%04o", perm))
		}
	}
}

// certNotAfter is the expiry of the first certificate (the leaf) of a PEM file.
func certNotAfter(file string) (time.Time, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return time.Time{}, err
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return time.Time{}, fmt.Errorf("%s: no PEM certificate", file)
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return time.Time{}, err
		}
		return cert.NotAfter, nil
	}
}
