package client_test

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cdcstream/cdcstream/client"
	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// exampleServer is a tiny in-process ChangeStreamService: it sends three node creates after
// the requested cursor and a checkpoint, then keeps the stream open.
type exampleServer struct {
	cdcstreamv1.UnimplementedChangeStreamServiceServer
}

// Subscribe sends the scripted changes.
func (exampleServer) Subscribe(req *cdcstreamv1.SubscribeRequest, stream cdcstreamv1.ChangeStreamService_SubscribeServer) error {
	for tx := int64(1); tx <= 3; tx++ {
		id := fmt.Sprintf("change-%d", tx)
		err := stream.Send(&cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Change{
			Change: &cdcstreamv1.ChangeEvent{
				Cursor: &cdcstreamv1.Cursor{Id: id, Database: req.GetDatabase()},
				TxId:   tx,
				Event: &cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
					ElementId: fmt.Sprintf("4:example:%d", tx),
					Operation: cdcstreamv1.Operation_OPERATION_CREATE,
					Labels:    []string{"Person"},
				}},
			},
		}})
		if err != nil {
			return err
		}
	}
	err := stream.Send(&cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Checkpoint{
		Checkpoint: &cdcstreamv1.Checkpoint{Cursor: &cdcstreamv1.Cursor{Id: "change-3", Database: req.GetDatabase()}},
	}})
	if err != nil {
		return err
	}
	<-stream.Context().Done()
	return stream.Context().Err()
}

// Example subscribes to a database from a stored cursor and prints its changes and checkpoints.
func Example() {
	// An in-process server on loopback stands in for cdcstreamd.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := grpc.NewServer()
	cdcstreamv1.RegisterChangeStreamServiceServer(srv, exampleServer{})
	go srv.Serve(lis)
	defer srv.Stop()

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	ctx := context.Background()
	sub := client.New(conn).Subscribe(ctx, &cdcstreamv1.SubscribeRequest{
		Database: "neo4j",
		Start:    &cdcstreamv1.SubscribeRequest_FromCursor{FromCursor: &cdcstreamv1.Cursor{Id: "change-0", Database: "neo4j"}},
	})
	defer sub.Close()
	for sub.Receive() {
		msg := sub.Msg()
		if ch := msg.GetChange(); ch != nil {
			node := ch.GetNode()
			fmt.Println("tx", ch.GetTxId(), node.GetOperation(), node.GetElementId(), node.GetLabels())
		}
		if cp := msg.GetCheckpoint(); cp != nil {
			fmt.Println("checkpoint", cp.GetCursor().GetId())
			break
		}
	}
	if err := sub.Err(); err != nil {
		fmt.Println("error:", err)
	}
	fmt.Println("resume after", sub.Cursor().GetId())
	// Output:
	// tx 1 OPERATION_CREATE 4:example:1 [Person]
	// tx 2 OPERATION_CREATE 4:example:2 [Person]
	// tx 3 OPERATION_CREATE 4:example:3 [Person]
	// checkpoint change-3
	// resume after change-3
}
