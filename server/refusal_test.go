package server_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
)

// lineBuffer is a log sink safe for concurrent writes.
type lineBuffer struct {
	// mu guards b.
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lineBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lineBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

// refusalCounter counts Observer.Refused by reason.
type refusalCounter struct {
	server.NopObserver
	// mu guards n.
	mu sync.Mutex
	n  map[string]int
}

func (c *refusalCounter) Refused(rpc string, reason cdcstreamv1.ErrorReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[rpc+" "+reason.String()]++
}

// TestRefusalFloodSampled: 8 000 refused calls (4 000 invalid Subscribe requests, 4 000
// GetCursor calls the admission denies) log 10 lines per reason, and after the second one
// "log lines suppressed" line per reason with the exact count; the refusals metric event
// counts every one of them.
func TestRefusalFloodSampled(t *testing.T) {
	const perReason = 4000
	h := newHarness(t, server.WithLogSampleRate(10))
	logs := &lineBuffer{}
	counter := &refusalCounter{n: map[string]int{}}
	srv, err := server.New(h.src, server.WithClock(h.clock), server.WithObserver(counter),
		server.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		server.WithAdmission(func(ctx context.Context, req server.AdmissionRequest) (func(), error) {
			if req.Method == cdcstreamv1.ChangeStreamService_GetCursor_FullMethodName {
				return nil, fmt.Errorf("%w: token t may not read %s", server.ErrPermissionDenied, req.Database)
			}
			return nil, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	bad := &cdcstreamv1.SubscribeRequest{Database: "x"} // too short a name
	send := func(*cdcstreamv1.SubscribeResponse) error { return nil }
	for range perReason {
		if err := srv.SubscribeSend(h.ctx, bad, send); err == nil {
			t.Fatal("invalid request accepted")
		}
		if _, err := srv.GetCursor(h.ctx, &cdcstreamv1.GetCursorRequest{}); err == nil {
			t.Fatal("denied call accepted")
		}
	}
	if got := len(logs.lines()); got != 20 {
		t.Fatalf("%d log lines for %d refusals, want 10 per reason:\n%s", got, 2*perReason, strings.Join(logs.lines(), "\n"))
	}
	// A second later the next refusal of each reason reports what its window suppressed.
	h.clock.Advance(time.Second)
	_ = srv.SubscribeSend(h.ctx, bad, send)
	_, _ = srv.GetCursor(h.ctx, &cdcstreamv1.GetCursorRequest{})
	lines := logs.lines()
	if len(lines) != 24 {
		t.Fatalf("%d log lines, want 24:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, want := range []string{"key=INVALID_REQUEST suppressed=3990", "key=PERMISSION_DENIED suppressed=3990"} {
		found := false
		for _, l := range lines[20:] {
			found = found || strings.Contains(l, want)
		}
		if !found {
			t.Errorf("no %q line in %q", want, lines[20:])
		}
	}
	if !strings.Contains(strings.Join(lines, "\n"), "level=WARN msg=\"log lines suppressed\" key=PERMISSION_DENIED") {
		t.Errorf("the suppressed PERMISSION_DENIED lines are not reported at their level (WARN)")
	}
	want := map[string]int{"Subscribe INVALID_REQUEST": perReason + 1, "GetCursor PERMISSION_DENIED": perReason + 1}
	counter.mu.Lock()
	defer counter.mu.Unlock()
	if fmt.Sprint(counter.n) != fmt.Sprint(want) {
		t.Fatalf("refusals counted %v, want %v", counter.n, want)
	}
	if got := srv.Stats().Refusals; got != 2*perReason+2 {
		t.Fatalf("Stats().Refusals %d, want %d", got, 2*perReason+2)
	}
}

// TestLogSamplerFlush: Flush reports the suppressed lines of every key at once (Shutdown
// calls it), and nothing twice.
func TestLogSamplerFlush(t *testing.T) {
	logs := &lineBuffer{}
	s := server.NewLogSampler(slog.New(slog.NewTextHandler(logs, nil)), 2, nil)
	for range 5 {
		s.Log(context.Background(), slog.LevelWarn, "A", "refused")
	}
	s.Log(context.Background(), slog.LevelDebug, "B", "not enabled: neither logged nor counted")
	s.Flush(context.Background())
	s.Flush(context.Background())
	lines := logs.lines()
	if len(lines) != 3 || !strings.Contains(lines[2], "key=A suppressed=3") {
		t.Fatalf("lines %q", lines)
	}
}
