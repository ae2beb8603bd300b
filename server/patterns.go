package server

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server/pattern"
)

// maxPartLen bounds the path of the selector part a pattern's value violation names, so that
// the description keeps room for what is wrong.
const maxPartLen = 128

// appendPatterns parses SubscribeRequest.patterns (docs/patterns.md) and returns sels (the
// request's typed selectors, already checked; typedSize is their encoded size) followed by the
// selectors of the patterns, in order. The rule (documented on SubscribeRequest.patterns): a
// pattern is one more way to write selectors, so its selectors are OR-ed with the typed ones,
// come after them (which decides whose projection applies when several match, see
// docs/semantics.md) and count against the same limits, WithMaxSelectors and
// WithMaxSelectorBytes; the pattern strings themselves may not be longer than that byte limit
// either, which bounds the parsing. Every violation is reason INVALID_SELECTOR on field
// patterns[i]; a syntax error's description names its character position.
func appendPatterns(sels []*cdcstreamv1.Selector, typedSize int, patterns []string, o *options, vs *violations) []*cdcstreamv1.Selector {
	textSize := 0
	for _, s := range patterns {
		textSize += len(s)
	}
	if textSize > o.maxSelectorBytes {
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, "patterns", "patterns of %d bytes exceed the limit of %d bytes", textSize, o.maxSelectorBytes)
		return sels
	}
	out := slices.Clone(sels) // never append into the request's own array
	size := typedSize
	for i, s := range patterns {
		field := "patterns[" + strconv.Itoa(i) + "]"
		parsed, err := pattern.Parse(s)
		if err != nil {
			var pe *pattern.Error
			if errors.As(err, &pe) {
				vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field, "syntax error at character %d: %s", pe.Pos, pe.Msg)
			} else {
				vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field, "%v", err)
			}
			continue
		}
		if len(out)+len(parsed) > o.maxSelectors {
			vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field,
				"the pattern makes %d selectors, more than the limit of %d with the selectors before it", len(out)+len(parsed), o.maxSelectors)
			return out
		}
		// The values a pattern can write (null, NaN, maps, long names, deep lists) are judged by
		// the rules of typed selectors; the violation names the pattern and, in its
		// description, the part of the selector it made.
		var sub violations
		for _, sel := range parsed {
			validateSelector(sel, field, &sub)
			size += proto.Size(sel)
		}
		for _, v := range sub.list {
			part := truncate(strings.TrimPrefix(v.GetField(), field+"."), maxPartLen)
			vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, field, "%s: %s", part, v.GetDescription())
		}
		out = append(out, parsed...)
	}
	if size > o.maxSelectorBytes {
		vs.add(cdcstreamv1.ErrorReason_INVALID_SELECTOR, "patterns",
			"selectors of %d bytes (with those of the patterns) exceed the limit of %d bytes", size, o.maxSelectorBytes)
	}
	return out
}
