package pattern

import (
	"errors"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
)

// FuzzPattern checks that Parse never panics, that an error's position lies inside the input
// (or just after its end), and that every selector it yields round-trips through Format.
// Run longer with: go test ./server/pattern/ -run '^$' -fuzz FuzzPattern -fuzztime 1m
func FuzzPattern(f *testing.F) {
	for _, s := range []string{
		"(:Person{name,-age})", "(:Person),(:Person)-[:KNOWS]-(:Person)", "({*})",
		"(:Person:User{id:5})-[:WORKS_FOR {id: 5, since, -secret}]->(:Person{name:'john'})",
		"({id1: 0x1F, id2: -0o17, id3: 1.2e-20, id4: NaN, id5: INF, id6: [1, [2.5, 'x']], id7: {a: null}})",
		`(:` + "`a``b`" + `{s: '\u00e9\n\'', t: "\"\\"})`, "()<-[]-()", "()–[:T]—＞()", "(:Person{id: 017})",
		"(:Person)-[:KNOWS->(:Person)", "({id: -9223372036854775808})",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sels, err := Parse(s)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %T %v, want *Error", s, err, err)
			}
			if pe.Pos < 1 || pe.Pos > utf8.RuneCountInString(s)+1 {
				t.Fatalf("Parse(%q) error position %d outside 1..%d", s, pe.Pos, utf8.RuneCountInString(s)+1)
			}
			return
		}
		if len(sels) == 0 {
			t.Fatalf("Parse(%q) = no selectors and no error", s)
		}
		for _, sel := range sels {
			text, err := Format(sel)
			if err != nil {
				t.Fatalf("Format(Parse(%q)): %v", s, err)
			}
			again, err := Parse(text)
			if err != nil {
				t.Fatalf("Parse(Format(Parse(%q))) = Parse(%q): %v", s, text, err)
			}
			if len(again) != 1 || !proto.Equal(again[0], sel) {
				t.Fatalf("Parse(%q) = %s, want %s (from %q)", text, render(again), render(sels), s)
			}
		}
	})
}
