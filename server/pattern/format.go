package pattern

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// ErrNotExpressible is returned by Format for a selector the grammar cannot write: an entity
// selector, or one with an operation, changes_to, users, tx metadata or element ids.
var ErrNotExpressible = errors.New("pattern: selector has fields the pattern grammar cannot express")

// Format writes sel in the pattern grammar, canonically (keys sorted, names quoted only when
// needed), so that Parse(Format(sel)) is sel again for every selector Parse produced.
func Format(sel *cdcstreamv1.Selector) (string, error) {
	var b strings.Builder
	switch k := sel.GetKind().(type) {
	case *cdcstreamv1.Selector_Node:
		n := k.Node
		if n.GetOperation() != cdcstreamv1.Operation_OPERATION_UNSPECIFIED || len(n.GetChangesTo()) > 0 ||
			n.GetExecutingUser() != "" || n.GetAuthenticatedUser() != "" || len(n.GetTxMetadata()) > 0 || n.GetElementId() != "" {
			return "", ErrNotExpressible
		}
		writeNode(&b, n.GetLabels(), n.GetKey(), n.GetProjection())
	case *cdcstreamv1.Selector_Relationship:
		r := k.Relationship
		if r.GetOperation() != cdcstreamv1.Operation_OPERATION_UNSPECIFIED || len(r.GetChangesTo()) > 0 ||
			r.GetExecutingUser() != "" || r.GetAuthenticatedUser() != "" || len(r.GetTxMetadata()) > 0 || r.GetElementId() != "" ||
			r.GetStart().GetElementId() != "" || r.GetEnd().GetElementId() != "" {
			return "", ErrNotExpressible
		}
		writeNode(&b, r.GetStart().GetLabels(), r.GetStart().GetKey(), nil)
		b.WriteString("-[")
		if r.GetType() != "" {
			b.WriteByte(':')
			writeName(&b, r.GetType())
		}
		if len(r.GetKey()) > 0 || hasProjection(r.GetProjection()) {
			writeProps(&b, r.GetKey(), r.GetProjection())
		}
		b.WriteString("]->")
		writeNode(&b, r.GetEnd().GetLabels(), r.GetEnd().GetKey(), nil)
	default:
		return "", ErrNotExpressible
	}
	return b.String(), nil
}

func hasProjection(p *cdcstreamv1.Projection) bool {
	return len(p.GetInclude()) > 0 || len(p.GetExclude()) > 0
}

func writeNode(b *strings.Builder, labels []string, key map[string]*cdcstreamv1.Value, p *cdcstreamv1.Projection) {
	b.WriteByte('(')
	for _, l := range labels {
		b.WriteByte(':')
		writeName(b, l)
	}
	if len(key) > 0 || hasProjection(p) {
		writeProps(b, key, p)
	}
	b.WriteByte(')')
}

// writeProps writes "{key: literal, ..., include, ..., -exclude, ...}"; with exclusions only it
// writes "*" first, which the grammar reads as "every other property".
func writeProps(b *strings.Builder, key map[string]*cdcstreamv1.Value, p *cdcstreamv1.Projection) {
	b.WriteByte('{')
	sep := func() {
		if b.String()[b.Len()-1] != '{' {
			b.WriteString(", ")
		}
	}
	for _, k := range sortedKeys(key) {
		sep()
		writeName(b, k)
		b.WriteString(": ")
		writeValue(b, key[k])
	}
	if len(p.GetInclude()) == 0 && len(p.GetExclude()) > 0 {
		sep()
		b.WriteByte('*')
	}
	for _, n := range p.GetInclude() {
		sep()
		writeName(b, n)
	}
	for _, n := range p.GetExclude() {
		sep()
		b.WriteByte('-')
		writeName(b, n)
	}
	b.WriteByte('}')
}

func sortedKeys(m map[string]*cdcstreamv1.Value) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// keywords are the literal keywords, which a name must quote to stay a name.
var keywords = []string{"true", "false", "null", "nan", "inf", "infinity"}

// writeName writes a name bare when it is an identifier and not a keyword, else `quoted`.
func writeName(b *strings.Builder, name string) {
	bare := name != "" && utf8.ValidString(name) && !slices.Contains(keywords, strings.ToLower(name))
	for i, r := range name {
		if i == 0 && !isNameStart(r) || i > 0 && !isNamePart(r) {
			bare = false
			break
		}
	}
	if bare {
		b.WriteString(name)
		return
	}
	b.WriteByte('`')
	b.WriteString(strings.ReplaceAll(name, "`", "``"))
	b.WriteByte('`')
}

// writeValue writes a literal. Values of kinds the grammar has no literal for (temporal,
// spatial, bytes) cannot come out of Parse and are written as null.
func writeValue(b *strings.Builder, v *cdcstreamv1.Value) {
	switch k := v.GetKind().(type) {
	case *cdcstreamv1.Value_BooleanValue:
		b.WriteString(strconv.FormatBool(k.BooleanValue))
	case *cdcstreamv1.Value_IntegerValue:
		b.WriteString(strconv.FormatInt(k.IntegerValue, 10))
	case *cdcstreamv1.Value_FloatValue:
		f := k.FloatValue
		switch {
		case math.IsNaN(f):
			b.WriteString("NaN")
		case math.IsInf(f, 1):
			b.WriteString("INF")
		case math.IsInf(f, -1):
			b.WriteString("-INF") // not a literal of the grammar: Parse never yields -Inf
		default:
			s := strconv.FormatFloat(f, 'g', -1, 64)
			if !strings.ContainsAny(s, ".e") {
				s += ".0"
			}
			b.WriteString(s)
		}
	case *cdcstreamv1.Value_StringValue:
		writeString(b, k.StringValue)
	case *cdcstreamv1.Value_ListValue:
		b.WriteByte('[')
		for i, e := range k.ListValue.GetValues() {
			if i > 0 {
				b.WriteString(", ")
			}
			writeValue(b, e)
		}
		b.WriteByte(']')
	case *cdcstreamv1.Value_MapValue:
		b.WriteByte('{')
		for i, key := range sortedKeys(k.MapValue.GetFields()) {
			if i > 0 {
				b.WriteString(", ")
			}
			writeName(b, key)
			b.WriteString(": ")
			writeValue(b, k.MapValue.GetFields()[key])
		}
		b.WriteByte('}')
	default:
		b.WriteString("null")
	}
}

// writeString writes s in single quotes with Cypher's escapes; other control characters and
// invalid UTF-8 bytes (never produced by Parse) become \u escapes.
func writeString(b *strings.Builder, s string) {
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r == 0x7F || r == utf8.RuneError {
				b.WriteString(`\u`)
				s := strconv.FormatInt(int64(r), 16)
				b.WriteString(strings.Repeat("0", 4-len(s)) + s)
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
}
