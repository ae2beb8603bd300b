package e2e

import (
	"bufio"
	"context"
	"encoding/json"
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
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds cdcstreamd and cdctail once per test binary run.
func binaries(t *testing.T) (cdcstreamd, cdctail string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "cdcstream-e2e-bin")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binDir, "../../cmd/cdcstreamd", "../../cmd/cdctail").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "cdcstreamd"), filepath.Join(binDir, "cdctail")
}

// daemon is a running cdcstreamd process.
type daemon struct {
	cmd    *exec.Cmd
	addr   string
	stderr *lockedBuffer
	exited chan error // receives Wait's result once
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listenRE = regexp.MustCompile(`msg=listening address=(\S+)`)

// startDaemon runs cdcstreamd with args on 127.0.0.1:0 and waits for its listening line.
func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	bin, _ := binaries(t)
	cmd := exec.Command(bin, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	pr, pw := io.Pipe()
	d := &daemon{cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- cmd.Wait(); pw.Close() }()
	found := make(chan string, 1) // the listen address, once logged
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(d.stderr, line)
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-d.exited
		}
	})
	select {
	case d.addr = <-found:
	case err := <-d.exited:
		t.Fatalf("cdcstreamd exited before listening: %v\n%s", err, d.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("cdcstreamd did not log its listen address:\n%s", d.stderr)
	}
	return d
}

type tailLine struct {
	ID       string          `json:"id"`
	TxID     json.Number     `json:"txId"`
	Seq      json.Number     `json:"seq"`
	Database string          `json:"database"`
	Event    json.RawMessage `json:"event"`
	Metadata json.RawMessage `json:"metadata"`
}

// runTail runs cdctail and parses its stdout as JSON lines.
func runTail(t *testing.T, args ...string) []tailLine {
	t.Helper()
	_, bin := binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cdctail %v: %v\n%s", args, err, stderr.String())
	}
	var lines []tailLine
	for i, raw := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var l tailLine
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i+1, err, raw)
		}
		if l.ID == "" || l.TxID == "" || l.Seq == "" || l.Database != "neo4j" || len(l.Event) < 2 || len(l.Metadata) < 2 {
			t.Fatalf("line %d lacks id/txId/seq/database/event/metadata: %s", i+1, raw)
		}
		lines = append(lines, l)
	}
	return lines
}

// TestCdctailContinuesFromCheckpointFile: against `cdcstreamd --demo` (what `make run` runs),
// `cdctail --max-events 100` prints 100 JSON lines; run again with the same checkpoint file it
// prints the next 100, exactly where the first run stopped.
func TestCdctailContinuesFromCheckpointFile(t *testing.T) {
	d := startDaemon(t, "--demo", "--demo-rate", "0", "--demo-preload", "150", "--demo-seed", "3")
	ckpt := filepath.Join(t.TempDir(), "cursor.json")
	first := runTail(t, "-a", d.addr, "--earliest", "--max-events", "100", "--checkpoint-file", ckpt)
	second := runTail(t, "-a", d.addr, "--earliest", "--max-events", "100", "--checkpoint-file", ckpt)
	whole := runTail(t, "-a", d.addr, "--earliest", "--max-events", "200")
	if len(first) != 100 || len(second) != 100 || len(whole) != 200 {
		t.Fatalf("line counts %d, %d, %d; want 100, 100, 200", len(first), len(second), len(whole))
	}
	for i, l := range append(first, second...) {
		if l.TxID != whole[i].TxID || l.Seq != whole[i].Seq || l.ID != whole[i].ID {
			t.Fatalf("line %d of the two checkpointed runs is (%s,%s), the uninterrupted run has (%s,%s)", i, l.TxID, l.Seq, whole[i].TxID, whole[i].Seq)
		}
	}
}

// TestCdcstreamdSIGTERM: the real binary reports SERVING, and on SIGTERM ends an open stream
// with a final checkpoint and UNAVAILABLE / SERVER_SHUTTING_DOWN, then exits 0.
func TestCdcstreamdSIGTERM(t *testing.T) {
	d := startDaemon(t, "--demo", "--demo-rate", "20", "--checkpoint-interval", "1s")
	conn, err := grpc.NewClient(d.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	waitFor(t, "health SERVING", 30*time.Second, func() bool {
		r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "cdcstream.v1.ChangeStreamService"})
		return err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING
	})
	stream, err := cdcstreamv1.NewChangeStreamServiceClient(conn).Subscribe(ctx, &cdcstreamv1.SubscribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	sub := &subscription{t: t, stream: stream, cancel: cancel}
	sub.next() // the stream is open
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err, before := sub.recvErr()
	wantStatus(t, err, codes.Unavailable, "SERVER_SHUTTING_DOWN")
	if len(before) == 0 || before[len(before)-1].GetCheckpoint() == nil {
		t.Fatalf("no final checkpoint before UNAVAILABLE (%d messages)", len(before))
	}
	select {
	case err := <-d.exited:
		if err != nil {
			t.Fatalf("cdcstreamd exited with %v\n%s", err, d.stderr)
		}
		d.exited <- nil // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatalf("cdcstreamd did not exit after SIGTERM\n%s", d.stderr)
	}
}
