package auth

import (
	"context"
	"log/slog"
	"os"
)

// ReloadOn reloads the store each time a value arrives on signals (cdcstreamd passes a channel
// registered for SIGHUP with signal.Notify) until ctx is done. It logs each outcome: the token
// names and count on success, the error (which never holds a token) on failure, after which
// the previous tokens stay in force. reloaded, when non-nil, receives each Reload's result
// (tests use it; it must be drained).
func (s *Store) ReloadOn(ctx context.Context, signals <-chan os.Signal, logger *slog.Logger, reloaded chan<- error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-signals:
		}
		err := s.Reload()
		if err != nil {
			logger.Error("auth tokens NOT reloaded; the previous tokens stay in force", "file", s.path, "err", err)
		} else {
			t := s.Tokens()
			logger.Info("auth tokens reloaded", "file", s.path, "tokens", t.Len(), "names", t.Names())
		}
		if reloaded != nil {
			select {
			case reloaded <- err:
			case <-ctx.Done():
				return
			}
		}
	}
}
