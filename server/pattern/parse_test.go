package pattern

import (
	"errors"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Helpers building the expected selectors.

type kv = map[string]*cdcstreamv1.Value

func i64(n int64) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: n}}
}
func f64(f float64) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_FloatValue{FloatValue: f}}
}
func str(s string) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_StringValue{StringValue: s}}
}
func boolean(b bool) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_BooleanValue{BooleanValue: b}}
}
func list(vs ...*cdcstreamv1.Value) *cdcstreamv1.Value {
	return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_ListValue{ListValue: &cdcstreamv1.ListValue{Values: vs}}}
}

func proj(include []string, exclude ...string) *cdcstreamv1.Projection {
	return &cdcstreamv1.Projection{Include: include, Exclude: exclude}
}

func node(labels []string, key kv, p *cdcstreamv1.Projection) *cdcstreamv1.Selector {
	return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Labels: labels, Key: key, Projection: p}}}
}

func end(labels []string, key kv) *cdcstreamv1.NodeMatcher {
	return &cdcstreamv1.NodeMatcher{Labels: labels, Key: key}
}

func rel(typ string, start, end *cdcstreamv1.NodeMatcher, key kv, p *cdcstreamv1.Projection) *cdcstreamv1.Selector {
	return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Relationship{Relationship: &cdcstreamv1.RelationshipSelector{
		Type: typ, Start: start, End: end, Key: key, Projection: p}}}
}

func l(labels ...string) []string { return labels }

// TestParse holds the examples of Neo4j's Kafka connector documentation and the cases of its
// CDC client's pattern tests (PatternTest), as selectors.
func TestParse(t *testing.T) {
	person, company := end(l("Person"), nil), end(l("Company"), nil)
	tests := []struct {
		in   string
		want []*cdcstreamv1.Selector
	}{
		// Numeric literals.
		{"({id1: 0, id2: 125, id3: -24278, id4: -2147483648, id5: 2147483647, id6: -9223372036854775807, id7: 9223372036854775807})",
			[]*cdcstreamv1.Selector{node(nil, kv{"id1": i64(0), "id2": i64(125), "id3": i64(-24278), "id4": i64(-2147483648),
				"id5": i64(2147483647), "id6": i64(-9223372036854775807), "id7": i64(9223372036854775807)}, nil)}},
		{"({min: -9223372036854775808, sep: 1_000_000})", []*cdcstreamv1.Selector{node(nil, kv{"min": i64(math.MinInt64), "sep": i64(1000000)}, nil)}},
		{"({id1: 0x00, id2: -0x0f, id3: 0x246FF})", []*cdcstreamv1.Selector{node(nil, kv{"id1": i64(0), "id2": i64(-15), "id3": i64(0x246FF)}, nil)}},
		{"({id1: 0o0, id2: -0o17, id3: 0o12345})", []*cdcstreamv1.Selector{node(nil, kv{"id1": i64(0), "id2": i64(-15), "id3": i64(5349)}, nil)}},
		{"({id1: 0.0, id2: -125.25, id3: 1.2e20, id4: -1.2e20, id5: 2.7182818284, id6: .5, id7: 1E-3})",
			[]*cdcstreamv1.Selector{node(nil, kv{"id1": f64(0), "id2": f64(-125.25), "id3": f64(1.2e20), "id4": f64(-1.2e20),
				"id5": f64(2.7182818284), "id6": f64(0.5), "id7": f64(0.001)}, nil)}},
		{"({id1: NaN, id2: INF, id3: INFINITY, id4: inf})",
			[]*cdcstreamv1.Selector{node(nil, kv{"id1": f64(math.NaN()), "id2": f64(math.Inf(1)), "id3": f64(math.Inf(1)), "id4": f64(math.Inf(1))}, nil)}},
		// String and boolean literals.
		{`({id1: '', id2: "", id3: 'a string',  id4: "another string" })`,
			[]*cdcstreamv1.Selector{node(nil, kv{"id1": str(""), "id2": str(""), "id3": str("a string"), "id4": str("another string")}, nil)}},
		{`({a: 'it\'s', b: "say \"hi\"", c: '\\\n\t\u00e9\U0001F600', d: '\uD83D\uDE00'})`,
			[]*cdcstreamv1.Selector{node(nil, kv{"a": str("it's"), "b": str(`say "hi"`), "c": str("\\\n\té😀"), "d": str("😀")}, nil)}},
		{"({id1: true, id2: false, id3: TRUE})", []*cdcstreamv1.Selector{node(nil, kv{"id1": boolean(true), "id2": boolean(false), "id3": boolean(true)}, nil)}},
		{"({ids: [1, 2, 3], empty: []})", []*cdcstreamv1.Selector{node(nil, kv{"ids": list(i64(1), i64(2), i64(3)), "empty": list()}, nil)}},
		// Node patterns.
		{"()", []*cdcstreamv1.Selector{node(nil, nil, nil)}},
		{"(:Person)", []*cdcstreamv1.Selector{node(l("Person"), nil, nil)}},
		{"(:Person:Employee)", []*cdcstreamv1.Selector{node(l("Person", "Employee"), nil, nil)}},
		{"(:Person:Person)", []*cdcstreamv1.Selector{node(l("Person"), nil, nil)}},
		{"(:Person {})", []*cdcstreamv1.Selector{node(l("Person"), nil, nil)}},
		{"({})", []*cdcstreamv1.Selector{node(nil, nil, nil)}},
		{"({*})", []*cdcstreamv1.Selector{node(nil, nil, nil)}},
		{"(:Person {*})", []*cdcstreamv1.Selector{node(l("Person"), nil, nil)}},
		{"(:Person:Employee {*})", []*cdcstreamv1.Selector{node(l("Person", "Employee"), nil, nil)}},
		{"({id: 5})", []*cdcstreamv1.Selector{node(nil, kv{"id": i64(5)}, nil)}},
		{"({id: 5, *})", []*cdcstreamv1.Selector{node(nil, kv{"id": i64(5)}, nil)}},
		{"({id: 5, *, name: 'john'})", []*cdcstreamv1.Selector{node(nil, kv{"id": i64(5), "name": str("john")}, nil)}},
		// "*" keeps every property, so the named ones add nothing.
		{"({id: 5, *, name: 'john', select1, +select2})", []*cdcstreamv1.Selector{node(nil, kv{"id": i64(5), "name": str("john")}, nil)}},
		{"({id: 5, *, name: 'john', -skip1, -skip2})",
			[]*cdcstreamv1.Selector{node(nil, kv{"id": i64(5), "name": str("john")}, proj(nil, "skip1", "skip2"))}},
		{"({id: 5, *, name: 'john', -skip1, select1, +select2, -skip2, surname: 'doe'})",
			[]*cdcstreamv1.Selector{node(nil, kv{"id": i64(5), "name": str("john"), "surname": str("doe")}, proj(nil, "skip1", "skip2"))}},
		{"({*, -skip1, select1, +select2, -skip2})", []*cdcstreamv1.Selector{node(nil, nil, proj(nil, "skip1", "skip2"))}},
		{"(:Person {id})", []*cdcstreamv1.Selector{node(l("Person"), nil, proj(l("id")))}},
		{"(:Person{name,-age})", []*cdcstreamv1.Selector{node(l("Person"), nil, proj(l("name"), "age"))}},
		{"(:Person{-age})", []*cdcstreamv1.Selector{node(l("Person"), nil, proj(nil, "age"))}},
		{"(:Person{name, +name, surname})", []*cdcstreamv1.Selector{node(l("Person"), nil, proj(l("name", "surname")))}},
		{"(:`Odd Label`:`with``tick` {`a b`: 1, `c`})",
			[]*cdcstreamv1.Selector{node(l("Odd Label", "with`tick"), kv{"a b": i64(1)}, proj(l("c")))}},
		{"(:Ünïcödé_1$ {prénom})", []*cdcstreamv1.Selector{node(l("Ünïcödé_1$"), nil, proj(l("prénom")))}},
		{" \t\n( :Person\u3000{ id : 1 } ) ", []*cdcstreamv1.Selector{node(l("Person"), kv{"id": i64(1)}, nil)}},
		// Keywords are names where a name is expected.
		{"(:true {null: false})", []*cdcstreamv1.Selector{node(l("true"), kv{"null": boolean(false)}, nil)}},
		// Relationship directions.
		{"()-[]->()", []*cdcstreamv1.Selector{rel("", nil, nil, nil, nil)}},
		{"()-->()", []*cdcstreamv1.Selector{rel("", nil, nil, nil, nil)}},
		{"()-[]-()", []*cdcstreamv1.Selector{rel("", nil, nil, nil, nil)}}, // both directions are the same selector
		{"()-[:KNOWS]->()", []*cdcstreamv1.Selector{rel("KNOWS", nil, nil, nil, nil)}},
		{"()<-[:KNOWS]-()", []*cdcstreamv1.Selector{rel("KNOWS", nil, nil, nil, nil)}},
		{"()-[:KNOWS]-()", []*cdcstreamv1.Selector{rel("KNOWS", nil, nil, nil, nil)}},
		{"()<-[:KNOWS]->()", []*cdcstreamv1.Selector{rel("KNOWS", nil, nil, nil, nil)}},
		{"(:Person)-[:WORKS_FOR]->(:Company)", []*cdcstreamv1.Selector{rel("WORKS_FOR", person, company, nil, nil)}},
		{"(:Company)<-[:WORKS_FOR]-(:Person)", []*cdcstreamv1.Selector{rel("WORKS_FOR", person, company, nil, nil)}},
		{"(:Person)-[:WORKS_FOR]-(:Company)",
			[]*cdcstreamv1.Selector{rel("WORKS_FOR", person, company, nil, nil), rel("WORKS_FOR", company, person, nil, nil)}},
		{"(:Person)<-[:WORKS_FOR]->(:Company)",
			[]*cdcstreamv1.Selector{rel("WORKS_FOR", person, company, nil, nil), rel("WORKS_FOR", company, person, nil, nil)}},
		{"(:Person)–[:KNOWS]—＞(:Person)", []*cdcstreamv1.Selector{rel("KNOWS", person, person, nil, nil)}}, // Cypher's other dashes
		// Relationship patterns.
		{"()-[:WORKS_FOR]->()", []*cdcstreamv1.Selector{rel("WORKS_FOR", nil, nil, nil, nil)}},
		{"()-[:WORKS_FOR{}]->()", []*cdcstreamv1.Selector{rel("WORKS_FOR", nil, nil, nil, nil)}},
		{"()-[:WORKS_FOR {id: 5}]->()", []*cdcstreamv1.Selector{rel("WORKS_FOR", nil, nil, kv{"id": i64(5)}, nil)}},
		{"()-[:WORKS_FOR {id: 5,*,name: 'john'}]->()", []*cdcstreamv1.Selector{rel("WORKS_FOR", nil, nil, kv{"id": i64(5), "name": str("john")}, nil)}},
		{"()-[:WORKS_FOR {id: 5,*,name: 'john', select1, -skip1, +select2, -skip2}]->()",
			[]*cdcstreamv1.Selector{rel("WORKS_FOR", nil, nil, kv{"id": i64(5), "name": str("john")}, proj(nil, "skip1", "skip2"))}},
		{"()-[:WORKS_FOR {since, -secret}]->()", []*cdcstreamv1.Selector{rel("WORKS_FOR", nil, nil, nil, proj(l("since"), "secret"))}},
		{"()-[{since}]->()", []*cdcstreamv1.Selector{rel("", nil, nil, nil, proj(l("since")))}},
		{"({id:5})-[:WORKS_FOR {id: 5}]->({name:'john'})",
			[]*cdcstreamv1.Selector{rel("WORKS_FOR", end(nil, kv{"id": i64(5)}), end(nil, kv{"name": str("john")}), kv{"id": i64(5)}, nil)}},
		{"(:Person:User{id:5})-[:WORKS_FOR {id: 5}]->(:Person{name:'john'})",
			[]*cdcstreamv1.Selector{rel("WORKS_FOR", end(l("Person", "User"), kv{"id": i64(5)}), end(l("Person"), kv{"name": str("john")}), kv{"id": i64(5)}, nil)}},
		// Lists of patterns, as the connector's configuration writes them.
		{"(:Person),(:Person)-[:KNOWS]-(:Person)", []*cdcstreamv1.Selector{node(l("Person"), nil, nil), rel("KNOWS", person, person, nil, nil)}},
		{"(:User)-[]-(),()", []*cdcstreamv1.Selector{
			rel("", end(l("User"), nil), nil, nil, nil), rel("", nil, end(l("User"), nil), nil, nil), node(nil, nil, nil)}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if !equal(got, tt.want) {
			t.Errorf("Parse(%q) =\n%s\nwant\n%s", tt.in, render(got), render(tt.want))
		}
	}
}

func equal(a, b []*cdcstreamv1.Selector) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func render(sels []*cdcstreamv1.Selector) string {
	var b strings.Builder
	for _, s := range sels {
		b.WriteString("  " + prototext.MarshalOptions{}.Format(s) + "\n")
	}
	return b.String()
}

// TestParseErrors checks that syntax errors name the character where they are, counted in
// code points from 1.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		pos  int
		frag string
	}{
		{"", 1, "empty pattern"},
		{"   ", 4, "empty pattern"},
		{"Person", 1, "expected '('"},
		{"(:Person", 9, "expected ':', '{' or ')' but found the end"},
		{"(:)", 3, "expected a label"},
		{"(n:Person)", 2, "expected ':', '{' or ')'"},
		{"(:Person{name,})", 15, "expected a property name"},
		{"(:Person{name age})", 15, "expected ',' or '}'"},
		{"(:Person{id: })", 14, "expected a literal"},
		{"(:Person{id: 1, id: 2})", 17, `key property "id" is given twice`},
		{"(:Person{id: -x})", 15, "expected a number after '-'"},
		{"(:Person{id: 9223372036854775808})", 14, "outside the 64-bit range"},
		{"(:Person{id: -9223372036854775809})", 14, "outside the 64-bit range"},
		{"(:Person{id: 1e999})", 14, "outside the 64-bit range"},
		{"(:Person{id: 017})", 14, "leading zero"},
		{"(:Person{id: 12abc})", 14, "malformed number"},
		{"(:Person{id: 1.})", 14, "digits after the decimal point"},
		{"(:Person{id: 0x})", 14, "hex integer needs digits"},
		{"(:Person{id: 'abc})", 14, "unterminated string"},
		{`(:Person{id: 'a\qb'})`, 16, `unknown escape \q`},
		{`(:Person{id: '\u12'})`, 15, `\u needs 4 hex digits`},
		{`(:Person{id: '\uD800'})`, 15, "not a Unicode character"},
		{"(:`Person)", 3, "unterminated `quoted` name"},
		{"(:``)", 3, "must not be empty"},
		{"(:Person)-[:KNOWS]->", 21, "expected '(' but found the end"},
		{"(:Person)->(:Person)", 11, "expected '-'"},
		{"(:Person)-[:KNOWS->(:Person)", 18, "expected '{' or ']'"},
		{"(:Person)-[:KNOWS:LIKES]->()", 18, "expected '{' or ']'"},
		{"(:Person)-[{a}:KNOWS]->()", 15, "expected ']'"},
		{"({k: " + strings.Repeat("[", MaxDepth+1) + "1" + strings.Repeat("]", MaxDepth+1) + "})", 5 + MaxDepth + 1, "nest deeper than 64 levels"},
		{"({k: " + strings.Repeat("{a: ", 100) + "1" + strings.Repeat("}", 100) + "})", 5 + 4*MaxDepth + 1, "nest deeper than 64 levels"},
		{"(:Person)-[:]->()", 13, "expected a relationship type"},
		{"(:Person)-[:A|B]->()", 14, "unexpected character '|'"},
		{"(:Person)(:Company)", 10, "expected ',' or the end of the pattern"},
		{"(:Person),", 11, "expected '(' but found the end"},
		{"(:Person) ; DROP", 11, "unexpected character ';'"},
		// Property selectors on the end nodes of a relationship pattern (PatternTest).
		{"({id})-[:KNOWS]-()", 3, "property selectors are not allowed"},
		{"()-[:KNOWS]-({id})", 15, "property selectors are not allowed"},
		{"(:Person {+id})-[:KNOWS]->(:Person)", 11, "property selectors are not allowed"},
		{"(:Person {*})-[:KNOWS]->(:Person)", 11, "property selectors are not allowed"},
		{"(:Person {-id})-[:KNOWS]->(:Person)", 11, "property selectors are not allowed"},
		{"(:Person {id: 1, -age})-[:KNOWS]->(:Person)", 18, "property selectors are not allowed"},
		// Positions count characters, not bytes.
		{"(:Ünïcödé é)", 11, "expected ':', '{' or ')'"},
		{"(:Person\xff)", 9, "invalid UTF-8"},
	}
	for _, tt := range tests {
		sels, err := Parse(tt.in)
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) = %v, %v; want an *Error", tt.in, render(sels), err)
			continue
		}
		if pe.Pos != tt.pos || !strings.Contains(pe.Msg, tt.frag) {
			t.Errorf("Parse(%q) error %q at %d; want %q at %d", tt.in, pe.Msg, pe.Pos, tt.frag, tt.pos)
		}
		if !strings.HasPrefix(pe.Error(), "at character ") {
			t.Errorf("Error() = %q", pe.Error())
		}
	}
}

// TestFormat checks the canonical form and that it parses back to the same selector.
func TestFormat(t *testing.T) {
	tests := []struct{ in, want string }{
		{"(:Person{name,-age})", "(:Person{name, -age})"},
		{"(:Person{-age})", "(:Person{*, -age})"},
		{"( :Person { b: 2, a: 'x' , * } )", "(:Person{a: 'x', b: 2})"},
		{"(:Company)<-[:WORKS_FOR{since}]-(:Person{id: 1})", "(:Person{id: 1})-[:WORKS_FOR{since}]->(:Company)"},
		{"()-->()", "()-[]->()"},
		{"(:`a b`:`true`{`x``y`: [1.0, -0.5, 1e+21, INF, NaN, 'it\\'s\\n']})", "(:`a b`:`true`{`x``y`: [1.0, -0.5, 1e+21, INF, NaN, 'it\\'s\\n']})"},
		{"({m: {b: null, a: true}})", "({m: {a: true, b: null}})"},
	}
	for _, tt := range tests {
		sels, err := Parse(tt.in)
		if err != nil || len(sels) != 1 {
			t.Fatalf("Parse(%q) = %d selectors, %v", tt.in, len(sels), err)
		}
		got, err := Format(sels[0])
		if err != nil || got != tt.want {
			t.Errorf("Format(Parse(%q)) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		again, err := Parse(got)
		if err != nil || !equal(again, sels) {
			t.Errorf("Parse(%q) = %s, %v; want %s", got, render(again), err, render(sels))
		}
	}
	for _, sel := range []*cdcstreamv1.Selector{
		{Kind: &cdcstreamv1.Selector_Entity{Entity: &cdcstreamv1.EntitySelector{}}},
		{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{Operation: cdcstreamv1.Operation_OPERATION_CREATE}}},
		{Kind: &cdcstreamv1.Selector_Relationship{Relationship: &cdcstreamv1.RelationshipSelector{ElementId: "5:x:1"}}},
		{},
	} {
		if s, err := Format(sel); !errors.Is(err, ErrNotExpressible) {
			t.Errorf("Format(%v) = %q, %v; want ErrNotExpressible", sel, s, err)
		}
	}
}

// BenchmarkParse measures parsing a relationship pattern with keys and a projection, against
// decoding its typed selector from protojson, the way a grpcurl or JSON client sends it.
func BenchmarkParse(b *testing.B) {
	const s = "(:Person{id: 1})-[:WORKS_AT{contractId: 7, role, -secret}]->(:Company{name: 'Acme'})"
	sels, err := Parse(s)
	if err != nil {
		b.Fatal(err)
	}
	js, err := protojson.Marshal(sels[0])
	if err != nil {
		b.Fatal(err)
	}
	b.Run("pattern", func(b *testing.B) {
		for b.Loop() {
			if _, err := Parse(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protojson", func(b *testing.B) {
		for b.Loop() {
			if err := protojson.Unmarshal(js, &cdcstreamv1.Selector{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
