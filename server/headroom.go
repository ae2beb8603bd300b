package server

import (
	"context"
	"sync"
	"time"
)

// retentionInterval is how often, at most, the shared head prober of a database reads the
// oldest change Neo4j retains (Source.Earliest, then one Source.Poll of Limit 1 from it), to
// measure the retention headroom of the database's streams (Checkpoint's
// retention_headroom_transactions, Observer.Headroom). Retention moves in minutes or more
// (log pruning), so one Earliest and one Poll every 30 s per database are enough and cost
// Neo4j little next to the head probes (one per poll interval).
const retentionInterval = 30 * time.Second

// retained describes the oldest change Neo4j retains in one database.
type retained struct {
	// txID and commit are the transaction id and commit time (zero when Neo4j reported
	// none) of the oldest retained change.
	txID   int64
	commit time.Time
}

// streamPos is the last change one stream sent, for its retention headroom. The sender
// writes it; the prober and the sender read it.
type streamPos struct {
	// mu protects every field below.
	mu sync.Mutex
	// txID and commit describe the last change sent; sent is false before the first.
	txID   int64
	commit time.Time
	sent   bool
}

// record notes a change sent with transaction id txID and commit time commit (zero when
// unknown).
func (s *streamPos) record(txID int64, commit time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.txID, s.commit, s.sent = txID, commit, true
}

// headroom returns the stream's headroom against r: transactions (its last change's tx_id
// minus the oldest retained one's) and age (their commit times' difference, zero when one
// is unknown); ok is false before the stream sent any change.
func (s *streamPos) headroom(r retained) (transactions int64, age time.Duration, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.sent {
		return 0, 0, false
	}
	if !s.commit.IsZero() && !r.commit.IsZero() {
		age = s.commit.Sub(r.commit)
	}
	return s.txID - r.txID, age, true
}

// track registers a stream's position with the prober, so that its headroom counts in the
// database's worst (Observer.Headroom); untrack removes it when the stream ends.
func (p *headProber) track(s *streamPos) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.streams == nil {
		p.streams = make(map[*streamPos]struct{})
	}
	p.streams[s] = struct{}{}
}

// untrack removes a position registered by track.
func (p *headProber) untrack(s *streamPos) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.streams, s)
}

// oldest returns the oldest retained change as last read, and whether one was read (false
// before the first read, after a failed one, and when the log held no change).
func (p *headProber) oldest() (retained, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.retained, p.retainedOK
}

// readRetained reads the oldest retained change when retentionInterval has passed since the
// last read (the first read comes one retentionInterval after the prober started: streams
// that come and go quickly cost no extra statement), then reports the worst headroom of the
// tracked streams. It runs on the prober's goroutine after a probe, never on a stream's path.
func (p *headProber) readRetained(ctx context.Context) {
	h := p.heads
	now := h.clock.Now()
	if now.Sub(p.retainedAt) < retentionInterval {
		p.reportHeadroom()
		return
	}
	p.retainedAt = now
	r, ok, err := p.fetchRetained(ctx)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		h.log.Warn("server: cannot read the oldest retained change", "database", p.database, "error", err)
	}
	p.mu.Lock()
	p.retained, p.retainedOK = r, ok
	p.mu.Unlock()
	p.reportHeadroom()
}

// fetchRetained runs Earliest and one Poll of Limit 1 from it, bounded by probeTimeout. ok
// is false when it failed or the log holds no change (nothing to fall out of).
func (p *headProber) fetchRetained(ctx context.Context) (r retained, ok bool, err error) {
	h := p.heads
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	from, err := h.src.Earliest(ctx, p.database)
	if err != nil {
		return retained{}, false, err
	}
	b, err := h.src.Poll(ctx, PollRequest{Database: p.database, From: from, Limit: 1})
	if err != nil || len(b.Changes) == 0 {
		return retained{}, false, err
	}
	ev := b.Changes[0]
	r = retained{txID: ev.GetTxId()}
	if ts := ev.GetMetadata().GetTxCommitTime(); ts != nil {
		r.commit = ts.AsTime()
	}
	return r, true, nil
}

// reportHeadroom reports the smallest headroom among the tracked streams that have sent a
// change (Observer.Headroom), or that none is known.
func (p *headProber) reportHeadroom() {
	p.mu.Lock()
	r, ok := p.retained, p.retainedOK
	streams := make([]*streamPos, 0, len(p.streams))
	for s := range p.streams {
		streams = append(streams, s)
	}
	p.mu.Unlock()
	var worstTx int64
	var worstAge time.Duration
	known := false
	if ok {
		for _, s := range streams {
			tx, age, sok := s.headroom(r)
			if sok && (!known || tx < worstTx) {
				worstTx, worstAge, known = tx, age, true
			}
		}
	}
	p.heads.obs.Headroom(p.database, worstTx, worstAge, known)
}
