package pattern

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error is a syntax error in a pattern string.
type Error struct {
	// Pos is the position of the offending character: Unicode code points counted from 1.
	Pos int
	// Msg says what was expected or what is wrong.
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("at character %d: %s", e.Pos, e.Msg) }

// kind is a token kind.
type kind int

const (
	tokEOF    kind = iota
	tokLParen      // (
	tokRParen      // )
	tokLBrack      // [
	tokRBrack      // ]
	tokLCurly      // {
	tokRCurly      // }
	tokColon       // :
	tokComma       // ,
	tokMinus       // - (ASCII hyphen-minus: an arrow line, an exclusion or a sign)
	tokDash        // another dash Cypher accepts in arrows only (en dash, em dash, ...)
	tokLT          // < or another left arrow head
	tokGT          // > or another right arrow head
	tokPlus        // +
	tokTimes       // *
	tokName        // an identifier or a `quoted` name; text holds the name
	tokString      // a string literal; text holds the decoded value
	tokInt         // an integer literal; text holds the digits with the base prefix, no sign
	tokFloat       // a float literal; text holds it without underscores
)

// token is one lexed token.
type token struct {
	kind kind
	text string
	// pos is the code point position of the token's first character, from 1.
	pos int
	// src is the token as written, for messages.
	src string
}

// describe renders t for "found ..." in a message.
func (t token) describe() string {
	if t.kind == tokEOF {
		return "the end of the pattern"
	}
	src := t.src
	if utf8.RuneCountInString(src) > 24 {
		src = string([]rune(src)[:24]) + "…"
	}
	return strconv.Quote(src)
}

// lexer splits a pattern string into tokens, counting code point positions.
type lexer struct {
	src string
	off int // byte offset of the next character
	pos int // code point position of the next character, from 1
}

// peekRune returns the next character and its size without consuming it; size 0 at the end.
func (l *lexer) peekRune() (rune, int) {
	if l.off >= len(l.src) {
		return 0, 0
	}
	return utf8.DecodeRuneInString(l.src[l.off:])
}

// advance consumes one character of size n.
func (l *lexer) advance(n int) {
	l.off += n
	l.pos++
}

// isSpace reports Cypher's white space: Unicode spaces and the ASCII separators 0x1C..0x1F.
func isSpace(r rune) bool {
	return unicode.IsSpace(r) || r >= 0x1C && r <= 0x1F
}

// isDash reports the dashes Cypher accepts as arrow lines besides '-'.
func isDash(r rune) bool {
	switch r {
	case '\u00AD', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\uFE58', '\uFE63', '\uFF0D':
		return true
	}
	return false
}

// isNameStart and isNamePart are Cypher's identifier rules.
func isNameStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }

func isNamePart(r rune) bool {
	return r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r) ||
		unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nd, unicode.Pc)
}

// next lexes the next token.
func (l *lexer) next() (token, error) {
	for {
		r, n := l.peekRune()
		if n == 0 || !isSpace(r) {
			break
		}
		l.advance(n)
	}
	start, startPos := l.off, l.pos
	r, n := l.peekRune()
	if n == 0 {
		return token{kind: tokEOF, pos: l.pos}, nil
	}
	if r == utf8.RuneError && n == 1 {
		return token{}, &Error{Pos: l.pos, Msg: "invalid UTF-8"}
	}
	simple := func(k kind) (token, error) {
		l.advance(n)
		return token{kind: k, pos: startPos, src: l.src[start:l.off]}, nil
	}
	switch {
	case r == '(':
		return simple(tokLParen)
	case r == ')':
		return simple(tokRParen)
	case r == '[':
		return simple(tokLBrack)
	case r == ']':
		return simple(tokRBrack)
	case r == '{':
		return simple(tokLCurly)
	case r == '}':
		return simple(tokRCurly)
	case r == ':':
		return simple(tokColon)
	case r == ',':
		return simple(tokComma)
	case r == '-':
		return simple(tokMinus)
	case isDash(r):
		return simple(tokDash)
	case r == '<', r == '\u27E8', r == '\u3008', r == '\uFE64', r == '\uFF1C':
		return simple(tokLT)
	case r == '>', r == '\u27E9', r == '\u3009', r == '\uFE65', r == '\uFF1E':
		return simple(tokGT)
	case r == '+':
		return simple(tokPlus)
	case r == '*':
		return simple(tokTimes)
	case r == '`':
		return l.quotedName()
	case r == '\'' || r == '"':
		return l.stringLiteral(r)
	case r >= '0' && r <= '9' || r == '.':
		return l.number()
	case isNameStart(r):
		for {
			r, n := l.peekRune()
			if n == 0 || !isNamePart(r) {
				break
			}
			l.advance(n)
		}
		return token{kind: tokName, text: l.src[start:l.off], pos: startPos, src: l.src[start:l.off]}, nil
	}
	return token{}, &Error{Pos: startPos, Msg: fmt.Sprintf("unexpected character %q", r)}
}

// quotedName lexes a `quoted` name; a doubled backtick stands for one backtick.
func (l *lexer) quotedName() (token, error) {
	start, startPos := l.off, l.pos
	l.advance(1)
	var b strings.Builder
	for {
		r, n := l.peekRune()
		switch {
		case n == 0:
			return token{}, &Error{Pos: startPos, Msg: "unterminated `quoted` name"}
		case r == utf8.RuneError && n == 1:
			return token{}, &Error{Pos: l.pos, Msg: "invalid UTF-8"}
		case r == '`':
			l.advance(1)
			if r2, _ := l.peekRune(); r2 == '`' {
				l.advance(1)
				b.WriteByte('`')
				continue
			}
			if b.Len() == 0 {
				return token{}, &Error{Pos: startPos, Msg: "a `quoted` name must not be empty"}
			}
			return token{kind: tokName, text: b.String(), pos: startPos, src: l.src[start:l.off]}, nil
		default:
			l.advance(n)
			b.WriteString(l.src[l.off-n : l.off])
		}
	}
}

// stringLiteral lexes a string in quote q with Cypher's escapes: \\ \' \" \b \f \n \r \t
// \uXXXX \UXXXXXXXX (a surrogate pair of \u escapes is one character).
func (l *lexer) stringLiteral(q rune) (token, error) {
	start, startPos := l.off, l.pos
	l.advance(1)
	var b strings.Builder
	for {
		r, n := l.peekRune()
		switch {
		case n == 0:
			return token{}, &Error{Pos: startPos, Msg: "unterminated string"}
		case r == utf8.RuneError && n == 1:
			return token{}, &Error{Pos: l.pos, Msg: "invalid UTF-8"}
		case r == q:
			l.advance(1)
			return token{kind: tokString, text: b.String(), pos: startPos, src: l.src[start:l.off]}, nil
		case r == '\\':
			escPos := l.pos
			l.advance(1)
			e, en := l.peekRune()
			if en == 0 {
				return token{}, &Error{Pos: startPos, Msg: "unterminated string"}
			}
			l.advance(en)
			switch e {
			case '\\', '\'', '"':
				b.WriteRune(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u', 'U':
				c, err := l.unicodeEscape(e, escPos)
				if err != nil {
					return token{}, err
				}
				b.WriteRune(c)
			default:
				return token{}, &Error{Pos: escPos, Msg: fmt.Sprintf("unknown escape \\%c (want one of \\\\ \\' \\\" \\b \\f \\n \\r \\t \\uXXXX \\UXXXXXXXX)", e)}
			}
		default:
			l.advance(n)
			b.WriteString(l.src[l.off-n : l.off])
		}
	}
}

// hexDigits reads exactly n hex digits.
func (l *lexer) hexDigits(n int) (rune, bool) {
	if l.off+n > len(l.src) {
		return 0, false
	}
	v, err := strconv.ParseUint(l.src[l.off:l.off+n], 16, 32)
	if err != nil {
		return 0, false
	}
	for range n {
		l.advance(1)
	}
	return rune(v), true
}

// unicodeEscape decodes the digits of \u (4) or \U (8) after the letter; escPos is the
// backslash's position.
func (l *lexer) unicodeEscape(letter rune, escPos int) (rune, error) {
	digits := 4
	if letter == 'U' {
		digits = 8
	}
	c, ok := l.hexDigits(digits)
	if !ok {
		return 0, &Error{Pos: escPos, Msg: fmt.Sprintf("\\%c needs %d hex digits", letter, digits)}
	}
	if letter == 'u' && c >= 0xD800 && c <= 0xDBFF {
		// A high surrogate: a low one must follow as \uDC00..\uDFFF.
		if strings.HasPrefix(l.src[l.off:], `\u`) {
			save, savePos := l.off, l.pos
			l.advance(1)
			l.advance(1)
			if lo, ok := l.hexDigits(4); ok && lo >= 0xDC00 && lo <= 0xDFFF {
				return 0x10000 + (c-0xD800)<<10 + (lo - 0xDC00), nil
			}
			l.off, l.pos = save, savePos
		}
	}
	if c > unicode.MaxRune || c >= 0xD800 && c <= 0xDFFF {
		return 0, &Error{Pos: escPos, Msg: fmt.Sprintf("escape \\%c is not a Unicode character", letter)}
	}
	return c, nil
}

// number lexes an integer (decimal, 0x hex, 0o octal) or a float (digits with a fraction or
// an exponent). Underscores may separate digits. The sign is a separate token.
func (l *lexer) number() (token, error) {
	start, startPos := l.off, l.pos
	bad := func(msg string) (token, error) {
		return token{}, &Error{Pos: startPos, Msg: msg}
	}
	// digits consumes digits of the base with single underscores between them and returns
	// them without underscores.
	digits := func(isDigit func(byte) bool) (string, bool) {
		var b strings.Builder
		for l.off < len(l.src) {
			c := l.src[l.off]
			if c == '_' && b.Len() > 0 && l.off+1 < len(l.src) && isDigit(l.src[l.off+1]) {
				l.advance(1)
				continue
			}
			if !isDigit(c) {
				break
			}
			b.WriteByte(c)
			l.advance(1)
		}
		return b.String(), b.Len() > 0
	}
	dec := func(c byte) bool { return c >= '0' && c <= '9' }
	finish := func(k kind, text string) (token, error) {
		if r, n := l.peekRune(); n > 0 && (isNamePart(r) || r == '.') {
			return bad(fmt.Sprintf("malformed number %s", strconv.Quote(l.src[start:l.off]+string(r))))
		}
		return token{kind: k, text: text, pos: startPos, src: l.src[start:l.off]}, nil
	}
	if strings.HasPrefix(l.src[l.off:], "0x") || strings.HasPrefix(l.src[l.off:], "0X") {
		l.advance(1)
		l.advance(1)
		d, ok := digits(func(c byte) bool { return dec(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' })
		if !ok {
			return bad("a hex integer needs digits after 0x")
		}
		return finish(tokInt, "0x"+d)
	}
	if strings.HasPrefix(l.src[l.off:], "0o") {
		l.advance(1)
		l.advance(1)
		d, ok := digits(func(c byte) bool { return c >= '0' && c <= '7' })
		if !ok {
			return bad("an octal integer needs digits 0-7 after 0o")
		}
		return finish(tokInt, "0o"+d)
	}
	intPart, _ := digits(dec)
	isFloat := false
	text := intPart
	if l.off < len(l.src) && l.src[l.off] == '.' {
		l.advance(1)
		frac, ok := digits(dec)
		if !ok {
			return bad("a float needs digits after the decimal point")
		}
		text += "." + frac
		isFloat = true
	}
	if l.off < len(l.src) && (l.src[l.off] == 'e' || l.src[l.off] == 'E') {
		l.advance(1)
		text += "e"
		if l.off < len(l.src) && (l.src[l.off] == '+' || l.src[l.off] == '-') {
			text += l.src[l.off : l.off+1]
			l.advance(1)
		}
		exp, ok := digits(dec)
		if !ok {
			return bad("a float exponent needs digits")
		}
		text += exp
		isFloat = true
	}
	if !isFloat && len(intPart) > 1 && intPart[0] == '0' {
		return bad(fmt.Sprintf("integer %s has a leading zero (octal integers are written 0o17)", strconv.Quote(l.src[start:l.off])))
	}
	if isFloat {
		return finish(tokFloat, text)
	}
	return finish(tokInt, text)
}
