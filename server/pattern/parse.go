package pattern

import (
	"fmt"
	"slices"
	"strconv"

	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// Parse parses s, one pattern or several separated by commas, into selectors in order (an
// undirected relationship pattern yields one per direction). The error is an *Error.
func Parse(s string) ([]*cdcstreamv1.Selector, error) {
	p := &parser{lex: lexer{src: s, pos: 1}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokEOF {
		return nil, &Error{Pos: p.tok.pos, Msg: "empty pattern: expected '('"}
	}
	var out []*cdcstreamv1.Selector
	for {
		sels, err := p.pattern()
		if err != nil {
			return nil, err
		}
		out = append(out, sels...)
		switch p.tok.kind {
		case tokEOF:
			return out, nil
		case tokComma:
			if err := p.advance(); err != nil {
				return nil, err
			}
		default:
			return nil, p.unexpected("',' or the end of the pattern")
		}
	}
}

// MaxDepth bounds the nesting of list and map literals, so that no input can exhaust the
// parser's stack; the server's selector rules allow less (32 levels).
const MaxDepth = 64

// parser is a recursive-descent parser over the lexer's tokens, one token of lookahead.
type parser struct {
	lex lexer
	tok token
	// depth is the nesting of the list or map literal being parsed.
	depth int
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// unexpected is the error for the current token when want was expected.
func (p *parser) unexpected(want string) error {
	return &Error{Pos: p.tok.pos, Msg: "expected " + want + " but found " + p.tok.describe()}
}

// expect consumes a token of kind k, described as want in the error otherwise.
func (p *parser) expect(k kind, want string) error {
	if p.tok.kind != k {
		return p.unexpected(want)
	}
	return p.advance()
}

// props is a parsed "{...}": key literals and property selectors.
type props struct {
	// pos is the position of '{', 0 when there was none.
	pos     int
	key     map[string]*cdcstreamv1.Value
	include []string
	exclude []string
	all     bool
	// selectorPos is the position of the first property selector, 0 when there is none.
	selectorPos int
}

// projection is the Projection the property selectors ask for; nil keeps every property.
func (pr *props) projection() *cdcstreamv1.Projection {
	include := pr.include
	if pr.all {
		include = nil
	}
	if len(include) == 0 && len(pr.exclude) == 0 {
		return nil
	}
	return &cdcstreamv1.Projection{Include: include, Exclude: pr.exclude}
}

// nodePat is a parsed node pattern.
type nodePat struct {
	labels []string
	props  props
}

// pattern parses one node or relationship pattern.
func (p *parser) pattern() ([]*cdcstreamv1.Selector, error) {
	first, err := p.node()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokMinus && p.tok.kind != tokDash && p.tok.kind != tokLT {
		return []*cdcstreamv1.Selector{{Kind: &cdcstreamv1.Selector_Node{Node: &cdcstreamv1.NodeSelector{
			Labels: first.labels, Key: first.props.key, Projection: first.props.projection()}}}}, nil
	}
	left := false
	if p.tok.kind == tokLT {
		left = true
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if err := p.arrowLine(); err != nil {
		return nil, err
	}
	var relType string
	var rel props
	if p.tok.kind == tokLBrack {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind == tokColon {
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.tok.kind != tokName {
				return nil, p.unexpected("a relationship type")
			}
			relType = p.tok.text
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		if p.tok.kind == tokLCurly {
			if rel, err = p.properties(); err != nil {
				return nil, err
			}
		}
		want := "':', '{' or ']'"
		switch {
		case rel.pos != 0:
			want = "']'"
		case relType != "":
			want = "'{' or ']'"
		}
		if err := p.expect(tokRBrack, want); err != nil {
			return nil, err
		}
		if err := p.arrowLine(); err != nil {
			return nil, err
		}
	} else if err := p.arrowLine(); err != nil {
		return nil, err
	}
	right := false
	if p.tok.kind == tokGT {
		right = true
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	second, err := p.node()
	if err != nil {
		return nil, err
	}
	for _, n := range []nodePat{first, second} {
		if n.props.selectorPos != 0 {
			return nil, &Error{Pos: n.props.selectorPos,
				Msg: "property selectors are not allowed in the node parts of a relationship pattern (only key literals such as {id: 1})"}
		}
	}
	start, end := first, second
	if left && !right {
		start, end = second, first
	}
	sel := func(start, end nodePat) *cdcstreamv1.Selector {
		return &cdcstreamv1.Selector{Kind: &cdcstreamv1.Selector_Relationship{Relationship: &cdcstreamv1.RelationshipSelector{
			Type:       relType,
			Start:      matcher(start),
			End:        matcher(end),
			Key:        rel.key,
			Projection: rel.projection(),
		}}}
	}
	out := []*cdcstreamv1.Selector{sel(start, end)}
	if left == right { // "-" or "<->": both directions
		if rev := sel(end, start); !proto.Equal(rev, out[0]) {
			out = append(out, rev)
		}
	}
	return out, nil
}

// matcher is the NodeMatcher of a relationship pattern's end node; nil when it has no labels
// or keys.
func matcher(n nodePat) *cdcstreamv1.NodeMatcher {
	if len(n.labels) == 0 && len(n.props.key) == 0 {
		return nil
	}
	return &cdcstreamv1.NodeMatcher{Labels: n.labels, Key: n.props.key}
}

// arrowLine consumes one dash of an arrow.
func (p *parser) arrowLine() error {
	if p.tok.kind != tokMinus && p.tok.kind != tokDash {
		return p.unexpected("'-'")
	}
	return p.advance()
}

// node parses "(" labels? properties? ")".
func (p *parser) node() (nodePat, error) {
	var n nodePat
	if err := p.expect(tokLParen, "'('"); err != nil {
		return n, err
	}
	for p.tok.kind == tokColon {
		if err := p.advance(); err != nil {
			return n, err
		}
		if p.tok.kind != tokName {
			return n, p.unexpected("a label")
		}
		if !slices.Contains(n.labels, p.tok.text) {
			n.labels = append(n.labels, p.tok.text)
		}
		if err := p.advance(); err != nil {
			return n, err
		}
	}
	if p.tok.kind == tokLCurly {
		var err error
		if n.props, err = p.properties(); err != nil {
			return n, err
		}
	}
	want := "':', '{' or ')'"
	if n.props.pos != 0 {
		want = "')'"
	}
	return n, p.expect(tokRParen, want)
}

// properties parses "{" (item ("," item)*)? "}" where an item is "key: literal", "*", "prop",
// "+prop" or "-prop".
func (p *parser) properties() (props, error) {
	pr := props{pos: p.tok.pos}
	if err := p.advance(); err != nil {
		return pr, err
	}
	if p.tok.kind == tokRCurly {
		return pr, p.advance()
	}
	for {
		itemPos := p.tok.pos
		switch p.tok.kind {
		case tokTimes:
			pr.all = true
			if err := p.advance(); err != nil {
				return pr, err
			}
		case tokPlus, tokMinus:
			minus := p.tok.kind == tokMinus
			if err := p.advance(); err != nil {
				return pr, err
			}
			if p.tok.kind != tokName {
				return pr, p.unexpected("a property name")
			}
			if minus {
				pr.exclude = appendNew(pr.exclude, p.tok.text)
			} else {
				pr.include = appendNew(pr.include, p.tok.text)
			}
			if err := p.advance(); err != nil {
				return pr, err
			}
		case tokName:
			name := p.tok.text
			if err := p.advance(); err != nil {
				return pr, err
			}
			if p.tok.kind != tokColon {
				pr.include = appendNew(pr.include, name)
				break
			}
			if err := p.advance(); err != nil {
				return pr, err
			}
			if _, dup := pr.key[name]; dup {
				return pr, &Error{Pos: itemPos, Msg: fmt.Sprintf("key property %s is given twice", strconv.Quote(name))}
			}
			v, err := p.literal()
			if err != nil {
				return pr, err
			}
			if pr.key == nil {
				pr.key = map[string]*cdcstreamv1.Value{}
			}
			pr.key[name] = v
			itemPos = 0 // a key literal, not a property selector
		default:
			return pr, p.unexpected("a property name, '+name', '-name', '*' or 'key: value'")
		}
		if itemPos != 0 && pr.selectorPos == 0 {
			pr.selectorPos = itemPos
		}
		switch p.tok.kind {
		case tokComma:
			if err := p.advance(); err != nil {
				return pr, err
			}
		case tokRCurly:
			return pr, p.advance()
		default:
			return pr, p.unexpected("',' or '}'")
		}
	}
}

// appendNew appends s unless list holds it already.
func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
