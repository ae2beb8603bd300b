package server

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Bounds of WithLogSampleRate.
const (
	// DefaultLogSampleRate is how many lines per reason and second the end of RPCs is logged
	// with before the rest of that second is only counted.
	DefaultLogSampleRate = 10
	// MinLogSampleRate and MaxLogSampleRate bound WithLogSampleRate.
	MinLogSampleRate = 1
	MaxLogSampleRate = 100000
)

// sampleWindow is the length of a sampling window.
const sampleWindow = time.Second

// LogSampler logs at most a fixed number of lines per key (a reason) and second, so that a
// flood of refused calls cannot flood the log. The lines past the limit are counted and
// reported as one "log lines suppressed" line, at the same level, with the first line of the
// key after its window ended (or by Flush). Counting what is refused is the metrics' job
// (Observer.Refused); the log keeps examples. It is safe for concurrent use.
type LogSampler struct {
	log   *slog.Logger
	n     int
	clock Clock
	// mu guards keys.
	mu sync.Mutex
	// keys holds the window of each key seen.
	keys map[string]*sampled
}

// sampled is one key's current window.
type sampled struct {
	start      time.Time
	logged     int
	suppressed int
	level      slog.Level
}

// NewLogSampler returns a sampler logging to l at most perSecond lines per key and second,
// timed by c (nil: the system clock). perSecond below 1 means 1.
func NewLogSampler(l *slog.Logger, perSecond int, c Clock) *LogSampler {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	if c == nil {
		c = systemClock{}
	}
	return &LogSampler{log: l, n: max(perSecond, 1), clock: c, keys: map[string]*sampled{}}
}

// Log logs msg with args at level unless key already had its lines this second.
func (s *LogSampler) Log(ctx context.Context, level slog.Level, key, msg string, args ...any) {
	if !s.log.Enabled(ctx, level) {
		return
	}
	now := s.clock.Now()
	s.mu.Lock()
	w := s.keys[key]
	var report *sampled
	if w == nil || now.Sub(w.start) >= sampleWindow {
		if w != nil && w.suppressed > 0 {
			report = &sampled{suppressed: w.suppressed, level: w.level}
		}
		w = &sampled{start: now}
		s.keys[key] = w
	}
	logIt := w.logged < s.n
	if logIt {
		w.logged++
	} else {
		if w.suppressed == 0 || level > w.level {
			w.level = level
		}
		w.suppressed++
	}
	s.mu.Unlock()
	if report != nil {
		s.suppressedLine(ctx, key, report)
	}
	if logIt {
		s.log.Log(ctx, level, msg, args...)
	}
}

// Flush reports the lines suppressed so far, for every key.
func (s *LogSampler) Flush(ctx context.Context) {
	s.mu.Lock()
	var reports = map[string]*sampled{}
	for key, w := range s.keys {
		if w.suppressed > 0 {
			reports[key] = &sampled{suppressed: w.suppressed, level: w.level}
			w.suppressed = 0
		}
	}
	s.mu.Unlock()
	for key, r := range reports {
		s.suppressedLine(ctx, key, r)
	}
}

func (s *LogSampler) suppressedLine(ctx context.Context, key string, r *sampled) {
	s.log.Log(ctx, r.level, "log lines suppressed", "key", key, "suppressed", r.suppressed,
		"limit_per_second", s.n)
}
