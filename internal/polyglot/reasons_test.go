package polyglot

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/cdcstream/cdcstream/client"
	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
)

// rotationChanges is how many live changes each consumer reads across rotations. The consumers
// start at NOW, so every change they read is written while they read: at rotationDemoRate
// transactions per second (of one or a few changes each, some bursts) that takes well over
// five seconds, however fast or late the consumer is, and a stream that rotates every second
// (±10%) rotates at least three times meanwhile.
const (
	rotationChanges  = 400
	rotationDemoRate = "20"
)

// TestRotationResume runs every consumer from NOW against `cdcstreamd --demo --max-stream-age
// 1s` and requires each to read exactly the changes the Go client library reads over the same
// range (none lost, none repeated) across at least three rotations, each logged with the
// reason STREAM_ROTATED and resumed at once. The consumers run with --max-retries 0: a rotation
// counted as a failed attempt would end them.
func TestRotationResume(t *testing.T) {
	// Prepare (generate, compile, npm ci) before the first change is written, so that no
	// consumer starts late and reads a backlog within fewer rotations. A missing runtime skips
	// its language's subtest.
	var ready []*consumer
	for _, c := range consumers {
		t.Run("prepare/"+c.lang, func(t *testing.T) { ready = append(ready, c.prepare(t)) })
	}
	d := startDaemon(t, "--max-stream-age", "1s", "--demo-rate", rotationDemoRate)
	conn := d.dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cur, err := cdcstreamv1.NewChangeStreamServiceClient(conn).GetCursor(ctx,
		&cdcstreamv1.GetCursorRequest{Position: cdcstreamv1.StartPosition_START_POSITION_NOW})
	if err != nil {
		t.Fatal(err)
	}
	from := cur.GetCursor()

	// The consumers read concurrently (in goroutines, not parallel subtests, which -parallel
	// may serialise), each from its own NOW, later than from.
	type outcome struct {
		res result
		err error
	}
	got := make([]outcome, len(ready))
	var wg sync.WaitGroup
	for i, c := range ready {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.exec(3*time.Minute, "--address", d.addr, "--database", from.GetDatabase(),
				"--max-events", itoa(rotationChanges), "--max-retries", "0", "--backoff", "0.01")
			got[i] = outcome{res, err}
		}()
	}
	wg.Wait()
	// The Go client library reads from from up to the last change every consumer printed.
	outputs := make([][]*cdcstreamv1.ChangeEvent, len(ready))
	targets := map[string]bool{}
	for i, c := range ready {
		if got[i].err != nil || got[i].res.code != 0 {
			continue // reported below
		}
		outputs[i] = changes(parseOutput(t, c.lang, got[i].res.stdout))
		if n := len(outputs[i]); n > 0 {
			targets[outputs[i][n-1].GetCursor().GetId()] = true
		}
	}
	want := readClient(ctx, t, conn, from, targets)
	report(t, "go-client", len(want))
	index := map[string]int{}
	for i, ev := range want {
		index[ev.GetCursor().GetId()] = i
	}

	for i, c := range ready {
		t.Run(c.lang, func(t *testing.T) {
			res, err := got[i].res, got[i].err
			if err != nil {
				t.Fatalf("%v\n%s", err, d.logText())
			}
			if res.code != 0 {
				t.Fatalf("exit status %d, want 0 (a rotation must not count as a failed attempt)\nstderr:\n%s", res.code, res.stderr)
			}
			evs := outputs[i]
			report(t, c.lang, len(evs))
			if len(evs) != rotationChanges {
				t.Fatalf("read %d changes, want %d", len(evs), rotationChanges)
			}
			first, ok := index[evs[0].GetCursor().GetId()]
			if !ok || first+len(evs) > len(want) {
				t.Fatalf("first change (cursor %s) not among the %d the Go client read from %s", evs[0].GetCursor().GetId(), len(want), from.GetId())
			}
			for k, ev := range evs {
				if ok, diff := sameMessage(t, ev, want[first+k]); !ok {
					t.Fatalf("change %d of %d differs from the Go client's (lost or repeated across a rotation?):\n%s", k+1, len(evs), diff)
				}
			}
			rotated := 0
			for _, l := range lines(res.stderr) {
				if !strings.Contains(l, cdcstreamv1.ErrorReason_STREAM_ROTATED.String()) {
					continue
				}
				rotated++
				if !strings.Contains(l, "UNAVAILABLE") || !strings.Contains(l, "at once") {
					t.Errorf("rotation not logged as UNAVAILABLE with an immediate resume: %s", l)
				}
			}
			t.Logf("%s resumed across %d rotations", c.lang, rotated)
			if rotated < 3 {
				t.Errorf("logged %d STREAM_ROTATED ends, want at least 3\nstderr:\n%s", rotated, res.stderr)
			}
		})
	}
}

// readClient reads the changes strictly after from, up to the last of the cursors in targets,
// with the Go client library, which resumes across rotations by itself.
func readClient(ctx context.Context, t *testing.T, conn grpc.ClientConnInterface, from *cdcstreamv1.Cursor, targets map[string]bool) []*cdcstreamv1.ChangeEvent {
	t.Helper()
	sub := client.New(conn).Subscribe(ctx, &cdcstreamv1.SubscribeRequest{
		Database: from.GetDatabase(),
		Start:    &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: from},
	})
	defer sub.Close()
	var evs []*cdcstreamv1.ChangeEvent
	left := len(targets)
	for left > 0 && sub.Receive() {
		if ev := sub.Msg().GetChange(); ev != nil {
			evs = append(evs, ev)
			if targets[ev.GetCursor().GetId()] {
				left--
			}
		}
	}
	if left > 0 {
		t.Fatalf("client library stopped after %d changes, %d of the consumers' last cursors not seen: %v", len(evs), left, sub.Err())
	}
	return evs
}

// reasonStatus is a status as cdcstream sends it: ErrorInfo in domain, and RetryInfo when
// retry is not nil.
func reasonStatus(code codes.Code, msg, domain string, reason cdcstreamv1.ErrorReason, md map[string]string, retry *time.Duration) error {
	ds := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason.String(), Domain: domain, Metadata: md}}
	if retry != nil {
		ds = append(ds, &errdetails.RetryInfo{RetryDelay: durationpb.New(*retry)})
	}
	st, err := status.New(code, msg).WithDetails(ds...)
	if err != nil {
		panic(err)
	}
	return st.Err()
}

// TestConsumersReadReasons plays the error ends the consumers tell apart by ErrorInfo reason
// on the scripted server.
func TestConsumersReadReasons(t *testing.T) {
	for _, c := range consumers {
		t.Run(c.lang, func(t *testing.T) {
			t.Parallel()
			cl := c.prepare(t)
			t.Run("CursorExpiredNamesEarliestCursor", func(t *testing.T) { testCursorExpired(t, cl) })
			t.Run("CursorExpiredOfAnotherDomainIsNotCdcstreams", func(t *testing.T) { testForeignDomain(t, cl) })
			t.Run("ShutdownResumesWithoutCountingAnAttempt", func(t *testing.T) { testShutdownNotCounted(t, cl) })
			t.Run("RetryInfoDelayReplacesBackoff", func(t *testing.T) { testRetryInfo(t, cl) })
		})
	}
}

// fail is an attempt that ends with err at once.
func fail(err error) attempt {
	return func(*cdcstreamv1.SubscribeRequest, grpc.ServerStreamingServer[cdcstreamv1.SubscribeResponse]) error {
		return err
	}
}

func testCursorExpired(t *testing.T, c *consumer) {
	fake := &fakeService{attempts: []attempt{fail(reasonStatus(codes.OutOfRange,
		"cursor expired: the change is no longer in Neo4j's retained transaction log", server.ErrorDomain,
		cdcstreamv1.ErrorReason_CURSOR_EXPIRED,
		map[string]string{"database": "db1", server.MetadataEarliestCursor: "earliest-cursor_7=="}, nil))}}
	addr := serveFake(t, fake)
	res := c.run(t, runTimeout, "--address", addr, "--database", "db1", "--from", "pruned-cursor_3==",
		"--max-retries", "5", "--backoff", "0.01")
	if res.code != 1 {
		t.Errorf("exit status %d, want 1 (the documented exit status of a gRPC error)\nstderr:\n%s", res.code, res.stderr)
	}
	for _, want := range []string{"OUT_OF_RANGE", cdcstreamv1.ErrorReason_CURSOR_EXPIRED.String(), "pruned-cursor_3==", "earliest-cursor_7=="} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr does not name %q:\n%s", want, res.stderr)
		}
	}
	if n := len(fake.requests()); n != 1 {
		t.Errorf("server saw %d Subscribe calls after CURSOR_EXPIRED, want 1 (no retry)", n)
	}
	if res.stdout != "" {
		t.Errorf("stdout not empty:\n%s", res.stdout)
	}
}

// testForeignDomain: a CURSOR_EXPIRED reason of another ErrorInfo domain is not cdcstream's,
// so the consumer acts on the status code alone (OUT_OF_RANGE: stop) and reports no earliest
// cursor.
func testForeignDomain(t *testing.T, c *consumer) {
	fake := &fakeService{attempts: []attempt{fail(reasonStatus(codes.OutOfRange, "offset out of range", "proxy.example.com",
		cdcstreamv1.ErrorReason_CURSOR_EXPIRED, map[string]string{server.MetadataEarliestCursor: "foreign-cursor"}, nil))}}
	addr := serveFake(t, fake)
	res := c.run(t, runTimeout, "--address", addr, "--from", "some-cursor", "--backoff", "0.01")
	if res.code != 1 {
		t.Errorf("exit status %d, want 1\nstderr:\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "OUT_OF_RANGE") || !strings.Contains(res.stderr, "offset out of range") {
		t.Errorf("stderr does not name the status and its message:\n%s", res.stderr)
	}
	if strings.Contains(res.stderr, "foreign-cursor") || strings.Contains(res.stderr, cdcstreamv1.ErrorReason_CURSOR_EXPIRED.String()) {
		t.Errorf("stderr treats another domain's reason as cdcstream's:\n%s", res.stderr)
	}
}

// testShutdownNotCounted: final checkpoint, then UNAVAILABLE / SERVER_SHUTTING_DOWN, twice; with
// --max-retries 0 the consumer still resumes from the checkpoint each time and reads on.
func testShutdownNotCounted(t *testing.T, c *consumer) {
	evs := scriptedEvents(3)
	at := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	shutdown := func(ev *cdcstreamv1.ChangeEvent, ckpt string) attempt {
		return func(_ *cdcstreamv1.SubscribeRequest, s grpc.ServerStreamingServer[cdcstreamv1.SubscribeResponse]) error {
			if err := sendAll(s, changeMsg(ev), checkpointMsg(ckpt, at)); err != nil {
				return err
			}
			return reasonStatus(codes.Unavailable, "server is shutting down; resume from the last cursor",
				server.ErrorDomain, cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN, nil, nil)
		}
	}
	fake := &fakeService{attempts: []attempt{
		shutdown(evs[0], "final-1"),
		shutdown(evs[1], "final-2"),
		func(_ *cdcstreamv1.SubscribeRequest, s grpc.ServerStreamingServer[cdcstreamv1.SubscribeResponse]) error {
			if err := s.Send(changeMsg(evs[2])); err != nil {
				return err
			}
			<-s.Context().Done()
			return s.Context().Err()
		},
	}}
	addr := serveFake(t, fake)
	res := c.run(t, runTimeout, "--address", addr, "--database", "db1", "--earliest", "--max-events", "3",
		"--max-retries", "0", "--backoff", "0.01")
	if res.code != 0 {
		t.Fatalf("exit status %d, want 0 (a planned end must not count as a failed attempt)\nstderr:\n%s", res.code, res.stderr)
	}
	if got := changes(parseOutput(t, c.lang, res.stdout)); len(got) != 3 {
		t.Fatalf("printed %d changes, want 3\nstderr:\n%s", len(got), res.stderr)
	}
	reqs := fake.requests()
	if len(reqs) != 3 {
		t.Fatalf("server saw %d Subscribe calls, want 3", len(reqs))
	}
	for i, id := range []string{"final-1", "final-2"} {
		if got := reqs[i+1].GetFromCursor().GetId(); got != id {
			t.Errorf("Subscribe call %d resumed from %q, want the final checkpoint %q", i+2, got, id)
		}
	}
	if n := strings.Count(res.stderr, cdcstreamv1.ErrorReason_SERVER_SHUTTING_DOWN.String()); n != 2 {
		t.Errorf("stderr names SERVER_SHUTTING_DOWN %d times, want 2:\n%s", n, res.stderr)
	}
}

// testRetryInfo: RESOURCE_EXHAUSTED / TOO_MANY_SUBSCRIPTIONS with RetryInfo 0s. With a first
// backoff of 3s the consumer would announce a wait of seconds; with RetryInfo it announces the
// server's delay instead.
func testRetryInfo(t *testing.T, c *consumer) {
	zero := time.Duration(0)
	ev := scriptedEvents(1)[0]
	fake := &fakeService{attempts: []attempt{
		fail(reasonStatus(codes.ResourceExhausted, "too many subscriptions", server.ErrorDomain,
			cdcstreamv1.ErrorReason_TOO_MANY_SUBSCRIPTIONS, nil, &zero)),
		func(_ *cdcstreamv1.SubscribeRequest, s grpc.ServerStreamingServer[cdcstreamv1.SubscribeResponse]) error {
			if err := s.Send(changeMsg(ev)); err != nil {
				return err
			}
			<-s.Context().Done()
			return s.Context().Err()
		},
	}}
	addr := serveFake(t, fake)
	res := c.run(t, runTimeout, "--address", addr, "--max-events", "1", "--max-retries", "1", "--backoff", "3")
	if res.code != 0 {
		t.Fatalf("exit status %d, want 0\nstderr:\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "RESOURCE_EXHAUSTED ("+cdcstreamv1.ErrorReason_TOO_MANY_SUBSCRIPTIONS.String()+")") {
		t.Errorf("stderr does not name the code and reason:\n%s", res.stderr)
	}
	if !strings.Contains(res.stderr, "in 0.00s (attempt 1 of 1)") {
		t.Errorf("stderr does not announce RetryInfo's delay of 0s:\n%s", res.stderr)
	}
}
