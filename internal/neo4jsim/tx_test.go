package neo4jsim

import (
	"math"
	"slices"
	"testing"
)

func TestNetEffectPerTransaction(t *testing.T) {
	db := newTestDB(t, ModeFull)
	var a string
	txCreate := mustWrite(t, db, func(tx *Tx) error {
		var err error
		if a, err = tx.CreateNode([]string{"A"}, map[string]any{"x": int64(1)}); err != nil {
			return err
		}
		if err := tx.SetNodeProperty(a, "x", int64(2)); err != nil {
			return err
		}
		if err := tx.AddLabels(a, "B"); err != nil {
			return err
		}
		// created and deleted in the same transaction: no record at all
		tmp, err := tx.CreateNode([]string{"Tmp"}, nil)
		if err != nil {
			return err
		}
		r, err := tx.CreateRelationship("T", a, tmp, nil)
		if err != nil {
			return err
		}
		if err := tx.SetRelationshipProperty(r, "p", "v"); err != nil {
			return err
		}
		return tx.DeleteNode(tmp, true)
	})
	recs := mustQuery(t, db, mustEarliest(t, db))
	if len(recs) != 1 || recs[0].TxID != txCreate || recs[0].Event["operation"] != opCreate {
		t.Fatalf("create+set+temp gave %d records: %v", len(recs), recs)
	}
	after := stateOf(recs[0].Event, "after")
	if p := after["properties"].(map[string]any); p["x"] != int64(2) || !slices.Equal(stringsOf(after["labels"]), []string{"A", "B"}) {
		t.Errorf("create record does not carry the final state: %v", after)
	}

	cur := mustCurrent(t, db)
	last := db.LastTxID()
	txID, err := db.Write(sampleSession, func(tx *Tx) error {
		if err := tx.SetNodeProperty(a, "x", int64(5)); err != nil {
			return err
		}
		if err := tx.SetNodeProperty(a, "x", int64(2)); err != nil { // back to the old value
			return err
		}
		if err := tx.AddLabels(a, "C"); err != nil {
			return err
		}
		if err := tx.RemoveLabels(a, "C"); err != nil {
			return err
		}
		return tx.RemoveNodeProperty(a, "missing")
	})
	if err != nil || txID != 0 || db.LastTxID() != last {
		t.Errorf("no-op transaction: tx %d err %v, last tx %d -> %d", txID, err, last, db.LastTxID())
	}
	if got := mustQuery(t, db, cur); len(got) != 0 {
		t.Errorf("no-op transaction logged %d records", len(got))
	}
	// Update then delete in one transaction: a single delete with the committed state.
	mustWrite(t, db, func(tx *Tx) error {
		if err := tx.SetNodeProperty(a, "x", int64(9)); err != nil {
			return err
		}
		return tx.DeleteNode(a, false)
	})
	got := mustQuery(t, db, cur)
	if len(got) != 1 || got[0].Event["operation"] != opDelete {
		t.Fatalf("update+delete gave %v", got)
	}
	if p := stateOf(got[0].Event, "before")["properties"].(map[string]any); p["x"] != int64(2) {
		t.Errorf("delete before state is not the committed state: %v", p)
	}
}

func TestTxErrors(t *testing.T) {
	db := newTestDB(t, ModeFull)
	if err := db.CreateNodeKey("P", "id"); err != nil {
		t.Fatal(err)
	}
	if code, _ := codeOf(db.CreateNodeKey("P", "id")); code != "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists" {
		t.Errorf("duplicate constraint: %s", code)
	}
	if err := db.CreateRelationshipKey("R", "rid"); err != nil {
		t.Fatal(err)
	}
	var p1, p2 string
	mustWrite(t, db, func(tx *Tx) error {
		var err error
		if p1, err = tx.CreateNode([]string{"P"}, map[string]any{"id": int64(1)}); err != nil {
			return err
		}
		p2, err = tx.CreateNode([]string{"P"}, map[string]any{"id": int64(2)})
		return err
	})
	mustWrite(t, db, func(tx *Tx) error {
		_, err := tx.CreateRelationship("R", p1, p2, map[string]any{"rid": int64(1)})
		return err
	})
	cases := []struct {
		name string
		fn   func(tx *Tx) error
		code string
	}{
		{"missing key property", func(tx *Tx) error { _, err := tx.CreateNode([]string{"P"}, nil); return err }, "Neo.ClientError.Schema.ConstraintValidationFailed"},
		{"duplicate key", func(tx *Tx) error {
			_, err := tx.CreateNode([]string{"P"}, map[string]any{"id": int64(1)})
			return err
		}, "Neo.ClientError.Schema.ConstraintValidationFailed"},
		{"label added to a node lacking the key", func(tx *Tx) error {
			n, err := tx.CreateNode([]string{"Q"}, nil)
			if err != nil {
				return err
			}
			return tx.AddLabels(n, "P")
		}, "Neo.ClientError.Schema.ConstraintValidationFailed"},
		{"key property removed", func(tx *Tx) error { return tx.RemoveNodeProperty(p1, "id") }, "Neo.ClientError.Schema.ConstraintValidationFailed"},
		{"duplicate relationship key", func(tx *Tx) error {
			_, err := tx.CreateRelationship("R", p2, p1, map[string]any{"rid": int64(1)})
			return err
		}, "Neo.ClientError.Schema.ConstraintValidationFailed"},
		{"delete with relationships", func(tx *Tx) error { return tx.DeleteNode(p1, false) }, "Neo.ClientError.Schema.ConstraintValidationFailed"},
		{"unknown node", func(tx *Tx) error { return tx.SetNodeProperty("4:nope:1", "a", int64(1)) }, "Neo.ClientError.Statement.EntityNotFound"},
		{"relationship id as node", func(tx *Tx) error { return tx.DeleteNode(db.relElementID(0), true) }, "Neo.ClientError.Statement.EntityNotFound"},
		{"deleted in tx", func(tx *Tx) error {
			if err := tx.DeleteNode(p2, true); err != nil {
				return err
			}
			return tx.AddLabels(p2, "X")
		}, "Neo.ClientError.Statement.EntityNotFound"},
		{"relationship to deleted node", func(tx *Tx) error {
			if err := tx.DeleteNode(p2, true); err != nil {
				return err
			}
			_, err := tx.CreateRelationship("S", p1, p2, nil)
			return err
		}, "Neo.ClientError.Statement.EntityNotFound"},
		{"map property", func(tx *Tx) error { return tx.SetNodeProperty(p1, "m", map[string]any{}) }, "Neo.ClientError.Statement.TypeError"},
		{"mixed list", func(tx *Tx) error { return tx.SetNodeProperty(p1, "l", []any{int64(1), "x"}) }, "Neo.ClientError.Statement.TypeError"},
		{"list with null", func(tx *Tx) error { return tx.SetNodeProperty(p1, "l", []any{nil}) }, "Neo.ClientError.Statement.TypeError"},
		{"nested list", func(tx *Tx) error { return tx.SetNodeProperty(p1, "l", []any{[]any{}}) }, "Neo.ClientError.Statement.TypeError"},
		{"struct", func(tx *Tx) error { return tx.SetNodeProperty(p1, "s", struct{}{}) }, "Neo.ClientError.Statement.TypeError"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			last := db.LastTxID()
			before := db.Snapshot()
			_, err := db.Write(sampleSession, c.fn)
			if code, _ := codeOf(err); code != c.code {
				t.Errorf("error %v, want %s", err, c.code)
			}
			if db.LastTxID() != last {
				t.Error("failed transaction committed")
			}
			if err := graphsEqual(before, db.Snapshot()); err != nil {
				t.Errorf("failed transaction changed the graph: %v", err)
			}
		})
	}
	var kept *Tx
	mustWrite(t, db, func(tx *Tx) error { kept = tx; return tx.SetNodeProperty(p1, "ok", true) })
	if code, _ := codeOf(kept.SetNodeProperty(p1, "late", true)); code != "Neo.ClientError.Transaction.TransactionNotFound" {
		t.Errorf("use after commit: %s", code)
	}
}

func TestPropertyNormalization(t *testing.T) {
	db := newTestDB(t, ModeFull)
	buf := []byte{1, 2}
	list := []any{int64(1), int64(2)}
	var n string
	mustWrite(t, db, func(tx *Tx) error {
		var err error
		n, err = tx.CreateNode(nil, map[string]any{"i": 7, "f": float32(0.5), "b": buf, "l": list, "s": []string{"a"}, "nan": math.NaN(), "null": nil})
		return err
	})
	buf[0], list[0] = 9, int64(9) // the caller's values must not reach the graph
	got := db.Snapshot().Nodes[n]
	want := map[string]any{"i": int64(7), "f": 0.5, "b": []byte{1, 2}, "l": []any{int64(1), int64(2)}, "s": []any{"a"}, "nan": math.NaN()}
	if !propsEqual(got.Properties, want) || len(got.Labels) != 0 {
		t.Errorf("stored %#v", got)
	}
	// Setting NaN again is not a change.
	if id, err := db.Write(sampleSession, func(tx *Tx) error { return tx.SetNodeProperty(n, "nan", math.NaN()) }); err != nil || id != 0 {
		t.Errorf("NaN re-set: %d %v", id, err)
	}
	recs := mustQuery(t, db, mustEarliest(t, db))
	after := stateOf(recs[0].Event, "after")
	if len(stringsOf(after["labels"])) != 0 || recs[0].Event["keys"] == nil || len(recs[0].Event["keys"].(map[string]any)) != 0 {
		t.Errorf("node without labels: %v", recs[0].Event)
	}
}

func TestMetadata(t *testing.T) {
	db := newTestDB(t, ModeDiff)
	s := Session{User: "alice", TxMetadata: map[string]any{"app": "x"}}
	if _, err := db.Write(s, func(tx *Tx) error { _, err := tx.CreateNode([]string{"A"}, nil); return err }); err != nil {
		t.Fatal(err)
	}
	s.TxMetadata["app"] = "changed later"
	md := mustQuery(t, db, mustEarliest(t, db))[0].Metadata
	want := []string{"authenticatedUser", "captureMode", "connectionClient", "connectionServer", "connectionType", "databaseName", "executingUser", "serverId", "txCommitTime", "txMetadata", "txStartTime"}
	if got := sortedKeys(md); !slices.Equal(got, want) {
		t.Fatalf("metadata keys %v", got)
	}
	if md["executingUser"] != "alice" || md["authenticatedUser"] != "alice" || md["connectionType"] != "bolt" ||
		md["captureMode"] != ModeDiff || md["databaseName"] != "neo4j" || md["serverId"] != "7528cb82" || md["connectionClient"] != nil {
		t.Errorf("metadata %v", md)
	}
	if md["txMetadata"].(map[string]any)["app"] != "x" {
		t.Error("txMetadata not copied at commit")
	}
	st, ct := md["txStartTime"].(DateTime), md["txCommitTime"].(DateTime)
	if st.OffsetSeconds != 0 || st.ZoneID != "" || st.Nanos%1e6 != 0 || ct.EpochSeconds*1000+ct.Nanos/1e6 <= st.EpochSeconds*1000+st.Nanos/1e6 {
		t.Errorf("times %+v %+v", st, ct)
	}
	c, _ := decodeChangeID(mustQuery(t, db, mustEarliest(t, db))[0].ID)
	if c.commitMillis != ct.EpochSeconds*1000+ct.Nanos/1e6 {
		t.Errorf("id commit millis %d vs txCommitTime %+v", c.commitMillis, ct)
	}
}

func TestCaptureModeSwitch(t *testing.T) {
	db := newTestDB(t, ModeFull)
	var n string
	mustWrite(t, db, func(tx *Tx) error {
		var err error
		n, err = tx.CreateNode([]string{"A"}, map[string]any{"x": int64(1), "y": int64(1)})
		return err
	})
	from := mustEarliest(t, db)
	for _, mode := range []string{ModeDiff, ModeFull, ModeDiff} {
		if err := db.SetCaptureMode(mode); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, db, func(tx *Tx) error { return tx.SetNodeProperty(n, "x", int64(db.LastTxID())) })
	}
	if db.SetCaptureMode("sometimes") == nil {
		t.Error("invalid mode accepted")
	}
	recs := mustQuery(t, db, from)
	var modes []any
	for _, r := range recs {
		modes = append(modes, r.Metadata["captureMode"])
	}
	if !slices.Equal(modes, []any{ModeFull, ModeDiff, ModeFull, ModeDiff}) {
		t.Errorf("modes %v", modes)
	}
	if p := stateOf(recs[1].Event, "after")["properties"].(map[string]any); len(p) != 1 {
		t.Errorf("DIFF after %v", p)
	}
	if p := stateOf(recs[2].Event, "after")["properties"].(map[string]any); len(p) != 2 {
		t.Errorf("FULL after %v", p)
	}
	if got := mustQuery(t, db, recs[0].ID); len(got) != 3 {
		t.Errorf("ids stay valid across DIFF/FULL switches: %d", len(got))
	}
}
