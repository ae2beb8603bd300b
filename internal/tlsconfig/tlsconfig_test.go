package tlsconfig_test

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/internal/tlsconfig"
	"github.com/cdcstream/cdcstream/internal/tlsconfig/tlstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve starts a gRPC server with the health service and the given credentials.
func serve(t *testing.T, creds credentials.TransportCredentials) string {
	t.Helper()
	_, addr := testkit.Serve(t, func(gs grpc.ServiceRegistrar) { healthpb.RegisterHealthServer(gs, health.NewServer()) },
		testkit.ServerOptions(grpc.Creds(creds)))
	return addr
}

// check makes one health call and returns its error and the negotiated TLS version (0 when
// the call failed or was plaintext).
func check(t *testing.T, addr string, creds credentials.TransportCredentials) (uint16, error) {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var p peer.Peer
	_, err = healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Peer(&p))
	if err != nil {
		return 0, err
	}
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
		return ti.State.Version, nil
	}
	return 0, nil
}

func clientCreds(t *testing.T, opts ...tlsconfig.ClientOption) credentials.TransportCredentials {
	t.Helper()
	c, err := tlsconfig.ClientCredentials(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestServerTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "root")
	srv := ca.Server(t, "server")
	s, err := tlsconfig.NewServer(srv.CertFile, srv.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if s.MutualTLS() {
		t.Fatal("MutualTLS without a client CA")
	}
	addr := serve(t, s.Credentials())

	t.Run("plaintext refused", func(t *testing.T) {
		if _, err := check(t, addr, insecure.NewCredentials()); status.Code(err) != codes.Unavailable {
			t.Fatalf("plaintext call: %v, want Unavailable", err)
		}
	})
	t.Run("trusted CA negotiates TLS 1.3", func(t *testing.T) {
		v, err := check(t, addr, clientCreds(t, tlsconfig.WithCA(ca.CertFile)))
		if err != nil {
			t.Fatal(err)
		}
		if v != tls.VersionTLS13 {
			t.Fatalf("version %x, want TLS 1.3", v)
		}
	})
	t.Run("TLS 1.2 still accepted", func(t *testing.T) {
		c, err := tlsconfig.Client(tlsconfig.WithCA(ca.CertFile))
		if err != nil {
			t.Fatal(err)
		}
		c.MaxVersion = tls.VersionTLS12
		v, err := check(t, addr, credentials.NewTLS(c))
		if err != nil || v != tls.VersionTLS12 {
			t.Fatalf("version %x, err %v", v, err)
		}
	})
	t.Run("TLS 1.1 refused", func(t *testing.T) {
		c := &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true}
		if _, err := check(t, addr, credentials.NewTLS(c)); status.Code(err) != codes.Unavailable {
			t.Fatalf("TLS 1.1 call: %v, want Unavailable", err)
		}
	})
	t.Run("untrusted server refused", func(t *testing.T) {
		other := tlstest.NewCA(t, "other")
		if _, err := check(t, addr, clientCreds(t, tlsconfig.WithCA(other.CertFile))); status.Code(err) != codes.Unavailable {
			t.Fatalf("call trusting another CA: %v, want Unavailable", err)
		}
	})
	t.Run("server name", func(t *testing.T) {
		if _, err := check(t, addr, clientCreds(t, tlsconfig.WithCA(ca.CertFile), tlsconfig.WithServerName("localhost"))); err != nil {
			t.Fatal(err)
		}
		if _, err := check(t, addr, clientCreds(t, tlsconfig.WithCA(ca.CertFile), tlsconfig.WithServerName("elsewhere.example"))); status.Code(err) != codes.Unavailable {
			t.Fatalf("wrong server name: %v, want Unavailable", err)
		}
	})
}

func TestMutualTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "root")
	clientCA := tlstest.NewCA(t, "clients")
	rogueCA := tlstest.NewCA(t, "rogue")
	srv := ca.Server(t, "server")
	s, err := tlsconfig.NewServer(srv.CertFile, srv.KeyFile, tlsconfig.WithClientCA(clientCA.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	if !s.MutualTLS() {
		t.Fatal("MutualTLS false with a client CA")
	}
	addr := serve(t, s.Credentials())
	good := clientCA.Client(t, "alice")
	rogue := rogueCA.Client(t, "mallory")

	if _, err := check(t, addr, clientCreds(t, tlsconfig.WithCA(ca.CertFile))); status.Code(err) != codes.Unavailable {
		t.Fatalf("no client certificate: %v, want Unavailable", err)
	}
	if _, err := check(t, addr, clientCreds(t, tlsconfig.WithCA(ca.CertFile),
		tlsconfig.WithClientCertificate(rogue.CertFile, rogue.KeyFile))); status.Code(err) != codes.Unavailable {
		t.Fatalf("client certificate of another CA: %v, want Unavailable", err)
	}
	if _, err := check(t, addr, clientCreds(t, tlsconfig.WithCA(ca.CertFile),
		tlsconfig.WithClientCertificate(good.CertFile, good.KeyFile))); err != nil {
		t.Fatalf("valid client certificate: %v", err)
	}
	if _, err := check(t, addr, insecure.NewCredentials()); status.Code(err) != codes.Unavailable {
		t.Fatalf("plaintext under mTLS: %v, want Unavailable", err)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	oldCA, newCA := tlstest.NewCA(t, "old"), tlstest.NewCA(t, "new")
	install := func(p tlstest.Pair) {
		for src, dst := range map[string]string{p.CertFile: certFile, p.KeyFile: keyFile} {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(oldCA.Server(t, "server-old"))
	s, err := tlsconfig.NewServer(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, s.Credentials())
	trustOld := clientCreds(t, tlsconfig.WithCA(oldCA.CertFile))
	trustNew := clientCreds(t, tlsconfig.WithCA(newCA.CertFile))
	if _, err := check(t, addr, trustOld); err != nil {
		t.Fatal(err)
	}

	// A broken file keeps the old material.
	if err := os.WriteFile(keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil {
		t.Fatal("Reload accepted a broken key")
	} else if strings.Contains(err.Error(), "not a key") {
		t.Fatalf("error shows file contents: %v", err)
	}
	if _, err := check(t, addr, trustOld); err != nil {
		t.Fatalf("after failed reload: %v", err)
	}

	install(newCA.Server(t, "server-new"))
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := check(t, addr, trustNew); err != nil {
		t.Fatalf("after reload, new CA: %v", err)
	}
	if _, err := check(t, addr, trustOld); status.Code(err) != codes.Unavailable {
		t.Fatalf("after reload, old CA: %v, want Unavailable", err)
	}
}

func TestConfigErrors(t *testing.T) {
	ca := tlstest.NewCA(t, "root")
	p := ca.Server(t, "server")
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func() error{
		"no files":     func() error { _, err := tlsconfig.NewServer("", ""); return err },
		"missing cert": func() error { _, err := tlsconfig.NewServer(p.CertFile+".no", p.KeyFile); return err },
		"client CA not PEM": func() error {
			_, err := tlsconfig.NewServer(p.CertFile, p.KeyFile, tlsconfig.WithClientCA(notPEM))
			return err
		},
		"CA not PEM":       func() error { _, err := tlsconfig.Client(tlsconfig.WithCA(notPEM)); return err },
		"cert without key": func() error { _, err := tlsconfig.Client(tlsconfig.WithClientCertificate(p.CertFile, "")); return err },
		"mismatched pair": func() error {
			_, err := tlsconfig.Client(tlsconfig.WithClientCertificate(p.CertFile, ca.Client(t, "c").KeyFile))
			return err
		},
	}
	for name, f := range cases {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
