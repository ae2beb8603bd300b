package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"google.golang.org/protobuf/proto"

	"github.com/cdcstream/cdcstream/client"
	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/proctest"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
)

// bigPayload is a 10 MiB string property: two and a half times gRPC's default 4 MiB receive
// limit (cdcstreamd's default --max-message-bytes). Not one repeated byte, so a
// piece dropped, repeated or reordered in transit changes it.
func bigPayload() string {
	var b strings.Builder
	b.Grow(10 << 20)
	for i := 0; b.Len() < 10<<20; i++ {
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(string(rune('A' + (i/26)%26)))
	}
	return b.String()[:10<<20]
}

// writeBigOverBolt writes a small node, a node with the 10 MiB property and a small node, in
// three transactions through the real neo4j-go-driver and Cypher, to tg's Bolt port: the
// simulator de-chunks a 10 MiB RUN, logs the change, and later sends it to neo4jcdc in a
// 10 MiB RECORD.
func writeBigOverBolt(t *testing.T, tg target, payload string) {
	t.Helper()
	ctx := context.Background()
	d, err := neo4j.NewDriverWithContext(tg.uri(), neo4j.BasicAuth(tg.user(), tg.password(), ""))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	for _, p := range []string{"before", payload, "after"} {
		_, err := neo4j.ExecuteQuery(ctx, d, "CREATE (n:Big {payload: $p}) RETURN elementId(n)",
			map[string]any{"p": p}, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(tg.database()))
		if err != nil {
			t.Fatalf("CREATE a %d-byte property: %v", len(p), err)
		}
	}
}

// payloadOf returns the payload property of a node creation.
func payloadOf(ev *cdcstreamv1.ChangeEvent) string {
	return ev.GetNode().GetAfter().GetProperties()["payload"].GetStringValue()
}

// TestTenMiBPropertyAtDefaultLimits: a change with a 10 MiB property, written over Bolt with
// Cypher, reaches a Go client library subscription over a connection at gRPC's default limits
// intact, between its neighbours, through the real cdcstreamd; a raw client at the same limits
// sees it as fragments of at most 1 MiB (server.FragmentBytes); and cdctail prints it.
func TestTenMiBPropertyAtDefaultLimits(t *testing.T) {
	tg := newSimTarget(t)
	bin, _ := binaries(t)
	d := proctest.StartDaemon(t, bin, []string{"NEO4J_PASSWORD=" + simPassword},
		"--listen", "127.0.0.1:0", "--neo4j-uri", tg.uri(), "--neo4j-user", simUser, "--database", simDatabase)
	conn := testkit.Dial(t, d.Addr) // no call or dial options: gRPC's default 4 MiB receive limit
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start, err := cdcstreamv1.NewChangeStreamServiceClient(conn).GetCursor(ctx, &cdcstreamv1.GetCursorRequest{})
	if err != nil {
		t.Fatal(err)
	}
	payload := bigPayload()
	writeBigOverBolt(t, tg, payload)
	req := &cdcstreamv1.SubscribeRequest{Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: start.GetCursor()}}

	t.Run("client library", func(t *testing.T) {
		sub := client.New(conn).Subscribe(ctx, req)
		defer sub.Close()
		var got []*cdcstreamv1.ChangeEvent
		for len(got) < 3 && sub.Receive() {
			if ch := sub.Msg().GetChange(); ch != nil {
				got = append(got, ch)
			}
		}
		if len(got) < 3 {
			t.Fatalf("%d changes, then %v", len(got), sub.Err())
		}
		if payloadOf(got[0]) != "before" || payloadOf(got[2]) != "after" {
			t.Fatalf("neighbours %q, %q", payloadOf(got[0]), payloadOf(got[2]))
		}
		if p := payloadOf(got[1]); sha256.Sum256([]byte(p)) != sha256.Sum256([]byte(payload)) {
			t.Fatalf("the 10 MiB property arrived as %d bytes, not intact", len(p))
		}
		if !proto.Equal(sub.Cursor(), got[2].GetCursor()) {
			t.Fatalf("cursor %v, want the last change's %v", sub.Cursor(), got[2].GetCursor())
		}
	})

	t.Run("raw stream", func(t *testing.T) {
		stream, err := cdcstreamv1.NewChangeStreamServiceClient(conn).Subscribe(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		sub := &subscription{t: t, stream: stream, cancel: cancel}
		if payloadOf(sub.next().GetChange()) != "before" {
			t.Fatal("first message is not the small change before")
		}
		var frags []*cdcstreamv1.ChangeFragment
		for {
			m := sub.next()
			if m.GetCheckpoint() != nil {
				continue
			}
			if size := proto.Size(m); m.GetChangeFragment() != nil && size > server.FragmentBytes {
				t.Fatalf("a fragment of %d bytes, more than %d", size, server.FragmentBytes)
			}
			f := m.GetChangeFragment()
			if f == nil {
				if payloadOf(m.GetChange()) != "after" {
					t.Fatalf("after the fragments: %v", m.GetMessage())
				}
				break
			}
			frags = append(frags, f)
		}
		// 10 MiB and a few hundred bytes, in pieces of just under 1 MiB.
		if len(frags) != 11 || frags[10].GetCursor().GetId() == "" || frags[0].GetCursor() != nil {
			t.Fatalf("%d fragments, first cursor %v, last cursor %v", len(frags), frags[0].GetCursor(), frags[len(frags)-1].GetCursor())
		}
	})

	t.Run("cdctail", func(t *testing.T) {
		lines := runTail(t, "-a", d.Addr, "--earliest", "--max-events", "3")
		if len(lines) != 3 {
			t.Fatalf("%d lines", len(lines))
		}
		var ev struct {
			State struct {
				After struct {
					Properties map[string]string `json:"properties"`
				} `json:"after"`
			} `json:"state"`
		}
		if err := json.Unmarshal(lines[1].Event, &ev); err != nil {
			t.Fatal(err)
		}
		if p := ev.State.After.Properties["payload"]; p != payload {
			t.Fatalf("cdctail printed a %d-byte payload, want the 10 MiB one", len(p))
		}
	})
}
