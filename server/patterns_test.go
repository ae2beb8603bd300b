package server

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server/pattern"
)

// TestValidatePatterns: patterns become selectors after the typed ones, in order, and the
// request's own slice is left alone.
func TestValidatePatterns(t *testing.T) {
	t.Parallel()
	o := defaultOptions()
	typed := nodeSel(&cdcstreamv1.NodeSelector{Labels: []string{"Typed"}})
	req := &cdcstreamv1.SubscribeRequest{
		Selectors: make([]*cdcstreamv1.Selector, 1, 8), // spare capacity: appending in place would be visible
		Patterns:  []string{"(:Person{name,-age})", "(:A)-[:T{since}]-(:B),(:C{id: 7})"},
	}
	req.Selectors[0] = typed
	p, err := validateSubscribe(req, &o)
	if err != nil {
		t.Fatal(err)
	}
	var want []*cdcstreamv1.Selector
	want = append(want, typed)
	for _, s := range req.GetPatterns() {
		sels, err := pattern.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, sels...)
	}
	if len(p.selectors) != 5 || len(want) != 5 {
		t.Fatalf("got %d selectors, want 5", len(p.selectors))
	}
	for i := range want {
		if !proto.Equal(p.selectors[i], want[i]) {
			t.Errorf("selector %d = %v, want %v", i, p.selectors[i], want[i])
		}
	}
	if len(req.Selectors) != 1 || req.Selectors[:2][1] != nil {
		t.Fatalf("the request's selectors were modified: %v", req.Selectors[:2])
	}
	if got := p.selectors[1].GetNode().GetProjection(); got.GetInclude()[0] != "name" || got.GetExclude()[0] != "age" {
		t.Fatalf("projection = %v", got)
	}
}

// TestValidatePatternErrors: every refusal is INVALID_SELECTOR on patterns[i] (or patterns for
// the byte limit), and a syntax error names its character position.
func TestValidatePatternErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     []Option
		req      *cdcstreamv1.SubscribeRequest
		field    string
		descFrag string
	}{
		{"syntax error", nil, &cdcstreamv1.SubscribeRequest{Patterns: []string{"(:Person)", "(:Person{name age})"}},
			"patterns[1]", "syntax error at character 15: expected ',' or '}'"},
		{"empty pattern", nil, &cdcstreamv1.SubscribeRequest{Patterns: []string{""}}, "patterns[0]", "at character 1: empty pattern"},
		{"null key", nil, &cdcstreamv1.SubscribeRequest{Patterns: []string{"(:Person{id: null})"}},
			"patterns[0]", `node.key["id"]: null never equals anything`},
		{"NaN relationship key", nil, &cdcstreamv1.SubscribeRequest{Patterns: []string{"()-[:T{w: NaN}]->()"}},
			"patterns[0]", `relationship.key["w"]: NaN never equals anything`},
		{"map key value", nil, &cdcstreamv1.SubscribeRequest{Patterns: []string{"(:P)-[:T]->(:Q{m: {a: 1}})"}},
			"patterns[0]", `relationship.end.key["m"]: property values cannot be maps`},
		{"long label", nil, &cdcstreamv1.SubscribeRequest{Patterns: []string{"(:" + strings.Repeat("L", maxNameLen+1) + ")"}},
			"patterns[0]", "node.labels[0]: label of 1025 bytes exceeds the limit"},
		{"deep list", nil, &cdcstreamv1.SubscribeRequest{Patterns: []string{"({k: " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "})"}},
			"patterns[0]", "values nest deeper than 32 levels"},
		{"stack-exhausting list", nil, &cdcstreamv1.SubscribeRequest{Patterns: []string{"({k: " + strings.Repeat("[", 60000)}},
			"patterns[0]", "syntax error at character 70: literals nest deeper than 64 levels"},
		{"too many selectors", []Option{WithMaxSelectors(3)}, &cdcstreamv1.SubscribeRequest{
			Selectors: []*cdcstreamv1.Selector{nodeSel(nil)}, Patterns: []string{"(:A)", "(:A)-[:T]-(:B)"}},
			"patterns[1]", "makes 4 selectors, more than the limit of 3"},
		{"pattern bytes", []Option{WithMaxSelectorBytes(MinMaxSelectorBytes)}, &cdcstreamv1.SubscribeRequest{
			Patterns: []string{"(:A)", "(:" + strings.Repeat("L", MinMaxSelectorBytes) + ")"}},
			"patterns", "exceed the limit of 1024 bytes"},
		{"selector bytes", []Option{WithMaxSelectorBytes(MinMaxSelectorBytes)}, &cdcstreamv1.SubscribeRequest{
			Patterns: []string{"(:" + strings.Repeat("L", 600) + ")", "(:" + strings.Repeat("M", 400) + ")-[]->(:" + strings.Repeat("N", 10) + ")"}},
			"patterns", "(with those of the patterns) exceed the limit of 1024 bytes"},
		{"empty projection name", nil, &cdcstreamv1.SubscribeRequest{Selectors: []*cdcstreamv1.Selector{nodeSel(&cdcstreamv1.NodeSelector{
			Projection: &cdcstreamv1.Projection{Exclude: []string{""}}})}},
			"selectors[0].node.projection.exclude[0]", "property name must not be empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := defaultOptions()
			for _, opt := range tc.opts {
				opt(&o)
			}
			_, err := validateSubscribe(tc.req, &o)
			var re *requestError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want *requestError", err)
			}
			st := Status(err)
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("code %v", st.Code())
			}
			var info *errdetails.ErrorInfo
			var bad *errdetails.BadRequest
			for _, d := range st.Details() {
				switch d := d.(type) {
				case *errdetails.ErrorInfo:
					info = d
				case *errdetails.BadRequest:
					bad = d
				}
			}
			if info.GetReason() != cdcstreamv1.ErrorReason_INVALID_SELECTOR.String() || len(bad.GetFieldViolations()) == 0 {
				t.Fatalf("details = %v", st.Details())
			}
			v := bad.GetFieldViolations()[0]
			if v.GetField() != tc.field || !strings.Contains(v.GetDescription(), tc.descFrag) {
				t.Fatalf("violation %q: %q; want %q containing %q", v.GetField(), v.GetDescription(), tc.field, tc.descFrag)
			}
		})
	}
}
