package testkit

import (
	"fmt"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// DB is the database of every cursor and message the kit builds.
const DB = "neo4j"

// CursorID is the kit's one cursor syntax: "c-<tx>-<seq>", the cursor of change (tx, seq).
// Real cursors are opaque; a readable one lets a test see which change a client resumed after.
func CursorID(tx, seq int64) string { return fmt.Sprintf("c-%d-%d", tx, seq) }

// Cursor returns the cursor id in database DB.
func Cursor(id string) *cdcstreamv1.Cursor { return &cdcstreamv1.Cursor{Id: id, Database: DB} }

// Change returns the change message of a node create at (tx, seq), cursor CursorID(tx, seq).
func Change(tx, seq int64) *cdcstreamv1.SubscribeResponse {
	return ChangeMsg(&cdcstreamv1.ChangeEvent{
		Cursor: Cursor(CursorID(tx, seq)), TxId: tx, Seq: seq,
		Event: &cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
			ElementId: fmt.Sprintf("4:db:%d", tx), Operation: cdcstreamv1.Operation_OPERATION_CREATE,
		}},
	})
}

// ChangeMsg wraps ev in a SubscribeResponse.
func ChangeMsg(ev *cdcstreamv1.ChangeEvent) *cdcstreamv1.SubscribeResponse {
	return &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Change{Change: ev}}
}

// Checkpoint returns a checkpoint message at cursor id in database DB.
func Checkpoint(id string) *cdcstreamv1.SubscribeResponse {
	return &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Checkpoint{
		Checkpoint: &cdcstreamv1.Checkpoint{Cursor: Cursor(id)},
	}}
}
