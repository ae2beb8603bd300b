package neo4jsim_test

import (
	"strings"
	"testing"
)

// TestCypherShowConstraints lists constraints as Neo4j 5's SHOW CONSTRAINTS does, with each
// filter, YIELD, WHERE and a following RETURN.
func TestCypherShowConstraints(t *testing.T) {
	f := newCypherFixture(t)
	f.query("CREATE CONSTRAINT FOR (p:Person) REQUIRE (p.id) IS NODE KEY", nil)
	f.query("CREATE CONSTRAINT FOR (c:Company) REQUIRE (c.cid, c.country) IS NODE KEY", nil)
	f.query("CREATE CONSTRAINT FOR (u:User) REQUIRE u.email IS UNIQUE", nil)
	f.query("CREATE CONSTRAINT FOR ()-[k:KNOWS]-() REQUIRE k.rid IS RELATIONSHIP KEY", nil)

	f.expectRows("SHOW KEY CONSTRAINTS YIELD entityType, labelsOrTypes, properties", nil,
		"entityType=NODE labelsOrTypes=[Person] properties=[id]",
		"entityType=NODE labelsOrTypes=[Company] properties=[cid,country]",
		"entityType=RELATIONSHIP labelsOrTypes=[KNOWS] properties=[rid]")
	f.expectRows("SHOW NODE KEY CONSTRAINTS YIELD labelsOrTypes", nil, "labelsOrTypes=[Person]", "labelsOrTypes=[Company]")
	f.expectRows("SHOW RELATIONSHIP KEY CONSTRAINTS YIELD type, labelsOrTypes", nil, "type=RELATIONSHIP_KEY labelsOrTypes=[KNOWS]")
	f.expectRows("SHOW UNIQUE CONSTRAINTS YIELD type, properties", nil, "type=UNIQUENESS properties=[email]")
	f.expectRows("SHOW CONSTRAINTS YIELD type WHERE type = 'NODE_KEY' RETURN count(*) AS n", nil, "n=2")

	res := f.query("SHOW CONSTRAINTS", nil)
	if got := strings.Join(res.Keys, ","); got != "id,name,type,entityType,labelsOrTypes,properties,ownedIndex,propertyType" {
		t.Fatalf("SHOW CONSTRAINTS columns %s", got)
	}
	if len(res.Records) != 4 {
		t.Fatalf("SHOW CONSTRAINTS: %d rows, want 4", len(res.Records))
	}
	if _, err := f.try("SHOW INDEXES", nil); err == nil || !strings.Contains(err.Error(), "SHOW INDEXES is not supported") {
		t.Fatalf("SHOW INDEXES: %v, want a syntax error naming it", err)
	}
}

// TestCypherSnapshotReads runs the chunked reads cdcstream's snapshots send (the statements of
// internal/neo4jcdc/snapshot.go): element id order with a bound and a LIMIT, and look-ups by
// element id.
func TestCypherSnapshotReads(t *testing.T) {
	f := newCypherFixture(t)
	f.query("UNWIND [1, 2, 3, 4, 5] AS i CREATE (a:N {i: i})-[:R {i: i}]->(b:M {i: i})", nil)
	const nodes = "MATCH (n) WHERE elementId(n) > $after WITH n ORDER BY elementId(n) LIMIT $limit " +
		"RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS properties"
	var all []string
	after := ""
	for {
		res := f.query(nodes, map[string]any{"after": after, "limit": int64(3)})
		for _, r := range res.Records {
			id := r.Values[0].(string)
			if id <= after {
				t.Fatalf("element id %q not after %q", id, after)
			}
			after = id
			all = append(all, id)
		}
		if len(res.Records) < 3 {
			break
		}
	}
	if len(all) != 10 {
		t.Fatalf("chunked node read saw %d nodes, want 10", len(all))
	}
	res := f.query("MATCH (n) WHERE elementId(n) IN $ids RETURN elementId(n) AS id", map[string]any{"ids": []any{all[3], all[7], "4:nope:99"}})
	if len(res.Records) != 2 {
		t.Fatalf("read by element ids: %d rows, want 2", len(res.Records))
	}
	const rels = "MATCH (s)-[r]->(e) WHERE elementId(r) > $after WITH s, r, e ORDER BY elementId(r) LIMIT $limit " +
		"RETURN elementId(r) AS id, type(r) AS type, properties(r) AS properties, " +
		"elementId(s) AS startId, labels(s) AS startLabels, elementId(e) AS endId, labels(e) AS endLabels"
	res = f.query(rels, map[string]any{"after": "", "limit": int64(10)})
	if len(res.Records) != 5 {
		t.Fatalf("relationship read: %d rows, want 5", len(res.Records))
	}
	for i, r := range res.Records {
		if i > 0 && r.Values[0].(string) <= res.Records[i-1].Values[0].(string) {
			t.Fatalf("relationships not in element id order: %v", res.Records)
		}
		if r.Values[1] != "R" || render(r.Values[4]) != "[N]" || render(r.Values[6]) != "[M]" {
			t.Fatalf("relationship row %v", r.Values)
		}
	}
}
