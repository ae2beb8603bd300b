package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
	"google.golang.org/grpc/codes"
)

// TestSubscribeErrorRows runs every row of the error table through Subscribe.
func TestSubscribeErrorRows(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("neo4jcdc: poll: %w", err) }
	tests := []struct {
		name   string
		setup  func(h *harness) *cdcstreamv1.SubscribeRequest
		code   codes.Code
		reason string
		check  func(t *testing.T, h *harness, err error)
	}{
		{"invalid selector, before any Neo4j call", func(h *harness) *cdcstreamv1.SubscribeRequest {
			return &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{
				{Kind: &cdcstreamv1.Selector_Entity{Entity: &cdcstreamv1.EntitySelector{}}}, {},
				{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Labels: []string{""}}}}}}
		}, codes.InvalidArgument, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), func(t *testing.T, h *harness, err error) {
			_, _, _, bad := statusInfo(t, err)
			fields := []string{}
			for _, v := range bad.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
			if strings.Join(fields, ",") != "selectors[1],selectors[2].node.labels[0]" {
				t.Fatalf("field violations %v", fields)
			}
			for _, m := range []servertest.Method{servertest.MethodCurrent, servertest.MethodPoll, servertest.MethodEarliest} {
				if n := h.src.Calls(m); n != 0 {
					t.Fatalf("%d %s calls for an invalid request", n, m)
				}
			}
		}},
		{"malformed cursor", func(h *harness) *cdcstreamv1.SubscribeRequest {
			return fromID("not a cursor")
		}, codes.InvalidArgument, cdcstreamv1.ErrorReason_INVALID_CURSOR.String(), func(t *testing.T, h *harness, err error) {
			if _, _, _, bad := statusInfo(t, err); bad.GetFieldViolations()[0].GetField() != "from_cursor.id" {
				t.Fatalf("BadRequest %v", bad)
			}
		}},
		{"cursor Neo4j rejects", func(h *harness) *cdcstreamv1.SubscribeRequest {
			return fromID(servertest.ID("orders", 0)) // another database's id
		}, codes.InvalidArgument, cdcstreamv1.ErrorReason_INVALID_CURSOR.String(), func(t *testing.T, h *harness, err error) {
			if _, _, _, bad := statusInfo(t, err); bad.GetFieldViolations()[0].GetField() != "from_cursor.id" {
				t.Fatalf("BadRequest %v", bad)
			}
		}},
		{"selector Neo4j rejects", func(h *harness) *cdcstreamv1.SubscribeRequest {
			h.src.FailNext(servertest.MethodPoll, wrap(server.ErrInvalidSelector))
			return fromID(servertest.ID(db, 0))
		}, codes.InvalidArgument, cdcstreamv1.ErrorReason_INVALID_SELECTOR.String(), nil},
		{"cursor expired", func(h *harness) *cdcstreamv1.SubscribeRequest {
			h.src.Commit(db, 5)
			h.src.Prune(db, 3)
			return fromID(servertest.ID(db, 1))
		}, codes.OutOfRange, cdcstreamv1.ErrorReason_CURSOR_EXPIRED.String(), func(t *testing.T, h *harness, err error) {
			_, info, _, _ := statusInfo(t, err)
			if info.GetMetadata()["earliest_cursor"] != servertest.ID(db, 3) || info.GetMetadata()["database"] != db {
				t.Fatalf("metadata %v", info.GetMetadata())
			}
		}},
		{"cursor expired, earliest unreadable", func(h *harness) *cdcstreamv1.SubscribeRequest {
			h.src.Prune(db, 3)
			h.src.SetError(servertest.MethodEarliest, wrap(server.ErrNeo4jUnavailable))
			return fromID(servertest.ID(db, 1))
		}, codes.OutOfRange, cdcstreamv1.ErrorReason_CURSOR_EXPIRED.String(), func(t *testing.T, h *harness, err error) {
			if _, info, _, _ := statusInfo(t, err); info.GetMetadata()["earliest_cursor"] != "" {
				t.Fatalf("metadata %v", info.GetMetadata())
			}
		}},
		{"cdc disabled", func(h *harness) *cdcstreamv1.SubscribeRequest {
			h.src.SetCDCDisabled(db, true)
			return now()
		}, codes.FailedPrecondition, cdcstreamv1.ErrorReason_CDC_DISABLED.String(), nil},
		{"database not found", func(h *harness) *cdcstreamv1.SubscribeRequest {
			return &cdcstreamv1.SubscribeRequest{Database: "missing"}
		}, codes.NotFound, cdcstreamv1.ErrorReason_DATABASE_NOT_FOUND.String(), func(t *testing.T, h *harness, err error) {
			if _, info, _, _ := statusInfo(t, err); info.GetMetadata()["database"] != "missing" {
				t.Fatalf("metadata %v", info.GetMetadata())
			}
		}},
		{"neo4j auth", func(h *harness) *cdcstreamv1.SubscribeRequest {
			h.src.FailNext(servertest.MethodCurrent, wrap(server.ErrNeo4jAuth))
			return now()
		}, codes.Unavailable, cdcstreamv1.ErrorReason_NEO4J_AUTH.String(), nil},
		{"neo4j unavailable", func(h *harness) *cdcstreamv1.SubscribeRequest {
			h.src.FailNext(servertest.MethodPoll, wrap(server.ErrNeo4jUnavailable))
			return &cdcstreamv1.SubscribeRequest{Start: &cdcstreamv1.SubscribeRequest_Position{
				Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST}}
		}, codes.Unavailable, cdcstreamv1.ErrorReason_NEO4J_UNAVAILABLE.String(), func(t *testing.T, h *harness, err error) {
			if _, _, retry, _ := statusInfo(t, err); retry.GetRetryDelay().AsDuration() <= 0 {
				t.Fatalf("no RetryInfo: %v", err)
			}
		}},
		{"internal", func(h *harness) *cdcstreamv1.SubscribeRequest {
			h.src.FailNext(servertest.MethodPoll, errors.New("bolt: secret=hunter2"))
			return fromID(servertest.ID(db, 0))
		}, codes.Internal, cdcstreamv1.ErrorReason_INTERNAL.String(), func(t *testing.T, h *harness, err error) {
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("status leaks the cause: %v", err)
			}
		}},
		{"source returns an empty id", func(h *harness) *cdcstreamv1.SubscribeRequest {
			h.src.SetPollFunc(func(context.Context, servertest.PollCall) (server.Batch, error) {
				return server.Batch{Changes: []*cdcstreamv1.ChangeEvent{{}}}, nil
			})
			return fromID(servertest.ID(db, 0))
		}, codes.Internal, cdcstreamv1.ErrorReason_INTERNAL.String(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The subscription's own polls: with the shared tail, a cursor at the head is served
			// from the window and polls nothing (tail_test.go covers the tail's errors).
			h := newHarness(t, server.WithSharedTail(false))
			req := tc.setup(h)
			rec := newRecorder()
			err := h.srv.SubscribeSend(h.ctx, req, rec.send)
			wantStatus(t, err, tc.code, tc.reason)
			if tc.check != nil {
				tc.check(t, h, err)
			}
		})
	}
}

func TestUnavailableMidStreamDeliversEarlierChanges(t *testing.T) {
	t.Parallel()
	h := newHarness(t, server.WithBatchLimit(2))
	ids := h.src.Commit(db, 3)
	h.src.FailNext(servertest.MethodPoll, nil, fmt.Errorf("x: %w", server.ErrNeo4jUnavailable))
	rec := newRecorder()
	err := h.srv.SubscribeSend(h.ctx, fromID(servertest.ID(db, 0)), rec.send)
	wantStatus(t, err, codes.Unavailable, cdcstreamv1.ErrorReason_NEO4J_UNAVAILABLE.String())
	msgs := rec.messages()
	if len(msgs) != 2 || changeID(t, msgs[0]) != ids[0] || changeID(t, msgs[1]) != ids[1] {
		t.Fatalf("messages before the failure: %v", msgs)
	}
}

func TestClientCancelIsCanceled(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	s := h.subscribe(now(), nil)
	s.rec.wait(t, h.ctx, 1)
	s.cancel()
	err := s.result(t, h.ctx)
	if c, info, _, _ := statusInfo(t, err); c != codes.Canceled || info != nil {
		t.Fatalf("got %v %v, want CANCELED", c, info)
	}
	h.waitStats("the slot to be freed", func(st server.Stats) bool { return st.ActiveSubscriptions == 0 })
}

func TestGetCursor(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.src.Commit(db, 4)
	h.src.Prune(db, 2)
	for _, tc := range []struct {
		pos  cdcstreamv1.StartPosition
		want string
	}{
		{cdcstreamv1.StartPosition_START_POSITION_UNSPECIFIED, servertest.ID(db, 4)},
		{cdcstreamv1.StartPosition_START_POSITION_NOW, servertest.ID(db, 4)},
		{cdcstreamv1.StartPosition_START_POSITION_EARLIEST, servertest.ID(db, 2)},
	} {
		resp, err := h.srv.GetCursor(h.ctx, &cdcstreamv1.GetCursorRequest{Database: "NEO4J", Position: tc.pos})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetCursor().GetId() != tc.want || resp.GetCursor().GetDatabase() != db {
			t.Fatalf("GetCursor(%v) = %v, want %s", tc.pos, resp, tc.want)
		}
	}
	_, err := h.srv.GetCursor(h.ctx, &cdcstreamv1.GetCursorRequest{Database: "no such db!"})
	c, info, _, bad := statusInfo(t, err)
	if c != codes.InvalidArgument || info.GetReason() != cdcstreamv1.ErrorReason_INVALID_REQUEST.String() || bad.GetFieldViolations()[0].GetField() != "database" {
		t.Fatalf("got %v", err)
	}
	_, err = h.srv.GetCursor(h.ctx, &cdcstreamv1.GetCursorRequest{Database: "missing"})
	wantStatus(t, err, codes.NotFound, cdcstreamv1.ErrorReason_DATABASE_NOT_FOUND.String())
	h.src.SetError(servertest.MethodCurrent, fmt.Errorf("x: %w", server.ErrNeo4jUnavailable))
	_, err = h.srv.GetCursor(h.ctx, &cdcstreamv1.GetCursorRequest{})
	wantStatus(t, err, codes.Unavailable, cdcstreamv1.ErrorReason_NEO4J_UNAVAILABLE.String())
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	if _, err := server.New(nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
	if _, err := server.New(servertest.NewFakeSource(), server.WithBatchLimit(-1)); err == nil {
		t.Fatal("New with batch limit -1 succeeded")
	}
}

func TestReady(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if err := h.srv.Ready(h.ctx); err != nil {
		t.Fatal(err)
	}
	h.src.FailNext(servertest.MethodPing, fmt.Errorf("x: %w", server.ErrNeo4jAuth))
	if err := h.srv.Ready(h.ctx); !errors.Is(err, server.ErrNeo4jAuth) {
		t.Fatalf("Ready = %v, want ErrNeo4jAuth", err)
	}
}
