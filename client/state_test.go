package client

import (
	"errors"
	"testing"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

func TestWatermark(t *testing.T) {
	ch := func(tx, seq int64) *cdcstreamv1.ChangeEvent { return &cdcstreamv1.ChangeEvent{TxId: tx, Seq: seq} }
	var w watermark
	for i, c := range []struct {
		ch    *cdcstreamv1.ChangeEvent
		reset bool // reset before admitting
		want  bool
	}{
		{ch(5, 0), false, true},
		{ch(5, 1), false, true},
		{ch(5, 1), false, false}, // the same change again
		{ch(5, 0), false, false}, // an earlier change of the same transaction
		{ch(4, 9), false, false}, // an earlier transaction
		{ch(6, 0), false, true},
		{ch(1, 0), true, true}, // after a gap the log may start lower
		{ch(1, 0), false, false},
	} {
		if c.reset {
			w.reset()
		}
		if got := w.admit(c.ch); got != c.want {
			t.Fatalf("step %d: admit(%d/%d) = %v, want %v", i, c.ch.GetTxId(), c.ch.GetSeq(), got, c.want)
		}
	}
}

func TestResumePointStart(t *testing.T) {
	now, earliest := cdcstreamv1.StartPosition_START_POSITION_NOW, cdcstreamv1.StartPosition_START_POSITION_EARLIEST
	for _, c := range []struct {
		name    string
		store   CheckpointStore
		req     *cdcstreamv1.SubscribeRequest
		cursor  string
		pin     cdcstreamv1.StartPosition
		pinned  bool
		dbForGC string // the database GetCursor names
	}{
		{"stored cursor wins", &memStore{c: &cdcstreamv1.Cursor{Id: "s", Database: "orders"}}, fromReq(), "s", 0, false, "neo4j"},
		{"empty store, from_cursor", &memStore{}, fromReq(), "c-0-0", 0, false, "neo4j"},
		{"NOW is pinned", nil, &cdcstreamv1.SubscribeRequest{Database: "neo4j"}, "", now, true, "neo4j"},
		{"EARLIEST is sent as is", nil, &cdcstreamv1.SubscribeRequest{
			Start: &cdcstreamv1.SubscribeRequest_Position{Position: earliest}}, "", 0, false, ""},
		{"the cursor names the database when the request does not", &memStore{c: &cdcstreamv1.Cursor{Id: "s", Database: "orders"}},
			&cdcstreamv1.SubscribeRequest{}, "s", 0, false, "orders"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var p resumePoint
			if err := p.start(t.Context(), c.store, c.req); err != nil {
				t.Fatal(err)
			}
			pin, pinned := p.pinned()
			if got := p.current().GetId(); got != c.cursor || pin != c.pin || pinned != c.pinned {
				t.Fatalf("cursor %q pin %v (%v), want %q %v (%v)", got, pin, pinned, c.cursor, c.pin, c.pinned)
			}
			if db := p.database(c.req); db != c.dbForGC {
				t.Fatalf("database %q, want %q", db, c.dbForGC)
			}
		})
	}
}

func TestResumePointRestart(t *testing.T) {
	expiry := errors.New("expired")
	from := &cdcstreamv1.Cursor{Id: "old", Database: "neo4j"}
	t.Run("at the earliest cursor the server named", func(t *testing.T) {
		var p resumePoint
		p.advance(from)
		fresh := &cdcstreamv1.Cursor{Id: "fresh", Database: "neo4j"}
		if got := p.restart(expiry, fresh, cdcstreamv1.StartPosition_START_POSITION_EARLIEST); got.GetId() != "old" {
			t.Fatalf("restart returned %v", got)
		}
		if _, pinned := p.pinned(); pinned || p.current().GetId() != "fresh" {
			t.Fatalf("pinned %v, cursor %v", pinned, p.current())
		}
		g := p.dueGap()
		if g == nil || g.From.GetId() != "old" || g.Resumed.GetId() != "fresh" ||
			g.Reason != cdcstreamv1.ErrorReason_CURSOR_EXPIRED || g.Err != expiry {
			t.Fatalf("gap %+v", g)
		}
		if p.dueGap() != nil {
			t.Fatal("a gap is reported twice")
		}
	})
	t.Run("at a position to pin first", func(t *testing.T) {
		var p resumePoint
		p.advance(from)
		p.restart(expiry, nil, cdcstreamv1.StartPosition_START_POSITION_NOW)
		if pin, _ := p.pinned(); pin != cdcstreamv1.StartPosition_START_POSITION_NOW {
			t.Fatalf("pin %v", pin)
		}
		if p.dueGap() != nil {
			t.Fatal("a gap is due before its restart cursor is known")
		}
		if !p.resolved(&cdcstreamv1.Cursor{Id: "now", Database: "neo4j"}) {
			t.Fatal("resolving the pin did not make the gap due")
		}
		if g := p.dueGap(); g == nil || g.From.GetId() != "old" || g.Resumed.GetId() != "now" {
			t.Fatalf("gap %+v", g)
		}
		if _, pinned := p.pinned(); pinned || p.current().GetId() != "now" {
			t.Fatalf("pinned %v, cursor %v", pinned, p.current())
		}
	})
	t.Run("a NOW start is no gap", func(t *testing.T) {
		var p resumePoint
		p.pin = cdcstreamv1.StartPosition_START_POSITION_NOW
		if p.resolved(&cdcstreamv1.Cursor{Id: "now"}) || p.dueGap() != nil {
			t.Fatal("a pinned start reported a gap")
		}
	})
}
