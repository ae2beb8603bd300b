package neo4jcdc_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"pgregory.net/rapid"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/testkit"
)

// This file generates the parity test's workloads (Cypher through the driver, with a model of
// the graph so that every statement is valid) and selectors drawn from what the workload
// wrote, so that they select often, not only by chance.

// The workload's schema: two labels with node keys, two without, a relationship type with a
// relationship key and one without. Every node carries parityMarker, so that a check can
// delete what earlier checks left.
const (
	labelPerson  = "ParityPerson"  // node key pid
	labelCompany = "ParityCompany" // node key (cid, size)
	labelTag     = "ParityTag"
	labelHero    = "ParityHero"
	typeKnows    = "PARITY_KNOWS" // relationship key rid
	typeLikes    = "PARITY_LIKES"
	parityMarker = "parityRun"
)

var (
	parityLabels    = []string{labelPerson, labelCompany, labelTag, labelHero}
	parityNodeProps = []string{"name", "age", "score", "flag", "day", "tags"}
	parityRelProps  = []string{"w", "since"}
	// parityPropNames are what changesTo selectors name: every property the workload writes.
	parityPropNames = []string{"name", "age", "score", "flag", "day", "tags", "pid", "cid", "size", "rid", "w", "since", parityMarker}
)

// parityTxMetadata are the transactions' metadata choices (nil: none).
var parityTxMetadata = []map[string]any{
	nil,
	{"app": "a"},
	{"app": "b", "n": int64(1)},
	{"app": "a", "n": int64(2), "tags": []any{"x"}},
	{"app": "c", "n": 2.0},
	{"app": "d", "at": time.Date(2024, 7, 1, 12, 0, 0, 0, stockholm)},
	{"app": "d", "at": time.Date(2024, 7, 1, 12, 0, 0, 0, time.FixedZone("Offset", 2*3600))},
}

// stockholm is a zone with daylight saving time, for DateTime values with a zone id.
var stockholm = func() *time.Location {
	l, err := time.LoadLocation("Europe/Stockholm")
	if err != nil {
		panic(err)
	}
	return l
}()

type pnode struct {
	id     string
	labels []string
	props  []string // names
}

type prel struct {
	id, typ    string
	start, end string
	props      []string
}

// parityWorkload is one check's graph model and what it wrote.
type parityWorkload struct {
	pt      *parityTarget
	nodes   []*pnode
	rels    []*prel
	nodeIDs []string // every node element id written
	relIDs  []string
	pids    []int64
	cids    []string
	rids    []int64
	next    int64
}

func newParityWorkload(pt *parityTarget) *parityWorkload { return &parityWorkload{pt: pt} }

// wipe deletes what earlier checks left, so key values can start again.
func (w *parityWorkload) wipe(c context.Context, t *rapid.T) {
	_, err := neo4j.ExecuteQuery(c, w.pt.writers[0].driver,
		"MATCH (n) WHERE n."+parityMarker+" IS NOT NULL DETACH DELETE n", nil, neo4j.EagerResultTransformer,
		neo4j.ExecuteQueryWithDatabase(w.pt.database))
	if err != nil {
		t.Fatalf("wipe: %v", err)
	}
}

func (w *parityWorkload) counter() int64 { w.next++; return w.next }

// drawValue draws a property value; the choices overlap so that updates sometimes keep a
// value, change only its type (2 to 2.0), or change it.
func drawValue(t *rapid.T, prop string) any {
	switch prop {
	case "name":
		return rapid.SampledFrom([]string{"ann", "bob"}).Draw(t, "name")
	case "age", "since", "size":
		return rapid.SampledFrom([]any{int64(1), int64(2), 2.0}).Draw(t, prop)
	case "score", "w":
		return rapid.SampledFrom([]float64{0.5, 1.5}).Draw(t, prop)
	case "flag":
		return rapid.Bool().Draw(t, "flag")
	case "day":
		return neo4j.Date(time.Date(2024, 1, rapid.IntRange(1, 2).Draw(t, "day"), 0, 0, 0, 0, time.UTC))
	default: // tags
		return rapid.SampledFrom([][]any{{"x"}, {"x", "y"}}).Draw(t, "tags")
	}
}

func drawProps(t *rapid.T, pool []string, max int) map[string]any {
	props := map[string]any{}
	for range rapid.IntRange(0, max).Draw(t, "property count") {
		p := rapid.SampledFrom(pool).Draw(t, "property")
		props[p] = drawValue(t, p)
	}
	return props
}

// transaction runs one random transaction of one to four statements.
func (w *parityWorkload) transaction(c context.Context, t *rapid.T) {
	wr := w.pt.writers[rapid.IntRange(0, len(w.pt.writers)-1).Draw(t, "writer")]
	md := parityTxMetadata[rapid.IntRange(0, len(parityTxMetadata)-1).Draw(t, "tx metadata")]
	sess := wr.driver.NewSession(c, neo4j.SessionConfig{DatabaseName: w.pt.database, AccessMode: neo4j.AccessModeWrite,
		ImpersonatedUser: wr.impersonate})
	defer sess.Close(c)
	var opts []func(*neo4j.TransactionConfig)
	if md != nil {
		opts = append(opts, neo4j.WithTxMetadata(md))
	}
	tx, err := sess.BeginTransaction(c, opts...)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer tx.Close(c)
	run := func(q string, params map[string]any) string {
		res, err := tx.Run(c, q, params)
		if err != nil {
			t.Fatalf("%s %v: %v", q, params, err)
		}
		recs, err := res.Collect(c)
		if err != nil {
			t.Fatalf("%s %v: %v", q, params, err)
		}
		if len(recs) == 1 && len(recs[0].Values) == 1 {
			s, _ := recs[0].Values[0].(string)
			return s
		}
		return ""
	}
	for range rapid.IntRange(1, 6).Draw(t, "statements") {
		w.statement(t, run)
	}
	if err := tx.Commit(c); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// statement runs one random statement that is valid on the modelled graph.
func (w *parityWorkload) statement(t *rapid.T, run func(string, map[string]any) string) {
	op := rapid.IntRange(0, 14).Draw(t, "statement")
	if op > 12 { // label changes twice as often: they are where before-or-after matters
		op = 4 + 2*(op-13) // 4: add a label, 6: swap labels
	}
	if len(w.nodes) == 0 || op == 0 {
		w.createNode(t, run)
		return
	}
	n := rapid.SampledFrom(w.nodes).Draw(t, "node")
	byID := map[string]any{"id": n.id}
	match := "MATCH (n) WHERE elementId(n) = $id "
	switch op {
	case 1: // set one property, a key property to a new unique value
		p := rapid.SampledFrom(append([]string{"pid", "cid", "size"}, parityNodeProps...)).Draw(t, "set property")
		var v any
		switch p {
		case "pid":
			v = w.counter()
			w.pids = append(w.pids, v.(int64))
		case "cid":
			v = fmt.Sprintf("c%d", w.counter())
			w.cids = append(w.cids, v.(string))
		default:
			v = drawValue(t, p)
		}
		run(match+"SET n."+p+" = $v", map[string]any{"id": n.id, "v": v})
		n.props = addName(n.props, p)
	case 2: // set several properties
		props := drawProps(t, parityNodeProps, 3)
		run(match+"SET n += $m", map[string]any{"id": n.id, "m": props})
		for p := range props {
			n.props = addName(n.props, p)
		}
	case 3: // remove a property (not a key property of a key label, not the marker)
		p := rapid.SampledFrom(append([]string{"pid", "cid", "size"}, parityNodeProps...)).Draw(t, "remove property")
		if (p == "pid" && slices.Contains(n.labels, labelPerson)) || ((p == "cid" || p == "size") && slices.Contains(n.labels, labelCompany)) {
			return
		}
		run(match+"REMOVE n."+p, byID)
		n.props = slices.DeleteFunc(n.props, func(s string) bool { return s == p })
	case 4: // add a label without a key
		l := rapid.SampledFrom([]string{labelTag, labelHero}).Draw(t, "add label")
		run(match+"SET n:"+l, byID)
		n.labels = addName(n.labels, l)
	case 5: // remove any label
		l := rapid.SampledFrom(parityLabels).Draw(t, "remove label")
		run(match+"REMOVE n:"+l, byID)
		n.labels = slices.DeleteFunc(n.labels, func(s string) bool { return s == l })
	case 6: // swap labels in one statement
		add := rapid.SampledFrom([]string{labelTag, labelHero}).Draw(t, "swap in")
		rm := rapid.SampledFrom(parityLabels).Draw(t, "swap out")
		if add == rm {
			return
		}
		run(match+"SET n:"+add+" REMOVE n:"+rm, byID)
		n.labels = slices.DeleteFunc(addName(n.labels, add), func(s string) bool { return s == rm })
	case 7: // delete the node with its relationships
		run(match+"DETACH DELETE n", byID)
		w.nodes = slices.DeleteFunc(w.nodes, func(x *pnode) bool { return x == n })
		w.rels = slices.DeleteFunc(w.rels, func(r *prel) bool { return r.start == n.id || r.end == n.id })
	case 8: // create a relationship
		w.createRelationship(t, run, n)
	default: // change, strip or delete a relationship
		if len(w.rels) == 0 {
			w.createRelationship(t, run, n)
			return
		}
		w.relationshipStatement(t, run)
	}
}

func (w *parityWorkload) createNode(t *rapid.T, run func(string, map[string]any) string) {
	var labels []string
	for _, l := range parityLabels {
		if rapid.IntRange(0, 2).Draw(t, "label "+l) == 0 {
			labels = append(labels, l)
		}
	}
	props := drawProps(t, parityNodeProps, 3)
	props[parityMarker] = int64(1)
	if slices.Contains(labels, labelPerson) {
		props["pid"] = w.counter()
		w.pids = append(w.pids, props["pid"].(int64))
	}
	if slices.Contains(labels, labelCompany) {
		props["cid"] = fmt.Sprintf("c%d", w.counter())
		w.cids = append(w.cids, props["cid"].(string))
		props["size"] = drawValue(t, "size")
	}
	id := run("CREATE (n"+labelText(labels)+" $props) RETURN elementId(n)", map[string]any{"props": props})
	if id == "" {
		t.Fatalf("CREATE returned no element id")
	}
	n := &pnode{id: id, labels: labels}
	for p := range props {
		n.props = append(n.props, p)
	}
	w.nodes = append(w.nodes, n)
	w.nodeIDs = append(w.nodeIDs, id)
}

func (w *parityWorkload) createRelationship(t *rapid.T, run func(string, map[string]any) string, a *pnode) {
	b := rapid.SampledFrom(w.nodes).Draw(t, "end node")
	typ := rapid.SampledFrom([]string{typeKnows, typeLikes}).Draw(t, "type")
	props := drawProps(t, parityRelProps, 2)
	pattern := "[r:" + typ + "]"
	params := map[string]any{"a": a.id, "b": b.id, "m": props}
	if typ == typeKnows {
		rid := w.counter()
		w.rids = append(w.rids, rid)
		pattern = "[r:" + typ + " {rid: $rid}]"
		params["rid"] = rid
	}
	id := run("MATCH (a), (b) WHERE elementId(a) = $a AND elementId(b) = $b CREATE (a)-"+pattern+"->(b) SET r += $m RETURN elementId(r)", params)
	if id == "" {
		t.Fatalf("CREATE returned no element id")
	}
	r := &prel{id: id, typ: typ, start: a.id, end: b.id}
	w.rels = append(w.rels, r)
	w.relIDs = append(w.relIDs, id)
}

func (w *parityWorkload) relationshipStatement(t *rapid.T, run func(string, map[string]any) string) {
	r := rapid.SampledFrom(w.rels).Draw(t, "relationship")
	match := "MATCH ()-[r]->() WHERE elementId(r) = $id "
	switch rapid.IntRange(0, 3).Draw(t, "relationship statement") {
	case 0:
		p := rapid.SampledFrom(parityRelProps).Draw(t, "set property")
		run(match+"SET r."+p+" = $v", map[string]any{"id": r.id, "v": drawValue(t, p)})
	case 1:
		if r.typ != typeKnows {
			return
		}
		rid := w.counter()
		w.rids = append(w.rids, rid)
		run(match+"SET r.rid = $v", map[string]any{"id": r.id, "v": rid})
	case 2:
		p := rapid.SampledFrom(parityRelProps).Draw(t, "remove property")
		run(match+"REMOVE r."+p, map[string]any{"id": r.id})
	default:
		run(match+"DELETE r", map[string]any{"id": r.id})
		w.rels = slices.DeleteFunc(w.rels, func(x *prel) bool { return x == r })
	}
}

func addName(names []string, n string) []string {
	if slices.Contains(names, n) {
		return names
	}
	return append(names, n)
}

func labelText(labels []string) string {
	var b strings.Builder
	for _, l := range labels {
		b.WriteString(":" + l)
	}
	return b.String()
}

// chance draws true about once in n draws (rapid prefers small numbers, so the rare outcome
// is the largest).
func chance(t *rapid.T, label string, n int) bool { return rapid.IntRange(1, n).Draw(t, label) == n }

// selectors draws one to three selectors over what the workload wrote.
func (w *parityWorkload) selectors(t *rapid.T, label string) []*cdcstreamv1.Selector {
	var out []*cdcstreamv1.Selector
	for i := range rapid.IntRange(1, 3).Draw(t, label) {
		out = append(out, w.selector(t, fmt.Sprintf("%s[%d]", label, i)))
	}
	return out
}

func (w *parityWorkload) selector(t *rapid.T, label string) *cdcstreamv1.Selector {
	var op cdcstreamv1.Operation
	if chance(t, label+".operation?", 2) {
		op = cdcstreamv1.Operation(rapid.IntRange(1, 3).Draw(t, label+".operation"))
	}
	var changesTo []string
	if chance(t, label+".changesTo?", 3) {
		changesTo = uniqueDraws(t, label+".changesTo", parityPropNames, 2)
	}
	var exec, auth string
	if chance(t, label+".executingUser?", 4) {
		exec = rapid.SampledFrom(w.pt.users).Draw(t, label+".executingUser")
	}
	if chance(t, label+".authenticatedUser?", 4) {
		auth = rapid.SampledFrom(w.pt.users).Draw(t, label+".authenticatedUser")
	}
	var txMeta map[string]*cdcstreamv1.Value
	if chance(t, label+".txMetadata?", 4) {
		txMeta = map[string]*cdcstreamv1.Value{}
		for range rapid.IntRange(1, 2).Draw(t, label+".txMetadata entries") {
			switch rapid.IntRange(0, 2).Draw(t, label+".txMetadata key") {
			case 0:
				txMeta["app"] = testkit.String(rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, label+".app"))
			case 1:
				txMeta["n"] = rapid.SampledFrom([]*cdcstreamv1.Value{testkit.Int(1), testkit.Float(1), testkit.Int(2), testkit.Float(2.5)}).Draw(t, label+".n")
			default:
				txMeta["tags"] = testkit.List(testkit.String("x"))
			}
		}
	}
	switch rapid.IntRange(0, 2).Draw(t, label+".kind") {
	case 0:
		return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Entity{Entity: &cdcstreamv1.EntitySelector{
			Operation: op, ChangesTo: changesTo, ExecutingUser: exec, AuthenticatedUser: auth, TxMetadata: txMeta}}}
	case 1:
		ns := &cdcstreamv1.NodeSelector{Operation: op, ChangesTo: changesTo, ExecutingUser: exec, AuthenticatedUser: auth, TxMetadata: txMeta}
		ns.ElementId, ns.Labels, ns.Key = w.nodeMatch(t, label)
		return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: ns}}
	default:
		rs := &cdcstreamv1.RelationshipSelector{Operation: op, ChangesTo: changesTo, ExecutingUser: exec, AuthenticatedUser: auth, TxMetadata: txMeta}
		if len(w.relIDs) > 0 && chance(t, label+".elementId?", 6) {
			rs.ElementId = rapid.SampledFrom(w.relIDs).Draw(t, label+".elementId")
		}
		if chance(t, label+".type?", 2) {
			rs.Type = rapid.SampledFrom([]string{typeKnows, typeLikes}).Draw(t, label+".type")
		}
		if len(w.rids) > 0 && chance(t, label+".key?", 4) {
			rs.Key = map[string]*cdcstreamv1.Value{"rid": numberValue(t, label+".rid", rapid.SampledFrom(w.rids).Draw(t, label+".rid"))}
		}
		for _, end := range []**cdcstreamv1.NodeMatcher{&rs.Start, &rs.End} {
			if chance(t, label+".endpoint?", 3) {
				nm := &cdcstreamv1.NodeMatcher{}
				nm.ElementId, nm.Labels, nm.Key = w.nodeMatch(t, label+".endpoint")
				*end = nm
			}
		}
		return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Relationship{Relationship: rs}}
	}
}

// nodeMatch draws the element id, labels and key of a node selector or node matcher.
func (w *parityWorkload) nodeMatch(t *rapid.T, label string) (string, []string, map[string]*cdcstreamv1.Value) {
	var id string
	if len(w.nodeIDs) > 0 && chance(t, label+".elementId?", 6) {
		id = rapid.SampledFrom(w.nodeIDs).Draw(t, label+".elementId")
	}
	var labels []string
	if chance(t, label+".labels?", 2) {
		labels = uniqueDraws(t, label+".labels", parityLabels, 2)
	}
	var key map[string]*cdcstreamv1.Value
	if chance(t, label+".key?", 4) {
		switch k := rapid.IntRange(0, 2).Draw(t, label+".key kind"); {
		case k == 0 && len(w.pids) > 0:
			key = map[string]*cdcstreamv1.Value{"pid": numberValue(t, label+".pid", rapid.SampledFrom(w.pids).Draw(t, label+".pid"))}
		case k == 1 && len(w.cids) > 0:
			key = map[string]*cdcstreamv1.Value{"cid": testkit.String(rapid.SampledFrom(w.cids).Draw(t, label+".cid"))}
		case len(w.pids) > 0: // more properties than any key has: never equal
			key = map[string]*cdcstreamv1.Value{"pid": testkit.Int(rapid.SampledFrom(w.pids).Draw(t, label+".pid")), "name": testkit.String("ann")}
		}
	}
	return id, labels, key
}

// numberValue is i as an integer, or as the equal float (Cypher: 1 = 1.0).
func numberValue(t *rapid.T, label string, i int64) *cdcstreamv1.Value {
	if rapid.Bool().Draw(t, label+" as float") {
		return testkit.Float(float64(i))
	}
	return testkit.Int(i)
}

// uniqueDraws draws one to max distinct elements of pool.
func uniqueDraws(t *rapid.T, label string, pool []string, max int) []string {
	var out []string
	for range rapid.IntRange(1, max).Draw(t, label+" count") {
		out = addName(out, rapid.SampledFrom(pool).Draw(t, label))
	}
	return out
}

// focusedSelectors draws one to three selectors, each either random (selector) or derived
// from a change of the log (focused), so that the hard cases come up often: a label set
// that held only before or only after, a property that was removed or kept, a key given as
// the equal float, a composite key given in part, start and end swapped.
func (w *parityWorkload) focusedSelectors(t *rapid.T, label string, log []*cdcstreamv1.ChangeEvent) []*cdcstreamv1.Selector {
	var out []*cdcstreamv1.Selector
	for i := range rapid.IntRange(1, 3).Draw(t, label) {
		l := fmt.Sprintf("%s[%d]", label, i)
		if chance(t, l+".random?", 3) {
			out = append(out, w.selector(t, l))
			continue
		}
		out = append(out, w.focused(t, l, rapid.SampledFrom(log).Draw(t, l+".change")))
	}
	return out
}

// focused derives a selector from change ev: each field is left out, taken from ev, or
// taken from elsewhere.
func (w *parityWorkload) focused(t *rapid.T, label string, ev *cdcstreamv1.ChangeEvent) *cdcstreamv1.Selector {
	md := ev.GetMetadata()
	var op cdcstreamv1.Operation
	var elementID string
	var before, after map[string]*cdcstreamv1.Value
	if n := ev.GetNode(); n != nil {
		op, elementID = n.GetOperation(), n.GetElementId()
		before, after = n.GetBefore().GetProperties(), n.GetAfter().GetProperties()
	} else {
		r := ev.GetRelationship()
		op, elementID = r.GetOperation(), r.GetElementId()
		before, after = r.GetBefore().GetProperties(), r.GetAfter().GetProperties()
	}
	if !chance(t, label+".operation?", 2) {
		op = cdcstreamv1.Operation_OPERATION_UNSPECIFIED
	}
	var changesTo []string
	if chance(t, label+".changesTo?", 2) {
		names := sortedNames(before, after)
		if len(names) > 0 && !chance(t, label+".changesTo elsewhere?", 4) {
			changesTo = uniqueDraws(t, label+".changesTo", names, 2)
		} else {
			changesTo = uniqueDraws(t, label+".changesTo", parityPropNames, 1)
		}
	}
	var exec, auth string
	if chance(t, label+".executingUser?", 3) {
		exec = rapid.SampledFrom([]string{md.GetExecutingUser(), md.GetAuthenticatedUser()}).Draw(t, label+".executingUser")
	}
	if chance(t, label+".authenticatedUser?", 4) {
		auth = rapid.SampledFrom([]string{md.GetAuthenticatedUser(), md.GetExecutingUser()}).Draw(t, label+".authenticatedUser")
	}
	var txMeta map[string]*cdcstreamv1.Value
	if tm := md.GetTxMetadata(); len(tm) > 0 && chance(t, label+".txMetadata?", 3) {
		txMeta = map[string]*cdcstreamv1.Value{}
		for _, k := range uniqueDraws(t, label+".txMetadata", sortedNames(tm, nil), 2) {
			txMeta[k] = otherNumber(t, label+".txMetadata value", tm[k])
		}
	}
	if !chance(t, label+".elementId?", 5) {
		elementID = ""
	}
	if n := ev.GetNode(); n != nil {
		if chance(t, label+".entity?", 4) {
			return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Entity{Entity: &cdcstreamv1.EntitySelector{
				Operation: op, ChangesTo: changesTo, ExecutingUser: exec, AuthenticatedUser: auth, TxMetadata: txMeta}}}
		}
		ns := &cdcstreamv1.NodeSelector{Operation: op, ChangesTo: changesTo, ExecutingUser: exec, AuthenticatedUser: auth,
			TxMetadata: txMeta, ElementId: elementID}
		if chance(t, label+".labels?", 2) {
			pool := append(append(slices.Clone(n.GetLabels()), n.GetBefore().GetLabels()...), n.GetAfter().GetLabels()...)
			if len(pool) == 0 || chance(t, label+".labels elsewhere?", 5) {
				pool = parityLabels
			}
			ns.Labels = uniqueDraws(t, label+".labels", pool, 3)
		}
		if chance(t, label+".key?", 2) {
			ns.Key = focusedKey(t, label+".key", nodeKeysOf(n.GetKeys()))
		}
		return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: ns}}
	}
	r := ev.GetRelationship()
	rs := &cdcstreamv1.RelationshipSelector{Operation: op, ChangesTo: changesTo, ExecutingUser: exec, AuthenticatedUser: auth,
		TxMetadata: txMeta, ElementId: elementID}
	if chance(t, label+".type?", 2) {
		rs.Type = r.GetType()
	}
	if chance(t, label+".key?", 3) {
		var keys []map[string]*cdcstreamv1.Value
		for _, k := range r.GetKeys() {
			keys = append(keys, k.GetProperties())
		}
		rs.Key = focusedKey(t, label+".key", keys)
	}
	ends := []*cdcstreamv1.NodeRef{r.GetStart(), r.GetEnd()}
	for i, end := range []**cdcstreamv1.NodeMatcher{&rs.Start, &rs.End} {
		if !chance(t, label+".endpoint?", 2) {
			continue
		}
		ref := ends[i]
		if chance(t, label+".other endpoint?", 2) {
			ref = ends[1-i]
		}
		nm := &cdcstreamv1.NodeMatcher{}
		if chance(t, label+".endpoint elementId?", 3) {
			nm.ElementId = ref.GetElementId()
		}
		if len(ref.GetLabels()) > 0 && chance(t, label+".endpoint labels?", 2) {
			nm.Labels = uniqueDraws(t, label+".endpoint labels", ref.GetLabels(), 2)
		}
		if chance(t, label+".endpoint key?", 3) {
			nm.Key = focusedKey(t, label+".endpoint key", nodeKeysOf(ref.GetKeys()))
		}
		*end = nm
	}
	return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Relationship{Relationship: rs}}
}

// nodeKeysOf flattens a node's keys.
func nodeKeysOf(keys map[string]*cdcstreamv1.LabelKeys) []map[string]*cdcstreamv1.Value {
	var out []map[string]*cdcstreamv1.Value
	for _, l := range sortedNames(keys, nil) {
		for _, k := range keys[l].GetKeys() {
			out = append(out, k.GetProperties())
		}
	}
	return out
}

// focusedKey draws a selector key from one of keys: the whole key (numbers possibly as the
// other numeric type), part of it, or all of it plus a property; nil when there are none.
func focusedKey(t *rapid.T, label string, keys []map[string]*cdcstreamv1.Value) map[string]*cdcstreamv1.Value {
	if len(keys) == 0 {
		return nil
	}
	k := keys[rapid.IntRange(0, len(keys)-1).Draw(t, label+" which")]
	out := map[string]*cdcstreamv1.Value{}
	for _, name := range sortedNames(k, nil) {
		out[name] = otherNumber(t, label+" value", k[name])
	}
	switch rapid.IntRange(0, 5).Draw(t, label+" shape") {
	case 0: // part of the key
		if len(out) > 1 {
			delete(out, sortedNames(out, nil)[0])
		}
	case 1: // more than the key
		out["name"] = testkit.String("ann")
	case 2: // a different value
		out[sortedNames(out, nil)[0]] = testkit.Int(-1)
	}
	return out
}

// otherNumber returns v, or for a number sometimes the equal number of the other type, and
// for a DateTime sometimes the same instant with its zone id replaced by its offset or the
// other way round (never equal in Cypher).
func otherNumber(t *rapid.T, label string, v *cdcstreamv1.Value) *cdcstreamv1.Value {
	switch x := v.GetKind().(type) {
	case *cdcstreamv1.Value_DateTimeValue:
		if !rapid.Bool().Draw(t, label+" other zone form") {
			return v
		}
		dt := &cdcstreamv1.DateTime{Instant: x.DateTimeValue.GetInstant()}
		switch z := x.DateTimeValue.GetZone().(type) {
		case *cdcstreamv1.DateTime_ZoneId:
			l, err := time.LoadLocation(z.ZoneId)
			if err != nil {
				t.Fatalf("zone %s: %v", z.ZoneId, err)
			}
			_, off := x.DateTimeValue.GetInstant().AsTime().In(l).Zone()
			dt.Zone = &cdcstreamv1.DateTime_OffsetSeconds{OffsetSeconds: int32(off)}
		default:
			dt.Zone = &cdcstreamv1.DateTime_ZoneId{ZoneId: "Europe/Stockholm"}
		}
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_DateTimeValue{DateTimeValue: dt}}
	case *cdcstreamv1.Value_IntegerValue:
		if rapid.Bool().Draw(t, label+" as float") {
			return testkit.Float(float64(x.IntegerValue))
		}
	case *cdcstreamv1.Value_FloatValue:
		if x.FloatValue == float64(int64(x.FloatValue)) && rapid.Bool().Draw(t, label+" as integer") {
			return testkit.Int(int64(x.FloatValue))
		}
	}
	return v
}

// sortedNames returns the keys of a and b, sorted, without repeats.
func sortedNames[V any](a, b map[string]V) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, dup := a[k]; !dup {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
