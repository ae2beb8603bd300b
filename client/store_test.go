package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

func TestFileStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	fs := NewFileStore(filepath.Join(t.TempDir(), "cursor.json"))
	if c, err := fs.Load(ctx); err != nil || c != nil {
		t.Fatalf("absent file: %v, %v", c, err)
	}
	for _, id := range []string{"A3Qc5ZIZ_Eo5v5xsONVo8KUAAAAAAAAADAAAAAAAAAAA", "second"} {
		if err := fs.Save(ctx, &cdcstreamv1.Cursor{Id: id, Database: "neo4j"}); err != nil {
			t.Fatal(err)
		}
		c, err := fs.Load(ctx)
		if err != nil || c.GetId() != id || c.GetDatabase() != "neo4j" {
			t.Fatalf("Load = %v, %v; want %s", c, err, id)
		}
	}
	data, err := os.ReadFile(fs.Path())
	if err != nil || string(data) != `{"id":"second","database":"neo4j"}`+"\n" {
		t.Fatalf("file content %q, %v", data, err)
	}
	if err := fs.Save(ctx, &cdcstreamv1.Cursor{}); err == nil {
		t.Fatal("saving an empty cursor succeeded")
	}
}

func TestFileStoreRejectsCorruptFiles(t *testing.T) {
	for _, content := range []string{
		"", "{", "null", `{"database":"neo4j"}`, `{"id":""}`, `{"id":"a","extra":1}`,
		`{"id":"a"} {"id":"b"}`, `{"id":"a"}}`, `["a"]`, "\x00\x00",
	} {
		path := filepath.Join(t.TempDir(), "cursor.json")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := NewFileStore(path).Load(context.Background())
		if err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("content %q: Load = %v, %v; want a corrupt-file error", content, c, err)
		}
	}
}

func TestFileStoreUnwritableDirectory(t *testing.T) {
	fs := NewFileStore(filepath.Join(t.TempDir(), "missing", "cursor.json"))
	if err := fs.Save(context.Background(), &cdcstreamv1.Cursor{Id: "x"}); err == nil {
		t.Fatal("Save into a missing directory succeeded")
	}
}

// helperEnv names the environment variable that turns the test binary into a cursor writer.
const helperEnv = "CDCSTREAM_FILESTORE_HELPER_PATH"

// TestHelperWriter is not a test: run as a child process with helperEnv set, it saves cursors
// "n-1", "n-2", ... in a loop and prints each number after its Save returned, until killed.
func TestHelperWriter(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		return // a plain run: nothing to do
	}
	fs := NewFileStore(path)
	out := bufio.NewWriter(os.Stdout)
	for n := 1; ; n++ {
		if err := fs.Save(context.Background(), &cdcstreamv1.Cursor{Id: fmt.Sprintf("n-%d", n), Database: "neo4j"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintln(out, n)
		out.Flush()
	}
}

func TestFileStoreSurvivesSIGKILL(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		t.Skip("inside the helper process")
	}
	path := filepath.Join(t.TempDir(), "cursor.json")
	rng := rand.New(rand.NewPCG(42, 7))
	lastSeen := 0
	for i := range 12 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
		cmd.Env = append(os.Environ(), helperEnv+"="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a random number of confirmed saves: the child is mid-way through some
		// later Save (or between saves) at that instant.
		target := 1 + rng.IntN(30)
		sc := bufio.NewScanner(stdout)
		confirmed := 0
		for confirmed < target && sc.Scan() {
			confirmed, err = strconv.Atoi(sc.Text())
			if err != nil {
				t.Fatalf("helper printed %q", sc.Text())
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		werr := cmd.Wait()
		var exitErr *exec.ExitError
		if !errors.As(werr, &exitErr) {
			t.Fatalf("run %d: helper ended with %v before it was killed", i, werr)
		}
		if confirmed < target {
			t.Fatalf("run %d: helper stopped after %d saves: %v", i, confirmed, werr)
		}
		c, err := NewFileStore(path).Load(context.Background())
		if err != nil || c == nil {
			t.Fatalf("run %d: after SIGKILL Load = %v, %v", i, c, err)
		}
		var n int
		if _, err := fmt.Sscanf(c.GetId(), "n-%d", &n); err != nil || c.GetDatabase() != "neo4j" {
			t.Fatalf("run %d: loaded %v", i, c)
		}
		// Every confirmed save is durable: the file holds that cursor or a later one.
		if n < confirmed {
			t.Fatalf("run %d: loaded n-%d, but n-%d was confirmed", i, n, confirmed)
		}
		lastSeen = n
	}
	if lastSeen == 0 {
		t.Fatal("no cursor was ever loaded")
	}
}
