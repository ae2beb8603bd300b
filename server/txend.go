package server

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// txTracker places TransactionEnd markers (SubscribeRequest.transaction_markers) in the
// poller's hand-offs: it follows the transaction whose changes the stream is sending, and
// closes it, with a marker after its last change sent, when the log shows a change of another
// transaction (sent or not: the shared tail's window shows every change) or a read reached the
// head having read everything committed (complete). Changes of one transaction are
// contiguous in the log, so nothing of another transaction comes between a transaction's
// changes and its marker. Only the stream's poller uses it.
type txTracker struct {
	// on says the request asked for markers; off, every method returns out unchanged.
	on bool
	// open says changes of transaction id were sent and its marker is due; count, commit and
	// cursor describe them.
	open   bool
	id     int64
	count  int64
	commit *timestamppb.Timestamp
	cursor *cdcstreamv1.Cursor
}

// see accounts for ev, the next change of the log the poller looked at, before ev itself is
// appended to out when sent: a change of another transaction first closes the open one.
func (t *txTracker) see(ev *cdcstreamv1.ChangeEvent, sent bool, out []change) []change {
	if !t.on {
		return out
	}
	if t.open && ev.GetTxId() != t.id {
		out = t.close(out)
	}
	if sent {
		if !t.open {
			t.open, t.id, t.count = true, ev.GetTxId(), 0
		}
		t.count++
		t.commit, t.cursor = ev.GetMetadata().GetTxCommitTime(), ev.GetCursor()
	}
	return out
}

// close appends the open transaction's marker to out, if one is due.
func (t *txTracker) close(out []change) []change {
	if !t.open {
		return out
	}
	t.open = false
	return append(out, change{end: &cdcstreamv1.TransactionEnd{
		TxId: t.id, CommitTime: t.commit, ChangeCount: t.count, Cursor: t.cursor}})
}

// due reports whether a marker is waiting for the end of its transaction.
func (t *txTracker) due() bool { return t.on && t.open }
