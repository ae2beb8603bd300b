package neo4jsim

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// replica rebuilds a graph from a change stream, the way a CDC consumer would, checking on
// the way that every before state agrees with what it has.
type replica struct {
	g Graph
}

func newReplica() *replica {
	return &replica{g: Graph{Nodes: map[string]Node{}, Relationships: map[string]Relationship{}}}
}

func stringsOf(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func stateOf(ev map[string]any, which string) map[string]any {
	st, _ := ev["state"].(map[string]any)
	s, _ := st[which].(map[string]any)
	return s
}

// applyTx applies the records of one transaction: node creates and updates, then
// relationship changes, then node deletes (the records of a transaction are a set).
func (r *replica) applyTx(recs []Record) error {
	phase := func(rec Record) int {
		ev := rec.Event
		switch {
		case ev["eventType"] == "r":
			return 1
		case ev["operation"] == opDelete:
			return 2
		}
		return 0
	}
	for p := range 3 {
		for _, rec := range recs {
			if phase(rec) != p {
				continue
			}
			var err error
			if rec.Event["eventType"] == "n" {
				err = r.applyNode(rec)
			} else {
				err = r.applyRel(rec)
			}
			if err != nil {
				return fmt.Errorf("tx %d seq %d: %w", rec.TxID, rec.Seq, err)
			}
		}
	}
	return nil
}

func (r *replica) applyNode(rec Record) error {
	ev := rec.Event
	id, _ := ev["elementId"].(string)
	full := rec.Metadata["captureMode"] == ModeFull
	before, after := stateOf(ev, "before"), stateOf(ev, "after")
	cur, exists := r.g.Nodes[id]
	top := sortedCopy(stringsOf(ev["labels"]))
	switch ev["operation"] {
	case opCreate:
		if exists || before != nil || after == nil {
			return fmt.Errorf("bad create of %s (exists %v)", id, exists)
		}
		props, _ := after["properties"].(map[string]any)
		n := Node{ElementID: id, Labels: sortedCopy(stringsOf(after["labels"])), Properties: cloneMap(props)}
		if !slices.Equal(top, n.Labels) {
			return fmt.Errorf("create labels %v, top-level %v", n.Labels, top)
		}
		r.g.Nodes[id] = n
	case opDelete:
		if !exists || after != nil {
			return fmt.Errorf("bad delete of %s", id)
		}
		props, _ := before["properties"].(map[string]any)
		if !propsEqual(props, cur.Properties) || !slices.Equal(sortedCopy(stringsOf(before["labels"])), cur.Labels) || !slices.Equal(top, cur.Labels) {
			return fmt.Errorf("delete before state of %s differs from replica", id)
		}
		delete(r.g.Nodes, id)
	case opUpdate:
		if !exists || before == nil || after == nil {
			return fmt.Errorf("bad update of %s", id)
		}
		if !slices.Equal(top, cur.Labels) {
			return fmt.Errorf("update top-level labels %v, replica has %v", top, cur.Labels)
		}
		bp, _ := before["properties"].(map[string]any)
		ap, _ := after["properties"].(map[string]any)
		bl, al := stringsOf(before["labels"]), stringsOf(after["labels"])
		if (full && propsEqual(bp, ap) && slices.Equal(bl, al)) || (!full && len(bp)+len(ap)+len(bl)+len(al) == 0) {
			return fmt.Errorf("update of %s changes nothing", id)
		}
		if full {
			if !propsEqual(bp, cur.Properties) || !slices.Equal(sortedCopy(bl), cur.Labels) {
				return fmt.Errorf("FULL before state of %s differs from replica", id)
			}
			r.g.Nodes[id] = Node{ElementID: id, Labels: sortedCopy(al), Properties: cloneMap(ap)}
			return nil
		}
		for k, v := range bp {
			if w, ok := cur.Properties[k]; !ok || !valuesEqual(v, w) {
				return fmt.Errorf("DIFF before %s.%s differs from replica", id, k)
			}
		}
		for _, l := range bl {
			if !slices.Contains(cur.Labels, l) {
				return fmt.Errorf("DIFF removes label %s that %s lacks", l, id)
			}
		}
		props := cloneMap(cur.Properties)
		for k := range bp {
			if _, ok := ap[k]; !ok {
				delete(props, k)
			}
		}
		for k, v := range ap {
			props[k] = cloneValue(v)
		}
		labels := slices.DeleteFunc(slices.Clone(cur.Labels), func(l string) bool { return slices.Contains(bl, l) })
		labels = append(labels, al...)
		r.g.Nodes[id] = Node{ElementID: id, Labels: sortedCopy(labels), Properties: props}
	default:
		return fmt.Errorf("operation %v", ev["operation"])
	}
	return nil
}

func (r *replica) applyRel(rec Record) error {
	ev := rec.Event
	id, _ := ev["elementId"].(string)
	full := rec.Metadata["captureMode"] == ModeFull
	before, after := stateOf(ev, "before"), stateOf(ev, "after")
	start, _ := ev["start"].(map[string]any)
	end, _ := ev["end"].(map[string]any)
	sid, _ := start["elementId"].(string)
	eid, _ := end["elementId"].(string)
	typ, _ := ev["type"].(string)
	cur, exists := r.g.Relationships[id]
	switch ev["operation"] {
	case opCreate:
		if exists || before != nil {
			return fmt.Errorf("bad rel create %s", id)
		}
		if _, ok := r.g.Nodes[sid]; !ok {
			return fmt.Errorf("rel %s starts at unknown node %s", id, sid)
		}
		if _, ok := r.g.Nodes[eid]; !ok {
			return fmt.Errorf("rel %s ends at unknown node %s", id, eid)
		}
		props, _ := after["properties"].(map[string]any)
		r.g.Relationships[id] = Relationship{ElementID: id, Type: typ, StartID: sid, EndID: eid, Properties: cloneMap(props)}
		return nil
	}
	if !exists || cur.Type != typ || cur.StartID != sid || cur.EndID != eid {
		return fmt.Errorf("rel %s unknown or different end points", id)
	}
	bp, _ := before["properties"].(map[string]any)
	if ev["operation"] == opDelete {
		if !propsEqual(bp, cur.Properties) {
			return fmt.Errorf("rel delete before state differs")
		}
		delete(r.g.Relationships, id)
		return nil
	}
	ap, _ := after["properties"].(map[string]any)
	if (full && propsEqual(bp, ap)) || (!full && len(bp)+len(ap) == 0) {
		return fmt.Errorf("update of %s changes nothing", id)
	}
	if full {
		if !propsEqual(bp, cur.Properties) {
			return fmt.Errorf("FULL rel before state differs")
		}
		cur.Properties = cloneMap(ap)
	} else {
		for k := range bp {
			if _, ok := ap[k]; !ok {
				delete(cur.Properties, k)
			}
		}
		for k, v := range ap {
			cur.Properties[k] = cloneValue(v)
		}
	}
	r.g.Relationships[id] = cur
	return nil
}

// replay applies a whole stream, checking (txId, seq) order and seq numbering.
func replay(recs []Record) (*replica, error) {
	r := newReplica()
	for i := 0; i < len(recs); {
		j := i
		for j < len(recs) && recs[j].TxID == recs[i].TxID {
			if recs[j].Seq != int64(j-i) {
				return nil, fmt.Errorf("tx %d: seq %d at position %d", recs[j].TxID, recs[j].Seq, j-i)
			}
			j++
		}
		if i > 0 && recs[i].TxID <= recs[i-1].TxID {
			return nil, fmt.Errorf("txId %d after %d", recs[i].TxID, recs[i-1].TxID)
		}
		if err := r.applyTx(recs[i:j]); err != nil {
			return nil, err
		}
		for _, n := range r.g.Relationships {
			_, s := r.g.Nodes[n.StartID]
			_, e := r.g.Nodes[n.EndID]
			if !s || !e {
				return nil, fmt.Errorf("after tx %d relationship %s dangles", recs[i].TxID, n.ElementID)
			}
		}
		i = j
	}
	return r, nil
}

func graphsEqual(a, b Graph) error {
	if len(a.Nodes) != len(b.Nodes) || len(a.Relationships) != len(b.Relationships) {
		return fmt.Errorf("sizes differ: %d/%d nodes, %d/%d relationships", len(a.Nodes), len(b.Nodes), len(a.Relationships), len(b.Relationships))
	}
	for id, n := range a.Nodes {
		m, ok := b.Nodes[id]
		if !ok || !slices.Equal(n.Labels, m.Labels) || !propsEqual(n.Properties, m.Properties) {
			return fmt.Errorf("node %s: %+v vs %+v", id, n, m)
		}
	}
	for id, r := range a.Relationships {
		s, ok := b.Relationships[id]
		if !ok || r.Type != s.Type || r.StartID != s.StartID || r.EndID != s.EndID || !propsEqual(r.Properties, s.Properties) {
			return fmt.Errorf("relationship %s: %+v vs %+v", id, r, s)
		}
	}
	return nil
}

// randomTx applies rapid-drawn operations, including ones on entities created or deleted
// earlier in the same transaction, no-op updates and key violations.
func randomTx(t *rapid.T, tx *Tx, nodes, rels *[]string) error {
	keys := []string{"a", "b", "k"}
	vals := rapid.SampledFrom([]any{int64(1), int64(2), "x", 1.5, true, []any{int64(1)}, []byte{1}, Date{EpochDays: 3}, nil})
	labels := rapid.SampledFrom([]string{"A", "B", "K"})
	for range rapid.IntRange(1, 6).Draw(t, "ops") {
		liveNodes := slices.DeleteFunc(slices.Clone(*nodes), func(id string) bool { return !tx.NodeExists(id) })
		liveRels := slices.DeleteFunc(slices.Clone(*rels), func(id string) bool { return !tx.RelationshipExists(id) })
		op := rapid.IntRange(0, 8).Draw(t, "op")
		if len(liveNodes) == 0 {
			op = 0
		}
		if (op == 6 || op == 7) && len(liveRels) == 0 {
			op = 5
		}
		var err error
		switch op {
		case 0:
			var id string
			id, err = tx.CreateNode([]string{labels.Draw(t, "label")}, map[string]any{"k": rapid.Int64Range(0, 5).Draw(t, "kv")})
			*nodes = append(*nodes, id)
		case 1:
			err = tx.SetNodeProperty(rapid.SampledFrom(liveNodes).Draw(t, "n"), rapid.SampledFrom(keys).Draw(t, "key"), vals.Draw(t, "v"))
		case 2:
			err = tx.AddLabels(rapid.SampledFrom(liveNodes).Draw(t, "n"), labels.Draw(t, "label"))
		case 3:
			err = tx.RemoveLabels(rapid.SampledFrom(liveNodes).Draw(t, "n"), labels.Draw(t, "label"))
		case 4:
			err = tx.DeleteNode(rapid.SampledFrom(liveNodes).Draw(t, "n"), rapid.Bool().Draw(t, "detach"))
		case 5:
			var id string
			id, err = tx.CreateRelationship(rapid.SampledFrom([]string{"R", "S"}).Draw(t, "type"),
				rapid.SampledFrom(liveNodes).Draw(t, "start"), rapid.SampledFrom(liveNodes).Draw(t, "end"),
				map[string]any{"a": vals.Draw(t, "v")})
			*rels = append(*rels, id)
		case 6:
			err = tx.SetRelationshipProperty(rapid.SampledFrom(liveRels).Draw(t, "r"), rapid.SampledFrom(keys).Draw(t, "key"), vals.Draw(t, "v"))
		case 7:
			err = tx.DeleteRelationship(rapid.SampledFrom(liveRels).Draw(t, "r"))
		case 8:
			err = tx.RemoveNodeProperty(rapid.SampledFrom(liveNodes).Draw(t, "n"), rapid.SampledFrom(keys).Draw(t, "key"))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkReplay runs a random workload in capture mode FULL, DIFF or "mixed" (switching
// between them at random), replays the stream onto an empty graph and compares.
func checkReplay(t *rapid.T, mode string) {
	initial := mode
	if mode == "mixed" {
		initial = ModeFull
	}
	db := newTestDB(t, initial)
	if err := db.CreateNodeKey("K", "k"); err != nil {
		t.Fatal(err)
	}
	w := NewWorkload(db, rapid.Int64().Draw(t, "seed"), WithMaxNodes(rapid.IntRange(4, 25).Draw(t, "maxNodes")))
	var nodes, rels []string
	for range rapid.IntRange(1, 120).Draw(t, "steps") {
		if mode == "mixed" {
			if err := db.SetCaptureMode(rapid.SampledFrom([]string{ModeFull, ModeDiff}).Draw(t, "mode")); err != nil {
				t.Fatal(err)
			}
		}
		if rapid.Bool().Draw(t, "workload") {
			if _, err := w.Step(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		// Errors (missing entities are avoided; key violations, deleting a node with
		// relationships) roll the transaction back; nothing may be logged then.
		last := db.LastTxID()
		txNodes, txRels := slices.Clone(nodes), slices.Clone(rels)
		if _, err := db.Write(Session{User: "neo4j"}, func(tx *Tx) error { return randomTx(t, tx, &txNodes, &txRels) }); err != nil {
			if db.LastTxID() != last {
				t.Fatalf("failed transaction was logged: %v", err)
			}
			continue
		}
		nodes, rels = txNodes, txRels
	}
	recs, err := db.Query(admin, mustEarliest(t, db), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Metadata["captureMode"] != mode && mode != "mixed" {
			t.Fatalf("record captured in %v, db mode %s", r.Metadata["captureMode"], mode)
		}
	}
	rep, err := replay(recs)
	if err != nil {
		t.Fatal(err)
	}
	if err := graphsEqual(rep.g, db.Snapshot()); err != nil {
		t.Fatal(err)
	}
}

func TestReplayReproducesGraphFull(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { checkReplay(t, ModeFull) })
}

func TestReplayReproducesGraphDiff(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { checkReplay(t, ModeDiff) })
}

func TestReplayReproducesGraphMixedModes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { checkReplay(t, "mixed") })
}
