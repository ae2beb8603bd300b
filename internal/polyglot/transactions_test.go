package polyglot

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cdcstream/cdcstream/client"
	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
	"github.com/cdcstream/cdcstream/server/servertest"
)

// transactionLine is one {"transaction": {...}} line of the Python consumer's
// --transaction-markers output.
type transactionLine struct {
	TxID        string            `json:"tx_id"`
	ChangeCount int               `json:"change_count"`
	Cursor      string            `json:"cursor"`
	EndedBy     string            `json:"ended_by"`
	Changes     []json.RawMessage `json:"changes"`
}

// TestPythonAppliesTransactionsByMarker runs the Go client library and the Python consumer with --transaction-markers
// against the real server over a log of three transactions of 3, 1 and 2 changes. The library
// must yield each transaction's changes, then its marker; the consumer must print one line per
// transaction holding exactly its changes, each ended by the server's
// TransactionEnd (not inferred): it passes only against a server that sends markers, including
// the one for the last transaction, which the server ends when its read reaches the head.
func TestPythonAppliesTransactionsByMarker(t *testing.T) {
	src := servertest.NewFakeSource(server.DefaultDatabase)
	type tx struct {
		id int64
		n  int
	}
	txs := []tx{{100, 3}, {101, 1}, {102, 2}}
	var cursors [][]string // each transaction's cursor ids, in order
	for _, x := range txs {
		evs := servertest.NodeEvents(x.n, 0)
		for i, ev := range evs {
			ev.TxId, ev.Seq = x.id, int64(i)
		}
		cursors = append(cursors, src.Append(server.DefaultDatabase, evs...))
	}
	svc, err := server.New(src, server.WithPollInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	conn, addr := testkit.Serve(t, svc.Register, testkit.BeforeStop(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = svc.Shutdown(ctx)
	}))

	t.Run("go-client", func(t *testing.T) {
		// The Go client library yields each marker after its transaction's changes.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		sub := client.New(conn).Subscribe(ctx, &cdcstreamv1.SubscribeRequest{
			Start:              &cdcstreamv1.SubscribeRequest_Position{Position: cdcstreamv1.StartPosition_START_POSITION_EARLIEST},
			TransactionMarkers: true,
		})
		defer sub.Close()
		var got, want []string
		for i, x := range txs {
			for _, c := range cursors[i] {
				want = append(want, fmt.Sprintf("change %d %s", x.id, c))
			}
			want = append(want, fmt.Sprintf("end %d x%d %s", x.id, x.n, cursors[i][x.n-1]))
		}
		for len(got) < len(want) && sub.Receive() {
			m := sub.Msg()
			if ch := m.GetChange(); ch != nil {
				got = append(got, fmt.Sprintf("change %d %s", ch.GetTxId(), ch.GetCursor().GetId()))
			}
			if te := m.GetTransactionEnd(); te != nil {
				got = append(got, fmt.Sprintf("end %d x%d %s", te.GetTxId(), te.GetChangeCount(), te.GetCursor().GetId()))
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Go client library yielded\n %q\nwant\n %q (err %v)", got, want, sub.Err())
		}
	})

	py := pythonClient(t)
	// The log is six changes: the consumer exits within a second against a server that marks
	// the last transaction, and hangs (failing at this bound) against one that does not.
	res := py.run(t, 20*time.Second, "--address", addr, "--earliest", "--transaction-markers", "--max-events", "6")
	if res.code != 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	out := lines(res.stdout)
	if len(out) != len(txs) {
		t.Fatalf("%d lines, want one per transaction (%d):\n%s", len(out), len(txs), res.stdout)
	}
	for i, l := range out {
		var line struct {
			Transaction *transactionLine `json:"transaction"`
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil || line.Transaction == nil {
			t.Fatalf("line %d is not a transaction line (%v):\n%s", i+1, err, l)
		}
		got, want := line.Transaction, txs[i]
		if got.TxID != fmt.Sprint(want.id) || got.ChangeCount != want.n || len(got.Changes) != want.n ||
			got.Cursor != cursors[i][want.n-1] || got.EndedBy != "marker" {
			t.Fatalf("line %d: tx %s, %d changes (%d listed), cursor %s, ended by %q; want tx %d, %d changes, cursor %s, ended by the server's marker",
				i+1, got.TxID, got.ChangeCount, len(got.Changes), got.Cursor, got.EndedBy, want.id, want.n, cursors[i][want.n-1])
		}
		var ids []string
		for _, raw := range got.Changes {
			var ev struct {
				Cursor struct {
					ID string `json:"id"`
				} `json:"cursor"`
				TxID string `json:"tx_id"`
			}
			if err := json.Unmarshal(raw, &ev); err != nil || ev.TxID != got.TxID {
				t.Fatalf("line %d: change %s is not of transaction %s (%v)", i+1, raw, got.TxID, err)
			}
			ids = append(ids, ev.Cursor.ID)
		}
		if !slices.Equal(ids, cursors[i]) {
			t.Fatalf("line %d: changes %v, want %v", i+1, ids, cursors[i])
		}
	}
}
