package main

import (
	"bufio"
	"encoding/json"
	"io"

	"github.com/cdcstream/cdcstream/client"
	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// printer writes one JSON value per line (or indented with --format pretty) and flushes each,
// so a line is on its way out before its cursor is committed.
type printer struct {
	w   *bufio.Writer
	enc *json.Encoder
}

// newPrinter writes to w in format "json" or "pretty".
func newPrinter(w io.Writer, format string) *printer {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if format == "pretty" {
		enc.SetIndent("", "  ")
	}
	return &printer{w: bw, enc: enc}
}

// write encodes v and flushes.
func (p *printer) write(v any) error {
	if err := p.enc.Encode(v); err != nil {
		return err
	}
	return p.w.Flush()
}

// change prints a change as a Neo4j-shaped record.
func (p *printer) change(ch *cdcstreamv1.ChangeEvent) error { return p.write(newRecord(ch)) }

// checkpoint prints {"checkpoint": {"id", "database", "serverTime"}}.
func (p *printer) checkpoint(cp *cdcstreamv1.Checkpoint) error {
	line := map[string]any{"id": cp.GetCursor().GetId(), "database": cp.GetCursor().GetDatabase(), "serverTime": nil}
	if cp.GetServerTime() != nil {
		line["serverTime"] = formatTimestamp(cp.GetServerTime().AsTime())
	}
	return p.write(map[string]any{"checkpoint": line})
}

// transactionEnd prints {"transactionEnd": {"txId", "commitTime", "changeCount", "cursor"}}
// (--transaction-markers); the count is every change of the transaction the run delivered,
// across reconnects (the client library sums them).
func (p *printer) transactionEnd(te *cdcstreamv1.TransactionEnd) error {
	line := map[string]any{"txId": te.GetTxId(), "commitTime": nil, "changeCount": te.GetChangeCount(), "cursor": cursorJSON(te.GetCursor())}
	if te.GetCommitTime() != nil {
		line["commitTime"] = formatTimestamp(te.GetCommitTime().AsTime())
	}
	return p.write(map[string]any{"transactionEnd": line})
}

// gap prints {"gap": {"from", "resumed", "reason"}} after a restart of an expired cursor.
func (p *printer) gap(g *client.Gap) error {
	return p.write(map[string]any{"gap": map[string]any{
		"from": cursorJSON(g.From), "resumed": cursorJSON(g.Resumed), "reason": g.Reason.String(),
	}})
}

// cursorJSON renders a cursor as {"id", "database"}, or null.
func cursorJSON(c *cdcstreamv1.Cursor) any {
	if c == nil {
		return nil
	}
	return map[string]string{"id": c.GetId(), "database": c.GetDatabase()}
}

// record is one output line, in the field order of Neo4j's db.cdc.query columns.
type record struct {
	ID       string         `json:"id"`
	TxID     int64          `json:"txId"`
	Seq      int64          `json:"seq"`
	Event    any            `json:"event"`
	Metadata map[string]any `json:"metadata"`
	Database string         `json:"database"`
}

// nodeEvent is Neo4j's node event map (eventType "n").
type nodeEvent struct {
	ElementID string                      `json:"elementId"`
	EventType string                      `json:"eventType"`
	Operation string                      `json:"operation"`
	Labels    []string                    `json:"labels"`
	Keys      map[string][]map[string]any `json:"keys"`
	State     state                       `json:"state"`
}

// relationshipEvent is Neo4j's relationship event map (eventType "r").
type relationshipEvent struct {
	ElementID string           `json:"elementId"`
	EventType string           `json:"eventType"`
	Operation string           `json:"operation"`
	Type      string           `json:"type"`
	Start     nodeRef          `json:"start"`
	End       nodeRef          `json:"end"`
	Keys      []map[string]any `json:"keys"`
	State     state            `json:"state"`
}

// nodeRef is a relationship's start or end node.
type nodeRef struct {
	ElementID string                      `json:"elementId"`
	Labels    []string                    `json:"labels"`
	Keys      map[string][]map[string]any `json:"keys"`
}

// state holds before and after; a missing side is null.
type state struct {
	Before any `json:"before"`
	After  any `json:"after"`
}

// nodeState is a node's labels and properties.
type nodeState struct {
	Labels     []string       `json:"labels"`
	Properties map[string]any `json:"properties"`
}

// relationshipState is a relationship's properties.
type relationshipState struct {
	Properties map[string]any `json:"properties"`
}

// newRecord converts a change to the output line.
func newRecord(ch *cdcstreamv1.ChangeEvent) record {
	r := record{
		ID:       ch.GetCursor().GetId(),
		TxID:     ch.GetTxId(),
		Seq:      ch.GetSeq(),
		Metadata: metadataMap(ch.GetMetadata()),
		Database: ch.GetCursor().GetDatabase(),
	}
	switch ev := ch.GetEvent().(type) {
	case *cdcstreamv1.ChangeEvent_Node:
		n := ev.Node
		e := nodeEvent{
			ElementID: n.GetElementId(), EventType: "n", Operation: operation(n.GetOperation()),
			Labels: orEmpty(n.GetLabels()), Keys: labelKeys(n.GetKeys()),
		}
		if b := n.GetBefore(); b != nil {
			e.State.Before = nodeState{Labels: orEmpty(b.GetLabels()), Properties: valueMap(b.GetProperties())}
		}
		if a := n.GetAfter(); a != nil {
			e.State.After = nodeState{Labels: orEmpty(a.GetLabels()), Properties: valueMap(a.GetProperties())}
		}
		r.Event = e
	case *cdcstreamv1.ChangeEvent_Relationship:
		rel := ev.Relationship
		e := relationshipEvent{
			ElementID: rel.GetElementId(), EventType: "r", Operation: operation(rel.GetOperation()),
			Type: rel.GetType(), Start: newNodeRef(rel.GetStart()), End: newNodeRef(rel.GetEnd()),
			Keys: entityKeys(rel.GetKeys()),
		}
		if b := rel.GetBefore(); b != nil {
			e.State.Before = relationshipState{Properties: valueMap(b.GetProperties())}
		}
		if a := rel.GetAfter(); a != nil {
			e.State.After = relationshipState{Properties: valueMap(a.GetProperties())}
		}
		r.Event = e
	}
	return r
}

// newNodeRef converts a relationship end.
func newNodeRef(n *cdcstreamv1.NodeRef) nodeRef {
	return nodeRef{ElementID: n.GetElementId(), Labels: orEmpty(n.GetLabels()), Keys: labelKeys(n.GetKeys())}
}

// operation renders Neo4j's one-letter operation.
func operation(op cdcstreamv1.Operation) string {
	switch op {
	case cdcstreamv1.Operation_OPERATION_CREATE:
		return "c"
	case cdcstreamv1.Operation_OPERATION_UPDATE:
		return "u"
	case cdcstreamv1.Operation_OPERATION_DELETE:
		return "d"
	default:
		return ""
	}
}

// labelKeys renders label -> list of key maps; never nil, so it prints as {}.
func labelKeys(m map[string]*cdcstreamv1.LabelKeys) map[string][]map[string]any {
	out := make(map[string][]map[string]any, len(m))
	for label, lk := range m {
		out[label] = entityKeys(lk.GetKeys())
	}
	return out
}

// entityKeys renders a list of key maps; never nil, so it prints as [].
func entityKeys(keys []*cdcstreamv1.EntityKey) []map[string]any {
	out := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		out = append(out, valueMap(k.GetProperties()))
	}
	return out
}

// orEmpty returns s, or an empty slice so it prints as [].
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// metadataMap renders Neo4j's metadata map with its key names; keys this version does not know
// (additional_entries) are added unless they clash with a known one.
func metadataMap(m *cdcstreamv1.Metadata) map[string]any {
	out := map[string]any{
		"executingUser":     m.GetExecutingUser(),
		"authenticatedUser": m.GetAuthenticatedUser(),
		"connectionType":    m.GetConnectionType(),
		"connectionClient":  nullIfEmpty(m.GetConnectionClient()),
		"connectionServer":  nullIfEmpty(m.GetConnectionServer()),
		"serverId":          m.GetServerId(),
		"databaseName":      m.GetDatabaseName(),
		"txStartTime":       nil,
		"txCommitTime":      nil,
		"txMetadata":        valueMap(m.GetTxMetadata()),
	}
	switch m.GetCaptureMode() {
	case cdcstreamv1.CaptureMode_CAPTURE_MODE_DIFF:
		out["captureMode"] = "DIFF"
	case cdcstreamv1.CaptureMode_CAPTURE_MODE_FULL:
		out["captureMode"] = "FULL"
	}
	if t := m.GetTxStartTime(); t != nil {
		out["txStartTime"] = formatTimestamp(t.AsTime())
	}
	if t := m.GetTxCommitTime(); t != nil {
		out["txCommitTime"] = formatTimestamp(t.AsTime())
	}
	for k, v := range m.GetAdditionalEntries() {
		if _, known := out[k]; !known {
			out[k] = value(v)
		}
	}
	return out
}

// nullIfEmpty renders "" as null (Neo4j records no address for some connections).
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
