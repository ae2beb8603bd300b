package pattern

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// literal parses a value: a number (with an optional '-'), a string, true, false, null, NaN,
// INF or INFINITY (case-insensitive), a list [..] or a map {k: v, ..}.
func (p *parser) literal() (*cdcstreamv1.Value, error) {
	t := p.tok
	switch t.kind {
	case tokMinus, tokInt, tokFloat:
		return p.number()
	case tokString:
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_StringValue{StringValue: t.text}}, p.advance()
	case tokName:
		var v *cdcstreamv1.Value
		switch strings.ToLower(t.text) {
		case "true", "false":
			v = &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_BooleanValue{BooleanValue: strings.EqualFold(t.text, "true")}}
		case "null":
			v = &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}}
		case "nan":
			v = &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_FloatValue{FloatValue: math.NaN()}}
		case "inf", "infinity":
			v = &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_FloatValue{FloatValue: math.Inf(1)}}
		}
		if v != nil && !strings.HasPrefix(t.src, "`") {
			return v, p.advance()
		}
	case tokLBrack, tokLCurly:
		if p.depth >= MaxDepth {
			return nil, &Error{Pos: t.pos, Msg: fmt.Sprintf("literals nest deeper than %d levels", MaxDepth)}
		}
		p.depth++
		defer func() { p.depth-- }()
		if t.kind == tokLBrack {
			return p.list()
		}
		return p.mapLiteral()
	}
	return nil, p.unexpected("a literal (number, 'string', true, false, null, NaN, INF, [list] or {map})")
}

// number parses an optionally negative integer or float literal.
func (p *parser) number() (*cdcstreamv1.Value, error) {
	pos, neg := p.tok.pos, false
	if p.tok.kind == tokMinus {
		neg = true
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	t := p.tok
	switch t.kind {
	case tokInt:
		digits, base := t.text, 10
		switch {
		case strings.HasPrefix(digits, "0x"):
			digits, base = digits[2:], 16
		case strings.HasPrefix(digits, "0o"):
			digits, base = digits[2:], 8
		}
		if neg {
			digits = "-" + digits
		}
		n, err := strconv.ParseInt(digits, base, 64)
		if err != nil {
			return nil, &Error{Pos: pos, Msg: fmt.Sprintf("integer %s is outside the 64-bit range", strconv.Quote(t.src))}
		}
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_IntegerValue{IntegerValue: n}}, p.advance()
	case tokFloat:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, &Error{Pos: pos, Msg: fmt.Sprintf("float %s is outside the 64-bit range", strconv.Quote(t.src))}
		}
		if neg {
			f = -f
		}
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_FloatValue{FloatValue: f}}, p.advance()
	}
	return nil, p.unexpected("a number after '-'")
}

// list parses "[" (literal ("," literal)*)? "]".
func (p *parser) list() (*cdcstreamv1.Value, error) {
	l := &cdcstreamv1.ListValue{}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokRBrack {
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_ListValue{ListValue: l}}, p.advance()
	}
	for {
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		l.Values = append(l.Values, v)
		switch p.tok.kind {
		case tokComma:
			if err := p.advance(); err != nil {
				return nil, err
			}
		case tokRBrack:
			return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_ListValue{ListValue: l}}, p.advance()
		default:
			return nil, p.unexpected("',' or ']'")
		}
	}
}

// mapLiteral parses "{" (name ":" literal ("," name ":" literal)*)? "}".
func (p *parser) mapLiteral() (*cdcstreamv1.Value, error) {
	m := &cdcstreamv1.MapValue{Fields: map[string]*cdcstreamv1.Value{}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tokRCurly {
		return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_MapValue{MapValue: m}}, p.advance()
	}
	for {
		if p.tok.kind != tokName {
			return nil, p.unexpected("a map key")
		}
		name, pos := p.tok.text, p.tok.pos
		if _, dup := m.Fields[name]; dup {
			return nil, &Error{Pos: pos, Msg: fmt.Sprintf("map key %s is given twice", strconv.Quote(name))}
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.expect(tokColon, "':'"); err != nil {
			return nil, err
		}
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		m.Fields[name] = v
		switch p.tok.kind {
		case tokComma:
			if err := p.advance(); err != nil {
				return nil, err
			}
		case tokRCurly:
			return &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_MapValue{MapValue: m}}, p.advance()
		default:
			return nil, p.unexpected("',' or '}'")
		}
	}
}
