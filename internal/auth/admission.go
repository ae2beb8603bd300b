package auth

import (
	"context"
	"fmt"
	"sync"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
)

// Admission returns the function the service consults (server.WithAdmission) for every
// validated call: the call's principal (set by the interceptors) must be granted the database
// the server will read, else PERMISSION_DENIED; a Subscribe stream then takes one of the
// token's slots (WithMaxSubscriptionsPerToken), else RESOURCE_EXHAUSTED with the same status
// shape as the server's own limit. A call without a principal (the interceptors are not
// installed, or the method is open) is refused with UNAUTHENTICATED: a server configured with
// tokens never serves an unauthenticated read. Options other than the limit and the logger
// are ignored.
func (s *Store) Admission(opts ...Option) server.Admission {
	a := &admission{opts: newOptions(opts), open: map[string]int{}}
	return a.admit
}

// admission is the state behind Store.Admission.
type admission struct {
	opts options
	// mu guards open.
	mu sync.Mutex
	// open counts the open Subscribe streams per token name (entries at 0 are deleted).
	open map[string]int
}

func (a *admission) admit(ctx context.Context, req server.AdmissionRequest) (func(), error) {
	p, ok := ctx.Value(principalKey{}).(principal)
	if !ok {
		return nil, fmt.Errorf("%w: the call is not authenticated", server.ErrUnauthenticated)
	}
	if !p.entry.allows(req.Database) {
		refuse(ctx, a.opts.logger, req.Method, p.name, "database not granted")
		return nil, fmt.Errorf("%w: token %s may not read database %s", server.ErrPermissionDenied, p.name, req.Database)
	}
	if req.Method != cdcstreamv1.ChangeStreamService_Subscribe_FullMethodName || a.opts.maxPerToken == 0 {
		return nil, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.open[p.name] >= a.opts.maxPerToken {
		a.opts.logger.Debug("subscription refused", "token_name", p.name, "limit", a.opts.maxPerToken)
		return nil, fmt.Errorf("%w for token %s (limit %d)", server.ErrTooManySubscriptions, p.name, a.opts.maxPerToken)
	}
	a.open[p.name]++
	var once sync.Once
	return func() { once.Do(func() { a.release(p.name) }) }, nil
}

func (a *admission) release(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.open[name]--; a.open[name] <= 0 {
		delete(a.open, name)
	}
}
