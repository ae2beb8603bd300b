package neo4jcdc_test

import (
	"testing"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/internal/neo4jsim"
	"github.com/cdcstream/cdcstream/server"
)

// TestSelectorsParameterBuiltOncePerSubscription: the first poll of a subscription keeps the
// Neo4j selectors parameter in PollRequest.Prepared and later polls send that one, not a
// fresh conversion of the typed selectors: a kept parameter selecting Company nodes wins over
// typed selectors asking for Person nodes.
func TestSelectorsParameterBuiltOncePerSubscription(t *testing.T) {
	s := startSim(t)
	db := s.dbms.Database("neo4j")
	src := open(t, s.srv.BoltURI())
	from := must(src.Current(ctx(t), "neo4j"))(t)
	write(t, db, neo4jsim.Session{}, func(tx *neo4jsim.Tx) error {
		if _, err := tx.CreateNode([]string{"Person"}, map[string]any{"name": "Ann"}); err != nil {
			return err
		}
		_, err := tx.CreateNode([]string{"Company"}, map[string]any{"name": "Acme"})
		return err
	})
	person := []*cdcstreamv1.Selector{{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Labels: []string{"Person"}}}}}
	var prep server.Prepared
	first := must(src.Poll(ctx(t), server.PollRequest{Database: "neo4j", From: from, Selectors: person, Limit: 10, Prepared: &prep}))(t)
	if len(first.Changes) != 1 || first.Changes[0].GetNode().GetLabels()[0] != "Person" {
		t.Fatalf("first poll: %v, want the Person", first.Changes)
	}
	kept, ok := prep.Value.([]any)
	if !ok || len(kept) != 1 {
		t.Fatalf("Prepared after the first poll: %#v, want the selectors parameter", prep.Value)
	}
	prep.Value = []any{map[string]any{"select": "n", "labels": []any{"Company"}}}
	second := must(src.Poll(ctx(t), server.PollRequest{Database: "neo4j", From: from, Selectors: person, Limit: 10, Prepared: &prep}))(t)
	if len(second.Changes) != 1 || second.Changes[0].GetNode().GetLabels()[0] != "Company" {
		t.Fatalf("second poll: %v, want the Company: the kept parameter was not used", second.Changes)
	}
	direct := must(src.Poll(ctx(t), server.PollRequest{Database: "neo4j", From: from, Selectors: person, Limit: 10}))(t)
	if len(direct.Changes) != 1 || direct.Changes[0].GetNode().GetLabels()[0] != "Person" {
		t.Fatalf("poll without Prepared: %v, want the Person", direct.Changes)
	}
}
