package patchelf_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/patchelf"
)

// The edits patchelf 0.19 added over Debian's 0.14.3. The expected bytes
// are derived from NixOS patchelf 0.19's source (src/patchelf.cc) and
// were checked against a local build of it; CI has only Debian's 0.14.3,
// which lacks these flags.

// setProgType rewrites the p_type of the first program header of type
// from in a little-endian file.
func setProgType(t *testing.T, path string, from, to elf.ProgType) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	phoff, es := uint64(binary.LittleEndian.Uint32(b[28:])), uint64(32)
	if ef.Class == elf.ELFCLASS64 {
		phoff, es = binary.LittleEndian.Uint64(b[32:]), 56
	}
	for i, p := range ef.Progs {
		if p.Type == from {
			binary.LittleEndian.PutUint32(b[phoff+uint64(i)*es:], uint32(to))
			if err := os.WriteFile(path, b, 0o755); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("%s has no %v", path, from)
}

// runsLast runs the programs in a subtest, after the checks of their
// bytes (runProg skips a 32-bit one where the kernel cannot run it).
func runsLast(t *testing.T, want string, progs ...string) {
	t.Helper()
	t.Run("exec", func(t *testing.T) { runsLike(t, want, progs...) })
}

func progsOf(t *testing.T, path string) []elf.ProgHeader {
	t.Helper()
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	var out []elf.ProgHeader
	for _, p := range ef.Progs {
		out = append(out, p.ProgHeader)
	}
	return out
}

func stackFlags(t *testing.T, path string) (elf.ProgFlag, bool) {
	t.Helper()
	for _, p := range progsOf(t, path) {
		if p.Type == elf.PT_GNU_STACK {
			return p.Flags, true
		}
	}
	return 0, false
}

func TestExecStack(t *testing.T) {
	fx := getFixtures(t)
	for _, v := range []string{"pie64", "nopie64", "pie32"} {
		prog, ok := fx.progs[v]
		if !ok {
			continue
		}
		t.Run(v+"/flip", func(t *testing.T) {
			p := copyFile(t, prog, t.TempDir(), "prog")
			if exec, stated := reopen(t, p).ExecStack(); exec || !stated {
				t.Fatalf("gcc's program: exec %v stated %v", exec, stated)
			}
			before := len(progsOf(t, p))
			edit(t, p, func(f *patchelf.File) error { f.SetExecStack(true); return nil })
			if fl, _ := stackFlags(t, p); fl != elf.PF_R|elf.PF_W|elf.PF_X || len(progsOf(t, p)) != before {
				t.Fatalf("after set: flags %v, %d headers (was %d)", fl, len(progsOf(t, p)), before)
			}
			edit(t, p, func(f *patchelf.File) error { f.SetExecStack(false); return nil })
			if fl, _ := stackFlags(t, p); fl != elf.PF_R|elf.PF_W {
				t.Fatalf("after clear: flags %v", fl)
			}
			checkTools(t, p)
		})
		t.Run(v+"/in a PT_NULL entry", func(t *testing.T) {
			p := copyFile(t, prog, t.TempDir(), "prog")
			setProgType(t, p, elf.PT_GNU_STACK, elf.PT_NULL)
			if exec, stated := reopen(t, p).ExecStack(); exec || stated {
				t.Fatalf("without PT_GNU_STACK: exec %v stated %v", exec, stated)
			}
			before := len(progsOf(t, p))
			edit(t, p, func(f *patchelf.File) error { f.SetExecStack(true); return nil })
			if fl, ok := stackFlags(t, p); !ok || fl != elf.PF_R|elf.PF_W|elf.PF_X || len(progsOf(t, p)) != before {
				t.Fatalf("flags %v (present %v), %d headers, was %d", fl, ok, len(progsOf(t, p)), before)
			}
		})
		t.Run(v+"/as a new program header", func(t *testing.T) {
			dir := t.TempDir()
			p := copyFile(t, prog, dir, "prog")
			setProgType(t, p, elf.PT_GNU_STACK, elf.PT_LOOS) // a type loaders ignore
			before := len(progsOf(t, p))
			edit(t, p, func(f *patchelf.File) error {
				f.SetExecStack(false)
				return f.SetRPath(fx.lib[v])
			})
			if fl, ok := stackFlags(t, p); !ok || fl != elf.PF_R|elf.PF_W || len(progsOf(t, p)) <= before {
				t.Fatalf("flags %v (present %v), %d headers, was %d", fl, ok, len(progsOf(t, p)), before)
			}
			runsLast(t, "foo=42", p, checkTools(t, p))
		})
	}
}

func TestSetOSABIChangesOneByte(t *testing.T) {
	fx := getFixtures(t)
	p := copyFile(t, fx.progs["pie64"], t.TempDir(), "prog")
	before, _ := os.ReadFile(p)
	if got := reopen(t, p).Info().OSABI; got != elf.ELFOSABI_NONE {
		t.Fatalf("gcc's OS ABI %v", got)
	}
	edit(t, p, func(f *patchelf.File) error { f.SetOSABI(elf.ELFOSABI_FREEBSD); return nil })
	after, _ := os.ReadFile(p)
	if got := reopen(t, p).Info().OSABI; got != elf.ELFOSABI_FREEBSD {
		t.Fatalf("OS ABI %v after the edit", got)
	}
	want := slices.Clone(before)
	want[elf.EI_OSABI] = byte(elf.ELFOSABI_FREEBSD)
	if !bytes.Equal(after, want) {
		t.Fatal("the edit changed more than e_ident[EI_OSABI]")
	}
}

func TestAddDebugTag(t *testing.T) {
	fx := getFixtures(t)
	for _, v := range []string{"pie64", "pie32"} {
		lib, ok := fx.lib[v]
		if !ok {
			continue
		}
		t.Run(v, func(t *testing.T) {
			dir := t.TempDir()
			so := copyFile(t, filepath.Join(lib, "libfoo.so.1"), dir, "libfoo.so.1")
			if strings.Contains(readelf(t, "-d", so), "(DEBUG)") {
				t.Fatal("gcc's library already has DT_DEBUG: the test would prove nothing")
			}
			edit(t, so, func(f *patchelf.File) error { return f.AddDebugTag() })
			if !strings.Contains(readelf(t, "-d", so), "(DEBUG)") {
				t.Fatal("no DT_DEBUG after --add-debug-tag")
			}
			f := reopen(t, so)
			if err := f.AddDebugTag(); err != nil {
				t.Fatal(err)
			}
			if ch, err := f.Changed(); err != nil || ch {
				t.Fatalf("a second DT_DEBUG: changed %v, %v", ch, err)
			}
			p := copyFile(t, fx.progs[v], dir, "prog")
			edit(t, p, func(f *patchelf.File) error { return f.SetRPath("$ORIGIN") })
			checkTools(t, so)
			runsLast(t, "foo=42", p)
		})
	}
}

const renameLibC = `int foo(void) { return 42; }
int bar(void) { return 7; }
int baz(void) { return 1; }
`

const renameProgC = `#include <stdio.h>
int foo(void);
int bar(void);
int main(void) { printf("%d %d\n", foo(), bar()); return 0; }
`

// TestRenameDynamicSymbols renames symbols in a library and in the program
// that calls them: the loader finds the new names through the rebuilt hash
// tables, GNU and SysV alike.
func TestRenameDynamicSymbols(t *testing.T) {
	getFixtures(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "lib.c"), []byte(renameLibC), 0o644)
	os.WriteFile(filepath.Join(src, "main.c"), []byte(renameProgC), 0o644)
	renames := map[string]string{"foo": "foo_renamed", "bar": "bar_renamed"}
	for _, c := range []struct {
		name  string
		flags []string
	}{
		{"gnu-hash", []string{"-Wl,--hash-style=gnu"}},
		{"sysv-hash", []string{"-Wl,--hash-style=sysv"}},
		{"both", []string{"-Wl,--hash-style=both"}},
		{"32-bit", []string{"-m32"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			lib, prog := filepath.Join(dir, "librn.so"), filepath.Join(dir, "main")
			if err := gcc(append(slices.Clone(c.flags), "-shared", "-fPIC", "-Wl,-soname,librn.so", "-o", lib, filepath.Join(src, "lib.c"))...); err != nil {
				if slices.Contains(c.flags, "-m32") {
					testenv.RequireBinary(t, "gcc-multilib")
				}
				t.Fatal(err)
			}
			if err := gcc(append(slices.Clone(c.flags), "-o", prog, filepath.Join(src, "main.c"), lib, "-Wl,-rpath,$ORIGIN")...); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{lib, prog} {
				edit(t, p, func(f *patchelf.File) error { return f.RenameDynamicSymbols(renames) })
				checkLayout(t, p)
				readelf(t, "-a", "-W", p)
			}
			syms := readelf(t, "--dyn-syms", "-W", lib)
			for _, want := range []string{"foo_renamed", "bar_renamed", " baz"} {
				if !strings.Contains(syms, want) {
					t.Fatalf("library symbols lack %q:\n%s", want, syms)
				}
			}
			if strings.Contains(syms, " foo\n") || strings.Contains(syms, " bar\n") {
				t.Fatalf("old names left:\n%s", syms)
			}
			runsLast(t, "42 7", prog)
		})
	}
}

// TestBuildResolutionCache checks the note against the bytes patchelf 0.19
// writes for the same run path: for each needed library, sorted, the
// library, NUL, its "=path" and "?dir" entries joined by ":", NUL; then a
// final NUL.
func TestBuildResolutionCache(t *testing.T) {
	fx := getFixtures(t)
	for _, v := range []string{"pie64", "nopie64", "pie32"} {
		prog, ok := fx.progs[v]
		if !ok {
			continue
		}
		t.Run(v, func(t *testing.T) {
			p := copyFile(t, prog, t.TempDir(), "prog")
			lib := fx.lib[v]
			edit(t, p, func(f *patchelf.File) error {
				if err := f.SetRPath(lib + ":$ORIGIN/x"); err != nil {
					return err
				}
				return f.BuildResolutionCache()
			})
			want := "libc.so.6\x00?$ORIGIN/x\x00libfoo.so.1\x00=" + lib + "/libfoo.so.1:?$ORIGIN/x\x00\x00"
			ef, err := elf.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			s := ef.Section(".note.nixos.ldcache")
			if s == nil || s.Type != elf.SHT_NOTE || s.Flags != elf.SHF_ALLOC {
				ef.Close()
				t.Fatalf("no allocated note section: %+v", s)
			}
			b, _ := s.Data()
			ef.Close()
			note := append(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil,
				6), uint32(len(want))), 0x63a86cb6), "NixOS\x00\x00\x00"+want...)
			for len(note)%4 != 0 {
				note = append(note, 0)
			}
			if !bytes.Equal(b, note) {
				t.Fatalf("note\n%q\nwant\n%q", b, note)
			}
			if !strings.Contains(readelf(t, "-n", "-W", p), "NixOS") {
				t.Fatal("readelf finds no NixOS note")
			}
			checkTools(t, p)
			runsLast(t, "foo=42", p)

			f := reopen(t, p)
			if err := f.BuildResolutionCache(); err != nil {
				t.Fatalf("the same cache again: %v", err)
			}
			if ch, _ := f.Changed(); ch {
				t.Fatal("rebuilding an up-to-date cache changes the file")
			}
			// A tool that knows no note rewrote the run path in place: the
			// note is stale, and patchelf rebuilds only from a file
			// without one.
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			stale := bytes.Replace(data, []byte(":$ORIGIN/x\x00"), []byte(":$ORIGIN/y\x00"), 1)
			if bytes.Equal(stale, data) {
				t.Fatal("the run path is not in the file")
			}
			if err := os.WriteFile(p, stale, 0o755); err != nil {
				t.Fatal(err)
			}
			err = reopen(t, p).BuildResolutionCache()
			if !errors.Is(err, patchelf.ErrExists) || !strings.Contains(err.Error(), "a resolution cache note is already present") {
				t.Fatalf("a stale note: %v, want ErrExists saying a note is already present", err)
			}
			// A new run path makes the note stale: it goes.
			edit(t, p, func(f *patchelf.File) error { return f.SetRPath(lib) })
			if strings.Contains(readelf(t, "-S", "-W", p), ".note.nixos.ldcache") {
				t.Fatal("the stale note survived --set-rpath")
			}
			checkTools(t, p)
			// Nothing to resolve: a warning and no note.
			edit(t, p, func(f *patchelf.File) error {
				if err := f.RemoveRPath(); err != nil {
					return err
				}
				if err := f.BuildResolutionCache(); err != nil {
					return err
				}
				if w := f.Warnings(); len(w) != 1 || !strings.Contains(w[0], "no DT_NEEDED entries or run path to resolve") {
					t.Errorf("warnings %q", w)
				}
				return nil
			})
		})
	}
}

// An rpath string nothing else uses is overwritten with X, as patchelf
// does; when the new one fits, it takes the old one's place.
func TestOldRPathBecomesX(t *testing.T) {
	fx := getFixtures(t)
	old := "/some/long/old/path/nobody/else/uses"
	for _, c := range []struct{ name, rpath string }{
		{"shorter", "/new"},
		{"longer", fx.lib["pie64"] + ":" + strings.Repeat("/longer", 20)},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "prog")
			if err := gcc("-o", p, filepath.Join(fx.dir, "src", "prog.c"), filepath.Join(fx.lib["pie64"], "libfoo.so.1"), "-Wl,-rpath,"+old); err != nil {
				t.Fatal(err)
			}
			edit(t, p, func(f *patchelf.File) error { return f.SetRPath(c.rpath) })
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(old)) {
				t.Fatal("the old rpath is still in the file")
			}
			if got := rpathOf(t, reopen(t, p)); got != c.rpath {
				t.Fatalf("rpath %q", got)
			}
			if c.name == "shorter" {
				// patchelf 0.19's bytes: the new string, its NUL, Xs to the old end.
				want := append([]byte(c.rpath+"\x00"), bytes.Repeat([]byte("X"), len(old)-len(c.rpath)-1)...)
				if !bytes.Contains(b, append(want, 0)) {
					t.Fatalf(".dynstr lacks %q", want)
				}
			}
			checkTools(t, p)
		})
	}
}

// TestWarnsOfUnnamedSections: a symbol in a section without a name gets
// patchelf's warning when the edit rewrites the section headers.
func TestWarnsOfUnnamedSections(t *testing.T) {
	fx := getFixtures(t)
	p := copyFile(t, fx.progs["pie64"], t.TempDir(), "prog")
	b, _ := os.ReadFile(p)
	ef, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	text := slices.IndexFunc(ef.Sections, func(s *elf.Section) bool { return s.Name == ".text" })
	shoff := binary.LittleEndian.Uint64(b[40:])
	clear(b[shoff+uint64(text)*64:][:4]) // sh_name of .text: ""
	os.WriteFile(p, b, 0o755)
	f := reopen(t, p)
	if err := f.AddNeeded("libm.so.6"); err != nil {
		t.Fatal(err)
	}
	if err := f.SaveAs(p + ".out"); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("symbol table entry refers to an unnamed section (index %d), skipping", text)
	if w := f.Warnings(); len(w) == 0 || !slices.ContainsFunc(w, func(s string) bool { return s == want }) {
		t.Fatalf("warnings %q, want %q", w, want)
	}
	out, err := exec.Command("readelf", "-s", "-W", p+".out").Output()
	if err != nil || !bytes.Contains(out, []byte(" main\n")) {
		t.Fatalf("symbols after the edit: %v\n%s", err, out)
	}
}

// TestMovedTablesLeaveZ: a table that moves leaves Zs where it was, as
// patchelf does, unless KeepOldSections (--no-clobber-old-sections); the
// old rpath is Xs in the old copy either way.
func TestMovedTablesLeaveZ(t *testing.T) {
	fx := getFixtures(t)
	old := "/old/rpath/only/this/file/uses"
	long := fx.lib["pie64"] + ":" + strings.Repeat("/very/long/path", 400)
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "prog")
			if err := gcc("-o", p, filepath.Join(fx.dir, "src", "prog.c"), filepath.Join(fx.lib["pie64"], "libfoo.so.1"), "-Wl,-rpath,"+old); err != nil {
				t.Fatal(err)
			}
			ef, err := elf.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			dynstr := ef.Section(".dynstr")
			ef.Close()
			edit(t, p, func(f *patchelf.File) error {
				if keep {
					f.KeepOldSections()
				}
				return f.SetRPath(long)
			})
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(old)) {
				t.Fatal("the old rpath is still in the file")
			}
			if ef, err := elf.Open(p); err != nil || ef.Section(".dynstr").Offset == dynstr.Offset {
				t.Fatalf(".dynstr did not move: the test would prove nothing (%v)", err)
			}
			// The strings of .dynstr are in the file once: no stale copy
			// of the table stays behind.
			if n := bytes.Count(b, []byte("\x00libfoo.so.1\x00")); !keep && n != 1 {
				t.Fatalf("%d copies of .dynstr", n)
			}
			if n := bytes.Count(b, []byte("ZZZZZZZZ")); keep != (n == 0) {
				t.Fatalf("runs of Z: %d", n)
			}
			runsLast(t, "foo=42", p, checkTools(t, p))
		})
	}
}
