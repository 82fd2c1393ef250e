package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/internal/testenv"
)

func TestBundleCommand(t *testing.T) {
	testenv.RequireBinary(t, "gcc")
	dir := t.TempDir()
	lib := filepath.Join(dir, "deps")
	os.MkdirAll(lib, 0o755)
	os.WriteFile(filepath.Join(dir, "foo.c"), []byte("int foo(void){return 42;}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "prog.c"), []byte("#include <stdio.h>\nint foo(void);\nint main(void){printf(\"foo=%d\\n\", foo());return 0;}\n"), 0o644)
	for _, args := range [][]string{
		{"-shared", "-fPIC", "-Wl,-soname,libfoo.so.1", "-o", filepath.Join(lib, "libfoo.so.1"), filepath.Join(dir, "foo.c")},
		{"-o", filepath.Join(dir, "prog"), filepath.Join(dir, "prog.c"), filepath.Join(lib, "libfoo.so.1")},
	} {
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, out)
		}
	}
	dest := filepath.Join(dir, "bundle")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"-o", dest, "-library-path", lib, filepath.Join(dir, "prog")}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"libfoo.so.1", "LD_LIBRARY_PATH", "lib/libfoo.so.1", "libc.so.6", "left to the host"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, out.String())
		}
	}
	if err := os.RemoveAll(lib); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(dest, "bin", "prog"))
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	if got, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(got)) != "foo=42" {
		t.Fatalf("bundled program: %q, %v", got, err)
	}
}

func TestBundleCommandUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage: bundle") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if code := run(context.Background(), []string{"-o", t.TempDir(), filepath.Join(t.TempDir(), "missing")}, &out, &errb); code != 1 {
		t.Fatalf("missing program: exit %d", code)
	}
}
