package server

import (
	"regexp"
	"sync"
	"time"
)

// Neo4j's DateTime range is java.time.Instant's: years -1 000 000 000..1 000 000 000.
const (
	minInstantSeconds = -31557014167219200
	maxInstantSeconds = 31556889864403199
)

// fixedZone matches the offset-style zone ids java.time.ZoneId accepts besides region ids:
// "Z", "+01:00", "-0530", "UTC+1", "GMT-08:00", "UT+01".
var fixedZone = regexp.MustCompile(`^(Z|(UTC|GMT|UT)?[+-]([01]?[0-9])(:?[0-5][0-9](:?[0-5][0-9])?)?|UTC|GMT|UT)$`)

// zones caches region ids already found in the time zone database (a bounded set: the
// database's own names); unknown ids are never cached, so clients cannot grow it.
var zones sync.Map

// knownZone reports whether id is a zone id Neo4j accepts: a region id of the IANA time zone
// database (cdcstreamd embeds it, time/tzdata) or an offset-style id. Validating it before the
// stream starts makes a bad zone INVALID_ARGUMENT at once, not an error at the first poll.
func knownZone(id string) bool {
	if fixedZone.MatchString(id) {
		return true
	}
	if _, ok := zones.Load(id); ok {
		return true
	}
	if len(id) > maxEchoLen*2 {
		return false
	}
	if _, err := time.LoadLocation(id); err != nil || id == "Local" {
		return false
	}
	zones.Store(id, struct{}{})
	return true
}
