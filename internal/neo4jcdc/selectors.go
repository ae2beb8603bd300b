package neo4jcdc

import (
	"fmt"

	"github.com/cdcstream/cdcstream/server"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// preparedSelectors returns the selectors parameter, built once per subscription: the first
// poll builds it and keeps it in prep (the subscription's PollRequest.Prepared), later polls
// reuse it. Without prep (a direct call) it is built each time.
func preparedSelectors(prep *server.Prepared, sels []*cdcstreamv1.Selector) ([]any, error) {
	if prep != nil {
		if p, ok := prep.Value.([]any); ok {
			return p, nil
		}
	}
	p, err := selectorsParam(sels)
	if err == nil && prep != nil {
		prep.Value = p
	}
	return p, err
}

// selectorsParam converts typed selectors into the $selectors parameter of db.cdc.query: a
// list of maps in Neo4j's selector language (docs/architecture.md section 3). Unset fields
// are omitted. A selector Neo4j could not express (no kind, an unknown operation, a value
// with an invalid date or zone) is an error wrapping server.ErrInvalidSelector, naming the
// selector's index.
func selectorsParam(sels []*cdcstreamv1.Selector) ([]any, error) {
	out := make([]any, len(sels))
	for i, s := range sels {
		m, err := selectorMap(s)
		if err != nil {
			return nil, fmt.Errorf("%w: selectors[%d]: %w", server.ErrInvalidSelector, i, err)
		}
		out[i] = m
	}
	return out, nil
}

// selectorMap converts one selector.
func selectorMap(s *cdcstreamv1.Selector) (map[string]any, error) {
	switch k := s.GetKind().(type) {
	case *cdcstreamv1.Selector_Entity:
		e := k.Entity
		m := map[string]any{"select": "e"}
		if err := putCommon(m, e.GetOperation(), e.GetChangesTo(), e.GetExecutingUser(),
			e.GetAuthenticatedUser(), e.GetTxMetadata()); err != nil {
			return nil, fmt.Errorf("entity: %w", err)
		}
		return m, nil
	case *cdcstreamv1.Selector_Node:
		n := k.Node
		m := map[string]any{"select": "n"}
		if err := putCommon(m, n.GetOperation(), n.GetChangesTo(), n.GetExecutingUser(),
			n.GetAuthenticatedUser(), n.GetTxMetadata()); err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
		if err := putNodeMatch(m, n.GetElementId(), n.GetLabels(), n.GetKey()); err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
		return m, nil
	case *cdcstreamv1.Selector_Relationship:
		r := k.Relationship
		m := map[string]any{"select": "r"}
		if err := putCommon(m, r.GetOperation(), r.GetChangesTo(), r.GetExecutingUser(),
			r.GetAuthenticatedUser(), r.GetTxMetadata()); err != nil {
			return nil, fmt.Errorf("relationship: %w", err)
		}
		if err := putNodeMatch(m, r.GetElementId(), nil, r.GetKey()); err != nil {
			return nil, fmt.Errorf("relationship: %w", err)
		}
		if r.GetType() != "" {
			m["type"] = r.GetType()
		}
		for name, nm := range map[string]*cdcstreamv1.NodeMatcher{"start": r.GetStart(), "end": r.GetEnd()} {
			if nm == nil {
				continue
			}
			sub := map[string]any{"select": "n"}
			if err := putNodeMatch(sub, nm.GetElementId(), nm.GetLabels(), nm.GetKey()); err != nil {
				return nil, fmt.Errorf("relationship.%s: %w", name, err)
			}
			m[name] = sub
		}
		return m, nil
	default:
		return nil, fmt.Errorf("no kind set (entity, node or relationship)")
	}
}

// putCommon adds the keys every selector kind has.
func putCommon(m map[string]any, op cdcstreamv1.Operation, changesTo []string, executingUser,
	authenticatedUser string, txMetadata map[string]*cdcstreamv1.Value) error {
	switch op {
	case cdcstreamv1.Operation_OPERATION_UNSPECIFIED:
	case cdcstreamv1.Operation_OPERATION_CREATE:
		m["operation"] = "c"
	case cdcstreamv1.Operation_OPERATION_UPDATE:
		m["operation"] = "u"
	case cdcstreamv1.Operation_OPERATION_DELETE:
		m["operation"] = "d"
	default:
		return fmt.Errorf("operation: unknown value %d", op)
	}
	if len(changesTo) > 0 {
		m["changesTo"] = stringsParam(changesTo)
	}
	if executingUser != "" {
		m["executingUser"] = executingUser
	}
	if authenticatedUser != "" {
		m["authenticatedUser"] = authenticatedUser
	}
	if len(txMetadata) > 0 {
		md, err := fromValueMap(txMetadata)
		if err != nil {
			return fmt.Errorf("tx_metadata: %w", err)
		}
		m["txMetadata"] = md
	}
	return nil
}

// putNodeMatch adds elementId, labels and key where set.
func putNodeMatch(m map[string]any, elementID string, labels []string, key map[string]*cdcstreamv1.Value) error {
	if elementID != "" {
		m["elementId"] = elementID
	}
	if len(labels) > 0 {
		m["labels"] = stringsParam(labels)
	}
	if len(key) > 0 {
		k, err := fromValueMap(key)
		if err != nil {
			return fmt.Errorf("key: %w", err)
		}
		m["key"] = k
	}
	return nil
}

// stringsParam copies a string list into the []any form the driver sends as a LIST<STRING>.
func stringsParam(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
