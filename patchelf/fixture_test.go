package patchelf_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gleaner/gleaner/internal/testenv"
)

// fixtures are ELF files built by gcc once per test binary.
type fixtures struct {
	dir   string
	lib   map[string]string // variant -> directory holding libfoo.so.1
	progs map[string]string // variant -> program linking libfoo
	err   error
}

var (
	fixOnce sync.Once
	fix     fixtures
)

const fooC = `int foo(void) { return 42; }`
const progC = `#include <stdio.h>
int foo(void);
int main(void) { printf("foo=%d\n", foo()); return 0; }
`

// variants of the program: PIE and non-PIE, 64- and 32-bit, and with the
// headers, tables and code in one segment (-z noseparate-code), where the
// program headers have no room to grow in place: ET_DYN then gets them in
// the new segment at the end, ET_EXEC gets room at the front.
var variants = []struct {
	name  string
	flags []string
	m32   bool
}{
	{"pie64", []string{"-pie", "-fPIE"}, false},
	{"nopie64", []string{"-no-pie", "-fno-PIE"}, false},
	{"pie32", []string{"-m32", "-pie", "-fPIE"}, true},
	{"nopie32", []string{"-m32", "-no-pie", "-fno-PIE"}, true},
	{"pie64-onesegment", []string{"-pie", "-fPIE", "-Wl,-z,noseparate-code"}, false},
	{"nopie64-onesegment", []string{"-no-pie", "-fno-PIE", "-Wl,-z,noseparate-code"}, false},
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fix.dir != "" {
		os.RemoveAll(fix.dir)
	}
	os.Exit(code)
}

func gcc(args ...string) error {
	out, err := exec.Command("gcc", args...).CombinedOutput()
	if err != nil {
		return &exec.ExitError{Stderr: out}
	}
	return nil
}

// getFixtures builds libfoo (with SONAME, and a copy without) and the
// program variants. 32-bit variants are absent when gcc cannot build them.
func getFixtures(t *testing.T) *fixtures {
	t.Helper()
	testenv.RequireBinary(t, "gcc")
	fixOnce.Do(func() {
		fix.lib, fix.progs = map[string]string{}, map[string]string{}
		fix.dir, fix.err = os.MkdirTemp("", "gleaner-test-patchelf-")
		if fix.err != nil {
			return
		}
		src := filepath.Join(fix.dir, "src")
		os.MkdirAll(src, 0o755)
		os.WriteFile(filepath.Join(src, "foo.c"), []byte(fooC), 0o644)
		os.WriteFile(filepath.Join(src, "prog.c"), []byte(progC), 0o644)
		for _, v := range variants {
			lib := filepath.Join(fix.dir, v.name, "lib")
			os.MkdirAll(lib, 0o755)
			bits := []string{}
			if v.m32 {
				bits = []string{"-m32"}
			}
			so := filepath.Join(lib, "libfoo.so.1")
			if err := gcc(append(bits, "-shared", "-fPIC", "-Wl,-soname,libfoo.so.1", "-o", so, filepath.Join(src, "foo.c"))...); err != nil {
				if v.m32 {
					continue
				}
				fix.err = err
				return
			}
			nos := filepath.Join(fix.dir, v.name, "nosoname.so")
			if err := gcc(append(bits, "-shared", "-fPIC", "-o", nos, filepath.Join(src, "foo.c"))...); err != nil {
				fix.err = err
				return
			}
			prog := filepath.Join(fix.dir, v.name, "prog")
			args := append(append([]string{}, v.flags...), "-o", prog, filepath.Join(src, "prog.c"), so)
			if err := gcc(args...); err != nil {
				if v.m32 {
					continue
				}
				fix.err = err
				return
			}
			fix.lib[v.name], fix.progs[v.name] = lib, prog
		}
	})
	if fix.err != nil {
		t.Fatalf("building fixtures: %v", fix.err)
	}
	return &fix
}

// copyFile copies src to a new file in dir and returns its path.
func copyFile(t testing.TB, src, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, name)
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// runProg runs a program and returns its combined output.
func runProg(t *testing.T, path string) (string, error) {
	t.Helper()
	cmd := exec.Command(path)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// readelf runs readelf and fails the test on any warning on stderr.
func readelf(t *testing.T, args ...string) string {
	t.Helper()
	bin := testenv.RequireBinary(t, "readelf")
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("readelf %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
