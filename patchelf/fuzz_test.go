package patchelf_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/patchelf"
)

func addSeeds(f *testing.F) {
	for _, name := range []string{"testdata/hello", "testdata/hello32"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(toBigEndian(f, b))
	}
}

// FuzzRead: the reader returns an error or a consistent view, never panics.
func FuzzRead(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ef, err := patchelf.NewFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		ef.Interpreter()
		ef.Needed()
		ef.Soname()
		ef.RPath()
		ef.Info()
	})
}

// FuzzSetRPath: read, set a long rpath, write, read back: the result parses
// and has the rpath, or the edit fails with an error.
func FuzzSetRPath(f *testing.F) {
	addSeeds(f)
	long := "$ORIGIN/../lib:" + strings.Repeat("/opt/gleaner/very/long/library/path", 8)
	f.Fuzz(func(t *testing.T, b []byte) {
		ef, err := patchelf.NewFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		needed, err := ef.Needed()
		if err != nil {
			return
		}
		if err := ef.SetRPath(long); err != nil {
			return
		}
		out, err := ef.Bytes()
		if err != nil {
			return
		}
		back, err := patchelf.NewFile(bytes.NewReader(out), int64(len(out)))
		if err != nil {
			t.Fatalf("edited file does not parse: %v", err)
		}
		if got, err := back.RPath(); err != nil || got != long {
			t.Fatalf("rpath read back %q", got)
		}
		if got, _ := back.Needed(); strings.Join(got, ",") != strings.Join(needed, ",") {
			t.Fatalf("needed changed: %v -> %v", needed, got)
		}
	})
}
