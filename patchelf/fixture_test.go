package patchelf_test

import (
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/patchelf"
)

// fixtures are ELF files built by gcc once per test binary.
type fixtures struct {
	dir   string
	lib   map[string]string // variant -> directory holding libfoo.so.1
	progs map[string]string // variant -> program linking libfoo
	err   error
	// err32 is why gcc -m32 could not build the 32-bit variants.
	err32 error
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
					fix.err32 = err
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
					fix.err32 = err
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

// program returns the variant's program, or reports through testenv (in a
// subtest named after the variant) why gcc could not build it.
func (fx *fixtures) program(t *testing.T, variant string) (string, bool) {
	t.Helper()
	prog, ok := fx.progs[variant]
	if !ok {
		t.Run(variant, func(t *testing.T) {
			testenv.Missing(t, "gcc -m32 cannot build the %s fixture (scripts/test installs gcc-multilib and libc6-dev-i386): %v", variant, fx.err32)
		})
	}
	return prog, ok
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

// runProg runs a program and returns its combined output. A 32-bit x86
// program first needs a kernel that executes those: tests call runProg last,
// in a subtest, so the checks before it run on every machine.
func runProg(t *testing.T, path string) (string, error) {
	t.Helper()
	if ef, err := elf.Open(path); err == nil {
		if ef.Class == elf.ELFCLASS32 && ef.Machine == elf.EM_386 {
			testenv.RequireExec32(t)
		}
		ef.Close()
	}
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

// checkLayout asserts the invariants an edit must keep: every allocated
// section lies inside a PT_LOAD at the matching offset; PT_PHDR is the
// program header table and is loaded; PT_INTERP, PT_DYNAMIC and
// PT_GNU_PROPERTY describe their sections; every PT_NOTE is made of note
// sections.
func checkLayout(t *testing.T, path string) {
	t.Helper()
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	loaded := func(addr, size, off uint64, nobits bool) bool {
		for _, p := range ef.Progs {
			if p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr+size <= p.Vaddr+p.Memsz &&
				(nobits || off-p.Off == addr-p.Vaddr && addr+size <= p.Vaddr+p.Filesz) {
				return true
			}
		}
		return false
	}
	for _, s := range ef.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Size == 0 || s.Flags&elf.SHF_TLS != 0 && s.Type == elf.SHT_NOBITS {
			continue
		}
		if !loaded(s.Addr, s.Size, s.Offset, s.Type == elf.SHT_NOBITS) {
			t.Errorf("section %s (addr %#x off %#x size %#x) is not inside a PT_LOAD", s.Name, s.Addr, s.Offset, s.Size)
		}
	}
	sectionIs := func(p *elf.Prog, name string) {
		s := ef.Section(name)
		if s == nil || s.Offset != p.Off || s.Addr != p.Vaddr || s.Size != p.Filesz {
			t.Errorf("%v (off %#x addr %#x size %#x) does not match section %s %+v", p.Type, p.Off, p.Vaddr, p.Filesz, name, s)
		}
	}
	phoff := uint64(0)
	for _, p := range ef.Progs {
		switch p.Type {
		case elf.PT_PHDR:
			phoff = p.Off
			if !loaded(p.Vaddr, p.Filesz, p.Off, false) {
				t.Errorf("PT_PHDR at %#x is not loaded", p.Vaddr)
			}
		case elf.PT_INTERP:
			sectionIs(p, ".interp")
		case elf.PT_DYNAMIC:
			sectionIs(p, ".dynamic")
		case elf.PT_GNU_PROPERTY:
			sectionIs(p, ".note.gnu.property")
		case elf.PT_NOTE:
			covered := uint64(0)
			for _, s := range ef.Sections {
				if s.Type == elf.SHT_NOTE && s.Offset >= p.Off && s.Offset+s.Size <= p.Off+p.Filesz && s.Addr-p.Vaddr == s.Offset-p.Off {
					covered += s.Size
				}
			}
			if covered == 0 || covered > p.Filesz {
				t.Errorf("PT_NOTE at %#x (size %#x) is not made of note sections", p.Off, p.Filesz)
			}
		}
	}
	if phoff != 0 {
		var ehdrPhoff uint64
		b := make([]byte, 64)
		fd, _ := os.Open(path)
		fd.ReadAt(b, 0)
		fd.Close()
		if ef.Class == elf.ELFCLASS64 {
			ehdrPhoff = ef.ByteOrder.Uint64(b[32:])
		} else {
			ehdrPhoff = uint64(ef.ByteOrder.Uint32(b[28:]))
		}
		if ehdrPhoff != phoff {
			t.Errorf("PT_PHDR offset %#x, e_phoff %#x", phoff, ehdrPhoff)
		}
	}
}

// needed returns f.Needed, failing the test on an error.
func needed(t testing.TB, f *patchelf.File) []string {
	t.Helper()
	n, err := f.Needed()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// rpathOf returns f.RPath, failing the test on an error.
func rpathOf(t testing.TB, f *patchelf.File) string {
	t.Helper()
	rp, err := f.RPath()
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// dynStrings returns f.DynStrings, failing the test on an error.
func dynStrings(t testing.TB, f *patchelf.File, tag elf.DynTag) []string {
	t.Helper()
	s, err := f.DynStrings(tag)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
