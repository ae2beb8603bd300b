package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/proctest"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

// binaries builds cdcstreamd and cdctail once per test binary run.
func binaries(t *testing.T) (cdcstreamd, cdctail string) {
	t.Helper()
	p := proctest.Build(t, "github.com/cdcstream/cdcstream/cmd/cdcstreamd", "github.com/cdcstream/cdcstream/cmd/cdctail")
	return p[0], p[1]
}

// startDaemon runs cdcstreamd with args on 127.0.0.1:0 and waits for its listening line.
func startDaemon(t *testing.T, args ...string) *proctest.Daemon {
	t.Helper()
	bin, _ := binaries(t)
	return proctest.StartDaemon(t, bin, nil, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
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
	first := runTail(t, "-a", d.Addr, "--earliest", "--max-events", "100", "--checkpoint-file", ckpt)
	second := runTail(t, "-a", d.Addr, "--earliest", "--max-events", "100", "--checkpoint-file", ckpt)
	whole := runTail(t, "-a", d.Addr, "--earliest", "--max-events", "200")
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
	conn := testkit.Dial(t, d.Addr)
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
	d.Signal(t, syscall.SIGTERM)
	err, before := sub.recvErr()
	wantStatus(t, err, codes.Unavailable, "SERVER_SHUTTING_DOWN")
	if len(before) == 0 || before[len(before)-1].GetCheckpoint() == nil {
		t.Fatalf("no final checkpoint before UNAVAILABLE (%d messages)", len(before))
	}
	exited, err := d.Wait(30 * time.Second)
	if !exited {
		t.Fatalf("cdcstreamd did not exit after SIGTERM\n%s", d.Log)
	}
	if err != nil {
		t.Fatalf("cdcstreamd exited with %v\n%s", err, d.Log)
	}
}

// TestLocalValuesExactInADSTZone: the driver builds LOCAL DATETIME values in the process's
// local zone; cdcstreamd running in a zone with daylight saving time must still deliver a
// LOCAL DATETIME that falls in that zone's DST gap exactly as written.
func TestLocalValuesExactInADSTZone(t *testing.T) {
	tg := newSimTarget(t)
	bin, _ := binaries(t)
	d := proctest.StartDaemon(t, bin, []string{"TZ=Europe/Stockholm", "NEO4J_PASSWORD=" + simPassword},
		"--listen", "127.0.0.1:0", "--neo4j-uri", tg.uri(), "--neo4j-user", simUser, "--database", simDatabase)
	conn := testkit.Dial(t, d.Addr)
	cli := cdcstreamv1.NewChangeStreamServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cur, err := cli.GetCursor(ctx, &cdcstreamv1.GetCursorRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// 02:30 on 2024-03-31 does not exist in Stockholm: clocks jumped from 02:00 to 03:00.
	want := map[string]*cdcstreamv1.Value{
		"in_gap": {Kind: &cdcstreamv1.Value_LocalDateTimeValue{LocalDateTimeValue: &cdcstreamv1.LocalDateTime{
			Date: &cdcstreamv1.Date{Year: 2024, Month: 3, Day: 31}, Time: lt(2, 30, 0, 0)}}},
		"local_time": {Kind: &cdcstreamv1.Value_LocalTimeValue{LocalTimeValue: lt(2, 30, 0, 5)}},
	}
	tg.write(t, nil, func(w writer) { w.createNode([]string{"Clock"}, want) })
	stream, err := cli.Subscribe(ctx, &cdcstreamv1.SubscribeRequest{Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: cur.GetCursor()}})
	if err != nil {
		t.Fatal(err)
	}
	sub := &subscription{t: t, stream: stream, cancel: cancel}
	got := sub.changes(1)[0].GetNode().GetAfter().GetProperties()
	for k, v := range want {
		if !proto.Equal(got[k], v) {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
}
