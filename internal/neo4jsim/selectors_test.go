package neo4jsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// selectorFixture builds ten records (indices in comments):
//
//	tx1 alice {app:a}:            0 p1 create, 1 p2 create, 2 c create
//	tx2 bob as carol {app:b,n:1}: 3 p1 update (name, +age), 4 KNOWS p1->p2 create, 5 WORKS_AT p2->c create
//	tx3 alice:                    6 p1 +Vip, 7 p2 -Admin
//	tx4 alice:                    8 p1 -age, 9 KNOWS delete
type selectorFixture struct {
	db                   *Database
	p1, p2, c, knows, wa string
	all                  []Record
}

func newSelectorFixture(t testing.TB) *selectorFixture {
	t.Helper()
	f := &selectorFixture{db: newTestDB(t, ModeFull)}
	db := f.db
	if err := db.CreateNodeKey("Person", "id"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateRelationshipKey("WORKS_AT", "contractId"); err != nil {
		t.Fatal(err)
	}
	alice := Session{User: "alice", TxMetadata: map[string]any{"app": "a"}}
	write := func(s Session, fn func(tx *Tx) error) {
		t.Helper()
		if _, err := db.Write(s, fn); err != nil {
			t.Fatal(err)
		}
	}
	write(alice, func(tx *Tx) error {
		var err error
		if f.p1, err = tx.CreateNode([]string{"Person"}, map[string]any{"id": int64(1), "name": "A"}); err != nil {
			return err
		}
		if f.p2, err = tx.CreateNode([]string{"Person", "Admin"}, map[string]any{"id": int64(2)}); err != nil {
			return err
		}
		f.c, err = tx.CreateNode([]string{"Company"}, map[string]any{"name": "C"})
		return err
	})
	write(Session{User: "bob", ExecutingUser: "carol", TxMetadata: map[string]any{"app": "b", "n": int64(1)}}, func(tx *Tx) error {
		if err := tx.SetNodeProperty(f.p1, "name", "B"); err != nil {
			return err
		}
		if err := tx.SetNodeProperty(f.p1, "age", int64(3)); err != nil {
			return err
		}
		var err error
		if f.knows, err = tx.CreateRelationship("KNOWS", f.p1, f.p2, map[string]any{"since": int64(1)}); err != nil {
			return err
		}
		f.wa, err = tx.CreateRelationship("WORKS_AT", f.p2, f.c, map[string]any{"contractId": int64(10)})
		return err
	})
	write(alice, func(tx *Tx) error {
		if err := tx.AddLabels(f.p1, "Vip"); err != nil {
			return err
		}
		return tx.RemoveLabels(f.p2, "Admin")
	})
	write(alice, func(tx *Tx) error {
		if err := tx.RemoveNodeProperty(f.p1, "age"); err != nil {
			return err
		}
		return tx.DeleteRelationship(f.knows)
	})
	f.all = mustQuery(t, db, mustEarliest(t, db))
	if len(f.all) != 10 {
		t.Fatalf("fixture has %d records", len(f.all))
	}
	return f
}

func (f *selectorFixture) indices(recs []Record) []int {
	var out []int
	for _, r := range recs {
		out = append(out, slices.IndexFunc(f.all, func(a Record) bool { return a.ID == r.ID }))
	}
	return out
}

type m = map[string]any

func TestSelectorKeys(t *testing.T) {
	f := newSelectorFixture(t)
	all := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	cases := []struct {
		name string
		sels []any
		want []int
	}{
		{"none", nil, all},
		{"select e", []any{m{"select": "e"}}, all},
		{"select n", []any{m{"select": "n"}}, []int{0, 1, 2, 3, 6, 7, 8}},
		{"select r", []any{m{"select": "r"}}, []int{4, 5, 9}},
		{"operation c", []any{m{"select": "e", "operation": "c"}}, []int{0, 1, 2, 4, 5}},
		{"operation d", []any{m{"select": "e", "operation": "d"}}, []int{9}},
		{"operation u nodes", []any{m{"select": "n", "operation": "u"}}, []int{3, 6, 7, 8}},
		{"operation d nodes", []any{m{"select": "n", "operation": "d"}}, nil},
		{"changesTo name", []any{m{"select": "e", "changesTo": []any{"name"}}}, []int{0, 2, 3}},
		{"changesTo name and age", []any{m{"select": "n", "changesTo": []any{"name", "age"}}}, []int{3}},
		{"changesTo removed", []any{m{"select": "n", "changesTo": []any{"age"}}}, []int{3, 8}},
		{"changesTo rel", []any{m{"select": "r", "changesTo": []any{"since"}}}, []int{4, 9}},
		{"changesTo empty", []any{m{"select": "r", "changesTo": []any{}}}, []int{4, 5, 9}},
		{"executingUser", []any{m{"select": "e", "executingUser": "carol"}}, []int{3, 4, 5}},
		{"authenticatedUser bob", []any{m{"select": "e", "authenticatedUser": "bob"}}, []int{3, 4, 5}},
		{"authenticatedUser alice", []any{m{"select": "e", "authenticatedUser": "alice"}}, []int{0, 1, 2, 6, 7, 8, 9}},
		{"executingUser is not authenticated", []any{m{"select": "e", "executingUser": "bob"}}, nil},
		{"txMetadata", []any{m{"select": "e", "txMetadata": m{"app": "b"}}}, []int{3, 4, 5}},
		{"txMetadata numeric", []any{m{"select": "e", "txMetadata": m{"app": "b", "n": 1.0}}}, []int{3, 4, 5}},
		{"txMetadata mismatch", []any{m{"select": "e", "txMetadata": m{"n": int64(2)}}}, nil},
		{"txMetadata missing key", []any{m{"select": "e", "txMetadata": m{"app": "a", "n": int64(1)}}}, nil},
		{"elementId node", []any{m{"select": "n", "elementId": f.p1}}, []int{0, 3, 6, 8}},
		{"elementId rel", []any{m{"select": "r", "elementId": f.knows}}, []int{4, 9}},
		{"labels before", []any{m{"select": "n", "labels": []any{"Admin"}}}, []int{1, 7}},
		{"labels after", []any{m{"select": "n", "labels": []any{"Vip"}}}, []int{6, 8}},
		{"labels all", []any{m{"select": "n", "labels": []any{"Person", "Vip"}}}, []int{6, 8}},
		{"labels none match", []any{m{"select": "n", "labels": []any{"Company", "Person"}}}, nil},
		{"key node", []any{m{"select": "n", "key": m{"id": int64(1)}}}, []int{0, 3, 6, 8}},
		{"key node float", []any{m{"select": "n", "key": m{"id": 2.0}}}, []int{1, 7}},
		{"key partial is no match", []any{m{"select": "n", "key": m{"id": int64(1), "x": int64(1)}}}, nil},
		{"key rel", []any{m{"select": "r", "key": m{"contractId": int64(10)}}}, []int{5}},
		{"type", []any{m{"select": "r", "type": "KNOWS"}}, []int{4, 9}},
		{"start", []any{m{"select": "r", "start": m{"labels": []any{"Person"}, "key": m{"id": int64(1)}}}}, []int{4, 9}},
		{"end elementId", []any{m{"select": "r", "end": m{"select": "n", "elementId": f.c}}}, []int{5}},
		{"end labels at the time", []any{m{"select": "r", "end": m{"labels": []any{"Admin"}}}}, []int{4}},
		{"union", []any{m{"select": "n", "elementId": f.c}, m{"select": "r", "type": "WORKS_AT"}}, []int{2, 5}},
		{"overlapping union returns once", []any{m{"select": "e"}, m{"select": "n"}}, all},
		{"null value is absent", []any{m{"select": "n", "labels": nil}}, []int{0, 1, 2, 3, 6, 7, 8}},
		{"and within", []any{m{"select": "n", "operation": "u", "authenticatedUser": "alice", "labels": []any{"Person"}, "changesTo": []any{"age"}}}, []int{8}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs, err := f.db.Query(admin, mustEarliest(t, f.db), c.sels)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.indices(recs); !slices.Equal(got, c.want) {
				t.Errorf("got records %v, want %v", got, c.want)
			}
		})
	}
}

func TestInvalidSelectors(t *testing.T) {
	f := newSelectorFixture(t)
	cases := []struct {
		name string
		sel  any
		gql  string
	}{
		{"not a map", "n", "52N16"},
		{"missing select", m{"operation": "c"}, "52N16"},
		{"unknown select", m{"select": "x"}, "52N16"},
		{"select not a string", m{"select": int64(1)}, "52N16"},
		{"labels on e", m{"select": "e", "labels": []any{"A"}}, "52N16"},
		{"labels on r", m{"select": "r", "labels": []any{"A"}}, "52N16"},
		{"type on n", m{"select": "n", "type": "KNOWS"}, "52N16"},
		{"elementId on e", m{"select": "e", "elementId": "x"}, "52N16"},
		{"start on n", m{"select": "n", "start": m{}}, "52N16"},
		{"unknown key", m{"select": "n", "foo": int64(1)}, "52N16"},
		{"key case", m{"select": "n", "Labels": []any{"A"}}, "52N16"},
		{"bad operation", m{"select": "n", "operation": "x"}, "52N16"},
		{"upper case operation", m{"select": "n", "operation": "C"}, "52N16"},
		{"changesTo string", m{"select": "n", "changesTo": "name"}, "52N16"},
		{"changesTo ints", m{"select": "n", "changesTo": []any{int64(1)}}, "52N16"},
		{"txMetadata string", m{"select": "n", "txMetadata": "x"}, "52N16"},
		{"executingUser int", m{"select": "n", "executingUser": int64(1)}, "52N16"},
		{"authenticatedUser list", m{"select": "n", "authenticatedUser": []any{}}, "52N16"},
		{"key list", m{"select": "n", "key": []any{}}, "52N16"},
		{"elementId int", m{"select": "n", "elementId": int64(5)}, "52N16"},
		{"type int", m{"select": "r", "type": int64(5)}, "52N16"},
		{"nested select r", m{"select": "r", "start": m{"select": "r"}}, "51N67"},
		{"nested select e", m{"select": "r", "end": m{"select": "e"}}, "51N67"},
		{"nested operation", m{"select": "r", "start": m{"operation": "c"}}, "52N16"},
		{"nested not a map", m{"select": "r", "end": "x"}, "52N16"},
		{"nested bad labels", m{"select": "r", "end": m{"labels": "A"}}, "52N16"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.db.Query(admin, "", []any{m{"select": "e"}, c.sel})
			code, gql := codeOf(err)
			if code != "Neo.ClientError.Procedure.ProcedureCallFailed" || gql != c.gql {
				t.Errorf("error %v, want ProcedureCallFailed %s", err, c.gql)
			}
			if err != nil && !strings.Contains(err.Error(), "index 1") {
				t.Errorf("error does not name the selector: %v", err)
			}
		})
	}
}

// fromJSON decodes fuzz input into the value model: integral numbers become int64.
func fromJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var conv func(any) any
	conv = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			if i, err := x.Int64(); err == nil {
				return i
			}
			fl, _ := x.Float64()
			return fl
		case []any:
			for i := range x {
				x[i] = conv(x[i])
			}
		case map[string]any:
			for k := range x {
				x[k] = conv(x[k])
			}
		}
		return v
	}
	return conv(v), nil
}

func FuzzSelectors(f *testing.F) {
	fx := newSelectorFixture(f)
	for _, s := range []string{
		`[]`, `[{"select":"e"}]`, `[{"select":"n","labels":["Person"],"key":{"id":1}}]`,
		`[{"select":"r","type":"KNOWS","start":{"select":"n","labels":["Person"]},"end":{"key":{"id":2}}}]`,
		`[{"select":"r","start":{"select":"r"}}]`, `[{"select":"e","txMetadata":{"app":"b","n":1.0}}]`,
		`[{"select":"n","changesTo":["name","age"],"operation":"u"}]`, `["x", 1, null]`, `{"select":"e"}`,
		`[{"select":"e","executingUser":"carol","authenticatedUser":"bob"}]`,
	} {
		f.Add([]byte(s))
	}
	from := mustEarliest(f, fx.db)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := fromJSON(data)
		if err != nil {
			return
		}
		sels, ok := v.([]any)
		if !ok {
			sels = []any{v}
		}
		recs, err := fx.db.Query(admin, from, sels)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != "Neo.ClientError.Procedure.ProcedureCallFailed" {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		// Results are a subsequence of the log in order.
		idx := fx.indices(recs)
		if !slices.IsSorted(idx) || slices.Contains(idx, -1) || len(slices.Compact(slices.Clone(idx))) != len(idx) {
			t.Fatalf("results out of order or duplicated: %v", idx)
		}
	})
}
