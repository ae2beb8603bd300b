package server

import (
	"context"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// SubscribeSend runs Subscribe with send in place of the stream, for unit tests without gRPC.
func (s *Server) SubscribeSend(ctx context.Context, req *cdcstreamv1.SubscribeRequest, send func(*cdcstreamv1.SubscribeResponse) error) error {
	return s.subscribe(ctx, req, send)
}
