package patchelf_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/patchelf"
)

func edit(t *testing.T, path string, fn func(f *patchelf.File) error) {
	t.Helper()
	f, err := patchelf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := fn(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
}

func reopen(t *testing.T, path string) *patchelf.File {
	t.Helper()
	f, err := patchelf.Open(path)
	if err != nil {
		t.Fatalf("reopening edited file: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// checkTools checks the file's layout, runs readelf -a (no warnings) and
// strip on it, and returns the stripped copy, which must still run like the
// original (runsLike).
func checkTools(t *testing.T, path string) string {
	t.Helper()
	checkLayout(t, path)
	readelf(t, "-a", "-W", path)
	strip := testenv.RequireBinary(t, "strip")
	out := path + ".stripped"
	if b, err := exec.Command(strip, "-o", out, path).CombinedOutput(); err != nil || len(b) > 0 {
		t.Fatalf("strip: %v %s", err, b)
	}
	return out
}

// runsLike runs each program and wants it to print want.
func runsLike(t *testing.T, want string, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if got, err := runProg(t, p); err != nil || got != want {
			t.Fatalf("%s: %q, %v; want %q", filepath.Base(p), got, err, want)
		}
	}
}

// The edits of TestEditedProgramsRun, TestRepeatedEditsDoNotGrow and
// TestSharedLibraryEdits are checked with readelf and debug/elf first; the
// programs are executed last, in an "exec" subtest, which a kernel that
// cannot run 32-bit programs skips.
func TestEditedProgramsRun(t *testing.T) {
	fx := getFixtures(t)
	long := "$ORIGIN/../lib/" + strings.Repeat("very-long-directory-name/", 12) + "end"
	for _, v := range variants {
		prog, ok := fx.program(t, v.name)
		if !ok {
			continue
		}
		libdir := fx.lib[v.name]
		interp := func() string {
			f, err := patchelf.Open(prog)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s, _ := f.Interpreter()
			return s
		}()
		cases := []struct {
			name  string
			edit  func(f *patchelf.File) error
			tag   string // readelf -d must show this
			runs  bool
			fails string // when !runs: the loader's complaint names this
		}{
			{"set runpath to the library dir finds the library", func(f *patchelf.File) error {
				return f.SetRPath(long + ":" + libdir)
			}, "(RUNPATH)", true, ""},
			{"rpath longer than the slack of its segment", func(f *patchelf.File) error {
				return f.SetRPath(strings.Repeat("/no/such/dir", 400) + ":" + libdir)
			}, "(RUNPATH)", true, ""},
			{"force-rpath writes DT_RPATH", func(f *patchelf.File) error {
				return f.SetRPath(libdir+":"+long, patchelf.ForceRPath())
			}, "(RPATH)", true, ""},
			{"many new needed entries move .dynamic", func(f *patchelf.File) error {
				if err := f.SetRPath(libdir); err != nil {
					return err
				}
				return f.AddNeeded("libfoo.so.1", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libutil.so.1", "libresolv.so.2")
			}, "libresolv.so.2", true, ""},
			{"longer interpreter is moved out of place", func(f *patchelf.File) error {
				if err := f.SetRPath(libdir); err != nil {
					return err
				}
				return f.SetInterpreter(strings.Repeat("/.", 40) + interp)
			}, "(RUNPATH)", true, ""},
			{"soname is added", func(f *patchelf.File) error {
				if err := f.SetRPath(libdir); err != nil {
					return err
				}
				return f.SetSoname("libprog-" + strings.Repeat("x", 100) + ".so")
			}, "Library soname: [libprog-", true, ""},
			{"nodeflib stops the loader from searching the default paths", func(f *patchelf.File) error {
				if err := f.SetRPath(libdir); err != nil {
					return err
				}
				return f.NoDefaultLib()
			}, "NODEFLIB", false, "libc.so.6"},
			{"replace needed renames the library", func(f *patchelf.File) error {
				if err := f.SetRPath(libdir); err != nil {
					return err
				}
				return f.ReplaceNeeded(map[string]string{"libfoo.so.1": "libfoo-renamed.so.1"})
			}, "libfoo-renamed.so.1", false, "libfoo-renamed.so.1"},
		}
		for _, c := range cases {
			t.Run(v.name+"/"+c.name, func(t *testing.T) {
				dir := t.TempDir()
				p := copyFile(t, prog, dir, "prog")
				edit(t, p, c.edit)
				out := readelf(t, "-d", "-W", p)
				if !strings.Contains(out, c.tag) {
					t.Fatalf("readelf -d does not show %q:\n%s", c.tag, out)
				}
				// The renamed library, found through an rpath added to a copy.
				renamed := ""
				if c.fails == "libfoo-renamed.so.1" {
					if err := os.Symlink(filepath.Join(libdir, "libfoo.so.1"), filepath.Join(dir, "libfoo-renamed.so.1")); err != nil {
						t.Fatal(err)
					}
					renamed = copyFile(t, p, dir, "renamed")
					edit(t, renamed, func(f *patchelf.File) error { return f.AddRPath(dir) })
				}
				stripped := checkTools(t, p)
				if renamed != "" {
					stripped = checkTools(t, renamed)
				}

				t.Run("exec", func(t *testing.T) {
					if got, err := runProg(t, prog); err == nil {
						t.Fatalf("program ran before the edit (%q): the test would prove nothing", got)
					}
					got, err := runProg(t, p)
					if c.runs && (err != nil || got != "foo=42") {
						t.Fatalf("edited program: %q, %v", got, err)
					}
					if !c.runs && (err == nil || !strings.Contains(got, c.fails)) {
						t.Fatalf("program should fail to find %s, got %q, %v", c.fails, got, err)
					}
					if renamed != "" {
						runsLike(t, "foo=42", renamed)
					}
					if c.runs || renamed != "" {
						runsLike(t, "foo=42", stripped)
					}
				})
			})
		}
	}
}

func TestRepeatedEditsDoNotGrow(t *testing.T) {
	fx := getFixtures(t)
	for _, v := range variants {
		prog, ok := fx.program(t, v.name)
		if !ok {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			p := copyFile(t, prog, t.TempDir(), "prog")
			var sizes []int64
			for i := range 8 {
				edit(t, p, func(f *patchelf.File) error {
					if err := f.SetRPath(fx.lib[v.name] + ":/" + strings.Repeat(string(rune('a'+i)), 300)); err != nil {
						return err
					}
					return f.AddNeeded("libextra" + string(rune('a'+i)) + strings.Repeat("x", 50) + ".so")
				})
				edit(t, p, func(f *patchelf.File) error {
					return f.RemoveNeeded("libextra" + string(rune('a'+i)) + strings.Repeat("x", 50) + ".so")
				})
				st, _ := os.Stat(p)
				sizes = append(sizes, st.Size())
				e, err := elf.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				loads := 0
				for _, ph := range e.Progs {
					if ph.Type == elf.PT_LOAD {
						loads++
					}
				}
				e.Close()
				if loads > 6 {
					t.Fatalf("edit %d: %d PT_LOAD segments: each edit adds one", i, loads)
				}
			}
			if sizes[len(sizes)-1] != sizes[2] {
				t.Fatalf("file keeps growing across edits of the same size: %v", sizes)
			}
			// The same value again changes nothing at all.
			before, _ := os.ReadFile(p)
			st0, _ := os.Stat(p)
			f, err := patchelf.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.SetRPath(rpathOf(t, f)); err != nil {
				t.Fatal(err)
			}
			if ch, _ := f.Changed(); ch {
				t.Fatal("setting the current rpath reports a change")
			}
			if err := f.Save(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			after, _ := os.ReadFile(p)
			st1, _ := os.Stat(p)
			if !bytes.Equal(before, after) || !os.SameFile(st0, st1) {
				t.Fatal("saving an unchanged file rewrote it")
			}
			stripped := checkTools(t, p)
			t.Run("exec", func(t *testing.T) { runsLike(t, "foo=42", p, stripped) })
		})
	}
}

func TestSharedLibraryEdits(t *testing.T) {
	fx := getFixtures(t)
	for _, v := range variants {
		prog, ok := fx.program(t, v.name)
		if !ok {
			continue
		}
		for _, lib := range []string{"libfoo.so.1", "nosoname.so"} {
			t.Run(v.name+"/"+lib, func(t *testing.T) {
				dir := t.TempDir()
				src := filepath.Join(fx.lib[v.name], lib)
				if lib == "nosoname.so" {
					src = filepath.Join(filepath.Dir(fx.lib[v.name]), lib)
				}
				so := copyFile(t, src, dir, "libfoo.so.1")
				if _, err := reopen(t, so).Interpreter(); !errors.Is(err, patchelf.ErrNoInterpreter) {
					t.Fatalf("library interpreter: %v, want ErrNoInterpreter", err)
				}
				edit(t, so, func(f *patchelf.File) error {
					if err := f.SetSoname("libfoo.so.1"); err != nil {
						return err
					}
					return f.SetRPath("$ORIGIN/" + strings.Repeat("deep/", 60))
				})
				f := reopen(t, so)
				if s, ok, err := f.Soname(); err != nil || !ok || s != "libfoo.so.1" {
					t.Fatalf("soname %q %v", s, ok)
				}
				if !strings.Contains(readelf(t, "-d", so), "Library soname: [libfoo.so.1]") {
					t.Fatal("readelf does not show the soname")
				}
				checkTools(t, so)
				p := copyFile(t, prog, dir, "prog")
				edit(t, p, func(f *patchelf.File) error { return f.SetRPath("$ORIGIN") })
				t.Run("exec", func(t *testing.T) { runsLike(t, "foo=42", p) })
			})
		}
	}
}

func TestOutputPathLeavesInputAndKeepsMode(t *testing.T) {
	fx := getFixtures(t)
	dir := t.TempDir()
	in := copyFile(t, fx.progs["pie64"], dir, "in")
	if err := os.Chmod(in, 0o750); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(in)
	f, err := patchelf.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.SetRPath(fx.lib["pie64"]); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := f.SaveAs(out); err != nil {
		t.Fatal(err)
	}
	if now, _ := os.ReadFile(in); !bytes.Equal(orig, now) {
		t.Fatal("input changed")
	}
	st, _ := os.Stat(out)
	if st.Mode().Perm() != 0o750 {
		t.Fatalf("mode %v, want 0750", st.Mode())
	}
	if got, err := runProg(t, out); err != nil || got != "foo=42" {
		t.Fatalf("output: %q %v", got, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
}

func TestBadInput(t *testing.T) {
	fx := getFixtures(t)
	dir := t.TempDir()
	good, _ := os.ReadFile(fx.progs["pie64"])
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	obj := filepath.Join(dir, "obj.o")
	static := filepath.Join(dir, "static")
	if err := gcc("-c", "-o", obj, filepath.Join(fx.dir, "src", "foo.c")); err != nil {
		t.Fatal(err)
	}
	if err := gcc("-static", "-o", static, filepath.Join(fx.dir, "src", "prog.c"), filepath.Join(fx.dir, "src", "foo.c")); err != nil {
		t.Fatal(err)
	}
	badSH := bytes.Clone(good)
	badSH[40] = 0xff // e_shoff far past the end
	badSH[41] = 0xff
	noSections := bytes.Clone(good)
	clear(noSections[40:48]) // e_shoff
	clear(noSections[60:62]) // e_shnum
	badPH := bytes.Clone(good)
	badPH[32] = 0xf0
	badPH[33] = 0xff
	// The messages are NixOS patchelf 0.19's (src/patchelf.cc), checked
	// against a local build of it; Debian's 0.14.3 words some differently.
	malformed := func(msg string) error { return &patchelf.FormatError{Msg: msg} }
	cases := []struct {
		name, path string
		want       error
	}{
		{"text file is not ELF", write("text", []byte("#!/bin/sh\necho hello, this is not an ELF file, and it is longer than any ELF header\n")), patchelf.ErrNotELF},
		{"empty file misses the header", write("empty", nil), malformed("missing ELF header")},
		{"truncated header", write("trunc", good[:40]), malformed("missing ELF header")},
		{"truncated after the headers", write("trunc2", good[:1000]), malformed("section header table out of bounds")},
		{"no section headers", write("trunc3", noSections[:1000]), malformed("no section headers. The input file is probably a statically linked, self-decompressing binary")},
		{"object file has the wrong type", obj, patchelf.ErrWrongType},
		{"static program has no dynamic section", static, patchelf.ErrStatic},
		{"section headers out of bounds", write("badsh", badSH), malformed("section header table out of bounds")},
		{"program headers out of bounds", write("badph", badPH), malformed("program header table out of bounds")},
		{"missing file", filepath.Join(dir, "nosuch"), os.ErrNotExist},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := os.ReadFile(c.path)
			f, err := patchelf.Open(c.path)
			if err == nil {
				_, err = f.Needed()
				f.Close()
			}
			if err == nil {
				t.Fatal("read without error")
			}
			var want *patchelf.FormatError
			if errors.As(c.want, &want) {
				var got *patchelf.FormatError
				if !errors.As(err, &got) || got.Msg != want.Msg || !errors.Is(err, patchelf.ErrMalformed) {
					t.Fatalf("error %v, want the message %q", err, want.Msg)
				}
			} else if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			after, _ := os.ReadFile(c.path)
			if !bytes.Equal(before, after) {
				t.Fatal("file changed")
			}
		})
	}
}

// The linker stores a string that ends another only once: here DT_NEEDED
// "libfoo.so.1" points into the tail of the DT_RUNPATH string
// ".../libfoo.so.1". Changing the runpath must not touch those bytes
// (Debian's patchelf 0.14.3 blanks them and the program loses its
// dependency).
func TestSharedStringTailsSurvive(t *testing.T) {
	fx := getFixtures(t)
	dir := t.TempDir()
	tail := filepath.Join(dir, "libfoo.so.1") // a directory whose name ends like the library
	if err := os.MkdirAll(tail, 0o755); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "prog")
	if err := gcc("-o", prog, filepath.Join(fx.dir, "src", "prog.c"), filepath.Join(fx.lib["pie64"], "libfoo.so.1"), "-Wl,-rpath,"+tail); err != nil {
		t.Fatal(err)
	}
	out := readelf(t, "-p", ".dynstr", prog)
	if strings.Count(out, "libfoo.so.1") != 1 {
		// GNU ld merges them; a linker that does not leaves nothing to test.
		testenv.Missing(t, "the linker scripts/test installs did not merge the string tails:\n%s", out)
	}
	for _, rp := range []string{"/x", fx.lib["pie64"], fx.lib["pie64"] + ":" + strings.Repeat("/long", 40)} {
		edit(t, prog, func(f *patchelf.File) error { return f.SetRPath(rp) })
		f := reopen(t, prog)
		if got := needed(t, f); len(got) != 2 || got[0] != "libfoo.so.1" {
			t.Fatalf("after set-rpath %q: needed %q", rp, got)
		}
	}
	if got, err := runProg(t, prog); err != nil || got != "foo=42" {
		t.Fatalf("program: %q, %v", got, err)
	}
}

func TestSaveThroughSymlinkEditsTheTarget(t *testing.T) {
	fx := getFixtures(t)
	dir := t.TempDir()
	so := copyFile(t, filepath.Join(fx.lib["pie64"], "libfoo.so.1"), dir, "libfoo.so.1")
	link := filepath.Join(dir, "libfoo.so")
	if err := os.Symlink("libfoo.so.1", link); err != nil {
		t.Fatal(err)
	}
	edit(t, link, func(f *patchelf.File) error { return f.SetRPath("$ORIGIN/long/enough/to/relocate/the/string/table") })
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced: %v, %v", fi.Mode(), err)
	}
	if got := rpathOf(t, reopen(t, so)); got != "$ORIGIN/long/enough/to/relocate/the/string/table" {
		t.Fatalf("target rpath %q", got)
	}
}

// TestForceRPathWithBothEntries: a file with DT_RPATH "/a" and DT_RUNPATH
// "libc.so.6" (the loader uses the runpath). --force-rpath --set-rpath to
// the runpath's value must leave one DT_RPATH with that value, not the
// stale "/a".
func TestForceRPathWithBothEntries(t *testing.T) {
	fx := getFixtures(t)
	p := copyFile(t, fx.progs["pie64"], t.TempDir(), "prog")
	edit(t, p, func(f *patchelf.File) error { return f.SetRPath("/a", patchelf.ForceRPath()) })

	// Turn DT_DEBUG into a DT_RUNPATH naming the "libc.so.6" string.
	ef, err := elf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	dyn := ef.Section(".dynamic")
	dynstr, err := ef.Section(".dynstr").Data()
	if err != nil {
		t.Fatal(err)
	}
	ef.Close()
	libc := slices.Index(splitNUL(dynstr), "libc.so.6")
	if dyn == nil || libc < 0 {
		t.Fatal("fixture has no .dynamic or no libc.so.6 string")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	patched := false
	for off := dyn.Offset; off+16 <= dyn.Offset+dyn.Size; off += 16 {
		if elf.DynTag(binary.LittleEndian.Uint64(b[off:])) == elf.DT_DEBUG {
			binary.LittleEndian.PutUint64(b[off:], uint64(elf.DT_RUNPATH))
			binary.LittleEndian.PutUint64(b[off+8:], uint64(libc))
			patched = true
			break
		}
	}
	if !patched {
		t.Fatal("fixture has no DT_DEBUG entry")
	}
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	f := reopen(t, p)
	if rp, rup := dynStrings(t, f, elf.DT_RPATH), dynStrings(t, f, elf.DT_RUNPATH); !slices.Equal(rp, []string{"/a"}) || !slices.Equal(rup, []string{"libc.so.6"}) {
		t.Fatalf("setup: rpath %q runpath %q", rp, rup)
	}

	edit(t, p, func(f *patchelf.File) error { return f.SetRPath("libc.so.6", patchelf.ForceRPath()) })
	f = reopen(t, p)
	if rp, rup := dynStrings(t, f, elf.DT_RPATH), dynStrings(t, f, elf.DT_RUNPATH); !slices.Equal(rp, []string{"libc.so.6"}) || len(rup) != 0 {
		t.Fatalf("after --force-rpath: rpath %q runpath %q, want rpath [libc.so.6] only", rp, rup)
	}
}

// splitNUL returns, at each byte offset of a string table, the string
// starting there when the offset starts a string, "" otherwise.
func splitNUL(tab []byte) []string {
	out := make([]string, len(tab))
	start := 0
	for i, c := range tab {
		if c == 0 {
			out[start] = string(tab[start:i])
			start = i + 1
		}
	}
	return out
}

func TestSaveKeepsOwner(t *testing.T) {
	testenv.RequireRoot(t)
	fx := getFixtures(t)
	p := copyFile(t, fx.progs["pie64"], t.TempDir(), "prog")
	if err := os.Chown(p, 65534, 65533); err != nil {
		t.Fatal(err)
	}
	edit(t, p, func(f *patchelf.File) error {
		return f.SetRPath(fx.lib["pie64"] + ":/a/long/path/to/move/the/string/table")
	})
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 65534 || st.Gid != 65533 {
		t.Fatalf("owner %d:%d after Save, want 65534:65533 as before", st.Uid, st.Gid)
	}
}
