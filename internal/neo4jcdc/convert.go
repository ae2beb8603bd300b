package neo4jcdc

import (
	"fmt"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"google.golang.org/protobuf/types/known/timestamppb"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// This file is the one place where a db.cdc.query row becomes a *cdcstreamv1.ChangeEvent
// (row columns and metadata keys: docs/architecture.md section 3). Malformed rows are errors
// (the server reports them as INTERNAL); nothing here panics on bad input.

// recordColumns are the columns the poll statement returns, in order.
var recordColumns = [...]string{"id", "txId", "seq", "metadata", "event"}

// changeFromRecord converts one row of the poll statement.
func changeFromRecord(database string, rec *neo4j.Record) (*cdcstreamv1.ChangeEvent, error) {
	var cols [len(recordColumns)]any
	for i, name := range recordColumns {
		v, ok := rec.Get(name)
		if !ok {
			return nil, fmt.Errorf("change record has no %q column", name)
		}
		cols[i] = v
	}
	return changeEvent(database, cols[0], cols[1], cols[2], cols[3], cols[4])
}

// changeEvent converts the five values of one change record.
func changeEvent(database string, id, txID, seq, metadata, event any) (*cdcstreamv1.ChangeEvent, error) {
	idStr, ok := id.(string)
	if !ok || idStr == "" {
		return nil, fmt.Errorf("change record: id is %T %v, want a non-empty string", id, id)
	}
	tx, ok := txID.(int64)
	if !ok {
		return nil, fmt.Errorf("change record %s: txId is %T, want an integer", idStr, txID)
	}
	sq, ok := seq.(int64)
	if !ok {
		return nil, fmt.Errorf("change record %s: seq is %T, want an integer", idStr, seq)
	}
	md, err := metadataOf(metadata)
	if err != nil {
		return nil, fmt.Errorf("change record %s: metadata: %w", idStr, err)
	}
	ce := &cdcstreamv1.ChangeEvent{
		Cursor:   &cdcstreamv1.Cursor{Id: idStr, Database: database},
		TxId:     tx,
		Seq:      sq,
		Metadata: md,
	}
	if err := setEvent(ce, event); err != nil {
		return nil, fmt.Errorf("change record %s: event: %w", idStr, err)
	}
	return ce, nil
}

// metadataOf converts the metadata map: the 11 keys Neo4j documents go into their fields,
// every other key (and a captureMode this version does not know) into additional_entries.
func metadataOf(v any) (*cdcstreamv1.Metadata, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("is %T, want a map", v)
	}
	md := &cdcstreamv1.Metadata{}
	for k, e := range m {
		var err error
		switch k {
		case "executingUser":
			md.ExecutingUser, err = optString(e)
		case "authenticatedUser":
			md.AuthenticatedUser, err = optString(e)
		case "connectionType":
			md.ConnectionType, err = optString(e)
		case "connectionClient":
			md.ConnectionClient, err = optString(e)
		case "connectionServer":
			md.ConnectionServer, err = optString(e)
		case "serverId":
			md.ServerId, err = optString(e)
		case "databaseName":
			md.DatabaseName, err = optString(e)
		case "captureMode":
			err = setCaptureMode(md, e)
		case "txStartTime":
			md.TxStartTime, err = optTimestamp(e)
		case "txCommitTime":
			md.TxCommitTime, err = optTimestamp(e)
		case "txMetadata":
			md.TxMetadata, err = optValueMap(e)
		default:
			err = addEntry(md, k, e)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	return md, nil
}

// setCaptureMode maps "DIFF"/"FULL"; any other mode stays UNSPECIFIED and is kept verbatim
// in additional_entries, as the contract promises.
func setCaptureMode(md *cdcstreamv1.Metadata, v any) error {
	switch v {
	case "DIFF":
		md.CaptureMode = cdcstreamv1.CaptureMode_CAPTURE_MODE_DIFF
	case "FULL":
		md.CaptureMode = cdcstreamv1.CaptureMode_CAPTURE_MODE_FULL
	case nil:
	default:
		return addEntry(md, "captureMode", v)
	}
	return nil
}

// addEntry keeps one metadata entry this version does not know.
func addEntry(md *cdcstreamv1.Metadata, k string, v any) error {
	pv, err := toValue(v)
	if err != nil {
		return err
	}
	if md.AdditionalEntries == nil {
		md.AdditionalEntries = map[string]*cdcstreamv1.Value{}
	}
	md.AdditionalEntries[k] = pv
	return nil
}

// setEvent converts the event map into the change's node or relationship event.
func setEvent(ce *cdcstreamv1.ChangeEvent, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("is %T, want a map", v)
	}
	elementID, err := reqString(m, "elementId")
	if err != nil {
		return err
	}
	op, err := operationOf(m["operation"])
	if err != nil {
		return err
	}
	before, after, err := statesOf(m["state"])
	if err != nil {
		return err
	}
	switch t := m["eventType"]; t {
	case "n":
		ne := &cdcstreamv1.NodeEvent{ElementId: elementID, Operation: op}
		if ne.Labels, err = stringList(m["labels"]); err != nil {
			return fmt.Errorf("labels: %w", err)
		}
		if ne.Keys, err = nodeKeys(m["keys"]); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		if ne.Before, err = nodeState(before); err != nil {
			return fmt.Errorf("state.before: %w", err)
		}
		if ne.After, err = nodeState(after); err != nil {
			return fmt.Errorf("state.after: %w", err)
		}
		ce.Event = &cdcstreamv1.ChangeEvent_Node{Node: ne}
	case "r":
		re := &cdcstreamv1.RelationshipEvent{ElementId: elementID, Operation: op}
		if re.Type, err = reqString(m, "type"); err != nil {
			return err
		}
		if re.Start, err = nodeRef(m["start"]); err != nil {
			return fmt.Errorf("start: %w", err)
		}
		if re.End, err = nodeRef(m["end"]); err != nil {
			return fmt.Errorf("end: %w", err)
		}
		if re.Keys, err = relationshipKeys(m); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		if re.Before, err = relationshipState(before); err != nil {
			return fmt.Errorf("state.before: %w", err)
		}
		if re.After, err = relationshipState(after); err != nil {
			return fmt.Errorf("state.after: %w", err)
		}
		ce.Event = &cdcstreamv1.ChangeEvent_Relationship{Relationship: re}
	default:
		return fmt.Errorf("eventType %v, want \"n\" or \"r\"", t)
	}
	return nil
}

// operationOf maps Neo4j's "c"/"u"/"d".
func operationOf(v any) (cdcstreamv1.Operation, error) {
	switch v {
	case "c":
		return cdcstreamv1.Operation_OPERATION_CREATE, nil
	case "u":
		return cdcstreamv1.Operation_OPERATION_UPDATE, nil
	case "d":
		return cdcstreamv1.Operation_OPERATION_DELETE, nil
	default:
		return 0, fmt.Errorf("operation %v, want \"c\", \"u\" or \"d\"", v)
	}
}

// statesOf splits event.state into before and after (each a map or nil). A missing state is
// tolerated as both absent.
func statesOf(v any) (before, after map[string]any, err error) {
	if v == nil {
		return nil, nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("state is %T, want a map", v)
	}
	if before, err = optMap(m["before"]); err != nil {
		return nil, nil, fmt.Errorf("state.before: %w", err)
	}
	if after, err = optMap(m["after"]); err != nil {
		return nil, nil, fmt.Errorf("state.after: %w", err)
	}
	return before, after, nil
}

// nodeState converts {labels, properties}; nil (Neo4j null) becomes an absent state.
func nodeState(m map[string]any) (*cdcstreamv1.NodeState, error) {
	if m == nil {
		return nil, nil
	}
	labels, err := stringList(m["labels"])
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	props, err := optValueMap(m["properties"])
	if err != nil {
		return nil, fmt.Errorf("properties: %w", err)
	}
	return &cdcstreamv1.NodeState{Labels: labels, Properties: props}, nil
}

// relationshipState converts {properties}; nil becomes an absent state.
func relationshipState(m map[string]any) (*cdcstreamv1.RelationshipState, error) {
	if m == nil {
		return nil, nil
	}
	props, err := optValueMap(m["properties"])
	if err != nil {
		return nil, fmt.Errorf("properties: %w", err)
	}
	return &cdcstreamv1.RelationshipState{Properties: props}, nil
}

// nodeRef converts a relationship's start or end node.
func nodeRef(v any) (*cdcstreamv1.NodeRef, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("is %T, want a map", v)
	}
	id, err := reqString(m, "elementId")
	if err != nil {
		return nil, err
	}
	ref := &cdcstreamv1.NodeRef{ElementId: id}
	if ref.Labels, err = stringList(m["labels"]); err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	if ref.Keys, err = nodeKeys(m["keys"]); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return ref, nil
}

// reqString reads a mandatory non-empty string entry.
func reqString(m map[string]any, key string) (string, error) {
	s, ok := m[key].(string)
	if !ok || s == "" {
		return "", fmt.Errorf("%s is %T %v, want a non-empty string", key, m[key], m[key])
	}
	return s, nil
}

// optString reads an optional string: nil becomes "".
func optString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	default:
		return "", fmt.Errorf("is %T, want a string", v)
	}
}

// optMap reads an optional map: nil stays nil.
func optMap(v any) (map[string]any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return x, nil
	default:
		return nil, fmt.Errorf("is %T, want a map", v)
	}
}

// optValueMap converts an optional map of values; nil and empty become nil.
func optValueMap(v any) (map[string]*cdcstreamv1.Value, error) {
	m, err := optMap(v)
	if err != nil || len(m) == 0 {
		return nil, err
	}
	return toValueMap(m)
}

// optTimestamp converts an optional DateTime into a Timestamp.
func optTimestamp(v any) (*timestamppb.Timestamp, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case time.Time:
		return timestamppb.New(x), nil
	default:
		return nil, fmt.Errorf("is %T, want a DateTime", v)
	}
}

// stringList converts a list of strings; nil and empty become nil.
func stringList(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("is %T, want a list of strings", v)
	}
	if len(l) == 0 {
		return nil, nil
	}
	out := make([]string, len(l))
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("element %d is %T, want a string", i, e)
		}
		out[i] = s
	}
	return out, nil
}
