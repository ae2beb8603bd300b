package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"google.golang.org/grpc/credentials"
)

// cipherSuites are the TLS 1.2 suites offered (TLS 1.3 suites are not configurable and all
// good): ECDHE for forward secrecy, AEAD only.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ServerOption configures a Server.
type ServerOption func(*serverOptions)

// serverOptions are the settings of NewServer.
type serverOptions struct {
	clientCAFile string
}

// WithClientCA turns on mutual TLS: clients must present a certificate signed by a CA in the
// PEM file (tls.RequireAndVerifyClientCert).
func WithClientCA(file string) ServerOption {
	return func(o *serverOptions) { o.clientCAFile = file }
}

// Server holds a server's TLS material and hands out configurations that always use the
// newest successfully loaded material. It is safe for concurrent use.
type Server struct {
	certFile, keyFile string
	opts              serverOptions
	// material is the current certificate and client CA pool, swapped whole by Reload.
	material atomic.Pointer[serverMaterial]
}

// serverMaterial is one consistent load of the server's files.
type serverMaterial struct {
	cert      *tls.Certificate
	clientCAs *x509.CertPool // nil without mutual TLS
}

// NewServer loads the certificate and key (PEM files) and, with WithClientCA, the client CA.
func NewServer(certFile, keyFile string, opts ...ServerOption) (*Server, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("tls: both a certificate file and a key file are required")
	}
	s := &Server{certFile: certFile, keyFile: keyFile}
	for _, o := range opts {
		o(&s.opts)
	}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload re-reads the certificate, key and client CA files. On error the previous material
// stays in use and the error is returned.
func (s *Server) Reload() error {
	cert, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		// LoadX509KeyPair's errors describe the PEM structure, never key bytes.
		return fmt.Errorf("tls: loading certificate %s and key %s: %w", s.certFile, s.keyFile, err)
	}
	m := &serverMaterial{cert: &cert}
	if s.opts.clientCAFile != "" {
		pool, err := loadPool(s.opts.clientCAFile)
		if err != nil {
			return fmt.Errorf("tls: client CA: %w", err)
		}
		m.clientCAs = pool
	}
	s.material.Store(m)
	return nil
}

// MutualTLS reports whether client certificates are required.
func (s *Server) MutualTLS() bool { return s.opts.clientCAFile != "" }

// Config returns a server tls.Config that picks up reloaded material for every new
// connection.
func (s *Server) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.current(), nil
		},
	}
}

// current is the complete configuration for the current material.
func (s *Server) current() *tls.Config {
	m := s.material.Load()
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: cipherSuites,
		Certificates: []tls.Certificate{*m.cert},
		NextProtos:   []string{"h2"},
	}
	if m.clientCAs != nil {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = m.clientCAs
	}
	return c
}

// Credentials returns gRPC transport credentials for grpc.Creds.
func (s *Server) Credentials() credentials.TransportCredentials {
	return credentials.NewTLS(s.Config())
}

// loadPool reads a PEM file holding one or more CA certificates.
func loadPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}
