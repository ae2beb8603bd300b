package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/proctest"
)

// TestCdctailSnapshotOnly: `cdctail --snapshot only` against a real cdcstreamd prints one
// {"snapshot": ...} line per selected entity, shaped like a Neo4j create event, then one
// {"snapshotEnd": ...} line, and exits 0.
func TestCdctailSnapshotOnly(t *testing.T) {
	tg := newSimTarget(t)
	tg.nodeKey(t, "Person", "id")
	var ann, bob string
	tg.write(t, nil, func(w writer) {
		ann = w.createNode([]string{"Person"}, map[string]*cdcstreamv1.Value{"id": intValue(1), "name": stringValue("Ann")})
		bob = w.createNode([]string{"Person"}, map[string]*cdcstreamv1.Value{"id": intValue(2)})
		w.createNode([]string{"Company"}, map[string]*cdcstreamv1.Value{"cid": stringValue("acme")})
		w.createRelationship("KNOWS", ann, bob, nil)
	})
	bin, tail := binaries(t)
	d := proctest.StartDaemon(t, bin, []string{"NEO4J_PASSWORD=" + simPassword}, "--listen", "127.0.0.1:0",
		"--neo4j-uri", tg.uri(), "--neo4j-user", simUser, "--database", simDatabase, "--snapshot-chunk-size", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tail, "-a", d.Addr, "--snapshot", "only",
		"--selector", `{"node":{"labels":["Person"]}}`, "--selector", `{"relationship":{}}`)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cdctail --snapshot only: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 3 records and snapshotEnd:\n%s", len(lines), out)
	}
	type event struct {
		ElementID string          `json:"elementId"`
		EventType string          `json:"eventType"`
		Operation string          `json:"operation"`
		Keys      json.RawMessage `json:"keys"`
		State     struct {
			Before any `json:"before"`
			After  struct {
				Properties map[string]any `json:"properties"`
			} `json:"after"`
		} `json:"state"`
	}
	seen := map[string]event{}
	for _, l := range lines[:3] {
		var m struct {
			Snapshot event `json:"snapshot"`
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.Snapshot.ElementID == "" || m.Snapshot.Operation != "c" || m.Snapshot.State.Before != nil {
			t.Fatalf("line %q is not a snapshot record shaped like a create (%v)", l, err)
		}
		seen[m.Snapshot.ElementID] = m.Snapshot
	}
	var annKeys map[string][]map[string]any
	if a := seen[ann]; a.EventType != "n" || a.State.After.Properties["name"] != "Ann" ||
		json.Unmarshal(a.Keys, &annKeys) != nil || len(annKeys["Person"]) != 1 {
		t.Fatalf("Ann's line %+v", a)
	}
	var end struct {
		SnapshotEnd struct {
			Cursor      struct{ ID string } `json:"cursor"`
			RecordsSent json.Number         `json:"recordsSent"`
		} `json:"snapshotEnd"`
	}
	if err := json.Unmarshal([]byte(lines[3]), &end); err != nil || end.SnapshotEnd.Cursor.ID == "" || end.SnapshotEnd.RecordsSent != "3" {
		t.Fatalf("last line %q is not snapshotEnd with 3 records (%v)", lines[3], err)
	}
}
