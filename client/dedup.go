package client

import cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"

// watermark is the de-duplication of a Subscription: the (tx_id, seq) of the last change it
// delivered. Changes arrive in (tx_id, seq) order, so a change at or below the mark was already
// delivered (the server re-sent it after a reconnect). It is O(1) in memory, and restarts only
// together with a reported Gap, after which the log may legitimately start lower again.
type watermark struct {
	set     bool  // a change was delivered since the start or the last reset
	tx, seq int64 // the (tx_id, seq) of that change
}

// admit reports whether ch is new, and if so raises the mark to it.
func (w *watermark) admit(ch *cdcstreamv1.ChangeEvent) bool {
	tx, seq := ch.GetTxId(), ch.GetSeq()
	if w.set && (tx < w.tx || tx == w.tx && seq <= w.seq) {
		return false
	}
	w.set, w.tx, w.seq = true, tx, seq
	return true
}

// reset forgets the mark, at a reported gap.
func (w *watermark) reset() { w.set = false }
