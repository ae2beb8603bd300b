package neo4jsim

import (
	"errors"
	"math"
	"testing"
)

func TestDecodeDocumentedChangeID(t *testing.T) {
	// A real v5 id from Neo4j, as printed by a Neo4j 2025 server.
	const id = "BaQswf9NV0b7qicwDdh7vfwAAAAAAAAD83__________AAABjzfm4bM"
	c, ok := decodeChangeID(id)
	if !ok {
		t.Fatal("documented id does not decode")
	}
	if c.txID != 1011 || c.seq != math.MaxInt64 || c.commitMillis != 1714629829043 {
		t.Errorf("decoded %+v, want tx 1011, seq MAX, ts 1714629829043", c)
	}
	if formatUUID(c.db) != "a42cc1ff-4d57-46fb-aa27-300dd87bbdfc" {
		t.Errorf("uuid %s", formatUUID(c.db))
	}
	if got := encodeChangeID(c); got != id {
		t.Errorf("re-encoded %s, want %s", got, id)
	}
	if _, ok := decodeChangeID(id + "="); !ok {
		t.Error("padded id rejected")
	}
	// The v3 sample (33 bytes) is not accepted by a 2025 server model.
	if _, ok := decodeChangeID("A3Qc5ZIZ_Eo5v5xsONVo8KUAAAAAAAAADAAAAAAAAAAA"); ok {
		t.Error("v3 id accepted")
	}
}

func codeOf(err error) (string, string) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, e.GQLStatus
	}
	return "", ""
}

// cursorFixture: tx1 = two node creates, a schema tx, tx3 = one update.
type cursorFixture struct {
	db      *Database
	txA     int64
	recsA   []Record
	txB     int64
	nodeIDs []string
}

func newCursorFixture(t *testing.T) *cursorFixture {
	f := &cursorFixture{db: newTestDB(t, ModeFull)}
	f.txA = mustWrite(t, f.db, func(tx *Tx) error {
		for i := range 2 {
			id, err := tx.CreateNode([]string{"Person"}, map[string]any{"i": int64(i)})
			if err != nil {
				return err
			}
			f.nodeIDs = append(f.nodeIDs, id)
		}
		return nil
	})
	if err := f.db.CreateNodeKey("Company", "name"); err != nil {
		t.Fatal(err)
	}
	f.txB = mustWrite(t, f.db, func(tx *Tx) error { return tx.SetNodeProperty(f.nodeIDs[0], "i", int64(7)) })
	f.recsA = mustQuery(t, f.db, mustEarliest(t, f.db))[:2]
	return f
}

func (f *cursorFixture) id(txID, seq, millis int64) string {
	return encodeChangeID(changeID{db: f.db.uuid, txID: txID, seq: seq, commitMillis: millis})
}

func TestCursorErrors(t *testing.T) {
	f := newCursorFixture(t)
	c0, _ := decodeChangeID(f.recsA[0].ID)
	other, err := f.db.dbms.Database("other").Current()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, from string
		code, gql  string
	}{
		{"garbage", "not a cursor!", codeInvalidIdentifier, "52N26"},
		{"empty bytes", "AAAA", codeInvalidIdentifier, "52N26"},
		{"v3 layout", "A3Qc5ZIZ_Eo5v5xsONVo8KUAAAAAAAAADAAAAAAAAAAA", codeInvalidIdentifier, "52N26"},
		{"negative tx", f.id(-1, 0, 0), codeInvalidIdentifier, "52N26"},
		{"other database", other, codeInvalidIdentifier, "52N31"},
		{"future", f.id(f.txB+3, seqEnd, c0.commitMillis), codeFutureIdentifier, "52N30"},
		{"commit time mismatch", f.id(f.txA, 0, c0.commitMillis+1), codeInvalidIdentifier, "52N27"},
		{"seq beyond tx", f.id(f.txA, 2, c0.commitMillis), codeInvalidIdentifier, "52N32"},
		{"negative seq", f.id(f.txA, -1, c0.commitMillis), codeInvalidIdentifier, "52N32"},
		{"seq in schema tx", f.id(f.txA+1, 0, mustTx(t, f.db, f.txA+1).commitMillis), codeInvalidIdentifier, "52N32"},
		{"before epoch", f.id(0, seqEnd, 0), codeInvalidIdentifier, "52N29"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.db.Query(admin, c.from, nil)
			code, gql := codeOf(err)
			if code != c.code || gql != c.gql {
				t.Errorf("Query(%q) error = %v, want %s %s", c.from, err, c.code, c.gql)
			}
		})
	}
}

func mustTx(t *testing.T, db *Database, txID int64) txEntry {
	t.Helper()
	for _, e := range db.txs {
		if e.txID == txID {
			return e
		}
	}
	t.Fatalf("tx %d not retained", txID)
	return txEntry{}
}

func TestCursorPrunedAndOutdated(t *testing.T) {
	f := newCursorFixture(t)
	oldCurrent := mustCurrent(t, f.db)
	f.db.Prune(1) // keeps only txB
	_, err := f.db.Query(admin, f.recsA[0].ID, nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != codeInvalidIdentifier || e.Message != PrunedMessage {
		t.Fatalf("pruned cursor: %v", err)
	}
	// earliest is the end of the newest pruned transaction: txB is first.
	recs := mustQuery(t, f.db, mustEarliest(t, f.db))
	if len(recs) != 1 || recs[0].TxID != f.txB {
		t.Fatalf("after prune, earliest returns %d records, first tx %v", len(recs), recs)
	}
	if got := mustQuery(t, f.db, oldCurrent); len(got) != 0 {
		t.Fatalf("current taken before prune is still valid and at the head, got %d", len(got))
	}

	if err := f.db.SetCaptureMode(ModeOff); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"current":  func() error { _, err := f.db.Current(); return err },
		"earliest": func() error { _, err := f.db.Earliest(); return err },
		"query":    func() error { _, err := f.db.Query(admin, "", nil); return err },
	} {
		if code, gql := codeOf(call()); code != codeDisabled || gql != "51N68" {
			t.Errorf("%s with capture OFF: %s %s", name, code, gql)
		}
	}
	mustWrite(t, f.db, func(tx *Tx) error { return tx.SetNodeProperty(f.nodeIDs[1], "x", true) }) // not captured
	if err := f.db.SetCaptureMode(ModeDiff); err != nil {
		t.Fatal(err)
	}
	for _, from := range []string{oldCurrent, f.recsA[1].ID} {
		if _, gql := codeOf(func() error { _, err := f.db.Query(admin, from, nil); return err }()); gql != "52N29" {
			t.Errorf("id from before OFF gives %s, want 52N29", gql)
		}
	}
	if got := mustQuery(t, f.db, mustEarliest(t, f.db)); len(got) != 0 {
		t.Errorf("fresh epoch has %d records", len(got))
	}
	cur := mustCurrent(t, f.db)
	tx := mustWrite(t, f.db, func(tx *Tx) error { return tx.SetNodeProperty(f.nodeIDs[1], "x", false) })
	got := mustQuery(t, f.db, cur)
	if len(got) != 1 || got[0].TxID != tx || got[0].Metadata["captureMode"] != ModeDiff {
		t.Errorf("after re-enable got %v", got)
	}
	if e := mustEarliest(t, f.db); e != cur {
		t.Errorf("earliest %s != epoch current %s", e, cur)
	}
}

func TestForbiddenAndReader(t *testing.T) {
	f := newCursorFixture(t)
	reader, ok := f.db.dbms.Authenticate("reader", "r")
	if !ok {
		t.Fatal("reader cannot authenticate")
	}
	if _, ok := f.db.dbms.Authenticate("reader", "wrong"); ok {
		t.Fatal("wrong password accepted")
	}
	if code, _ := codeOf(func() error { _, err := f.db.Query(reader, "", nil); return err }()); code != codeForbidden {
		t.Errorf("reader query: %s", code)
	}
	if _, err := f.db.Current(); err != nil {
		t.Errorf("current: %v", err)
	}
}

func TestCursorSemantics(t *testing.T) {
	f := newCursorFixture(t)
	db := f.db
	all := mustQuery(t, db, mustEarliest(t, db))
	if len(all) != 3 || all[0].TxID != f.txA || all[0].Seq != 0 || all[1].Seq != 1 || all[2].TxID != f.txB {
		t.Fatalf("log = %v", all)
	}
	if f.txB != f.txA+2 {
		t.Errorf("schema transaction should leave a txId gap: txA %d txB %d", f.txA, f.txB)
	}
	// Resuming mid-transaction returns the rest of it.
	rest := mustQuery(t, db, all[0].ID)
	if len(rest) != 2 || rest[0].ID != all[1].ID || rest[1].ID != all[2].ID {
		t.Errorf("resume after seq 0: %v", rest)
	}
	if got := mustQuery(t, db, all[2].ID); len(got) != 0 {
		t.Errorf("resume after last: %d records", len(got))
	}
	cur := mustCurrent(t, db)
	if got := mustQuery(t, db, ""); len(got) != 0 {
		t.Errorf(`from "" returned %d records`, len(got))
	}
	txC := mustWrite(t, db, func(tx *Tx) error { return tx.DeleteNode(f.nodeIDs[1], false) })
	got := mustQuery(t, db, cur)
	if len(got) != 1 || got[0].TxID != txC {
		t.Errorf("current is not exclusive or misses tx: %v", got)
	}
	if lim, err := db.QueryLimit(admin, mustEarliest(t, db), nil, 2); err != nil || len(lim) != 2 || lim[1].ID != all[1].ID {
		t.Errorf("QueryLimit = %v, %v", lim, err)
	}
	// A rolled back transaction logs nothing.
	last := db.LastTxID()
	boom := errors.New("boom")
	if _, err := db.Write(sampleSession, func(tx *Tx) error {
		if _, err := tx.CreateNode([]string{"X"}, nil); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) || db.LastTxID() != last {
		t.Errorf("rollback: err %v, last tx %d -> %d", err, last, db.LastTxID())
	}
	// Retention keeps the last n transactions.
	db.SetRetention(2)
	recs := mustQuery(t, db, mustEarliest(t, db))
	if len(recs) != 2 || recs[0].TxID != f.txB {
		t.Errorf("retention 2 keeps %v", recs)
	}
	if ids := db.Snapshot(); len(ids.Nodes) != 1 {
		t.Errorf("snapshot has %d nodes", len(ids.Nodes))
	}
	id, ct, err := db.CurrentWithCommitTime()
	md := recs[len(recs)-1].Metadata["txCommitTime"]
	if err != nil || id != mustCurrent(t, db) || ct != md {
		t.Errorf("CurrentWithCommitTime = %s %v %v, want time %v", id, ct, err, md)
	}
	if db.dbms.Database("NEO4J") != db || db.dbms.Database("missing") != nil || db.dbms.DefaultDatabase() != "neo4j" {
		t.Error("database lookup")
	}
}

func FuzzChangeID(f *testing.F) {
	db := newTestDB(f, ModeFull)
	var node string
	mustWrite(f, db, func(tx *Tx) error {
		var err error
		node, err = tx.CreateNode([]string{"A"}, map[string]any{"a": int64(1)})
		return err
	})
	mustWrite(f, db, func(tx *Tx) error { return tx.SetNodeProperty(node, "a", int64(2)) })
	db.Prune(1)
	for _, s := range []string{"", "x", "BaQswf9NV0b7qicwDdh7vfwAAAAAAAAD83__________AAABjzfm4bM", mustCurrent(f, db), mustEarliest(f, db), "====", "A3Qc5ZIZ_Eo5v5xsONVo8KUAAAAAAAAADAAAAAAAAAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		recs, err := db.Query(admin, s, nil)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" {
				t.Fatalf("error is not a Neo4j error: %v", err)
			}
			return
		}
		if len(recs) > 1 {
			t.Fatalf("only one change is retained, got %d", len(recs))
		}
		if c, ok := decodeChangeID(s); ok && encodeChangeID(c) == s && c.db != db.uuid {
			t.Fatalf("foreign id accepted")
		}
	})
}

func TestRestoreInvalidatesIDs(t *testing.T) {
	f := newCursorFixture(t)
	db := f.db
	old := mustCurrent(t, db)
	before := db.Snapshot()
	db.Restore()
	if db.UUID() == testUUID {
		t.Fatal("restore kept the store uuid")
	}
	if _, gql := codeOf(func() error { _, err := db.Query(admin, old, nil); return err }()); gql != "52N31" {
		t.Errorf("old id after restore: %s", gql)
	}
	after := db.Snapshot()
	if len(after.Nodes) != len(before.Nodes) {
		t.Fatalf("restore lost nodes")
	}
	for id := range after.Nodes {
		if _, same := before.Nodes[id]; same {
			t.Errorf("element id %s survived the restore", id)
		}
	}
	if got := mustQuery(t, db, mustEarliest(t, db)); len(got) != 0 {
		t.Errorf("restored log has %d records", len(got))
	}
	w := NewWorkload(db, 5)
	for range 20 {
		if _, err := w.Step(); err != nil {
			t.Fatal(err)
		}
	}
	recs := mustQuery(t, db, mustEarliest(t, db))
	if len(recs) == 0 {
		t.Fatal("no changes after restore")
	}
	if c, _ := decodeChangeID(recs[0].ID); formatUUID(c.db) != db.UUID() {
		t.Error("new ids do not carry the new uuid")
	}
}

func TestReplicaLag(t *testing.T) {
	f := newCursorFixture(t)
	db := f.db
	leader := mustCurrent(t, db)
	db.SetReplicaLag(1) // txB not yet applied here
	if code, gql := codeOf(func() error { _, err := db.Query(admin, leader, nil); return err }()); code != codeFutureIdentifier || gql != "52N30" {
		t.Errorf("leader id on a lagging replica: %s %s", code, gql)
	}
	recs := mustQuery(t, db, mustEarliest(t, db))
	if len(recs) != 2 || recs[1].TxID != f.txA {
		t.Errorf("lagging replica returns %v", recs)
	}
	lagged := mustCurrent(t, db)
	db.SetReplicaLag(0)
	if got := mustQuery(t, db, lagged); len(got) != 1 || got[0].TxID != f.txB {
		t.Errorf("after catching up: %v", got)
	}
	db.SetReplicaLag(100)
	if got := mustQuery(t, db, mustEarliest(t, db)); len(got) != 0 || mustCurrent(t, db) != mustEarliest(t, db) {
		t.Errorf("lag beyond the log: %v", got)
	}
}
