package patchelf_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/patchelf"
)

func TestBundleRunsFromAnywhere(t *testing.T) {
	fx := getFixtures(t)
	work := t.TempDir()
	// A library directory the program finds through its runpath only.
	libdir := filepath.Join(work, "private")
	os.MkdirAll(libdir, 0o755)
	copyFile(t, filepath.Join(fx.lib["pie64"], "libfoo.so.1"), libdir, "libfoo.so.1")
	prog := copyFile(t, fx.progs["pie64"], work, "prog")
	edit(t, prog, func(f *patchelf.File) error { return f.SetRPath("$ORIGIN/private") })

	dest := filepath.Join(work, "bundle")
	rep, err := patchelf.Bundle(context.Background(), dest, []string{prog})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]patchelf.Library{}
	for _, l := range rep.Libraries {
		got[l.Name] = l
	}
	if l := got["libfoo.so.1"]; l.From != patchelf.FromRunPath || l.Skipped || l.Path != filepath.Join(libdir, "libfoo.so.1") {
		t.Fatalf("libfoo resolved as %+v", l)
	}
	if l := got["libc.so.6"]; !l.Skipped || l.From != patchelf.FromCache && l.From != patchelf.FromDefault {
		t.Fatalf("libc resolved as %+v", l)
	}
	if _, err := os.Stat(filepath.Join(dest, "lib", "libc.so.6")); !os.IsNotExist(err) {
		t.Fatal("the C library was bundled")
	}
	// Move the bundle and hide the original library: it must still run.
	moved := filepath.Join(work, "elsewhere", "agent")
	os.MkdirAll(filepath.Dir(moved), 0o755)
	if err := os.Rename(dest, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(libdir); err != nil {
		t.Fatal(err)
	}
	if out, err := runProg(t, filepath.Join(moved, "bin", "prog")); err != nil || out != "foo=42" {
		t.Fatalf("bundled program: %q, %v", out, err)
	}
	if rp := rpathOf(t, reopen(t, filepath.Join(moved, "lib", "libfoo.so.1"))); rp != "$ORIGIN" {
		t.Fatalf("library runpath %q", rp)
	}
}

func TestBundleMissingLibrary(t *testing.T) {
	fx := getFixtures(t)
	prog := copyFile(t, fx.progs["pie64"], t.TempDir(), "prog")
	_, err := patchelf.Bundle(context.Background(), t.TempDir(), []string{prog})
	if err == nil || !errorsIs(err, patchelf.ErrNotFound) {
		t.Fatalf("error %v, want ErrNotFound", err)
	}
}

func TestLoadCacheFindsLibc(t *testing.T) {
	if _, err := os.Stat("/etc/ld.so.cache"); err != nil {
		testenv.Unsupported(t, "no /etc/ld.so.cache on this host (a C library other than glibc): %v", err)
	}
	es, err := patchelf.LoadCache("/etc/ld.so.cache")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Name == "libc.so.6" {
			if _, err := os.Stat(e.Path); err != nil {
				t.Fatalf("cache entry %+v: %v", e, err)
			}
			return
		}
	}
	t.Fatal("libc.so.6 not in the cache")
}

func TestParseCacheRejectsGarbage(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":     nil,
		"old only":  []byte("ld.so-1.7.0\x00\x01\x00\x00\x00"),
		"bad magic": []byte("glibc-ld.so.cache0.9" + string(make([]byte, 40))),
		"too many":  append([]byte("glibc-ld.so.cache1.1\xff\xff\xff\x00"), make([]byte, 40)...),
	} {
		if _, err := patchelf.ParseCache(b); !errorsIs(err, patchelf.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

// cacheBytes builds an ld.so cache in the new format, optionally behind
// an old-format table, with string offsets the way ldconfig writes them.
func cacheBytes(old bool, entries [][2]string) []byte {
	var strs []byte
	hdr := make([]byte, 48)
	copy(hdr, "glibc-ld.so.cache1.1")
	binary.LittleEndian.PutUint32(hdr[20:], uint32(len(entries)))
	tab := make([]byte, 24*len(entries))
	base := 48 + len(tab) // strings follow the entries
	for i, e := range entries {
		k := base + len(strs)
		strs = append(append(strs, e[0]...), 0)
		v := base + len(strs)
		strs = append(append(strs, e[1]...), 0)
		binary.LittleEndian.PutUint32(tab[24*i:], 0x0303) // libc6, x86-64
		binary.LittleEndian.PutUint32(tab[24*i+4:], uint32(k))
		binary.LittleEndian.PutUint32(tab[24*i+8:], uint32(v))
	}
	binary.LittleEndian.PutUint32(hdr[24:], uint32(len(strs)))
	out := slices.Concat(hdr, tab, strs)
	if old {
		// "ld.so-1.7.0", NUL, nlibs = 0: 16 bytes, already 8-aligned.
		out = append([]byte("ld.so-1.7.0\x00\x00\x00\x00\x00"), out...)
	}
	return out
}

func TestParseCache(t *testing.T) {
	entries := [][2]string{{"libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"}, {"libfoo.so.2", "/opt/foo/libfoo.so.2"}}
	for name, b := range map[string][]byte{"new format": cacheBytes(false, entries), "old table first": cacheBytes(true, entries)} {
		t.Run(name, func(t *testing.T) {
			got, err := patchelf.ParseCache(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[1].Name != "libfoo.so.2" || got[1].Path != "/opt/foo/libfoo.so.2" || got[0].Flags != 0x0303 {
				t.Fatalf("%+v", got)
			}
		})
	}
}

func TestBundleIncludeLibc(t *testing.T) {
	fx := getFixtures(t)
	work := t.TempDir()
	prog := copyFile(t, fx.progs["pie64"], work, "prog")
	edit(t, prog, func(f *patchelf.File) error { return f.SetRPath(fx.lib["pie64"]) })
	dest := filepath.Join(work, "bundle")
	opts := []patchelf.BundleOption{patchelf.WithLibc()}
	if _, err := patchelf.Bundle(context.Background(), dest, []string{prog}, opts...); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dest, "lib", "libc.so.6")); err != nil {
		t.Fatalf("libc not bundled: %v", err)
	}
	if out, err := runProg(t, filepath.Join(dest, "bin", "prog")); err != nil || out != "foo=42" {
		t.Fatalf("bundled program with its own libc: %q, %v", out, err)
	}
	// The loader lists what it maps: the bundled libc, not the host's.
	cmd := exec.Command(filepath.Join(dest, "bin", "prog"))
	cmd.Env = []string{"LD_TRACE_LOADED_OBJECTS=1"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tracing the bundled program: %v\n%s", err, out)
	}
	if want := "libc.so.6 => " + dest + "/bin/../lib/libc.so.6"; !strings.Contains(string(out), want) {
		t.Fatalf("the bundled libc is not the one loaded; want %q in\n%s", want, out)
	}
}

// A library linked by path and without a SONAME is recorded in DT_NEEDED as
// that path; the bundled program must load the bundled copy instead.
func TestBundleLibraryNeededByPath(t *testing.T) {
	fx := getFixtures(t)
	work := t.TempDir()
	lib := copyFile(t, filepath.Join(fx.dir, "pie64", "nosoname.so"), work, "nosoname.so")
	prog := filepath.Join(work, "prog")
	if err := gcc("-o", prog, filepath.Join(fx.dir, "src", "prog.c"), lib); err != nil {
		t.Fatalf("gcc: %v", err)
	}
	if n := needed(t, reopen(t, prog)); !slices.Contains(n, lib) {
		t.Fatalf("fixture: DT_NEEDED %q does not hold the path %s", n, lib)
	}
	dest := filepath.Join(work, "bundle")
	rep, err := patchelf.Bundle(context.Background(), dest, []string{prog})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rep.Libraries, func(l patchelf.Library) bool { return l.Name == lib && l.From == patchelf.FromPath }) {
		t.Fatalf("report %+v", rep.Libraries)
	}
	if err := os.Remove(lib); err != nil {
		t.Fatal(err)
	}
	if out, err := runProg(t, filepath.Join(dest, "bin", "prog")); err != nil || out != "foo=42" {
		t.Fatalf("bundled program: %q, %v", out, err)
	}
	if n := needed(t, reopen(t, filepath.Join(dest, "bin", "prog"))); !slices.Contains(n, "nosoname.so") {
		t.Fatalf("bundled DT_NEEDED %q", n)
	}
}

// The dynamic loader comes along with WithLibc as the host's file, byte for
// byte: glibc's ld.so refuses to start with a run path of its own, which
// every other bundled library gets. Started by hand, the bundled loader
// runs the bundled program with the bundled C library.
func TestBundleCopiesTheLoaderAsIs(t *testing.T) {
	fx := getFixtures(t)
	work := t.TempDir()
	prog := copyFile(t, fx.progs["pie64"], work, "prog")
	edit(t, prog, func(f *patchelf.File) error { return f.SetRPath(fx.lib["pie64"]) })
	interp, err := reopen(t, prog).Interpreter()
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(work, "bundle")
	rep, err := patchelf.Bundle(context.Background(), dest, []string{prog}, patchelf.WithLibc())
	if err != nil {
		t.Fatal(err)
	}
	loader := filepath.Join(dest, "lib", filepath.Base(interp))
	want, err := os.ReadFile(interp)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(loader)
	if err != nil {
		t.Fatalf("the loader %s was not bundled: %v", interp, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the bundled loader differs from %s (run path %q)", interp, rpathOf(t, reopen(t, loader)))
	}
	if !slices.ContainsFunc(rep.Libraries, func(l patchelf.Library) bool { return filepath.Base(l.Name) == filepath.Base(interp) && !l.Skipped }) {
		t.Fatalf("the loader is not in the report: %+v", rep.Libraries)
	}
	out, err := exec.Command(loader, filepath.Join(dest, "bin", "prog")).CombinedOutput()
	if err != nil || string(out) != "foo=42\n" {
		t.Fatalf("the bundled loader running the bundled program: %q, %v", out, err)
	}
}

// A static program needs no library and has no dynamic section to give a
// run path: it is bundled as a plain copy, beside dynamic ones.
func TestBundleCopiesStaticPrograms(t *testing.T) {
	fx := getFixtures(t)
	work := t.TempDir()
	src := filepath.Join(work, "hello.c")
	if err := os.WriteFile(src, []byte("#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, flag string }{{"static", "-static"}, {"static-pie", "-static-pie"}} {
		out := filepath.Join(work, c.name)
		if err := gcc(c.flag, "-o", out, src); err != nil {
			testenv.Missing(t, "gcc %s cannot link (scripts/test installs libc6-dev, which holds the static C library): %v", c.flag, err)
		}
	}
	dyn := copyFile(t, fx.progs["pie64"], work, "prog")
	edit(t, dyn, func(f *patchelf.File) error { return f.SetRPath(fx.lib["pie64"]) })
	dest := filepath.Join(work, "bundle")
	rep, err := patchelf.Bundle(context.Background(), dest, []string{filepath.Join(work, "static"), filepath.Join(work, "static-pie"), dyn})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Programs) != 3 {
		t.Fatalf("programs %v", rep.Programs)
	}
	for _, name := range []string{"static", "static-pie"} {
		want, _ := os.ReadFile(filepath.Join(work, name))
		got, err := os.ReadFile(filepath.Join(dest, "bin", name))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s is not a plain copy (%v)", name, err)
		}
		fi, err := os.Stat(filepath.Join(dest, "bin", name))
		if err != nil || fi.Mode().Perm()&0o111 == 0 {
			t.Fatalf("%s is not executable: %v %v", name, fi.Mode(), err)
		}
		if out, err := runProg(t, filepath.Join(dest, "bin", name)); err != nil || out != "hello" {
			t.Fatalf("bundled %s: %q, %v", name, out, err)
		}
	}
	if out, err := runProg(t, filepath.Join(dest, "bin", "prog")); err != nil || out != "foo=42" {
		t.Fatalf("bundled dynamic program: %q, %v", out, err)
	}
}
