package client

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// txState tracks transaction boundaries for a Subscription whose request asked for
// transaction markers (SubscribeRequest.transaction_markers). It keeps the open transaction,
// the one whose changes were delivered last and which has had no marker yet, across stream
// attempts, so that:
//
//   - a marker from the server for the open transaction counts every change of it that this
//     Subscription delivered, over all attempts (a resumed stream counts only its own);
//   - a marker the server cannot send is synthesized: when an attempt ends right after a
//     transaction's last change and the next attempt starts after it, no stream knows that
//     transaction ended; a change of another transaction, or a checkpoint past the open
//     transaction's last change on a later attempt, proves it did;
//   - no transaction gets two markers.
//
// It is O(1) in memory and used only from Receive's goroutine.
type txState struct {
	on bool // the request asked for markers; when false every method is a no-op

	open       bool                   // a transaction has delivered changes and no marker yet
	tx         int64                  // the open transaction's id
	count      int64                  // its changes delivered, over all attempts
	last       *cdcstreamv1.Cursor    // the cursor of its last change delivered
	commitTime *timestamppb.Timestamp // its commit time, from its changes' metadata
	// carried says the open transaction got no change on the current attempt: its changes came
	// on earlier ones. Only then does a checkpoint end it (see before).
	carried bool

	marked   bool  // a marker was yielded since the start or the last reset
	markedTx int64 // the transaction of that marker
}

// before returns the marker owed before resp, a change or a checkpoint about to be delivered,
// or nil. A change of another transaction ends the open transaction (a transaction's changes
// are contiguous in the log). So does a checkpoint at a cursor other than the open
// transaction's last change, when that transaction's changes all came on earlier attempts:
// the current stream started after them and sent none, and its checkpoint certifies every
// matching change up to it was sent. On the attempt that sent changes of the open transaction
// a checkpoint ends nothing: that stream marks the transaction itself, and may checkpoint at a
// position inside it (a read that stopped within a large transaction). The caller yields the
// marker first and resp after it.
func (t *txState) before(resp *cdcstreamv1.SubscribeResponse) *cdcstreamv1.SubscribeResponse {
	if !t.on || !t.open {
		return nil
	}
	switch m := resp.GetMessage().(type) {
	case *cdcstreamv1.SubscribeResponse_Change:
		if m.Change.GetTxId() == t.tx {
			return nil
		}
	case *cdcstreamv1.SubscribeResponse_Checkpoint:
		if !t.carried || m.Checkpoint.GetCursor().GetId() == t.last.GetId() {
			return nil
		}
	default:
		return nil
	}
	return t.end(nil)
}

// delivered records ch, a change that Receive delivers. A change of a transaction already
// marked (a server breaking its contract) is not tracked, so it cannot earn a second marker.
func (t *txState) delivered(ch *cdcstreamv1.ChangeEvent) {
	if !t.on {
		return
	}
	tx := ch.GetTxId()
	if t.marked && tx == t.markedTx {
		return
	}
	if !t.open || tx != t.tx {
		t.open, t.tx, t.count, t.commitTime = true, tx, 0, nil
	}
	t.count++
	t.last, t.carried = ch.GetCursor(), false
	if ct := ch.GetMetadata().GetTxCommitTime(); ct != nil {
		t.commitTime = ct
	}
}

// fromServer returns the marker to yield for the server's TransactionEnd m, or nil to drop it.
// A marker for the open transaction is yielded with change_count replaced by the changes this
// Subscription delivered of it, over all attempts, and the cursor of the last of them. Any other
// marker is dropped: its transaction was marked already (the library synthesized its marker
// before the server's could arrive, or a resumed stream repeated it), or this Subscription
// delivered none of its changes.
func (t *txState) fromServer(m *cdcstreamv1.TransactionEnd) *cdcstreamv1.SubscribeResponse {
	if !t.on || !t.open || m.GetTxId() != t.tx {
		return nil
	}
	return t.end(m.GetCommitTime())
}

// end closes the open transaction and returns its marker. commitTime, when not nil, is the
// server's and wins over the one read from the changes.
func (t *txState) end(commitTime *timestamppb.Timestamp) *cdcstreamv1.SubscribeResponse {
	if commitTime == nil {
		commitTime = t.commitTime
	}
	te := &cdcstreamv1.TransactionEnd{TxId: t.tx, CommitTime: commitTime, ChangeCount: t.count, Cursor: t.last}
	t.open, t.marked, t.markedTx = false, true, t.tx
	t.last, t.commitTime = nil, nil
	return &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_TransactionEnd{TransactionEnd: te}}
}

// newAttempt records that a stream attempt opened: the open transaction's changes so far came
// on earlier attempts.
func (t *txState) newAttempt() { t.carried = t.open }

// reset forgets the open transaction without a marker, at a reported gap: changes of it may
// have been lost, so nothing certifies it ended whole. Like the de-duplication mark, the
// memory of marked transactions restarts too.
func (t *txState) reset() {
	t.open, t.marked, t.last, t.commitTime = false, false, nil, nil
}
