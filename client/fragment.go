package client

import (
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// DefaultMaxChangeBytes is the largest change (its protobuf encoding) a Subscription
// reassembles from fragments (see WithMaxChangeBytes).
const DefaultMaxChangeBytes = 128 << 20

// ChangeTooLargeError ends a Subscription when the server announces a fragmented change larger
// than WithMaxChangeBytes allows. It is not retried: resuming would meet the same change again.
// Raise the limit, or exclude the change with a selector, and subscribe again from Cursor.
type ChangeTooLargeError struct {
	// TxID and Seq identify the change.
	TxID, Seq int64
	// Size is the size of the change's encoding, as the server announced it.
	Size uint64
	// Max is the subscription's limit.
	Max int
}

// Error implements error.
func (e *ChangeTooLargeError) Error() string {
	return fmt.Sprintf("client: change tx_id %d seq %d is %d bytes, more than the %d bytes WithMaxChangeBytes allows",
		e.TxID, e.Seq, e.Size, e.Max)
}

// reassembly collects the ChangeFragment messages of one change (see ChangeFragment in
// proto/cdcstream/v1/service.proto). The zero value holds no change. It is used from
// Receive's goroutine only, and reset whenever a stream attempt ends: the change's cursor
// was not delivered, so the resumed stream sends it again from its first fragment.
type reassembly struct {
	buf       []byte // the data received so far; nil when no change is in progress
	txID, seq int64
	count     uint32 // fragments of the change
	next      uint32 // index of the fragment expected next
	total     uint64 // announced size of the whole encoding
}

// active reports whether a change is partly received.
func (r *reassembly) active() bool { return r.buf != nil }

// reset drops a partly received change.
func (r *reassembly) reset() { *r = reassembly{} }

// add takes the next fragment. It returns the change when f completed it, nil when more
// fragments are due, or an error: a *ChangeTooLargeError when the change is larger than max,
// an INTERNAL status when f does not continue the change in progress (a protocol violation;
// the buffer is dropped). Fragments are never trusted beyond max: the buffer is allocated at
// the announced total (at most max) and never filled past it.
func (r *reassembly) add(f *cdcstreamv1.ChangeFragment, max int) (*cdcstreamv1.ChangeEvent, error) {
	if f.GetIndex() == 0 {
		if r.active() {
			err := r.violation(f, "a new change began before the change tx_id %d seq %d was complete (%d of %d fragments)",
				r.txID, r.seq, r.next, r.count)
			return nil, err
		}
		if f.GetCount() < 2 || f.GetTotalSize() == 0 {
			return nil, r.violation(f, "a fragmented change needs count >= 2 and total_size > 0")
		}
		if f.GetTotalSize() > uint64(max) {
			return nil, &ChangeTooLargeError{TxID: f.GetTxId(), Seq: f.GetSeq(), Size: f.GetTotalSize(), Max: max}
		}
		r.txID, r.seq, r.count, r.total = f.GetTxId(), f.GetSeq(), f.GetCount(), f.GetTotalSize()
		// One allocation of the announced size, which max bounds: no regrowth copies.
		r.buf = make([]byte, 0, f.GetTotalSize())
	} else {
		switch {
		case !r.active():
			return nil, r.violation(f, "no change in progress (its first fragment is missing)")
		case f.GetIndex() != r.next:
			return nil, r.violation(f, "expected fragment %d", r.next)
		case f.GetCount() != r.count || f.GetTotalSize() != r.total || f.GetTxId() != r.txID || f.GetSeq() != r.seq:
			return nil, r.violation(f, "it does not belong to the change tx_id %d seq %d (%d fragments, %d bytes)",
				r.txID, r.seq, r.count, r.total)
		}
	}
	if len(f.GetData()) == 0 || uint64(len(r.buf))+uint64(len(f.GetData())) > r.total {
		return nil, r.violation(f, "data of %d bytes after %d of %d bytes", len(f.GetData()), len(r.buf), r.total)
	}
	r.buf = append(r.buf, f.GetData()...)
	r.next++
	if r.next < r.count {
		if f.GetCursor() != nil {
			return nil, r.violation(f, "only the last fragment carries a cursor")
		}
		return nil, nil
	}
	if uint64(len(r.buf)) != r.total {
		return nil, r.violation(f, "the change has %d bytes, announced %d", len(r.buf), r.total)
	}
	ev := &cdcstreamv1.ChangeEvent{}
	if err := proto.Unmarshal(r.buf, ev); err != nil {
		return nil, r.violation(f, "the reassembled change does not decode: %v", err)
	}
	if ev.GetTxId() != r.txID || ev.GetSeq() != r.seq || !proto.Equal(ev.GetCursor(), f.GetCursor()) {
		return nil, r.violation(f, "the reassembled change is tx_id %d seq %d cursor %s, its fragments said tx_id %d seq %d cursor %s",
			ev.GetTxId(), ev.GetSeq(), cursorString(ev.GetCursor()), r.txID, r.seq, cursorString(f.GetCursor()))
	}
	r.reset()
	return ev, nil
}

// violation drops the change in progress and returns an INTERNAL status describing why f was
// refused. INTERNAL is retried a bounded number of times (WithMaxInternalRetries): a stream
// garbled once heals on resumption, a server that keeps sending bad fragments ends the
// subscription with this error.
func (r *reassembly) violation(f *cdcstreamv1.ChangeFragment, format string, args ...any) error {
	r.reset()
	return status.Errorf(codes.Internal, "client: bad change fragment %d of %d (tx_id %d seq %d): %s",
		f.GetIndex(), f.GetCount(), f.GetTxId(), f.GetSeq(), fmt.Sprintf(format, args...))
}
