package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// CheckpointStore persists a subscription's cursor. Load returns nil and no error when nothing
// is stored. Implementations must be safe for concurrent use.
type CheckpointStore interface {
	// Load returns the stored cursor, or nil when none is stored.
	Load(ctx context.Context) (*cdcstreamv1.Cursor, error)
	// Save stores c, replacing any earlier cursor; when it returns nil, c is durable.
	Save(ctx context.Context, c *cdcstreamv1.Cursor) error
}

// FileStore is a CheckpointStore in one JSON file, {"id": "...", "database": "..."}. Save is
// atomic and durable: it writes a temporary file in the same directory, fsyncs it, renames it
// over the target and fsyncs the directory, so after a crash at any instant the file holds
// either the previous cursor or the new one. One FileStore, in one process, should own a file.
// Safe for concurrent use.
type FileStore struct {
	path string
	// mu serialises Save, so two saves never share the temporary file.
	mu sync.Mutex
}

// fileCursor is the file's JSON content.
type fileCursor struct {
	ID       string `json:"id"`
	Database string `json:"database"`
}

// NewFileStore returns a FileStore that keeps its cursor at path. The directory must exist.
func NewFileStore(path string) *FileStore {
	return &FileStore{path: path}
}

// Path returns the file the store writes.
func (f *FileStore) Path() string { return f.path }

// Load reads the stored cursor. An absent file yields nil and no error; an unreadable or
// corrupt file yields an error naming the file.
func (f *FileStore) Load(ctx context.Context) (*cdcstreamv1.Cursor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("client: read checkpoint file: %w", err)
	}
	c, err := decodeCheckpoint(data)
	if err != nil {
		return nil, fmt.Errorf("client: checkpoint file %s is corrupt: %w", f.path, err)
	}
	return c, nil
}

// Save writes c durably (see FileStore).
func (f *FileStore) Save(ctx context.Context, c *cdcstreamv1.Cursor) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.GetId() == "" {
		return errors.New("client: save checkpoint: empty cursor")
	}
	data, err := json.Marshal(fileCursor{ID: c.GetId(), Database: c.GetDatabase()})
	if err != nil {
		return fmt.Errorf("client: save checkpoint: %w", err)
	}
	data = append(data, '\n')
	f.mu.Lock()
	defer f.mu.Unlock()
	dir := filepath.Dir(f.path)
	tmp := filepath.Join(dir, "."+filepath.Base(f.path)+".tmp")
	if err := writeSynced(tmp, data); err != nil {
		return fmt.Errorf("client: save checkpoint: %w", err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return fmt.Errorf("client: save checkpoint: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("client: save checkpoint: %w", err)
	}
	return nil
}

// writeSynced writes data to path (truncating it) and fsyncs it.
func writeSynced(path string, data []byte) error {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := file.Write(data); err != nil {
		file.Close()
		return err
	}
	if err := file.Sync(); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// syncDir fsyncs a directory so a rename in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// decodeCheckpoint parses a checkpoint file's content strictly.
func decodeCheckpoint(data []byte) (*cdcstreamv1.Cursor, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var fc fileCursor
	if err := dec.Decode(&fc); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the cursor")
	}
	if fc.ID == "" {
		return nil, errors.New(`missing "id"`)
	}
	return &cdcstreamv1.Cursor{Id: fc.ID, Database: fc.Database}, nil
}
