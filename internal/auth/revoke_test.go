package auth_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// open subscribes to database with token from NOW and reads the opening checkpoint.
func open(t *testing.T, e *env, token, database string) grpc.ServerStreamingClient[cdcstreamv1.SubscribeResponse] {
	t.Helper()
	ctx, cancel := context.WithCancel(withToken(testCtx(t), "Bearer "+token))
	t.Cleanup(cancel)
	st, err := e.client.Subscribe(ctx, &cdcstreamv1.SubscribeRequest{Database: database})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatalf("opening checkpoint of %s on %s: %v", token[:3], database, err)
	}
	return st
}

// endOf reads st until it ends and returns its error.
func endOf(st grpc.ServerStreamingClient[cdcstreamv1.SubscribeResponse]) error {
	for {
		if _, err := st.Recv(); err != nil {
			return err
		}
	}
}

// TestReloadRevokesOpenStreams: Reload ends, at once, the open streams the new tokens no
// longer admit: a removed token's with UNAUTHENTICATED, a token whose secret changed under the
// same name likewise, a stream on a database its token no longer grants with
// PERMISSION_DENIED. Streams still admitted keep streaming, and the revoked token's new calls
// are refused.
func TestReloadRevokesOpenStreams(t *testing.T) {
	e := start(t, 0, 100)
	removed := open(t, e, tokenApp, "neo4j")
	removedToo := open(t, e, tokenApp, "sales")
	ungranted := open(t, e, tokenOps, "hrdb")
	kept := open(t, e, tokenOps, "neo4j")
	if n := e.store.OpenStreams(); n != 4 {
		t.Fatalf("%d open streams registered, want 4", n)
	}

	writeTokens(t, e.tokFile, []map[string]any{
		{"name": "ops", "token": tokenOps, "databases": []string{"neo4j"}},
		{"name": "fresh", "token": tokenFresh, "databases": []string{"*"}},
	})
	if err := e.store.Reload(); err != nil {
		t.Fatal(err)
	}
	for _, st := range []grpc.ServerStreamingClient[cdcstreamv1.SubscribeResponse]{removed, removedToo} {
		err := endOf(st)
		wantStatus(t, err, codes.Unauthenticated, cdcstreamv1.ErrorReason_UNAUTHENTICATED.String())
		if msg := status.Convert(err).Message(); !strings.Contains(msg, "token app was revoked") {
			t.Errorf("message %q does not name the revoked token", msg)
		}
	}
	err := endOf(ungranted)
	wantStatus(t, err, codes.PermissionDenied, cdcstreamv1.ErrorReason_PERMISSION_DENIED.String())
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "hrdb") {
		t.Errorf("message %q does not name the database", msg)
	}
	ids := e.src.Commit("neo4j", 2)
	for i := range ids {
		msg, err := kept.Recv()
		if err != nil {
			t.Fatalf("admitted stream after reload: %v", err)
		}
		if got := msg.GetChange().GetCursor().GetId(); got != ids[i] {
			t.Fatalf("change %d: cursor %q, want %q", i, got, ids[i])
		}
	}
	if got := e.store.RevokedStreams(); got != 3 {
		t.Fatalf("RevokedStreams %d, want 3", got)
	}

	// The same name with a new secret revokes the old secret's streams.
	writeTokens(t, e.tokFile, []map[string]any{
		{"name": "ops", "token": tokenApp, "databases": []string{"neo4j"}},
	})
	if err := e.store.Reload(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, endOf(kept), codes.Unauthenticated, cdcstreamv1.ErrorReason_UNAUTHENTICATED.String())
	again, err := e.client.Subscribe(withToken(testCtx(t), "Bearer "+tokenOps), &cdcstreamv1.SubscribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, endOf(again), codes.Unauthenticated, cdcstreamv1.ErrorReason_UNAUTHENTICATED.String())
	if e.store.OpenStreams() != 0 {
		t.Fatalf("%d streams still registered", e.store.OpenStreams())
	}
}
