package metrics

import (
	"strings"
	"sync"

	"google.golang.org/grpc"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// subscribeMethod is the method StreamInterceptor observes.
var subscribeMethod = cdcstreamv1.ChangeStreamService_Subscribe_FullMethodName

// StreamInterceptor observes Subscribe streams: the active gauge, messages sent and delivery
// lag. Put it outside any interceptor that sends messages of its own (internal/limits' final
// checkpoint), so those are counted too. Other methods pass through.
func (m *Metrics) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if info.FullMethod != subscribeMethod {
			return handler(srv, ss)
		}
		obs := &observedStream{ServerStream: ss, m: m}
		defer obs.end()
		return handler(srv, obs)
	}
}

// observedStream counts what goes through a Subscribe stream.
type observedStream struct {
	grpc.ServerStream
	m *Metrics
	// mu guards database: RecvMsg and SendMsg may run on different goroutines.
	mu sync.Mutex
	// database is the request's database, "" until the request arrived.
	database string
	// confirmed is set once a message was sent (the database exists).
	confirmed bool
}

func (s *observedStream) RecvMsg(msg any) error {
	if err := s.ServerStream.RecvMsg(msg); err != nil {
		return err
	}
	req, ok := msg.(*cdcstreamv1.SubscribeRequest)
	if !ok {
		return nil
	}
	db := req.GetDatabase()
	if db == "" {
		db = req.GetFromCursor().GetDatabase()
	}
	if db == "" {
		db = s.m.opts.defaultDatabase
	}
	db = strings.ToLower(db)
	s.mu.Lock()
	first := s.database == ""
	if first {
		s.database = db
	}
	s.mu.Unlock()
	if first {
		s.m.streamStarted(db)
	}
	return nil
}

func (s *observedStream) SendMsg(msg any) error {
	if err := s.ServerStream.SendMsg(msg); err != nil {
		return err
	}
	resp, ok := msg.(*cdcstreamv1.SubscribeResponse)
	if !ok {
		return nil
	}
	s.mu.Lock()
	confirm := !s.confirmed && s.database != ""
	s.confirmed = true
	db := s.database
	s.mu.Unlock()
	if confirm {
		s.m.confirm(db)
	}
	switch {
	case resp.GetChange() != nil:
		ch := resp.GetChange()
		db := s.labelFor(ch.GetCursor())
		s.m.changes.WithLabelValues(db).Inc()
		if ts := ch.GetMetadata().GetTxCommitTime(); ts != nil {
			lag := s.m.opts.now().Sub(ts.AsTime()).Seconds()
			s.m.lag.WithLabelValues(db).Observe(max(lag, 0))
		}
	case resp.GetCheckpoint() != nil:
		s.m.checkpoints.WithLabelValues(s.labelFor(resp.GetCheckpoint().GetCursor())).Inc()
	}
	return nil
}

// labelFor is the database label of a sent message: its cursor's database, else the
// request's.
func (s *observedStream) labelFor(c *cdcstreamv1.Cursor) string {
	if db := c.GetDatabase(); db != "" {
		return strings.ToLower(db)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.database != "" {
		return s.database
	}
	return s.m.opts.defaultDatabase
}

// end decrements the gauge if the stream was counted.
func (s *observedStream) end() {
	s.mu.Lock()
	db := s.database
	s.mu.Unlock()
	if db != "" {
		s.m.streamEnded(db)
	}
}
