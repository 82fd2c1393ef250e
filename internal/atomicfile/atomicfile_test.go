package atomicfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gleaner/gleaner/internal/atomicfile"
)

func ExampleWriteFile() {
	dir, _ := os.MkdirTemp("", "atomicfile-example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "state.json")
	if err := atomicfile.WriteFile(path, []byte(`{"tasks":3}`), 0o600); err != nil {
		fmt.Println(err)
		return
	}
	data, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	fmt.Println(string(data), fi.Mode().Perm())
	// Output: {"tasks":3} -rw-------
}

// tempFiles lists what WriteFile left behind in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		if atomicfile.IsTemp(e.Name()) {
			left = append(left, e.Name())
		}
	}
	return left
}

func TestNewFileGetsPermExactly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plot.svg")
	if err := atomicfile.WriteFile(path, []byte("<svg/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o644 {
		t.Errorf("mode %v, want -rw-r--r--", got)
	}
}

func TestReplacedFileKeepsItsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.json")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFile(path, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "new" || fi.Mode().Perm() != 0o640 {
		t.Errorf("got %q mode %v, want \"new\" mode -rw-r-----", data, fi.Mode().Perm())
	}
}

func TestFailedRenameLeavesTargetAndNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	// A non-empty directory cannot be replaced by a file: the rename fails
	// after the temporary file was written.
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(target, "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFile(target, []byte("x"), 0o644); err == nil {
		t.Fatal("WriteFile over a non-empty directory succeeded")
	}
	if fi, err := os.Stat(filepath.Join(target, "keep")); err != nil || !fi.IsDir() {
		t.Errorf("target changed: %v", err)
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestFailedFillLeavesTargetAndNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "bundle.tar")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("the stream broke")
	err := atomicfile.Write(target, 0o644, func(f *os.File) error {
		if _, err := f.Write([]byte("half of the new")); err != nil {
			return err
		}
		return stop
	})
	if err != stop {
		t.Errorf("err = %v, want fill's own error as it is", err)
	}
	if data, err := os.ReadFile(target); err != nil || string(data) != "old" {
		t.Errorf("target = %q, %v; want \"old\"", data, err)
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestFillSetsTheModeLast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prog")
	err := atomicfile.Write(path, 0o644, func(f *os.File) error {
		if _, err := f.Write([]byte("#!/bin/sh\n")); err != nil {
			return err
		}
		return f.Chmod(0o755 | fs.ModeSetuid) // as patchelf's Save does after chown
	})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (fs.ModePerm | fs.ModeSetuid); got != 0o755|fs.ModeSetuid {
		t.Errorf("mode %v, want the one fill set, -rwsr-xr-x", got)
	}
}

func TestMissingDirectoryIsAnErrorNamingThePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "file")
	err := atomicfile.WriteFile(path, []byte("x"), 0o644)
	if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want a not-exist error naming %s", err, path)
	}
}

// TestReaderNeverSeesAPart has writers replace a file with whole contents
// of different sizes while a reader reads it: every read is one of them.
func TestReaderNeverSeesAPart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	contents := [][]byte{bytes.Repeat([]byte("a"), 1<<16), bytes.Repeat([]byte("b"), 3), bytes.Repeat([]byte("c"), 1<<12)}
	if err := atomicfile.WriteFile(path, contents[0], 0o600); err != nil {
		t.Fatal(err)
	}
	const rounds = 200
	var wg sync.WaitGroup
	errs := make(chan error, len(contents))
	for _, c := range contents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := atomicfile.WriteFile(path, c, 0o600); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	reads := 0
	for stop := false; !stop; reads++ {
		select {
		case <-done:
			stop = true
		default:
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		whole := false
		for _, c := range contents {
			whole = whole || bytes.Equal(data, c)
		}
		if !whole {
			t.Fatalf("read %d bytes that are none of the written contents", len(data))
		}
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}
