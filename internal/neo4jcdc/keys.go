package neo4jcdc

import (
	"fmt"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Key conversion, part of the record conversion of convert.go: Neo4j has changed the shape of
// keys once (5.15), and both shapes are read.

// nodeKeys converts node keys in both shapes: Neo4j 5.15+ {label: [map, ...]} (one map per
// key constraint) and pre-5.15 {label: map} (a single key map per label).
func nodeKeys(v any) (map[string]*cdcstreamv1.LabelKeys, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("is %T, want a map", v)
	}
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]*cdcstreamv1.LabelKeys, len(m))
	for label, e := range m {
		var keys []*cdcstreamv1.EntityKey
		switch x := e.(type) {
		case []any:
			ks, err := entityKeys(x)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", label, err)
			}
			keys = ks
		case map[string]any:
			k, err := entityKey(x)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", label, err)
			}
			keys = []*cdcstreamv1.EntityKey{k}
		default:
			return nil, fmt.Errorf("%s: is %T, want a list of maps or a map", label, e)
		}
		out[label] = &cdcstreamv1.LabelKeys{Keys: keys}
	}
	return out, nil
}

// relationshipKeys reads the relationship keys in both shapes: Neo4j 5.15+ `keys` (a list of
// maps) and pre-5.15 `key` (one map). `keys` wins when both are present.
func relationshipKeys(event map[string]any) ([]*cdcstreamv1.EntityKey, error) {
	if v, ok := event["keys"]; ok && v != nil {
		l, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("is %T, want a list of maps", v)
		}
		return entityKeys(l)
	}
	v, ok := event["key"]
	if !ok || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("key is %T, want a map", v)
	}
	if len(m) == 0 {
		return nil, nil
	}
	k, err := entityKey(m)
	if err != nil {
		return nil, err
	}
	return []*cdcstreamv1.EntityKey{k}, nil
}

// entityKeys converts a list of key maps.
func entityKeys(l []any) ([]*cdcstreamv1.EntityKey, error) {
	if len(l) == 0 {
		return nil, nil
	}
	out := make([]*cdcstreamv1.EntityKey, len(l))
	for i, e := range l {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("element %d is %T, want a map", i, e)
		}
		k, err := entityKey(m)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out[i] = k
	}
	return out, nil
}

// entityKey converts one key map.
func entityKey(m map[string]any) (*cdcstreamv1.EntityKey, error) {
	props, err := toValueMap(m)
	if err != nil {
		return nil, err
	}
	return &cdcstreamv1.EntityKey{Properties: props}, nil
}
