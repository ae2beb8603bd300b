package neo4jsim

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json golden files")

// john and mary are the people of the documented samples; Person(first_name, last_name) is
// a node key, so the events carry keys.
func createJohn(t *testing.T, db *Database, email string) string {
	t.Helper()
	var id string
	mustWrite(t, db, func(tx *Tx) error {
		var err error
		id, err = tx.CreateNode([]string{"Person"}, map[string]any{"first_name": "John", "last_name": "Doe", "email": email})
		return err
	})
	return id
}

func goldenDB(t *testing.T, mode string) *Database {
	db := newTestDB(t, mode)
	if err := db.CreateNodeKey("Person", "first_name", "last_name"); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestGoldenSamples(t *testing.T) {
	cases := []struct {
		name string
		mode string
		// build runs the transactions; the records of the last one are compared.
		build func(t *testing.T, db *Database)
	}{
		{"node_create_full", ModeFull, func(t *testing.T, db *Database) {
			createJohn(t, db, "john.doe@example.com")
		}},
		{"node_create_diff", ModeDiff, func(t *testing.T, db *Database) {
			createJohn(t, db, "john.doe@example.com")
		}},
		{"node_update_full", ModeFull, updateJohn},
		{"node_update_diff", ModeDiff, updateJohn},
		{"node_labels_diff", ModeDiff, func(t *testing.T, db *Database) {
			var id string
			mustWrite(t, db, func(tx *Tx) error {
				var err error
				id, err = tx.CreateNode([]string{"Person", "Villain"}, map[string]any{"first_name": "Max", "last_name": "Doe", "age": int64(40)})
				return err
			})
			mustWrite(t, db, func(tx *Tx) error {
				if err := tx.AddLabels(id, "Hero"); err != nil {
					return err
				}
				if err := tx.RemoveLabels(id, "Villain"); err != nil {
					return err
				}
				return tx.RemoveNodeProperty(id, "age")
			})
		}},
		{"rel_delete_full", ModeFull, deleteKnows},
		{"rel_delete_diff", ModeDiff, deleteKnows},
		{"node_detach_delete_full", ModeFull, func(t *testing.T, db *Database) {
			deleteKnows(t, db)
			john := db.nodeElementID(0)
			mustWrite(t, db, func(tx *Tx) error {
				mary, err := tx.CreateNode([]string{"Person"}, map[string]any{"first_name": "Mary", "last_name": "Roe"})
				if err != nil {
					return err
				}
				if _, err := tx.CreateRelationship("KNOWS", john, mary, nil); err != nil {
					return err
				}
				return nil
			})
			mustWrite(t, db, func(tx *Tx) error { return tx.DeleteNode(john, true) })
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := goldenDB(t, c.mode)
			c.build(t, db)
			recs := mustQuery(t, db, mustEarliest(t, db))
			last := recs[len(recs)-1].TxID
			var tail []any
			for _, r := range recs {
				if r.TxID == last {
					tail = append(tail, r)
				}
			}
			got := renderJSON(t, tail)
			path := filepath.Join("testdata", c.name+".json")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s differs from golden:\n--- got\n%s--- want\n%s", c.name, got, want)
			}
		})
	}
}

// updateJohn is sample (c)/(d): email changed, dob added.
func updateJohn(t *testing.T, db *Database) {
	id := createJohn(t, db, "john.doe@acme.org")
	mustWrite(t, db, func(tx *Tx) error {
		if err := tx.SetNodeProperty(id, "email", "john.doe@example.com"); err != nil {
			return err
		}
		return tx.SetNodeProperty(id, "dob", "2000-01-01")
	})
}

// deleteKnows is sample (e)/(f): a KNOWS relationship between John and Mary is deleted.
func deleteKnows(t *testing.T, db *Database) {
	var rel string
	mustWrite(t, db, func(tx *Tx) error {
		john, err := tx.CreateNode([]string{"Person"}, map[string]any{"first_name": "John", "last_name": "Doe"})
		if err != nil {
			return err
		}
		mary, err := tx.CreateNode([]string{"Person"}, map[string]any{"first_name": "Mary", "last_name": "Doe"})
		if err != nil {
			return err
		}
		rel, err = tx.CreateRelationship("KNOWS", john, mary, map[string]any{"since": "2012-01-01", "to": "2020-06-01"})
		return err
	})
	mustWrite(t, db, func(tx *Tx) error { return tx.DeleteRelationship(rel) })
}
