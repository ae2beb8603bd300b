package neo4jsim

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseStatementRecognisesTheCDCCalls(t *testing.T) {
	all := "id,txId,seq,metadata,event"
	cases := []struct {
		query  string
		proc   procedure
		fields string
		cols   string
		args   string
		limit  string
	}{
		{"CALL db.cdc.current()", procCurrent, "id", "0", "[]", ""},
		{"  call\n\tdb.cdc.CURRENT ( ) ; ", procCurrent, "id", "0", "[]", ""},
		{"CALL db.cdc.current() YIELD id RETURN id", procCurrent, "id", "0", "[]", ""},
		{"CALL db.cdc.earliest() YIELD id AS e RETURN e AS start", procEarliest, "start", "0", "[]", ""},
		{"CALL db.cdc.query($from, $selectors)", procQuery, all, "0,1,2,3,4", "[from selectors]", ""},
		{"CALL db.cdc.query()", procQuery, all, "0,1,2,3,4", "[]", ""},
		{"CALL db.cdc.query($from, $selectors) YIELD id, txId, seq, metadata, event RETURN id, txId, seq, metadata, event LIMIT $limit",
			procQuery, all, "0,1,2,3,4", "[from selectors]", "limit"},
		{"call db.cdc.query($cursor, $s) yield * return * limit 10", procQuery, all, "0,1,2,3,4", "[cursor s]", "10"},
		{"CALL db.cdc.query($from) YIELD event, id RETURN id, event", procQuery, "id,event", "0,4", "[from]", ""},
		{"CALL db.cdc.query($from) YIELD TXID as t, Seq RETURN seq AS s, t", procQuery, "s,t", "2,1", "[from]", ""},
		{"CALL db.cdc.query($from) YIELD txId", procQuery, "txId", "1", "[from]", ""},
		{`CALL db.cdc.query('AAA', [{select: "n", labels: ['A'], changesTo: ["x"], ` + "`key`" + `: {id: -1, f: 1.5e3, ok: true, z: null}}])`,
			procQuery, all, "0,1,2,3,4", "[AAA [map[key:map[f:1500 id:-1 ok:true z:<nil>] labels:[A] select:n changesTo:[x]]]]", ""},
		{"// comment\nCALL /* inline */ db.cdc.current()", procCurrent, "id", "0", "[]", ""},
		{"CALL db.cdc.current", procCurrent, "id", "0", "[]", ""},
		{"CYPHER 25 CALL db.cdc.earliest YIELD id", procEarliest, "id", "0", "[]", ""},
		{"CYPHER 5 CALL cdc.query($from, $selectors)", procQuery, all, "0,1,2,3,4", "[from selectors]", ""},
		{"CALL dbms.components() YIELD versions, edition", procComponents, "versions,edition", "1,2", "[]", ""},
	}
	for _, c := range cases {
		st, err := parseStatement(c.query)
		if err != nil {
			t.Errorf("%q: %v", c.query, err)
			continue
		}
		cols := make([]string, len(st.cols))
		for i, col := range st.cols {
			cols[i] = fmt.Sprint(col)
		}
		args := fmt.Sprint(exprStrings(st.call.args))
		if st.proc != c.proc || strings.Join(st.fields, ",") != c.fields || strings.Join(cols, ",") != c.cols {
			t.Errorf("%q: proc %d fields %v cols %v", c.query, st.proc, st.fields, st.cols)
		}
		if !strings.Contains(c.args, "map") && args != c.args {
			t.Errorf("%q: args %s, want %s", c.query, args, c.args)
		}
		if limit := strings.Join(exprStrings([]expr{st.limit}), ""); st.hasLimit != (c.limit != "") || st.hasLimit && limit != c.limit {
			t.Errorf("%q: limit %v (%v), want %q", c.query, st.limit, st.hasLimit, c.limit)
		}
	}
}

// exprStrings renders parameters by name and other arguments by their constant value.
func exprStrings(args []expr) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if p, ok := a.(paramExpr); ok {
			out[i] = p.name
			continue
		}
		v, err := evalConst(a, nil)
		if err != nil {
			out[i] = err.Error()
			continue
		}
		out[i] = fmt.Sprint(v)
	}
	return out
}

func TestParseStatementSelectorLiteral(t *testing.T) {
	st, err := parseStatement(`CALL db.cdc.query('x', [{select: "n", labels: ['A', "B\u00e9"], key: {id: -1, f: 1.5e3, ok: true, z: null}}])`)
	if err != nil {
		t.Fatal(err)
	}
	args, aerr := constArgs(st.call, nil)
	if aerr != nil {
		t.Fatal(aerr)
	}
	sel := args[1].([]any)[0].(map[string]any)
	key := sel["key"].(map[string]any)
	if sel["select"] != "n" || fmt.Sprint(sel["labels"]) != "[A Bé]" || key["id"] != int64(-1) || key["f"] != 1500.0 ||
		key["ok"] != true || key["z"] != nil {
		t.Fatalf("selector %#v", sel)
	}
}

func TestParseStatementRejects(t *testing.T) {
	cases := map[string]string{
		"MATCH (n) RETURN n LIMIT":         "Neo.ClientError.Statement.SyntaxError",
		"":                                 "Neo.ClientError.Statement.SyntaxError",
		"CALL db.cdc.current(":             "Neo.ClientError.Statement.SyntaxError",
		"CALL db.cdc.current() YIELD nope": "Neo.ClientError.Statement.SyntaxError",
		"CALL db.cdc.current() YIELD id RETURN other": "Neo.ClientError.Statement.SyntaxError",
		"CALL db.cdc.current() extra":                 "Neo.ClientError.Statement.SyntaxError",
		"CALL db.cdc.current($x)":                     "Neo.ClientError.Procedure.ProcedureCallFailed",
		"CALL db.cdc.query($a, $b, $c)":               "Neo.ClientError.Procedure.ProcedureCallFailed",
		"CALL dbms.procedures()":                      "Neo.ClientError.Procedure.ProcedureNotFound",
		"RETURN 'unterminated":                        "Neo.ClientError.Statement.SyntaxError",
		"RETURN 99999999999999999999":                 "Neo.ClientError.Statement.SyntaxError",
		"RETURN $":                                    "Neo.ClientError.Statement.SyntaxError",
		"RETURN /* open":                              "Neo.ClientError.Statement.SyntaxError",
		"CALL db.cdc.query() YIELD id, id":            "Neo.ClientError.Statement.SyntaxError",
		"RETURN {a 1}":                                "Neo.ClientError.Statement.SyntaxError",
	}
	for q, code := range cases {
		if _, err := compile(q); err == nil || err.Code != code {
			t.Errorf("%q: error %v, want %s", q, err, code)
		}
	}
}

func TestExecuteChecksArgumentsAndLimit(t *testing.T) {
	d := NewDBMS(Config{})
	db := d.Database("neo4j")
	admin := User{Name: "neo4j", Admin: true}
	run := func(q string, params map[string]any) (*result, error) {
		st, perr := parseStatement(q)
		if perr != nil {
			return nil, perr
		}
		return executeFast(st, params, db, admin, "5.26.0")
	}
	for q, params := range map[string]map[string]any{
		"CALL db.cdc.query($f)":                                   {},
		"CALL db.cdc.query($f)  ":                                 {"f": int64(1)},
		"CALL db.cdc.query('', $s)":                               {"s": "x"},
		"CALL db.cdc.current() YIELD id RETURN id LIMIT $l":       {"l": int64(-1)},
		"CALL db.cdc.current() YIELD id RETURN id LIMIT $l ":      {"l": 1.5},
		"CALL db.cdc.query('', [{select: $missing}]) YIELD id":    {},
		"CALL db.cdc.query($f) YIELD id RETURN id LIMIT $missing": {"f": ""},
	} {
		if _, err := run(q, params); err == nil {
			t.Errorf("%q with %v succeeded", q, params)
		}
	}
	r, err := run("CALL db.cdc.current() YIELD id RETURN id LIMIT 0", nil)
	if err != nil || r.n != 0 {
		t.Fatalf("LIMIT 0: %v rows, %v", r, err)
	}
}
