package servertest

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
	"github.com/cdcstream/cdcstream/server"
	"google.golang.org/protobuf/proto"
)

// Method names a Source method, for scripting failures and counting calls.
type Method string

// The Source methods.
const (
	MethodPoll     Method = "Poll"
	MethodCurrent  Method = "Current"
	MethodEarliest Method = "Earliest"
	MethodPing     Method = "Ping"
)

// PollCall records the arguments of one Poll.
type PollCall struct {
	Database  string
	From      string
	Selectors []*cdcstreamv1.Selector
	Limit     int
}

// FakeSource is a scriptable in-memory server.Source. The zero value is not usable; call
// NewFakeSource.
type FakeSource struct {
	// mu protects every field below.
	mu  sync.Mutex
	dbs map[string]*fakeDB
	// calls counts calls per method, including failed ones.
	calls map[Method]int
	polls []PollCall
	// failNext holds errors returned by the next calls of a method, in order.
	failNext map[Method][]error
	// fail holds an error returned by every call of a method until cleared.
	fail map[Method]error
	// changed is closed (and replaced) on every call and every change of the log.
	changed chan struct{}
	// hook, when set, runs at the start of every call (after it is recorded).
	hook func(ctx context.Context, m Method) error
	// pollFunc, when set, answers Poll instead of the log.
	pollFunc func(ctx context.Context, call PollCall) (server.Batch, error)
}

// fakeDB is one database's change log.
type fakeDB struct {
	head     int
	earliest int
	disabled bool
	// events maps a position to its change; positions without an entry are gaps.
	events map[int]*cdcstreamv1.ChangeEvent
}

var _ server.Source = (*FakeSource)(nil)

// NewFakeSource returns a source with the given databases, each with an empty log.
func NewFakeSource(databases ...string) *FakeSource {
	f := &FakeSource{dbs: make(map[string]*fakeDB), calls: make(map[Method]int),
		failNext: make(map[Method][]error), fail: make(map[Method]error), changed: make(chan struct{})}
	for _, db := range databases {
		f.dbs[db] = &fakeDB{events: make(map[int]*cdcstreamv1.ChangeEvent)}
	}
	return f
}

// ID returns the change id of position pos in database.
func ID(database string, pos int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(database + "/" + strconv.Itoa(pos)))
}

// parseID decodes an id made by ID.
func parseID(id string) (database string, pos int, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return "", 0, false
	}
	db, p, found := strings.Cut(string(b), "/")
	if !found {
		return "", 0, false
	}
	pos, err = strconv.Atoi(p)
	if err != nil || pos < 0 {
		return "", 0, false
	}
	return db, pos, true
}

func (f *FakeSource) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// enter records a call and returns the scripted error for it, if any.
func (f *FakeSource) enterLocked(m Method) error {
	f.calls[m]++
	f.notifyLocked()
	if errs := f.failNext[m]; len(errs) > 0 {
		f.failNext[m] = errs[1:]
		return errs[0]
	}
	return f.fail[m]
}

func (f *FakeSource) dbLocked(database string) (*fakeDB, error) {
	d, ok := f.dbs[database]
	if !ok {
		return nil, fmt.Errorf("fake: %w: %s", server.ErrDatabaseNotFound, database)
	}
	if d.disabled {
		return nil, fmt.Errorf("fake: %w: %s", server.ErrCDCDisabled, database)
	}
	return d, nil
}

// Poll implements server.Source: the changes after from up to the head, at most limit.
func (f *FakeSource) Poll(ctx context.Context, req server.PollRequest) (server.Batch, error) {
	database, from, selectors, limit := req.Database, req.From, req.Selectors, req.Limit
	f.mu.Lock()
	call := PollCall{Database: database, From: from, Selectors: selectors, Limit: limit}
	f.polls = append(f.polls, call)
	err := f.enterLocked(MethodPoll)
	hook, pollFunc := f.hook, f.pollFunc
	f.mu.Unlock()
	if err == nil && hook != nil {
		err = hook(ctx, MethodPoll)
	}
	if err != nil {
		return server.Batch{}, err
	}
	if err := ctx.Err(); err != nil {
		return server.Batch{}, fmt.Errorf("fake: %w: %w", server.ErrNeo4jUnavailable, err)
	}
	if pollFunc != nil {
		return pollFunc(ctx, call)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.dbLocked(database)
	if err != nil {
		return server.Batch{}, err
	}
	idDB, pos, ok := parseID(from)
	switch {
	case !ok || idDB != database:
		return server.Batch{}, fmt.Errorf("fake: %w: %q", server.ErrInvalidCursor, from)
	case pos < d.earliest:
		return server.Batch{}, fmt.Errorf("fake: %w: %q", server.ErrCursorExpired, from)
	case pos > d.head:
		return server.Batch{}, fmt.Errorf("fake: %w: %q", server.ErrFutureCursor, from)
	}
	b := server.Batch{Current: ID(database, d.head)}
	for p := pos + 1; p <= d.head && len(b.Changes) < limit; p++ {
		if ev, ok := d.events[p]; ok {
			b.Changes = append(b.Changes, proto.Clone(ev).(*cdcstreamv1.ChangeEvent))
		}
	}
	return b, nil
}

// Current implements server.Source: the id of the head position.
func (f *FakeSource) Current(ctx context.Context, database string) (string, error) {
	return f.position(ctx, MethodCurrent, database, func(d *fakeDB) int { return d.head })
}

// Earliest implements server.Source: the id of the earliest retained position.
func (f *FakeSource) Earliest(ctx context.Context, database string) (string, error) {
	return f.position(ctx, MethodEarliest, database, func(d *fakeDB) int { return d.earliest })
}

func (f *FakeSource) position(ctx context.Context, m Method, database string, pos func(*fakeDB) int) (string, error) {
	if err := f.enter(ctx, m); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("fake: %w: %w", server.ErrNeo4jUnavailable, err)
	}
	d, err := f.dbLocked(database)
	if err != nil {
		return "", err
	}
	return ID(database, pos(d)), nil
}

// Ping implements server.Source.
func (f *FakeSource) Ping(ctx context.Context) error {
	if err := f.enter(ctx, MethodPing); err != nil {
		return err
	}
	return ctx.Err()
}

// enter records a call, then returns its scripted error or runs the hook.
func (f *FakeSource) enter(ctx context.Context, m Method) error {
	f.mu.Lock()
	err, hook := f.enterLocked(m), f.hook
	f.mu.Unlock()
	if err == nil && hook != nil {
		err = hook(ctx, m)
	}
	return err
}

// SetHook runs fn at the start of every call, after the call is recorded and unless a
// scripted error answers it; a non-nil result is the call's error. fn may block (honouring
// ctx) to model a slow Neo4j. nil removes the hook.
func (f *FakeSource) SetHook(fn func(ctx context.Context, m Method) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = fn
}

// Append commits events to database, one position each, and returns their ids. It sets each
// event's cursor and, when zero, its tx_id (to the position).
func (f *FakeSource) Append(database string, events ...*cdcstreamv1.ChangeEvent) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.dbs[database]
	if d == nil {
		d = &fakeDB{events: make(map[int]*cdcstreamv1.ChangeEvent)}
		f.dbs[database] = d
	}
	ids := make([]string, 0, len(events))
	for _, ev := range events {
		d.head++
		id := ID(database, d.head)
		ev.Cursor = &cdcstreamv1.Cursor{Id: id, Database: database}
		if ev.TxId == 0 {
			ev.TxId = int64(d.head)
		}
		d.events[d.head] = ev
		ids = append(ids, id)
	}
	f.notifyLocked()
	return ids
}

// Commit appends n node-creation changes to database and returns their ids.
func (f *FakeSource) Commit(database string, n int) []string {
	return f.Append(database, NodeEvents(n, 0)...)
}

// NodeEvents returns n node-creation changes, each with a string property of payload bytes.
func NodeEvents(n, payload int) []*cdcstreamv1.ChangeEvent {
	evs := make([]*cdcstreamv1.ChangeEvent, n)
	for i := range evs {
		props := map[string]*cdcstreamv1.Value{}
		if payload > 0 {
			props["payload"] = &cdcstreamv1.Value{Kind: &cdcstreamv1.Value_StringValue{StringValue: strings.Repeat("x", payload)}}
		}
		evs[i] = &cdcstreamv1.ChangeEvent{Event: &cdcstreamv1.ChangeEvent_Node{Node: &cdcstreamv1.NodeEvent{
			ElementId: "4:fake:" + strconv.Itoa(i),
			Operation: cdcstreamv1.Operation_OPERATION_CREATE,
			Labels:    []string{"Fake"},
			After:     &cdcstreamv1.NodeState{Labels: []string{"Fake"}, Properties: props},
		}}}
	}
	return evs
}

// Skip moves database's head by n positions without visible changes (transactions that no
// selector matches) and returns the new head id.
func (f *FakeSource) Skip(database string, n int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.dbs[database]
	d.head += n
	f.notifyLocked()
	return ID(database, d.head)
}

// Prune makes positions before pos unavailable: polling from an id before pos fails with
// ErrCursorExpired, and Earliest returns pos's id.
func (f *FakeSource) Prune(database string, pos int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dbs[database].earliest = pos
	f.notifyLocked()
}

// SetCDCDisabled switches CDC off (every call fails with ErrCDCDisabled) or back on.
func (f *FakeSource) SetCDCDisabled(database string, disabled bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dbs[database].disabled = disabled
}

// FailNext makes the next calls of m return errs, one each, in order.
func (f *FakeSource) FailNext(m Method, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext[m] = append(f.failNext[m], errs...)
}

// SetError makes every call of m return err until SetError(m, nil).
func (f *FakeSource) SetError(m Method, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[m] = err
}

// SetPollFunc makes Poll answer with fn (after recording the call and scripted errors)
// instead of the log; nil restores the log.
func (f *FakeSource) SetPollFunc(fn func(ctx context.Context, call PollCall) (server.Batch, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pollFunc = fn
}

// Calls returns how many times m was called.
func (f *FakeSource) Calls(m Method) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[m]
}

// Polls returns the recorded Poll calls, oldest first.
func (f *FakeSource) Polls() []PollCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]PollCall(nil), f.polls...)
}

// WaitCalls blocks until m was called at least n times, or ctx ends.
func (f *FakeSource) WaitCalls(ctx context.Context, m Method, n int) error {
	for {
		f.mu.Lock()
		got, changed := f.calls[m], f.changed
		f.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d %s calls (have %d): %w", n, m, got, context.Cause(ctx))
		case <-changed:
		}
	}
}
