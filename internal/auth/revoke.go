package auth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/cdcstream/cdcstream/server"
)

// openStream is a stream that authenticated with a token and has not ended: Reload ends it
// when its token is gone or no longer grants its database.
type openStream struct {
	// name and hash identify the token the stream authenticated with: a token replaced under
	// the same name (a rotated secret) is gone too.
	name string
	hash [sha256.Size]byte
	// cancel ends the stream's context with the revocation as its cause.
	cancel context.CancelCauseFunc
	// mu guards database.
	mu sync.Mutex
	// database is the database the service admitted the stream for (set by Admission); empty
	// before admission.
	database string
}

// openStreamKey is the context key of a stream's *openStream.
type openStreamKey struct{}

// setDatabase records the database the service admitted the stream's call for.
func (o *openStream) setDatabase(database string) {
	o.mu.Lock()
	o.database = database
	o.mu.Unlock()
}

// revokedBy returns the error that ends the stream under t, or nil when t still admits it.
func (o *openStream) revokedBy(t *Tokens) error {
	e, ok := t.byName(o.name)
	if !ok || e.hash != o.hash {
		return fmt.Errorf("%w: token %s was revoked", server.ErrUnauthenticated, o.name)
	}
	o.mu.Lock()
	database := o.database
	o.mu.Unlock()
	if database != "" && !e.allows(database) {
		return fmt.Errorf("%w: token %s may no longer read database %s", server.ErrPermissionDenied, o.name, database)
	}
	return nil
}

// byName finds the entry named name.
func (t *Tokens) byName(name string) (*entry, bool) {
	for i := range t.entries {
		if t.entries[i].name == name {
			return &t.entries[i], true
		}
	}
	return nil, false
}

// register records a stream of principal p whose context cancel ends, and returns ctx with
// the registration; release deregisters it. It fails when p's token was revoked since the
// stream authenticated (a Reload between the two), so that no stream escapes a Reload.
func (s *Store) register(ctx context.Context, p principal, cancel context.CancelCauseFunc) (context.Context, func(), error) {
	o := &openStream{name: p.name, hash: p.entry.hash, cancel: cancel}
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	if err := o.revokedBy(s.tokens.Load()); err != nil {
		return nil, nil, err
	}
	if s.streams == nil {
		s.streams = map[*openStream]struct{}{}
	}
	s.streams[o] = struct{}{}
	return context.WithValue(ctx, openStreamKey{}, o), func() {
		s.streamsMu.Lock()
		delete(s.streams, o)
		s.streamsMu.Unlock()
	}, nil
}

// install puts t in force and ends the open streams it no longer admits: those whose token is
// gone or has another secret end with UNAUTHENTICATED, those whose database it no longer
// grants with PERMISSION_DENIED. It returns how many it ended.
func (s *Store) install(t *Tokens) int {
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	s.tokens.Store(t)
	ended := 0
	for o := range s.streams {
		if err := o.revokedBy(t); err != nil {
			o.cancel(err)
			delete(s.streams, o)
			ended++
		}
	}
	return ended
}

// OpenStreams is the number of open streams authenticated by a token of this Store.
func (s *Store) OpenStreams() int {
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	return len(s.streams)
}
