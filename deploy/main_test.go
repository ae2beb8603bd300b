package deploy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// repoRoot is the repository's top directory (this module lives in deploy/).
var repoRoot = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Dir(wd)
}()

// scratch is a world-readable directory for what the tests build, so that an unprivileged
// user can execute the binaries; TestMain removes it.
var scratch string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cdcstream-deploy-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scratch = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is a running cdcstreamd.
type daemon struct {
	cmd *exec.Cmd
	// addr is the gRPC address and metricsURL the /metrics URL, from its log.
	addr, metricsURL string
	// log collects its output; mu guards it.
	mu  sync.Mutex
	log strings.Builder
	// exited is closed once the process was waited for.
	exited chan struct{}
}

// Log returns everything the daemon wrote so far.
func (d *daemon) Log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// The addresses in cdcstreamd's log, in either --log-format (text, json).
var (
	listeningRE = regexp.MustCompile(`msg="?listening"? address=(\S+)|"msg":"listening","address":"([^"]+)"`)
	metricsRE   = regexp.MustCompile(`msg="serving metrics" address=(\S+)|"msg":"serving metrics","address":"([^"]+)"`)
)

// submatch is the first non-empty group of a match.
func submatch(m []string) string {
	for _, g := range m[1:] {
		if g != "" {
			return g
		}
	}
	return ""
}

// unprivileged is the user of the image (USER in the Dockerfile, runAsUser in Kubernetes).
const unprivileged = 65532

// startAsImage runs bin the way the image runs it: with an empty environment, in an empty
// working directory, and, when the test runs as root, as user and group 65532. It waits until
// the gRPC and metrics addresses are logged, and stops the process when the test ends.
func startAsImage(t *testing.T, bin string, args ...string) *daemon {
	t.Helper()
	return startAsImageEnv(t, bin, nil, args...)
}

// unprivilegedAttr runs a process as user and group 65532 when the test runs as root.
func unprivilegedAttr() *syscall.SysProcAttr {
	if os.Geteuid() != 0 {
		return nil
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: unprivileged, Gid: unprivileged, NoSetGroups: true}}
}

// runEmpty runs bin as the image would (empty environment, unprivileged) and returns its
// combined output.
func runEmpty(bin string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{}
	cmd.Dir = "/"
	cmd.SysProcAttr = unprivilegedAttr()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// startAsImageEnv is startAsImage with env (KEY=VALUE) as the whole environment, as a
// container's env list is.
func startAsImageEnv(t *testing.T, bin string, env []string, args ...string) *daemon {
	t.Helper()
	wd, err := os.MkdirTemp(scratch, "wd-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(wd, 0o755); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	d.cmd.Env = append([]string{}, env...) // never nil: nil would inherit the test's
	d.cmd.Dir = wd
	d.cmd.SysProcAttr = unprivilegedAttr()
	pr, pw := io.Pipe()
	d.cmd.Stdout, d.cmd.Stderr = pw, pw
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan [2]string, 1)
	go func() {
		var a [2]string
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.log.WriteString(line + "\n")
			d.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				a[0] = submatch(m)
			}
			if m := metricsRE.FindStringSubmatch(line); m != nil {
				a[1] = "http://" + strings.TrimPrefix(submatch(m), "http://")
			}
			if a[0] != "" && a[1] != "" {
				select {
				case addrs <- a:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		_ = d.cmd.Wait()
		pw.Close()
		close(d.exited)
	}()
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(30 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
	})
	select {
	case a := <-addrs:
		d.addr, d.metricsURL = a[0], a[1]
	case <-d.exited:
		t.Fatalf("%s exited before listening:\n%s", bin, d.Log())
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not log its addresses within 60s:\n%s", bin, d.Log())
	}
	return d
}

// waitServing waits until the daemon's gRPC health service reports service SERVING.
func waitServing(t *testing.T, addr, service string) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var last string
	for {
		res, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err == nil && res.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		last = fmt.Sprintf("%v %v", res.GetStatus(), err)
		select {
		case <-ctx.Done():
			t.Fatalf("health of %q at %s never SERVING; last answer: %s", service, addr, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// run runs a command in dir and returns its combined output, failing the test on error.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
