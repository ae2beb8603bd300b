package server

import (
	"context"
	"math/rand/v2"
	"time"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// sender is the only caller of the stream's Send for one subscription. It sends the changes
// the poller hands over, and a Checkpoint when nothing was sent for the checkpoint interval.
type sender struct {
	// send writes one message to the client: a *cdcstreamv1.SubscribeResponse, or an
	// *encodedMsg when encoded is set (stream.SendMsg, or a recorder in tests).
	send func(any) error
	// encoded says the stream's codec sends *encodedMsg as they are (canSendEncoded).
	encoded  bool
	clock    Clock
	obs      Observer
	database string
	interval time.Duration
	// shutdown is closed when the server shuts down: send a final checkpoint and end.
	shutdown <-chan struct{}
	// maxAge, when positive, rotates the stream after about that long: a final checkpoint,
	// then errStreamRotated (WithMaxStreamAge).
	maxAge time.Duration
	// maxMessage is the largest message sent whole; larger changes go out as fragments
	// (changeMessages, WithMaxMessageBytes).
	maxMessage int
	// pos records the last change sent; head is the database's prober, which knows the
	// oldest retained change. Together they give the checkpoints' retention headroom
	// (headroom.go); either nil leaves it unset.
	pos  *streamPos
	head *headProber
}

// jittered returns d scaled by a random factor in [0.9, 1.1), so that many streams opened
// together do not send their checkpoints in lock step.
func jittered(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}

// run sends until ctx ends, the poller reports an error, a send fails or the server shuts
// down; it always returns a non-nil error. newest is the start cursor id; initial says to
// send a checkpoint with it at once (the start came from a named position, which the client
// does not know yet). A client's cursor is unverified until the poller's first result (a
// successful poll): until then no Checkpoint certifies it, so a forged cursor never comes
// back signed by the server.
func (s *sender) run(ctx context.Context, in <-chan pollResult, newest string, initial bool) error {
	verified := initial
	if initial {
		if err := s.checkpoint(newest); err != nil {
			return err
		}
	}
	timer := s.clock.NewTimer(jittered(s.interval))
	defer func() { timer.Stop() }()
	// rotate fires once the stream reached its maximum age; nil (never) without one.
	var rotate <-chan time.Time
	if s.maxAge > 0 {
		age := s.clock.NewTimer(jittered(s.maxAge))
		defer age.Stop()
		rotate = age.C()
	}
	rearm := func() {
		timer.Stop()
		timer = s.clock.NewTimer(jittered(s.interval))
	}
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-s.shutdown:
			return s.final(newest, verified, errShuttingDown)
		case <-rotate:
			return s.final(newest, verified, errStreamRotated)
		case r := <-in:
			if r.err != nil {
				return r.err
			}
			verified = true
			err := s.sendChanges(r.changes)
			if r.release != nil {
				r.release()
			}
			if err != nil {
				return err
			}
			newest = r.position
			if len(r.changes) > 0 {
				rearm()
			}
			s.obs.BatchSent(s.database)
		case <-timer.C():
			if verified {
				if err := s.checkpoint(newest); err != nil {
					return err
				}
			}
			rearm()
		}
	}
}

// sendChanges sends each change, as its encoded messages when the stream can take them.
func (s *sender) sendChanges(changes []change) error {
	for _, c := range changes {
		if c.end != nil {
			if err := s.send(&cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_TransactionEnd{TransactionEnd: c.end}}); err != nil {
				return err
			}
			continue
		}
		if s.encoded && c.enc != nil {
			for _, data := range c.enc {
				if err := s.send(&encodedMsg{data: data}); err != nil {
					return err
				}
			}
		} else {
			for _, msg := range changeMessages(c.ev, s.maxMessage) {
				if err := s.send(msg); err != nil {
					return err
				}
			}
		}
		var commit time.Time
		if ts := c.ev.GetMetadata().GetTxCommitTime(); ts != nil {
			commit = ts.AsTime()
		}
		if s.pos != nil {
			s.pos.record(c.ev.GetTxId(), commit)
		}
		s.obs.ChangeSent(s.database, commit)
	}
	return nil
}

// final ends the stream on the server's initiative (shutdown, rotation): a last Checkpoint
// at the newest cursor, so the client resumes exactly there, then end. An unverified cursor
// gets none: the client still holds it and resumes from it.
func (s *sender) final(newest string, verified bool, end error) error {
	if !verified {
		return end
	}
	if err := s.checkpoint(newest); err != nil {
		return err
	}
	return end
}

// checkpoint sends a Checkpoint at cursor id, with the stream's retention headroom when it
// is known.
func (s *sender) checkpoint(id string) error {
	cp := &cdcstreamv1.Checkpoint{
		Cursor:     &cdcstreamv1.Cursor{Id: id, Database: s.database},
		ServerTime: timestamppb.New(s.clock.Now()),
	}
	if s.pos != nil && s.head != nil {
		if r, ok := s.head.oldest(); ok {
			if tx, _, ok := s.pos.headroom(r); ok {
				cp.RetentionHeadroomTransactions = &tx
			}
		}
	}
	msg := &cdcstreamv1.SubscribeResponse{Message: &cdcstreamv1.SubscribeResponse_Checkpoint{Checkpoint: cp}}
	if err := s.send(msg); err != nil {
		return err
	}
	s.obs.CheckpointSent(s.database)
	return nil
}
