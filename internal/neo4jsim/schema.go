package neo4jsim

import (
	"fmt"
	"slices"
	"strings"
)

// CreateNodeKey creates a NODE KEY constraint. Choice: only NODE KEY / RELATIONSHIP KEY
// constraints populate event keys; the equivalent uniqueness + existence pair Neo4j also
// honours is not modelled. The constraint is enforced at commit: every node with label has all props, and
// their combined values are unique. Existing data must satisfy it. The schema transaction
// takes a transaction id but writes no change records (CDC does not capture schema
// commands), which leaves a gap in the txIds of the change stream. Keys appear in records
// committed after the constraint exists; older records are not back-filled.
func (db *Database) CreateNodeKey(label string, props ...string) error {
	return db.createKey(false, false, label, props)
}

// CreateRelationshipKey creates a RELATIONSHIP KEY constraint on a relationship type.
func (db *Database) CreateRelationshipKey(relType string, props ...string) error {
	return db.createKey(true, false, relType, props)
}

// createKey creates a key constraint, or with unique a property uniqueness constraint (the
// combined values are unique among the entities that have all the properties; it adds no
// keys to change events).
func (db *Database) createKey(rel, unique bool, target string, props []string) error {
	if target == "" || len(props) == 0 || slices.Contains(props, "") {
		return &Error{Code: "Neo.ClientError.Statement.SyntaxError", GQLStatus: "42000",
			Message: "A key constraint needs a label or relationship type and at least one property."}
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	list := &db.nodeKeys
	entity := "Node"
	if rel {
		list = &db.relKeys
		entity = "Relationship"
	}
	for _, c := range *list {
		if c.target == target && slices.Equal(c.props, props) && c.unique == unique {
			return &Error{Code: "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists", GQLStatus: "22N71",
				Message: fmt.Sprintf("An equivalent constraint already exists on %s(%s).", target, strings.Join(props, ", "))}
		}
	}
	c := keyConstraint{target: target, props: slices.Clone(props), index: map[string]int64{}, unique: unique}
	check := func(id int64, p map[string]any) error {
		vals, missing := keyValues(&c, p)
		if missing != "" && unique {
			return nil
		}
		if missing != "" {
			return &Error{Code: "Neo.ClientError.Schema.ConstraintCreationFailed",
				Message: fmt.Sprintf("Unable to create constraint: %s(%d) with %s `%s` must have the property `%s`", entity, id, map[bool]string{false: "label", true: "type"}[rel], target, missing)}
		}
		enc := encodeKeyValues(vals)
		if other, dup := c.index[enc]; dup {
			return &Error{Code: "Neo.ClientError.Schema.ConstraintCreationFailed",
				Message: fmt.Sprintf("Unable to create constraint: both %s(%d) and %s(%d) have %s", entity, other, entity, id, describeKey(&c, vals))}
		}
		c.index[enc] = id
		return nil
	}
	if rel {
		for _, id := range slices.Sorted(mapsKeys(db.rels)) {
			if st := db.rels[id]; st.typ == target {
				if err := check(id, st.props); err != nil {
					return err
				}
			}
		}
	} else {
		for _, id := range slices.Sorted(mapsKeys(db.nodes)) {
			if st := db.nodes[id]; slices.Contains(st.labels, target) {
				if err := check(id, st.props); err != nil {
					return err
				}
			}
		}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	*list = append(*list, c)
	if _, ok := db.labelTokens[target]; !ok && !rel {
		db.labelTokens[target] = len(db.labelTokens)
	}
	db.appendTxLocked(db.dbms.now().UnixMilli(), nil)
	return nil
}

// Graph is a deep copy of a database's nodes and relationships, keyed by element id.
type Graph struct {
	// Nodes maps element ids to nodes.
	Nodes map[string]Node
	// Relationships maps element ids to relationships.
	Relationships map[string]Relationship
}

// Node is a node in a Graph.
type Node struct {
	// ElementID is the node's element id ("4:<db uuid>:<n>").
	ElementID string
	// Labels are sorted alphabetically.
	Labels []string
	// Properties is never nil.
	Properties map[string]any
}

// Relationship is a relationship in a Graph.
type Relationship struct {
	// ElementID is the relationship's element id ("5:<db uuid>:<n>").
	ElementID string
	// Type is the relationship type.
	Type string
	// StartID and EndID are the element ids of the start and end nodes.
	StartID, EndID string
	// Properties is never nil.
	Properties map[string]any
}

// Snapshot returns a deep copy of the committed graph.
func (db *Database) Snapshot() Graph {
	db.mu.RLock()
	defer db.mu.RUnlock()
	g := Graph{Nodes: make(map[string]Node, len(db.nodes)), Relationships: make(map[string]Relationship, len(db.rels))}
	for id, st := range db.nodes {
		eid := db.nodeElementID(id)
		labels := slices.Clone(st.labels)
		slices.Sort(labels)
		if labels == nil {
			labels = []string{}
		}
		g.Nodes[eid] = Node{ElementID: eid, Labels: labels, Properties: cloneMap(st.props)}
	}
	for id, st := range db.rels {
		eid := db.relElementID(id)
		g.Relationships[eid] = Relationship{ElementID: eid, Type: st.typ,
			StartID: db.nodeElementID(st.start), EndID: db.nodeElementID(st.end), Properties: cloneMap(st.props)}
	}
	return g
}
