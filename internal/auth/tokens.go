package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// AllDatabases in a token's databases grants every database.
const AllDatabases = "*"

// MinTokenLength is the shortest accepted token, in bytes.
const MinTokenLength = 16

// maxTokensFile bounds the size of a tokens file read into memory.
const maxTokensFile = 4 << 20

// fileEntry is one entry of the tokens file.
type fileEntry struct {
	Name      string   `json:"name"`
	Token     string   `json:"token"`
	Databases []string `json:"databases"`
}

// entry is a loaded token: its name, the hash of its secret and what it may read.
type entry struct {
	name   string
	hash   [sha256.Size]byte
	all    bool
	dbs    map[string]bool
	dbList []string
}

// Tokens is an immutable set of loaded tokens.
type Tokens struct {
	entries []entry
}

// ParseTokens parses and validates the JSON tokens file format. Errors name entries by
// position and name, never by token.
func ParseTokens(data []byte) (*Tokens, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var raw []fileEntry
	if err := dec.Decode(&raw); err != nil {
		return nil, describeJSONError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("tokens file: unexpected data after the JSON list")
	}
	if len(raw) == 0 {
		return nil, errors.New("tokens file: no tokens")
	}
	t := &Tokens{entries: make([]entry, 0, len(raw))}
	names := map[string]bool{}
	hashes := map[[sha256.Size]byte]bool{}
	var errs []error
	for i, r := range raw {
		where := fmt.Sprintf("tokens file: entry %d", i)
		if r.Name != "" {
			where += fmt.Sprintf(" (%q)", r.Name)
		}
		e := entry{name: r.Name, hash: sha256.Sum256([]byte(r.Token)), dbs: map[string]bool{}}
		switch {
		case r.Name == "":
			errs = append(errs, fmt.Errorf("%s: name is empty", where))
		case !printable(r.Name) || len(r.Name) > 128:
			errs = append(errs, fmt.Errorf("%s: name must be 1..128 printable characters without spaces", where))
		case names[r.Name]:
			errs = append(errs, fmt.Errorf("%s: name used twice", where))
		}
		names[r.Name] = true
		switch {
		case len(r.Token) < MinTokenLength:
			errs = append(errs, fmt.Errorf("%s: token shorter than %d characters", where, MinTokenLength))
		case !printable(r.Token):
			errs = append(errs, fmt.Errorf("%s: token must be printable ASCII without spaces", where))
		case hashes[e.hash]:
			errs = append(errs, fmt.Errorf("%s: token used by an earlier entry", where))
		}
		hashes[e.hash] = true
		if len(r.Databases) == 0 {
			errs = append(errs, fmt.Errorf("%s: databases is empty (use [\"*\"] for all)", where))
		}
		for j, db := range r.Databases {
			switch {
			case db == AllDatabases:
				e.all = true
			case db == "" || !printable(db) || len(db) > 63:
				errs = append(errs, fmt.Errorf("%s: databases[%d] is not a database name", where, j))
			default:
				e.dbs[strings.ToLower(db)] = true
			}
		}
		for db := range e.dbs {
			e.dbList = append(e.dbList, db)
		}
		sort.Strings(e.dbList)
		t.entries = append(t.entries, e)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// describeJSONError reports where the JSON is wrong without quoting it (it may hold tokens).
func describeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("tokens file: invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("tokens file: field %q has the wrong type (want a list of {\"name\", \"token\", \"databases\"})", typ.Field)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("tokens file: empty or truncated JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return errors.New("tokens file: unknown field (allowed: name, token, databases)")
	default:
		return errors.New("tokens file: not a JSON list of {\"name\", \"token\", \"databases\"}")
	}
}

// printable reports whether s is non-empty printable ASCII without spaces.
func printable(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// Len is the number of tokens.
func (t *Tokens) Len() int { return len(t.entries) }

// Names returns the token names, in file order.
func (t *Tokens) Names() []string {
	names := make([]string, len(t.entries))
	for i, e := range t.entries {
		names[i] = e.name
	}
	return names
}

// lookup finds the entry whose token is token. It hashes the candidate and compares it with
// every entry's hash in constant time, without stopping early, so the time taken depends
// neither on the token's length nor on which entry (if any) matches.
func (t *Tokens) lookup(token string) (*entry, bool) {
	h := sha256.Sum256([]byte(token))
	found := -1
	for i := range t.entries {
		if subtle.ConstantTimeCompare(h[:], t.entries[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return nil, false
	}
	return &t.entries[found], true
}

// allows reports whether the entry may read database (already lower-cased).
func (e *entry) allows(database string) bool {
	return e.all || e.dbs[database]
}

// Store holds the tokens in force and the file they come from. It is safe for concurrent use.
type Store struct {
	path string
	// tokens is the set in force; Reload swaps it whole, so a call sees one consistent set.
	tokens atomic.Pointer[Tokens]
	// streamsMu guards streams and orders a Reload's swap with streams registering.
	streamsMu sync.Mutex
	// streams are the open streams authenticated by a token (revoke.go).
	streams map[*openStream]struct{}
	// revoked counts the streams Reload ended.
	revoked atomic.Uint64
}

// Load reads the tokens file at path.
func Load(path string) (*Store, error) {
	s := &Store{path: path}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// NewStore holds a fixed set of tokens (no file; Reload keeps them).
func NewStore(t *Tokens) *Store {
	s := &Store{}
	s.tokens.Store(t)
	return s
}

// Reload re-reads the file. On error the tokens in force stay in force. On success the open
// streams the new tokens no longer admit end at once: a token removed, or whose secret
// changed, ends its streams with UNAUTHENTICATED; a token that no longer grants a stream's
// database ends that stream with PERMISSION_DENIED (RevokedStreams counts them).
func (s *Store) Reload() error {
	if s.path == "" {
		return nil
	}
	t, err := readTokens(s.path)
	if err != nil {
		return err
	}
	s.revoked.Add(uint64(s.install(t)))
	return nil
}

// RevokedStreams is the number of open streams Reload has ended since Load.
func (s *Store) RevokedStreams() uint64 { return s.revoked.Load() }

// Tokens returns the set in force.
func (s *Store) Tokens() *Tokens { return s.tokens.Load() }

// readTokens reads and parses a tokens file, refusing oversized files.
func readTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTokensFile+1))
	if err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	if len(data) > maxTokensFile {
		return nil, fmt.Errorf("tokens file %s: larger than %d bytes", path, maxTokensFile)
	}
	t, err := ParseTokens(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}
