package server

import (
	"errors"
	"fmt"
	"testing"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

func testEntries(from, n, size int) []*entry {
	es := make([]*entry, n)
	for i := range es {
		id := fmt.Sprintf("c%d", from+i)
		es[i] = &entry{ev: &cdcstreamv1.ChangeEvent{Cursor: &cdcstreamv1.Cursor{Id: id}}, size: size}
	}
	return es
}

func ids(es []*entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ev.GetCursor().GetId()
	}
	return out
}

// TestWindowPositions: every position in the window has a cursor id that maps back to it;
// reads return entries in order from any position; aliases name the newest position.
func TestWindowPositions(t *testing.T) {
	w := newWindow(1 << 20)
	if _, _, ok := w.tip(); ok {
		t.Fatal("tip known before start")
	}
	w.start("s0")
	w.append(testEntries(1, 5, 10), "cur-ignored", true)
	if pos, ok := w.lookup("s0"); !ok || pos != 0 {
		t.Fatalf("start id at %d %v", pos, ok)
	}
	if pos, ok := w.lookup("c3"); !ok || pos != 3 {
		t.Fatalf("c3 at %d %v, want 3 (after the third change)", pos, ok)
	}
	r, changed := w.read(2, 100, 1<<20, nil)
	if changed != nil || fmt.Sprint(ids(r.entries)) != "[c3 c4 c5]" || r.pos != 5 || r.id != "c5" {
		t.Fatalf("read from 2: %v pos %d id %s", ids(r.entries), r.pos, r.id)
	}
	r, _ = w.read(0, 2, 1<<20, nil)
	if fmt.Sprint(ids(r.entries)) != "[c1 c2]" || r.pos != 2 || r.id != "c2" {
		t.Fatalf("read 2 from 0: %v pos %d id %s", ids(r.entries), r.pos, r.id)
	}
	// An empty poll's current id aliases the newest position; a later one replaces it.
	w.append(nil, "cur1", true)
	w.append(nil, "cur2", true)
	if pos, ok := w.lookup("cur2"); !ok || pos != 5 {
		t.Fatalf("alias at %d %v", pos, ok)
	}
	if _, ok := w.lookup("cur1"); ok {
		t.Fatal("a replaced alias is still served")
	}
	if r, changed := w.read(5, 10, 1<<20, nil); changed == nil || r.id != "cur2" || len(r.entries) != 0 {
		t.Fatalf("read at the tip: %+v", r)
	}
	if idx, pos, ok := w.find([]*cdcstreamv1.ChangeEvent{{Cursor: &cdcstreamv1.Cursor{Id: "zz"}}, {Cursor: &cdcstreamv1.Cursor{Id: "c4"}}}); !ok || idx != 1 || pos != 4 {
		t.Fatalf("find: %d %d %v", idx, pos, ok)
	}
}

// TestWindowEviction: the window keeps at most maxBytes (and always the newest entry);
// evicted positions fall out and their ids are no longer served.
func TestWindowEviction(t *testing.T) {
	w := newWindow(100)
	w.start("s0")
	w.append(testEntries(1, 30, 10), "", true)
	if n, b := w.size(); n != 10 || b != 100 {
		t.Fatalf("size %d entries %d bytes, want 10 and 100", n, b)
	}
	if r, _ := w.read(5, 10, 1<<20, nil); !r.fellOut {
		t.Fatal("an evicted position was served")
	}
	for _, id := range []string{"s0", "c5", "c19"} {
		if _, ok := w.lookup(id); ok {
			t.Fatalf("evicted id %s is served", id)
		}
	}
	if pos, ok := w.lookup("c20"); !ok || pos != 20 {
		t.Fatalf("first position c20 at %d %v", pos, ok)
	}
	r, _ := w.read(20, 100, 25, nil) // about 25 bytes: three entries
	if fmt.Sprint(ids(r.entries)) != "[c21 c22 c23]" {
		t.Fatalf("byte-bounded read: %v", ids(r.entries))
	}
	// One entry larger than the whole bound is kept (the newest always is).
	w.append(testEntries(31, 1, 1000), "", true)
	if n, _ := w.size(); n != 1 {
		t.Fatalf("%d entries after a huge one, want 1", n)
	}
}

// TestWindowResetAndError: a restart at a new head makes every old position fall out (no
// subscription continues from a cursor the tail could not); an error reaches readers at the
// newest position only, and the next append clears it.
func TestWindowResetAndError(t *testing.T) {
	w := newWindow(1 << 20)
	w.start("s0")
	w.append(testEntries(1, 3, 10), "", true)
	boom := errors.New("boom")
	w.fail(boom)
	if r, _ := w.read(3, 10, 1<<20, nil); !errors.Is(r.err, boom) {
		t.Fatalf("reader at the tip: %+v", r)
	}
	if r, _ := w.read(1, 10, 1<<20, nil); r.err != nil || len(r.entries) != 2 {
		t.Fatalf("reader behind the tip: %+v", r)
	}
	w.append(nil, "cur", true)
	if r, changed := w.read(3, 10, 1<<20, nil); r.err != nil || changed == nil {
		t.Fatalf("error not cleared: %+v", r)
	}
	w.start("h1")
	for _, pos := range []uint64{0, 3} {
		if r, _ := w.read(pos, 10, 1<<20, nil); !r.fellOut {
			t.Fatalf("position %d survived a reset: %+v", pos, r)
		}
	}
	if _, ok := w.lookup("cur"); ok {
		t.Fatal("an old alias survived a reset")
	}
	if pos, ok := w.lookup("h1"); !ok || pos != 4 {
		t.Fatalf("new start at %d %v, want 4", pos, ok)
	}
}
