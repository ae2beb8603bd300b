package neo4jsim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// User is a DBMS user. Admin users may call db.cdc.query; others may only call
// db.cdc.current and db.cdc.earliest (Neo4j requires admin or a boosted EXECUTE privilege for
// query).
type User struct {
	// Name is the login name.
	Name string
	// Password is compared verbatim by Authenticate.
	Password string
	// Admin grants the privileges db.cdc.query needs.
	Admin bool
}

// Config configures a DBMS. Zero fields take the documented defaults.
type Config struct {
	// Users are the accounts; default a single admin neo4j/password.
	Users []User
	// Databases are the database names; default ["neo4j"]. The first is the default database.
	Databases []string
	// CaptureMode is the initial txLogEnrichment of every database: FULL, DIFF or OFF;
	// default FULL.
	CaptureMode string
	// Retention bounds the number of transactions kept in each CDC log; 0 keeps everything.
	Retention int
	// ServerID is the metadata serverId; default 8 random hex digits.
	ServerID string
	// Now is the clock for transaction start and commit times; default time.Now.
	Now func() time.Time
	// DatabaseUUIDs fixes the store UUID of databases by name (canonical 8-4-4-4-12 hex form);
	// databases not listed get a random version 4 UUID. Tests use it for stable ids.
	DatabaseUUIDs map[string]string
}

// DBMS is a simulated Neo4j DBMS: users and named databases, each with its own graph and CDC
// log. It is safe for concurrent use.
type DBMS struct {
	users    []User
	dbs      map[string]*Database
	defaultD string
	serverID string
	now      func() time.Time
}

// NewDBMS creates a DBMS from cfg. Invalid settings (an unknown capture mode, a malformed
// UUID) fall back to the defaults, so the constructor never fails; use SetCaptureMode to get
// an error for a bad mode.
func NewDBMS(cfg Config) *DBMS {
	d := &DBMS{
		users:    slices.Clone(cfg.Users),
		dbs:      make(map[string]*Database),
		serverID: cfg.ServerID,
		now:      cfg.Now,
	}
	if len(d.users) == 0 {
		d.users = []User{{Name: "neo4j", Password: "password", Admin: true}}
	}
	if d.serverID == "" {
		d.serverID = randomHex(4)
	}
	if d.now == nil {
		d.now = time.Now
	}
	names := cfg.Databases
	if len(names) == 0 {
		names = []string{"neo4j"}
	}
	mode, ok := normalizeMode(cfg.CaptureMode)
	if !ok {
		mode = ModeFull
	}
	uuids := make(map[string]string, len(cfg.DatabaseUUIDs))
	for n, u := range cfg.DatabaseUUIDs {
		uuids[strings.ToLower(n)] = u
	}
	for _, name := range names {
		name = strings.ToLower(name)
		if _, dup := d.dbs[name]; dup {
			continue
		}
		id, err := parseUUID(uuids[name])
		if err != nil {
			id = randomUUID()
		}
		d.dbs[name] = newDatabase(d, name, id, mode, cfg.Retention)
		if d.defaultD == "" {
			d.defaultD = name
		}
	}
	return d
}

// Authenticate checks a user name and password.
func (d *DBMS) Authenticate(user, password string) (User, bool) {
	for _, u := range d.users {
		if u.Name == user && u.Password == password {
			return u, true
		}
	}
	return User{}, false
}

// LookupUser returns the user with the given name (used for impersonation).
func (d *DBMS) LookupUser(name string) (User, bool) {
	for _, u := range d.users {
		if u.Name == name {
			return u, true
		}
	}
	return User{}, false
}

// Database returns the named database, or nil if it does not exist. Names are
// case-insensitive, as Neo4j stores database names in lower case.
func (d *DBMS) Database(name string) *Database {
	return d.dbs[strings.ToLower(name)]
}

// DefaultDatabase returns the name of the default database.
func (d *DBMS) DefaultDatabase() string { return d.defaultD }

// DatabaseNames returns every database name, sorted.
func (d *DBMS) DatabaseNames() []string {
	names := make([]string, 0, len(d.dbs))
	for n := range d.dbs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ServerID returns the serverId written into change metadata.
func (d *DBMS) ServerID() string { return d.serverID }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	return hex.EncodeToString(b)
}

func randomUUID() [16]byte {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

func parseUUID(s string) ([16]byte, error) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("malformed uuid %q", s)
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, err
	}
	return u, nil
}

func formatUUID(u [16]byte) string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Capture modes (the txLogEnrichment option values).
const (
	ModeFull = "FULL"
	ModeDiff = "DIFF"
	ModeOff  = "OFF"
)

func normalizeMode(m string) (string, bool) {
	switch m {
	case "", ModeFull, "full":
		return ModeFull, true
	case ModeDiff, "diff":
		return ModeDiff, true
	case ModeOff, "off":
		return ModeOff, true
	}
	return "", false
}
