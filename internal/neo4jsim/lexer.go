package neo4jsim

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The tokenizer of the Cypher subset (cypher_parse*.go parse its tokens). Punctuation is one
// byte, except the operators <>, <=, >= and +=; arrows in patterns are "<" "-" and "-" ">".

// token kinds.
const (
	tokEOF = iota
	tokIdent
	tokParam
	tokString
	tokInt
	tokFloat
	tokPunct
)

type token struct {
	kind int
	text string // identifier, parameter name, punctuation, or raw number text
	str  string // decoded string literal
	pos  int    // byte offset in the query
}

// tokenize splits a query into tokens.
func tokenize(q string) ([]token, *Error) {
	var toks []token
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case strings.HasPrefix(q[i:], "//"):
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case strings.HasPrefix(q[i:], "/*"):
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return nil, syntaxError("Failed to parse comment: unterminated comment at offset %d", i)
			}
			i += end + 4
		case c == '`':
			end := strings.IndexByte(q[i+1:], '`')
			if end < 0 {
				return nil, syntaxError("Invalid input: unterminated escaped identifier at offset %d", i)
			}
			toks = append(toks, token{kind: tokIdent, text: q[i+1 : i+1+end], pos: i})
			i += end + 2
		case c == '$':
			j := i + 1
			for j < len(q) && isIdentByte(q[j]) {
				j++
			}
			if j == i+1 {
				return nil, syntaxError("Invalid input '$': expected a parameter name at offset %d", i)
			}
			toks = append(toks, token{kind: tokParam, text: q[i+1 : j], pos: i})
			i = j
		case c == '\'' || c == '"':
			s, n, err := unquote(q[i:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokString, str: s, text: q[i : i+n], pos: i})
			i += n
		case c >= '0' && c <= '9':
			j, kind := i, tokInt
			for j < len(q) && (q[j] >= '0' && q[j] <= '9' || q[j] == '.' || q[j] == 'e' || q[j] == 'E' ||
				(q[j] == '-' || q[j] == '+') && (q[j-1] == 'e' || q[j-1] == 'E')) {
				if q[j] == '.' || q[j] == 'e' || q[j] == 'E' {
					kind = tokFloat
				}
				j++
			}
			toks = append(toks, token{kind: kind, text: q[i:j], pos: i})
			i = j
		case isIdentByte(c) || c >= utf8.RuneSelf:
			j := i
			for j < len(q) {
				r, n := utf8.DecodeRuneInString(q[j:])
				if !(r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
					break
				}
				j += n
			}
			if j == i {
				return nil, syntaxError("Invalid input '%s' at offset %d", q[i:i+1], i)
			}
			toks = append(toks, token{kind: tokIdent, text: q[i:j], pos: i})
			i = j
		case i+1 < len(q) && isTwoBytePunct(q[i:i+2]):
			toks = append(toks, token{kind: tokPunct, text: q[i : i+2], pos: i})
			i += 2
		case strings.IndexByte("(),.;[]{}:*-=<>+/%^|", c) >= 0:
			toks = append(toks, token{kind: tokPunct, text: q[i : i+1], pos: i})
			i++
		default:
			return nil, syntaxError("Invalid input '%c' at offset %d", c, i)
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(q)}), nil
}

// isTwoBytePunct reports the two-byte operators.
func isTwoBytePunct(s string) bool {
	return s == "<>" || s == "<=" || s == ">=" || s == "+="
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// unquote decodes a Cypher string literal at the start of s and returns it with the number
// of bytes consumed.
func unquote(s string) (string, int, *Error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'u', 'U':
				width := 4
				if s[i] == 'U' {
					width = 8
				}
				if i+width >= len(s) {
					return "", 0, syntaxError("Invalid input: bad unicode escape")
				}
				r, err := strconv.ParseUint(s[i+1:i+1+width], 16, 32)
				if err != nil {
					return "", 0, syntaxError("Invalid input: bad unicode escape")
				}
				b.WriteRune(rune(r))
				i += width
			default:
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, syntaxError("Invalid input: unterminated string literal")
}
