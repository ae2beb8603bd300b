package server

import (
	"os"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// TestErrorTableDocumented keeps docs/semantics.md, the one statement of the error model, in
// step with the contract and the code: every ErrorReason value has a row in its Errors table,
// and the status code written there is the one Status gives for that reason.
func TestErrorTableDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/semantics.md")
	if err != nil {
		t.Fatal(err)
	}
	// rows maps a reason to the status codes the table gives it (several causes may share one).
	rows := map[string][]string{}
	inTable := false
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "| cause | status | reason |") {
			inTable = true
			continue
		}
		if inTable && !strings.HasPrefix(line, "|") {
			break
		}
		if !inTable || strings.HasPrefix(line, "|---") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 5 {
			t.Fatalf("malformed table row %q", line)
		}
		reason, code := strings.TrimSpace(cells[3]), strings.TrimSpace(cells[2])
		rows[reason] = append(rows[reason], code)
	}
	if len(rows) == 0 {
		t.Fatal("no Errors table found in docs/semantics.md")
	}
	// codeOf is the status code Status gives each reason the service sends.
	codeOf := map[cdcstreamv1.ErrorReason]codes.Code{
		cdcstreamv1.ErrorReason_INVALID_REQUEST:  codes.InvalidArgument,
		cdcstreamv1.ErrorReason_INVALID_SELECTOR: codes.InvalidArgument,
		cdcstreamv1.ErrorReason_INVALID_CURSOR:   codes.InvalidArgument,
		cdcstreamv1.ErrorReason_INTERNAL:         codes.Internal,
	}
	for _, c := range classes {
		codeOf[c.reason] = c.code
	}
	for n, name := range cdcstreamv1.ErrorReason_name {
		reason := cdcstreamv1.ErrorReason(n)
		if reason == cdcstreamv1.ErrorReason_ERROR_REASON_UNSPECIFIED {
			continue
		}
		got, ok := rows[name]
		if !ok {
			t.Errorf("ErrorReason %s has no row in docs/semantics.md's Errors table", name)
			continue
		}
		want, sent := codeOf[reason]
		for _, g := range got {
			switch {
			case !sent && !strings.HasPrefix(g, "(none"):
				t.Errorf("%s is never sent, but the table gives it status %s", name, g)
			case sent && g != strings.ToUpper(snake(want.String())):
				t.Errorf("%s: the table says %s, the server sends %v", name, g, want)
			}
		}
	}
	for name := range rows {
		if _, ok := cdcstreamv1.ErrorReason_value[name]; !ok {
			t.Errorf("docs/semantics.md names reason %q, which errors.proto does not define", name)
		}
	}
}

// snake turns a codes.Code name (OutOfRange) into its proto form (OUT_OF_RANGE, less upper).
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return b.String()
}
