package e2e

import (
	"fmt"
	"testing"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
	"github.com/cdcstream/cdcstream/server"
)

// markerStream reads sub until it saw n markers and returns, per marker, the changes sent
// since the previous one; it fails on a change of another transaction before a marker.
func markerStream(t *testing.T, sub *subscription, n int) (groups [][]*cdcstreamv1.ChangeEvent, ends []*cdcstreamv1.TransactionEnd) {
	t.Helper()
	var cur []*cdcstreamv1.ChangeEvent
	for len(ends) < n {
		msg := sub.next()
		if ev := msg.GetChange(); ev != nil {
			if len(cur) > 0 && cur[0].GetTxId() != ev.GetTxId() {
				t.Fatalf("a change of tx %d before the marker of tx %d", ev.GetTxId(), cur[0].GetTxId())
			}
			cur = append(cur, ev)
		}
		if end := msg.GetTransactionEnd(); end != nil {
			groups, ends = append(groups, cur), append(ends, end)
			cur = nil
		}
	}
	return groups, ends
}

// TestTransactionMarkers: transactions larger than the batch limit (so split across polls)
// each get one TransactionEnd right after their last change sent, with the count of their
// changes the stream sent and the cursor of the last one, with the shared tail and without it,
// for the full stream and with a selector; a stream resumed from a cursor inside a transaction
// counts what it sends.
func TestTransactionMarkers(t *testing.T) {
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("shared-tail=%v", shared), func(t *testing.T) {
			tg := newSimTarget(t)
			s := newStack(t, tg, server.WithSharedTail(shared), server.WithBatchLimit(50))
			head := s.cursorNow(t)
			sub := func(cursor *cdcstreamv1.Cursor, sels ...*cdcstreamv1.Selector) *subscription {
				return s.subscribe(t, &cdcstreamv1.SubscribeRequest{TransactionMarkers: true, Selectors: sels,
					Start: &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: cursor}})
			}
			all := sub(head)
			onlyA := sub(head, &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Labels: []string{"A"}}}})
			sizes := []int{120, 1, 75}
			for _, n := range sizes {
				tg.write(t, nil, func(w writer) {
					for i := range n {
						w.createNode([]string{[]string{"A", "B"}[i%3/2]}, map[string]*cdcstreamv1.Value{"i": testkit.Int(int64(i))})
					}
				})
			}
			groups, ends := markerStream(t, all, len(sizes))
			for i, n := range sizes {
				g, end := groups[i], ends[i]
				if len(g) != n || end.GetChangeCount() != int64(n) || end.GetTxId() != g[0].GetTxId() ||
					end.GetCursor().GetId() != g[n-1].GetCursor().GetId() {
					t.Fatalf("tx %d: %d changes, marker %v", i, len(g), end)
				}
			}
			// Label A is two changes in three: 80, 1 and 50 of them.
			groupsA, endsA := markerStream(t, onlyA, len(sizes))
			for i, n := range sizes {
				want := (n + 2) / 3 * 2
				if n%3 == 1 {
					want--
				}
				if len(groupsA[i]) != want || endsA[i].GetChangeCount() != int64(want) {
					t.Fatalf("label A, tx %d: %d changes, marker %v, want %d", i, len(groupsA[i]), endsA[i], want)
				}
			}
			// From a cursor inside the first transaction: the rest of it, counted as sent.
			resumed := sub(groups[0][99].GetCursor())
			g, e := markerStream(t, resumed, 1)
			if len(g[0]) != 20 || e[0].GetChangeCount() != 20 || e[0].GetTxId() != groups[0][0].GetTxId() {
				t.Fatalf("resumed inside tx: %d changes, marker %v", len(g[0]), e[0])
			}
		})
	}
}
