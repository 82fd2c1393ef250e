package patchelf_test

import (
	"bytes"
	"fmt"
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

// FuzzEdit: every kind of edit, on any input, fails with an error or gives
// a file that parses again and says what the edit said.
func FuzzEdit(f *testing.F) {
	for _, name := range []string{"testdata/hello", "testdata/hello32"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for op := range byte(8) {
			f.Add(op, b)
			f.Add(op, toBigEndian(f, b))
		}
	}
	interp := "/lib64/../lib64/../lib64/../lib64/ld-linux-x86-64.so.2"
	f.Fuzz(func(t *testing.T, op byte, b []byte) {
		ef, err := patchelf.NewFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		var check func(back *patchelf.File) string
		switch op % 8 {
		case 0:
			err = ef.AddNeeded("libfuzz.so.1")
			check = func(back *patchelf.File) string {
				if n, _ := back.Needed(); len(n) == 0 || n[0] != "libfuzz.so.1" {
					return fmt.Sprintf("needed %q", n)
				}
				return ""
			}
		case 1:
			err = ef.SetInterpreter(interp)
			check = func(back *patchelf.File) string {
				if s, _ := back.Interpreter(); s != interp {
					return fmt.Sprintf("interpreter %q", s)
				}
				return ""
			}
		case 2:
			err = ef.RenameDynamicSymbols(map[string]string{"printf": "printf_fuzz", "puts": "puts_fuzz", "__libc_start_main": "start"})
		case 3:
			ef.SetExecStack(true)
			check = func(back *patchelf.File) string {
				if x, ok := back.ExecStack(); !x || !ok {
					return "no executable stack"
				}
				return ""
			}
		case 4:
			err = ef.AddDebugTag()
		case 5:
			err = ef.SetSoname("libfuzz-" + strings.Repeat("x", 100) + ".so")
		case 6:
			ef.SetOSABI(9)
			err = ef.ClearSymbolVersion("printf")
		case 7:
			if err = ef.SetRPath("$ORIGIN"); err == nil {
				err = ef.BuildResolutionCache()
			}
		}
		if err != nil {
			return
		}
		out, err := ef.Bytes()
		if err != nil {
			return
		}
		back, err := patchelf.NewFile(bytes.NewReader(out), int64(len(out)))
		if err != nil {
			t.Fatalf("edit %d: the result does not parse: %v", op%8, err)
		}
		if check != nil {
			if msg := check(back); msg != "" {
				t.Fatalf("edit %d: %s", op%8, msg)
			}
		}
	})
}
