package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"google.golang.org/protobuf/types/known/durationpb"
	"pgregory.net/rapid"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
)

// The snapshot property (issue 12): for random graphs and random write workloads that run
// through Cypher while the snapshot is taken, the snapshot followed by the stream, applied to
// an empty graph, equals the graph at the stream's cursor, in FULL and DIFF capture and for
// several selector sets. Labels and types never change after creation in these workloads, so
// "the part of the graph the selectors match" is well defined (docs/semantics.md "Snapshots").

// sentinelLabel marks the node written after the workload: its create, once received, means
// the stream reached the final state.
const sentinelLabel = "Sentinel"

// snapshotSelectorSets are the selector sets the property runs with; each matches sentinels too.
var snapshotSelectorSets = map[string][]*cdcstreamv1.Selector{
	"all":    nil,
	"labelA": {nodeLabels("A")},
	"typeR":  {relType("R", nil)},
	"mixed":  {nodeLabels("B"), relType("S", &cdcstreamv1.NodeMatcher{Labels: []string{"A"}})},
}

func nodeLabels(labels ...string) *cdcstreamv1.Selector {
	return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Labels: labels}}}
}

func relType(typ string, start *cdcstreamv1.NodeMatcher) *cdcstreamv1.Selector {
	return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Relationship{Relationship: &cdcstreamv1.RelationshipSelector{Type: typ, Start: start}}}
}

// selected reports whether the selector set keeps a node or a relationship of the final
// graph (labels and endpoints as they are there).
func selected(set string, labels []string, typ string, startLabels []string) bool {
	switch set {
	case "all":
		return true
	case "labelA":
		return typ == "" && slices.Contains(labels, "A")
	case "typeR":
		return typ == "R"
	case "mixed":
		return typ == "" && slices.Contains(labels, "B") || typ == "S" && slices.Contains(startLabels, "A")
	}
	panic(set)
}

// TestSnapshotProperty runs the property on the simulator in FULL and DIFF capture, and on a
// real Neo4j (FULL) when NEO4J_TEST_URI is set (`make test-neo4j`). Every iteration starts
// by deleting every node of the target database: point NEO4J_TEST_URI at a test database.
func TestSnapshotProperty(t *testing.T) {
	eachTarget(t, func(t *testing.T, tg target) { snapshotProperty(t, tg) })
	t.Run("diff", func(t *testing.T) {
		tg := newSimTarget(t)
		if err := tg.db.SetCaptureMode("DIFF"); err != nil {
			t.Fatal(err)
		}
		snapshotProperty(t, tg)
	})
}

// snapshotOp is one random write, by node number (the property k).
type snapshotOp struct {
	stmt   string
	params map[string]any
}

func snapshotProperty(t *testing.T, tg target) {
	st := newStack(t, tg, server.WithSnapshotChunkSize(3), server.WithBatchLimit(50))
	ctx := context.Background()
	drv, err := neo4j.NewDriverWithContext(tg.uri(), neo4j.BasicAuth(tg.user(), tg.password(), ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drv.Close(ctx) })
	run := func(stmt string, params map[string]any) error {
		_, err := neo4j.ExecuteQuery(ctx, drv, stmt, params, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(tg.database()))
		return err
	}
	mustRun := func(t interface{ Fatalf(string, ...any) }, stmt string, params map[string]any) {
		if err := run(stmt, params); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	iteration := 0
	rapid.Check(t, func(rt *rapid.T) {
		iteration++
		mustRun(rt, "MATCH (n) DETACH DELETE n", nil)
		nodes := rapid.IntRange(0, 12).Draw(rt, "nodes")
		for i := range nodes {
			label := rapid.SampledFrom([]string{"A", "B"}).Draw(rt, "label")
			mustRun(rt, fmt.Sprintf("CREATE (:%s {k: $k, v: $v})", label), map[string]any{"k": int64(i), "v": int64(rapid.IntRange(0, 9).Draw(rt, "v"))})
		}
		rels := rapid.IntRange(0, 10).Draw(rt, "rels")
		for range rels {
			if nodes == 0 {
				break
			}
			a, b := rapid.IntRange(0, nodes-1).Draw(rt, "a"), rapid.IntRange(0, nodes-1).Draw(rt, "b")
			typ := rapid.SampledFrom([]string{"R", "S"}).Draw(rt, "type")
			mustRun(rt, fmt.Sprintf("MATCH (a {k: $a}), (b {k: $b}) CREATE (a)-[:%s {w: $w}]->(b)", typ),
				map[string]any{"a": int64(a), "b": int64(b), "w": int64(rapid.IntRange(0, 9).Draw(rt, "w"))})
		}
		// The concurrent workload, drawn before it runs (rapid draws only on this goroutine).
		var ops []snapshotOp
		next := nodes
		for range rapid.IntRange(0, 25).Draw(rt, "ops") {
			k := int64(rapid.IntRange(0, next).Draw(rt, "k"))
			v := int64(rapid.IntRange(0, 99).Draw(rt, "v"))
			switch rapid.IntRange(0, 6).Draw(rt, "op") {
			case 0:
				label := rapid.SampledFrom([]string{"A", "B"}).Draw(rt, "label")
				ops = append(ops, snapshotOp{fmt.Sprintf("CREATE (:%s {k: $k, v: $v})", label), map[string]any{"k": int64(next), "v": v}})
				next++
			case 1:
				ops = append(ops, snapshotOp{"MATCH (n {k: $k}) SET n.v = $v, n.s = toString($v)", map[string]any{"k": k, "v": v}})
			case 2:
				ops = append(ops, snapshotOp{"MATCH (n {k: $k}) REMOVE n.s", map[string]any{"k": k}})
			case 3:
				ops = append(ops, snapshotOp{"MATCH (n {k: $k}) DETACH DELETE n", map[string]any{"k": k}})
			case 4:
				typ := rapid.SampledFrom([]string{"R", "S"}).Draw(rt, "type")
				ops = append(ops, snapshotOp{fmt.Sprintf("MATCH (a {k: $k}), (b {k: $v}) CREATE (a)-[:%s {w: $v}]->(b)", typ),
					map[string]any{"k": k, "v": v % int64(next+1)}})
			case 5:
				ops = append(ops, snapshotOp{"MATCH ({k: $k})-[r]->() SET r.w = $v", map[string]any{"k": k, "v": v}})
			case 6:
				ops = append(ops, snapshotOp{"MATCH ({k: $k})-[r]->() DELETE r", map[string]any{"k": k}})
			}
		}
		set := rapid.SampledFrom(slices.Sorted(maps.Keys(snapshotSelectorSets))).Draw(rt, "selectors")
		sels := append(slices.Clone(snapshotSelectorSets[set]), nodeLabels(sentinelLabel))
		if set == "all" {
			sels = nil
		}

		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		stream, err := st.cli.Subscribe(sctx, &cdcstreamv1.SubscribeRequest{Database: tg.database(), Selectors: sels,
			Snapshot: cdcstreamv1.SnapshotMode_SNAPSHOT_MODE_INITIAL, CheckpointInterval: durationpb.New(time.Second)})
		if err != nil {
			rt.Fatalf("Subscribe: %v", err)
		}
		// The workload starts with the first snapshot message, so that it runs while the
		// snapshot is read; the sentinel is written once SnapshotEnd arrived and the workload
		// finished, so it is a change after the snapshot's last high watermark.
		var wg sync.WaitGroup
		var werr error
		started := false
		workload := func() {
			if started {
				return
			}
			started = true
			wg.Go(func() {
				for _, op := range ops {
					if err := run(op.stmt, op.params); err != nil {
						werr = fmt.Errorf("%s: %w", op.stmt, err)
						return
					}
				}
			})
		}
		defer wg.Wait()
		sentinel := int64(1_000_000 + iteration)
		m := newModel()
		ended := false
		for {
			msg, err := stream.Recv()
			if err != nil {
				rt.Fatalf("Recv: %v", err)
			}
			workload()
			switch x := msg.GetMessage().(type) {
			case *cdcstreamv1.SubscribeResponse_SnapshotRecord:
				if ended {
					rt.Fatalf("snapshot record after SnapshotEnd")
				}
				m.record(x.SnapshotRecord)
			case *cdcstreamv1.SubscribeResponse_SnapshotEnd:
				ended = true
				wg.Wait()
				if werr != nil {
					rt.Fatalf("workload: %v", werr)
				}
				mustRun(rt, "CREATE (:"+sentinelLabel+" {k: $k})", map[string]any{"k": sentinel})
			case *cdcstreamv1.SubscribeResponse_Change:
				if !ended {
					rt.Fatalf("change before SnapshotEnd")
				}
				m.change(x.Change)
				if n := x.Change.GetNode(); n != nil && slices.Contains(n.GetAfter().GetLabels(), sentinelLabel) &&
					renderValue(n.GetAfter().GetProperties()["k"]) == renderAny(sentinel) {
					got, want := m.String(), expectedGraph(rt, ctx, drv, tg.database(), set)
					if got != want {
						rt.Fatalf("reconstructed graph differs (selectors %s)\n got:\n%s\nwant:\n%s", set, got, want)
					}
					return
				}
			}
		}
	})
}

// expectedGraph reads the graph with Cypher and renders the part the selector set keeps, with
// the sentinels, as model.String does.
func expectedGraph(t interface{ Fatalf(string, ...any) }, ctx context.Context, drv neo4j.DriverWithContext, database, set string) string {
	m := newModel()
	res, err := neo4j.ExecuteQuery(ctx, drv, "MATCH (n) RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props",
		nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(database))
	if err != nil {
		t.Fatalf("read nodes: %v", err)
	}
	for _, r := range res.Records {
		id, _ := r.Get("id")
		ls, _ := r.Get("labels")
		ps, _ := r.Get("props")
		var labels []string
		for _, l := range ls.([]any) {
			labels = append(labels, l.(string))
		}
		if !slices.Contains(labels, sentinelLabel) && !selected(set, labels, "", nil) {
			continue
		}
		props := map[string]string{}
		for k, v := range ps.(map[string]any) {
			props[k] = renderAny(v)
		}
		m.nodes[id.(string)] = &modelNode{labels: labels, props: props}
	}
	res, err = neo4j.ExecuteQuery(ctx, drv, "MATCH (s)-[r]->(e) RETURN elementId(r) AS id, type(r) AS type, properties(r) AS props, "+
		"elementId(s) AS sid, labels(s) AS slabels, elementId(e) AS eid", nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(database))
	if err != nil {
		t.Fatalf("read relationships: %v", err)
	}
	for _, r := range res.Records {
		id, _ := r.Get("id")
		typ, _ := r.Get("type")
		ps, _ := r.Get("props")
		sid, _ := r.Get("sid")
		sl, _ := r.Get("slabels")
		eid, _ := r.Get("eid")
		var startLabels []string
		for _, l := range sl.([]any) {
			startLabels = append(startLabels, l.(string))
		}
		if !selected(set, nil, typ.(string), startLabels) {
			continue
		}
		props := map[string]string{}
		for k, v := range ps.(map[string]any) {
			props[k] = renderAny(v)
		}
		m.rels[id.(string)] = &modelRel{typ: typ.(string), start: sid.(string), end: eid.(string), props: props}
	}
	return m.String()
}
