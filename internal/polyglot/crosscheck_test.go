package polyglot

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/client"
	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// crossCheckChanges is how many changes every language reads from the same cursor.
const crossCheckChanges = 200

// TestCrossLanguage reads the same crossCheckChanges changes from one cdcstreamd --demo, from
// the same EARLIEST cursor, with the Go generated client, the Go client library and the
// Python, Node and Java consumers, and requires every change to be identical in every field: cursor, tx_id, seq,
// metadata and every value.
func TestCrossLanguage(t *testing.T) {
	d := startDaemon(t)
	conn := d.dial(t)
	cl := cdcstreamv1.NewChangeStreamServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cur, err := cl.GetCursor(ctx, &cdcstreamv1.GetCursorRequest{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST})
	if err != nil {
		t.Fatal(err)
	}
	from := cur.GetCursor()

	want := readGo(ctx, t, cl, from, crossCheckChanges)
	report(t, "go", len(want))

	t.Run("go-client", func(t *testing.T) {
		sub := client.New(conn).Subscribe(ctx, &cdcstreamv1.SubscribeRequest{
			Database: from.GetDatabase(),
			Start:    &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: from},
		})
		defer sub.Close()
		var got []*cdcstreamv1.ChangeEvent
		for len(got) < len(want) && sub.Receive() {
			if ev := sub.Msg().GetChange(); ev != nil {
				got = append(got, ev)
			}
		}
		if len(got) < len(want) {
			t.Fatalf("client library stopped after %d changes: %v", len(got), sub.Err())
		}
		report(t, "go-client", len(got))
		for i := range want {
			if ok, diff := sameMessage(t, got[i], want[i]); !ok {
				t.Fatalf("change %d of %d differs from the generated client's:\n%s", i+1, len(want), diff)
			}
		}
	})

	for _, c := range consumers {
		t.Run(c.lang, func(t *testing.T) {
			cl := c.prepare(t)
			res := cl.run(t, 2*time.Minute, "--address", d.addr, "--database", from.GetDatabase(),
				"--from", from.GetId(), "--max-events", itoa(crossCheckChanges))
			if res.code != 0 {
				t.Fatalf("exit status %d\nstderr:\n%s\n%s", res.code, res.stderr, d.logText())
			}
			got := changes(parseOutput(t, c.lang, res.stdout))
			report(t, c.lang, len(got))
			if len(got) != len(want) {
				t.Fatalf("read %d changes, Go read %d", len(got), len(want))
			}
			for i := range want {
				if ok, diff := sameMessage(t, got[i], want[i]); !ok {
					t.Fatalf("change %d of %d (tx %d seq %d) differs from Go's:\n%s", i+1, len(want), want[i].GetTxId(), want[i].GetSeq(), diff)
				}
			}
		})
	}
}

// readGo reads n changes strictly after from with the generated Go client.
func readGo(ctx context.Context, t *testing.T, cl cdcstreamv1.ChangeStreamServiceClient, from *cdcstreamv1.Cursor, n int) []*cdcstreamv1.ChangeEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := cl.Subscribe(ctx, &cdcstreamv1.SubscribeRequest{
		Database: from.GetDatabase(),
		Start:    &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: from},
	})
	if err != nil {
		t.Fatal(err)
	}
	var evs []*cdcstreamv1.ChangeEvent
	for len(evs) < n {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Go client after %d changes: %v", len(evs), err)
		}
		if ev := resp.GetChange(); ev != nil {
			if k := len(evs); k > 0 && (ev.GetTxId() < evs[k-1].GetTxId() || ev.GetTxId() == evs[k-1].GetTxId() && ev.GetSeq() <= evs[k-1].GetSeq()) {
				t.Fatalf("Go client: (tx_id, seq) not ascending: (%d, %d) after (%d, %d)", ev.GetTxId(), ev.GetSeq(), evs[k-1].GetTxId(), evs[k-1].GetSeq())
			}
			evs = append(evs, ev)
		}
	}
	return evs
}

// report logs how many changes a language read, in the test log and on stdout for CI output.
func report(t *testing.T, lang string, n int) {
	t.Helper()
	t.Logf("%s read %d changes", lang, n)
	fmt.Printf("polyglot: %s read %d changes\n", lang, n)
}
