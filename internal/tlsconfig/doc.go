// Package tlsconfig builds the TLS configurations of cdcstream: the server's (certificate and
// key files, optionally a client CA for mutual TLS) and a client's (CA, client certificate,
// server name), so that cdcstreamd, cdctail and tests agree on one policy.
//
// Policy: TLS 1.2 at least, TLS 1.3 preferred (Go negotiates the highest version both sides
// speak); for TLS 1.2 only ECDHE key exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305).
// With a client CA the server requires and verifies a client certificate
// (tls.RequireAndVerifyClientCert).
//
// The server's certificate, key and client CA are re-read by (*Server).Reload, so rotated
// certificates take effect for new connections without a restart; established connections are
// untouched. A failed reload keeps the previous material.
//
// Errors name files, never their contents.
package tlsconfig
