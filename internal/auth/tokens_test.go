package auth

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseTokensRejects(t *testing.T) {
	const tok = "0123456789abcdef"
	cases := map[string]string{
		"not JSON":           `hello`,
		"object not list":    `{"name":"a","token":"` + tok + `","databases":["*"]}`,
		"empty list":         `[]`,
		"unknown field":      `[{"name":"a","token":"` + tok + `","databases":["*"],"admin":true}]`,
		"no name":            `[{"token":"` + tok + `","databases":["*"]}]`,
		"name with space":    `[{"name":"a b","token":"` + tok + `","databases":["*"]}]`,
		"short token":        `[{"name":"a","token":"short","databases":["*"]}]`,
		"token with space":   `[{"name":"a","token":"0123456789 abcdef","databases":["*"]}]`,
		"no databases":       `[{"name":"a","token":"` + tok + `"}]`,
		"empty database":     `[{"name":"a","token":"` + tok + `","databases":[""]}]`,
		"duplicate name":     `[{"name":"a","token":"` + tok + `","databases":["*"]},{"name":"a","token":"` + tok + `x","databases":["*"]}]`,
		"duplicate token":    `[{"name":"a","token":"` + tok + `","databases":["*"]},{"name":"b","token":"` + tok + `","databases":["*"]}]`,
		"wrong type":         `[{"name":"a","token":12345678901234567,"databases":["*"]}]`,
		"trailing data":      `[{"name":"a","token":"` + tok + `","databases":["*"]}] []`,
		"truncated":          `[{"name":"a","token":"` + tok,
		"database not a str": `[{"name":"a","token":"` + tok + `","databases":[1]}]`,
	}
	for name, in := range cases {
		_, err := ParseTokens([]byte(in))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), tok) {
			t.Errorf("%s: error shows the token: %v", name, err)
		}
	}
}

func TestParseTokensAccepts(t *testing.T) {
	in := `[{"name":"a","token":"0123456789abcdef","databases":["Neo4j","sales"]},
	        {"name":"ops","token":"fedcba9876543210","databases":["*"]}]`
	ts, err := ParseTokens([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if ts.Len() != 2 || strings.Join(ts.Names(), ",") != "a,ops" {
		t.Fatalf("names %v", ts.Names())
	}
	e, ok := ts.lookup("0123456789abcdef")
	if !ok || e.name != "a" || !e.allows("neo4j") || !e.allows("sales") || e.allows("hr") {
		t.Fatalf("entry a: %+v %v", e, ok)
	}
	e, ok = ts.lookup("fedcba9876543210")
	if !ok || e.name != "ops" || !e.allows("anything") {
		t.Fatalf("entry ops: %+v %v", e, ok)
	}
	for _, bad := range []string{"", "0123456789abcde", "0123456789abcdef0", "FEDCBA9876543210"} {
		if _, ok := ts.lookup(bad); ok {
			t.Errorf("lookup(%q) matched", bad)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("missing file accepted")
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, make([]byte, maxTokensFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Fatalf("oversized file: %v", err)
	}
}

// FuzzLoadTokens checks that any input either fails with an error that shows no token, or
// yields a set in which every token finds its own entry with its databases.
func FuzzLoadTokens(f *testing.F) {
	seeds := []string{
		`[{"name":"a","token":"0123456789abcdef","databases":["neo4j"]}]`,
		`[{"name":"a","token":"0123456789abcdef","databases":["*"]},{"name":"b","token":"0123456789abcdeg","databases":["x","Y"]}]`,
		`[{"name":"a","token":"short","databases":["*"]}]`,
		`[{"name":"a","token":"0123456789abcdef","databases":[]}]`,
		`[]`, `{}`, `null`, ``, `[{"name":"","token":"","databases":[""]}]`,
		`[{"name":"a","token":"0123456789abcdef","databases":["*"]}] x`,
		"[{\"name\":\"a\",\"token\":\"0123456789abcd\\u00e9f\",\"databases\":[\"*\"]}]",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := ParseTokens(data)
		var raw []map[string]any
		_ = json.Unmarshal(data, &raw)
		if err != nil {
			if ts != nil {
				t.Fatal("tokens and error")
			}
			visible := map[string]bool{}
			for _, r := range raw {
				for k, v := range r {
					if s, ok := v.(string); ok && k != "token" {
						visible[s] = true
					}
				}
			}
			for _, r := range raw {
				tok, ok := r["token"].(string)
				if ok && len(tok) >= MinTokenLength && !visible[tok] && strings.Contains(err.Error(), tok) {
					t.Fatalf("error shows a token: %v", err)
				}
			}
			return
		}
		var entries []fileEntry
		if err := json.Unmarshal(data, &entries); err != nil {
			t.Fatalf("ParseTokens accepted what encoding/json rejects: %v", err)
		}
		if ts.Len() != len(entries) || ts.Len() == 0 {
			t.Fatalf("%d tokens from %d entries", ts.Len(), len(entries))
		}
		for _, fe := range entries {
			e, ok := ts.lookup(fe.Token)
			if !ok || e.name != fe.Name {
				t.Fatalf("token of %q finds %v %v", fe.Name, e, ok)
			}
			if len(fe.Token) < MinTokenLength {
				t.Fatalf("short token accepted for %q", fe.Name)
			}
			for _, db := range fe.Databases {
				if !e.allows(strings.ToLower(db)) {
					t.Fatalf("%q does not allow its own database %q", fe.Name, db)
				}
			}
		}
	})
}

// BenchmarkLookup measures authenticating one call against 100 tokens (hash + constant-time
// comparison with every entry).
func BenchmarkLookup(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[")
	for i := 0; i < 100; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"name":"n%d","token":"token-%04d-0123456789abcdef","databases":["*"]}`, i, i)
	}
	sb.WriteString("]")
	ts, err := ParseTokens([]byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ts.lookup("token-0050-0123456789abcdef"); !ok {
			b.Fatal("not found")
		}
	}
}
