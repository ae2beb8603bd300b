package server

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// SubscribeSend runs Subscribe with send in place of the stream, for unit tests without gRPC.
func (s *Server) SubscribeSend(ctx context.Context, req *cdcstreamv1.SubscribeRequest, send func(*cdcstreamv1.SubscribeResponse) error) error {
	return s.subscribe(ctx, req, func(m any) error {
		switch m := m.(type) {
		case *cdcstreamv1.SubscribeResponse:
			return send(m)
		case *encodedMsg:
			msg := &cdcstreamv1.SubscribeResponse{}
			if err := proto.Unmarshal(m.data, msg); err != nil {
				return err
			}
			return send(msg)
		default:
			return fmt.Errorf("send: unexpected message %T", m)
		}
	}, true)
}
