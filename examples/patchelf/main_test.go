package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/internal/testenv"
)

// fixture builds libfoo.so.1 and a program linking it (PIE, non-PIE,
// 32-bit) into dir.
func fixture(t *testing.T, dir string, flags ...string) (prog, libdir string) {
	t.Helper()
	testenv.RequireBinary(t, "gcc")
	libdir = filepath.Join(dir, "lib")
	os.MkdirAll(libdir, 0o755)
	os.WriteFile(filepath.Join(dir, "foo.c"), []byte("int foo(void){return 42;}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "prog.c"), []byte("#include <stdio.h>\nint foo(void);\nint main(void){printf(\"foo=%d\\n\", foo());return 0;}\n"), 0o644)
	bits := []string{}
	for _, f := range flags {
		if f == "-m32" {
			bits = append(bits, f)
		}
	}
	so := filepath.Join(libdir, "libfoo.so.1")
	gcc := func(args ...string) {
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
	}
	gcc(append(bits, "-shared", "-fPIC", "-Wl,-soname,libfoo.so.1", "-o", so, filepath.Join(dir, "foo.c"))...)
	prog = filepath.Join(dir, "prog")
	gcc(append(flags, "-o", prog, filepath.Join(dir, "prog.c"), so)...)
	return prog, libdir
}

type result struct {
	stdout, stderr string
	code           int
}

func ours(args ...string) result {
	var out, errb bytes.Buffer
	code := run(append([]string{"/usr/bin/patchelf"}, args...), &out, &errb)
	return result{out.String(), errb.String(), code}
}

func debian(t *testing.T, args ...string) result {
	bin := testenv.RequireBinary(t, "patchelf")
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func cp(t *testing.T, src, dst string) string {
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

func runIt(path string) string {
	cmd := exec.Command(path)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err != nil {
		s += " [" + err.Error() + "]"
	}
	// The loader names the program in its errors; the two copies differ.
	return strings.ReplaceAll(strings.ReplaceAll(s, path, "PROG"), filepath.Base(path), "PROG")
}

func TestParityWithDebianPatchelf(t *testing.T) {
	testenv.RequireBinary(t, "patchelf")
	prints := [][]string{{"--print-interpreter"}, {"--print-rpath"}, {"--print-needed"}, {"--print-soname"},
		{"--print-rpath", "--print-needed", "--print-interpreter"}}
	for _, v := range []struct {
		name  string
		flags []string
	}{
		{"pie64", []string{"-pie", "-fPIE"}},
		{"nopie64", []string{"-no-pie", "-fno-PIE"}},
		{"pie32", []string{"-m32", "-pie", "-fPIE"}},
		{"nopie32", []string{"-m32", "-no-pie", "-fno-PIE"}},
		{"pie64-onesegment", []string{"-pie", "-fPIE", "-Wl,-z,noseparate-code"}},
		{"nopie64-onesegment", []string{"-no-pie", "-fno-PIE", "-Wl,-z,noseparate-code"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			prog, libdir := fixture(t, dir, v.flags...)
			long := "$ORIGIN/../lib/" + strings.Repeat("long-path-component/", 10) + ":" + libdir
			edits := []struct {
				name  string
				steps [][]string // one patchelf call each: 0.14.3 loses edits combined in one call
			}{
				{"set-rpath", [][]string{{"--set-rpath", long}}},
				{"force-rpath", [][]string{{"--force-rpath", "--set-rpath", long}}},
				{"add-rpath", [][]string{{"--add-rpath", libdir}}},
				{"set then remove rpath", [][]string{{"--set-rpath", libdir, "--remove-rpath"}}},
				{"shrink-rpath keeps the dir with the library", [][]string{{"--set-rpath", "/nonexistent/a:" + libdir + ":/usr/share", "--shrink-rpath"}}},
				{"set-interpreter", [][]string{[]string{"--set-rpath", libdir}, []string{"--set-interpreter", "/lib/../lib/../lib/../lib/../" + strings.TrimSpace(ours("--print-interpreter", prog).stdout)}}},
				{"replace-needed", [][]string{[]string{"--set-rpath", libdir}, []string{"--replace-needed", "libfoo.so.1", "libbar.so.1"}}},
				{"remove-needed", [][]string{[]string{"--set-rpath", libdir}, []string{"--remove-needed", "libfoo.so.1"}}},
				{"set-soname", [][]string{[]string{"--set-rpath", libdir}, []string{"--set-soname", "libprog.so"}}},
				{"clear-symbol-version", [][]string{{"--set-rpath", libdir}, {"--clear-symbol-version", "printf"}}},
				{"no-default-lib", [][]string{[]string{"--set-rpath", libdir}, []string{"--no-default-lib"}}},
				// Both tools overwrite an rpath nothing else uses with X.
				{"replaced rpath leaves no trace", [][]string{{"--set-rpath", "/first/rpath/to/be/replaced:" + libdir}, {"--set-rpath", libdir}}},
			}
			for _, e := range edits {
				t.Run(e.name, func(t *testing.T) {
					a := cp(t, prog, filepath.Join(dir, "ours-"+strings.ReplaceAll(e.name, " ", "-")))
					b := cp(t, prog, filepath.Join(dir, "deb-"+strings.ReplaceAll(e.name, " ", "-")))
					for _, args := range e.steps {
						r1, r2 := ours(append(args, a)...), debian(t, append(args, b)...)
						if r1 != r2 {
							t.Fatalf("edit %v differs:\nours   %+v\ndebian %+v", args, r1, r2)
						}
					}
					for _, f := range []string{a, b} {
						if data, _ := os.ReadFile(f); bytes.Contains(data, []byte("/first/rpath/to/be/replaced")) {
							t.Fatalf("%s keeps the replaced rpath", filepath.Base(f))
						}
					}
					for _, p := range prints {
						// Each tool reads both results: identical output.
						o1, d1 := ours(append(p, a)...), debian(t, append(p, a)...)
						o2, d2 := ours(append(p, b)...), debian(t, append(p, b)...)
						if o1 != d1 || o1 != o2 || o2 != d2 {
							t.Fatalf("%v differs:\nours on ours %+v\ndebian on ours %+v\nours on debian's %+v\ndebian on debian's %+v", p, o1, d1, o2, d2)
						}
					}
					// Executed last: a kernel without 32-bit execution
					// skips this and still checks the edits above.
					t.Run("exec", func(t *testing.T) {
						if slices.Contains(v.flags, "-m32") {
							testenv.RequireExec32(t)
						}
						if ra, rb := runIt(a), runIt(b); ra != rb {
							t.Fatalf("loader behaviour differs:\nours   %q\ndebian %q", ra, rb)
						}
					})
				})
			}
		})
	}
}

// Debian's patchelf 0.14.3 loses an existing DT_NEEDED entry when it adds
// one (the file then fails to load libc); ours keeps the table and puts
// the new entries first, as upstream intends.
func TestAddNeededKeepsExistingEntries(t *testing.T) {
	dir := t.TempDir()
	prog, libdir := fixture(t, dir, "-pie", "-fPIE")
	p := cp(t, prog, filepath.Join(dir, "p"))
	if r := ours("--set-rpath", libdir, "--add-needed", "libm.so.6", "--add-needed", "libdl.so.2", p); r.code != 0 {
		t.Fatal(r)
	}
	if got := ours("--print-needed", p).stdout; got != "libdl.so.2\nlibm.so.6\nlibfoo.so.1\nlibc.so.6\n" {
		t.Fatalf("needed:\n%s", got)
	}
	if got := runIt(p); got != "foo=42" {
		t.Fatal(got)
	}
}

func TestErrorsMatchDebianPatchelf(t *testing.T) {
	testenv.RequireBinary(t, "patchelf")
	dir := t.TempDir()
	prog, _ := fixture(t, dir, "-pie", "-fPIE")
	lib := filepath.Join(dir, "lib", "libfoo.so.1")
	text := filepath.Join(dir, "text")
	os.WriteFile(text, []byte("not an elf file at all, just some text\n"), 0o644)
	short := filepath.Join(dir, "short")
	b, _ := os.ReadFile(prog)
	os.WriteFile(short, b[:30], 0o644)
	obj := filepath.Join(dir, "foo.o")
	if out, err := exec.Command("gcc", "-c", "-o", obj, filepath.Join(dir, "foo.c")).CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	static := filepath.Join(dir, "static")
	if out, err := exec.Command("gcc", "-static", "-o", static, filepath.Join(dir, "prog.c"), filepath.Join(dir, "foo.c")).CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	// Where 0.14.3 and 0.19 agree; the usage text and the version differ
	// (TestHelpAndVersionAre019).
	for _, args := range [][]string{
		{"--print-rpath"},
		{"--print-rpath", text},
		{"--print-rpath", short},
		{"--print-rpath", obj},
		{"--print-rpath", static},
		{"--print-interpreter", static},
		{"--print-interpreter", lib},
		{"--print-rpath", filepath.Join(dir, "missing")},
		{"--print-rpath", dir},
		{"--set-rpath"},
		{"--replace-needed", "a"},
		{"--page-size", "0", "--print-rpath", prog},
		{"--output", filepath.Join(dir, "o"), prog, prog},
		{"--print-soname", prog},
		{"--print-soname", lib},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r1, r2 := ours(args...), debian(t, args...)
			if r1 != r2 {
				t.Fatalf("\nours   %+v\ndebian %+v", r1, r2)
			}
		})
	}
}

// flags019 are the options of NixOS patchelf 0.19's --help, in its order
// (src/patchelf.cc showHelp, checked against a local build of 0.19).
var flags019 = []string{"--set-interpreter", "--page-size", "--print-interpreter", "--print-os-abi",
	"--set-os-abi", "--print-soname", "--set-soname", "--set-rpath", "--add-rpath", "--remove-rpath",
	"--shrink-rpath", "--allowed-rpath-prefixes", "--print-rpath", "--force-rpath", "--add-needed",
	"--remove-needed", "--replace-needed", "--print-needed", "--no-default-lib", "--no-sort",
	"--clear-symbol-version", "--add-debug-tag", "--build-resolution-cache", "--print-execstack",
	"--clear-execstack", "--set-execstack", "--rename-dynamic-symbols", "--no-clobber-old-sections",
	"--output", "--debug", "--version"}

func TestHelpAndVersionAre019(t *testing.T) {
	r := ours("--help")
	if r.code != 0 || r.stdout != "" || !strings.HasPrefix(r.stderr, "syntax: /usr/bin/patchelf\n") || !strings.HasSuffix(r.stderr, "  FILENAME...\n") {
		t.Fatalf("--help: %+v", r)
	}
	var listed []string
	for _, line := range strings.Split(r.stderr, "\n") {
		if f, ok := strings.CutPrefix(strings.TrimSpace(line), "["); ok {
			listed = append(listed, strings.FieldsFunc(f, func(r rune) bool { return r == ' ' || r == ']' })[0])
		}
	}
	if !slices.Equal(listed, flags019) {
		t.Fatalf("--help lists\n%q\nwant 0.19's\n%q", listed, flags019)
	}
	if r := ours(); r.code != 1 || !strings.HasPrefix(r.stderr, "syntax: ") {
		t.Fatalf("no arguments: %+v", r)
	}
	if r := ours("--version"); r != (result{"patchelf 0.19.0\n", "", 0}) {
		t.Fatalf("--version: %+v", r)
	}
	// Every flag is accepted: with its argument and no file, patchelf
	// complains of the missing file, not of the flag.
	dir := t.TempDir()
	m := filepath.Join(dir, "map")
	os.WriteFile(m, []byte("a b\n"), 0o644)
	for _, f := range flags019 {
		args := []string{f}
		switch f {
		case "--version":
			continue
		case "--replace-needed":
			args = append(args, "a", "b")
		case "--rename-dynamic-symbols":
			args = append(args, m)
		case "--page-size":
			args = append(args, "4096")
		case "--set-interpreter", "--set-os-abi", "--set-soname", "--set-rpath", "--add-rpath",
			"--allowed-rpath-prefixes", "--add-needed", "--remove-needed", "--clear-symbol-version", "--output":
			args = append(args, "x")
		}
		if r := ours(args...); r != (result{"", "patchelf: missing filename\n", 1}) {
			t.Errorf("%v: %+v", args, r)
		}
	}
}
