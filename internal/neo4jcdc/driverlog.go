package neo4jcdc

import (
	"context"
	"fmt"
	"log/slog"
)

// driverLogger forwards the driver's own log (connection pool, routing, retries) to slog:
// errors and warnings at warn level, the rest at debug level. Only drivers created by Open
// use it.
type driverLogger struct {
	l *slog.Logger
}

// Error implements the driver's log.Logger. The driver reports errors here that it may still
// recover from by retrying, so they are warnings, not errors, of this service.
func (d driverLogger) Error(name, id string, err error) {
	d.l.Warn("neo4j driver", "component", name, "id", id, "error", err)
}

// Warnf implements the driver's log.Logger.
func (d driverLogger) Warnf(name, id, msg string, args ...any) {
	d.logf(slog.LevelWarn, name, id, msg, args)
}

// Infof implements the driver's log.Logger.
func (d driverLogger) Infof(name, id, msg string, args ...any) {
	d.logf(slog.LevelDebug, name, id, msg, args)
}

// Debugf implements the driver's log.Logger.
func (d driverLogger) Debugf(name, id, msg string, args ...any) {
	d.logf(slog.LevelDebug, name, id, msg, args)
}

// logf formats only when the level is enabled.
func (d driverLogger) logf(level slog.Level, name, id, msg string, args []any) {
	ctx := context.Background()
	if !d.l.Enabled(ctx, level) {
		return
	}
	d.l.Log(ctx, level, "neo4j driver: "+fmt.Sprintf(msg, args...), "component", name, "id", id)
}
