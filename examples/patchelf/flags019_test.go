package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/internal/testenv"
)

// What NixOS patchelf 0.19 does that Debian's 0.14.3 (the one CI has)
// does not, asserted directly. The expected outputs and messages come from
// 0.19's source (src/patchelf.cc, tests/invalid-elf.sh) and were checked
// against a local build of 0.19 on the same fixtures.

// crafted returns a copy of src with bytes written at an offset, the way
// patchelf's own tests make malformed files from a good one.
func crafted(t *testing.T, src, dst string, edits ...func(b []byte)) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		e(b)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// sections maps the section names of a 64-bit little-endian file to their
// index, and returns a function giving the file offset of a header field.
func sections(t *testing.T, path string) (map[string]int, func(i, field int) int, *elf.File) {
	t.Helper()
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ef.Close() })
	b, _ := os.ReadFile(path)
	shoff := int(binary.LittleEndian.Uint64(b[40:]))
	idx := map[string]int{}
	for i, s := range ef.Sections {
		idx[s.Name] = i
	}
	return idx, func(i, field int) int { return shoff + 64*i + field }, ef
}

func TestMalformedFilesAs019(t *testing.T) {
	dir := t.TempDir()
	prog, _ := fixture(t, dir, "-pie", "-fPIE")
	idx, shf, ef := sections(t, prog)
	at := func(off int, data ...byte) func([]byte) { return func(b []byte) { copy(b[off:], data) } }
	ff := func(n int) []byte { return append(bytes.Repeat([]byte{0xff}, n-1), 0x7f) }
	dyn, dynstr, vr := ef.Sections[idx[".dynamic"]], ef.Sections[idx[".dynstr"]], ef.Sections[idx[".gnu.version_r"]]
	shstrndx := int(binary.LittleEndian.Uint16(b0(t, prog)[62:]))
	shstr := ef.Sections[shstrndx]
	var needed int // the first DT_NEEDED entry's value
	b, _ := os.ReadFile(prog)
	for o := int(dyn.Offset); ; o += 16 {
		if binary.LittleEndian.Uint64(b[o:]) == uint64(elf.DT_NEEDED) {
			needed = o + 8
			break
		}
	}
	for _, c := range []struct {
		name string
		edit func([]byte)
		args []string
		msg  string
	}{
		{"shstrtab index", at(62, 0xff, 0xff), nil, "string table index out of bounds"},
		{"shstrtab size", at(shf(shstrndx, 32), ff(8)...), nil, "data region extends past file end"},
		{"shstrtab empty", at(shf(shstrndx, 32), make([]byte, 8)...), nil, "string table size is zero"},
		{"shstrtab unterminated", at(int(shstr.Offset+shstr.Size-1), 'A'), nil, "string table is not zero terminated"},
		{"section name", at(shf(1, 0), ff(4)...), nil, "section name offset out of bounds"},
		{"section header size", at(58, 0x30, 0), nil, "section headers have wrong size"},
		{"program headers", at(32, ff(8)...), nil, "program header table out of bounds"},
		{"section headers", at(40, ff(8)...), nil, "section header table out of bounds"},
		{"no section headers", at(60, 0, 0), nil, "no section headers. The input file is probably a statically linked, self-decompressing binary"},
		{"ELF version", at(6, 2), nil, "unsupported ELF version"},
		{".dynamic offset", at(shf(idx[".dynamic"], 24), ff(8)...), []string{"--print-needed"}, "data offset extends past file end"},
		{".dynamic unaligned", at(shf(idx[".dynamic"], 24), 1), []string{"--print-needed"}, "section content is not naturally aligned"},
		{".dynstr index", at(needed, ff(8)...), []string{"--print-needed"}, "string table index out of bounds"},
		{".dynstr unterminated", at(int(dynstr.Offset+dynstr.Size-1), 'A'), []string{"--print-needed"}, "string table is not NUL-terminated"},
		{"version file index", at(int(vr.Offset)+4, ff(4)...), []string{"--replace-needed", "libc.so.6", "libx.so"}, "string table index out of bounds"},
		{".dynamic unterminated", at(int(dyn.Offset), bytes.Repeat([]byte{0xff}, int(dyn.Size))...), []string{"--add-debug-tag"}, "setSubstr: write extends past end of section"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := crafted(t, prog, filepath.Join(t.TempDir(), "bad"), c.edit)
			before, _ := os.ReadFile(p)
			args := append(append([]string{}, c.args...), "--output", p+".out", p)
			if r := ours(args...); r != (result{"", "patchelf: " + c.msg + "\n", 1}) {
				t.Fatalf("%v: %+v, want %q", args, r, c.msg)
			}
			if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
				t.Fatal("the input changed")
			}
			if _, err := os.Stat(p + ".out"); err == nil {
				t.Fatal("an output was written")
			}
		})
	}
	// Valid per the ELF spec: a note section with sh_addralign 0.
	p := crafted(t, prog, filepath.Join(dir, "align0"), at(shf(idx[".note.gnu.build-id"], 48), make([]byte, 8)...))
	if r := ours("--set-rpath", "/x", p); r.code != 0 {
		t.Fatalf("note with sh_addralign 0: %+v", r)
	}
}

// TestTablesFoundBySection: patchelf finds .dynamic and .interp by section
// name, so it edits files whose program headers do not describe them.
func TestTablesFoundBySection(t *testing.T) {
	dir := t.TempDir()
	prog, libdir := fixture(t, dir, "-pie", "-fPIE")
	lib := filepath.Join(libdir, "libfoo.so.1")
	setType := func(from elf.ProgType, to elf.ProgType, empty bool) func([]byte) {
		return func(b []byte) {
			phoff, n := binary.LittleEndian.Uint64(b[32:]), int(binary.LittleEndian.Uint16(b[56:]))
			for i := range n {
				o := phoff + uint64(i)*56
				if elf.ProgType(binary.LittleEndian.Uint32(b[o:])) == from {
					binary.LittleEndian.PutUint32(b[o:], uint32(to))
					if empty {
						clear(b[o+32 : o+48]) // p_filesz, p_memsz
					}
				}
			}
		}
	}
	t.Run("shared object without PT_DYNAMIC", func(t *testing.T) {
		p := crafted(t, lib, filepath.Join(t.TempDir(), "lib.so"), setType(elf.PT_DYNAMIC, elf.PT_NULL, false))
		long := "/" + strings.Repeat("x", 100)
		if r := ours("--set-rpath", long, p); r.code != 0 {
			t.Fatal(r)
		}
		if r := ours("--print-rpath", p); r != (result{long + "\n", "", 0}) {
			t.Fatal(r)
		}
	})
	for _, c := range []struct {
		name  string
		empty bool
	}{{"program with an empty PT_DYNAMIC", true}, {"program without PT_DYNAMIC", false}} {
		t.Run(c.name, func(t *testing.T) {
			to := elf.PT_NULL
			if c.empty {
				to = elf.PT_DYNAMIC
			}
			p := crafted(t, prog, filepath.Join(t.TempDir(), "prog"), setType(elf.PT_DYNAMIC, to, c.empty))
			interp := "/lib64/../lib64/../lib64/ld-linux-x86-64.so.2"
			if r := ours("--set-interpreter", interp, p); r.code != 0 {
				t.Fatal(r)
			}
			if r := ours("--print-interpreter", p); r != (result{interp + "\n", "", 0}) {
				t.Fatal(r)
			}
		})
	}
	t.Run("separate debug file", func(t *testing.T) {
		objcopy := testenv.RequireBinary(t, "objcopy")
		dbg := filepath.Join(t.TempDir(), "prog.debug")
		if out, err := exec.Command(objcopy, "--only-keep-debug", prog, dbg).CombinedOutput(); err != nil {
			t.Fatal(err, string(out))
		}
		if ef, err := elf.Open(dbg); err != nil || ef.Section(".dynamic").Type != elf.SHT_NOBITS {
			t.Fatalf("objcopy made no NOBITS .dynamic: %v", err)
		}
		before, _ := os.ReadFile(dbg)
		for _, args := range [][]string{{"--print-rpath"}, {"--print-needed"}, {"--set-rpath", "/x"}} {
			if r := ours(append(args, dbg)...); r != (result{"", "", 0}) {
				t.Fatalf("%v: %+v (0.19 prints nothing and succeeds)", args, r)
			}
		}
		// Its .interp takes no room either: 0.19 refuses a new interpreter
		// (its words differ: "cannot find section '.hash'").
		if r := ours("--set-interpreter", "/lib/ld-other.so.2", dbg); r.code != 1 || !strings.Contains(r.stderr, ".interp") {
			t.Fatalf("--set-interpreter: %+v, want exit 1 naming .interp (0.19 refuses it)", r)
		}
		if after, _ := os.ReadFile(dbg); !bytes.Equal(before, after) {
			t.Fatal("--set-rpath or --set-interpreter changed the debug file")
		}
	})
}

func TestNewFlags(t *testing.T) {
	dir := t.TempDir()
	prog, libdir := fixture(t, dir, "-pie", "-fPIE")
	p := cp(t, prog, filepath.Join(dir, "p"))
	check := func(want result, args ...string) {
		t.Helper()
		if r := ours(args...); r != want {
			t.Fatalf("%v: %+v, want %+v", args, r, want)
		}
	}
	check(result{"System V\n", "", 0}, "--print-os-abi", p)
	check(result{"", "", 0}, "--set-os-abi", " FreeBSD ", p)
	check(result{"FreeBSD\n", "", 0}, "--print-os-abi", p)
	check(result{"", "", 0}, "--set-os-abi", "GNU-hurd", p)
	check(result{"GNU Hurd\n", "", 0}, "--print-os-abi", p)
	check(result{"", "patchelf: unrecognized OS ABI\n", 1}, "--set-os-abi", "plan9", p)
	check(result{"", "", 0}, "--set-os-abi", "sysv", p)

	check(result{"execstack: -\n", "", 0}, "--print-execstack", p)
	check(result{"", "", 0}, "--set-execstack", p)
	check(result{"execstack: X\n", "", 0}, "--print-execstack", p)
	check(result{"execstack: X\n", "", 0}, "--print-execstack", "--clear-execstack", p) // print wins, as in 0.19
	check(result{"", "", 0}, "--clear-execstack", p)
	check(result{"execstack: -\n", "", 0}, "--print-execstack", p)

	// @file: the argument is the file's contents, newline and all.
	rp := filepath.Join(dir, "rpath")
	os.WriteFile(rp, []byte(libdir+"\n"), 0o644)
	check(result{"", "", 0}, "--set-rpath", "@"+rp, p)
	check(result{libdir + "\n\n", "", 0}, "--print-rpath", p)
	check(result{"", "patchelf: getting info about '" + rp + ".missing': No such file or directory\n", 1}, "--add-rpath", "@"+rp+".missing", p)
	os.WriteFile(rp, []byte(libdir), 0o644)
	check(result{"", "", 0}, "--set-rpath", "@"+rp, "--add-debug-tag", "--no-sort", p)
	check(result{libdir + "\n", "", 0}, "--print-rpath", p)
	if got := runIt(p); got != "foo=42" {
		t.Fatalf("edited program: %q", got)
	}

	check(result{"", "patchelf: --build-resolution-cache cannot be combined with --force-rpath\n", 1}, "--force-rpath", "--build-resolution-cache", p)
	check(result{"", "", 0}, "--build-resolution-cache", p)
	if !strings.Contains(readelfOut(t, "-n", p), "NixOS") {
		t.Fatal("no NixOS note after --build-resolution-cache")
	}
	// A copy whose run path a note-unaware tool rewrote in place: 0.19
	// refuses to rebuild its stale note.
	data, _ := os.ReadFile(p)
	staleData := bytes.Replace(data, []byte(libdir+"\x00"), []byte(libdir[:len(libdir)-1]+"X\x00"), 1)
	if bytes.Equal(staleData, data) {
		t.Fatal("the run path is not in the file")
	}
	stale := filepath.Join(dir, "stale")
	os.WriteFile(stale, staleData, 0o755)
	check(result{"", "patchelf: --build-resolution-cache: a resolution cache note is already present; rebuild from an unpatched binary\n", 1}, "--build-resolution-cache", stale)
	// Removing the run path drops the note; there is then nothing to cache.
	check(result{"", "warning: --build-resolution-cache: no DT_NEEDED entries or run path to resolve; no cache written\n", 0}, "--remove-rpath", "--build-resolution-cache", p)
	if strings.Contains(readelfOut(t, "-S", p), ".note.nixos.ldcache") {
		t.Fatal("the note survived --remove-rpath")
	}

	// --rename-dynamic-symbols: the map file and patchelf's complaints.
	m := filepath.Join(dir, "map")
	for _, c := range []struct{ text, msg string }{
		{"a b\nc\n", m + ":2: Map file line is missing the second element"},
		{"a b\na c\n", m + ":2: Name 'a' appears twice in the map file"},
		{"a@V1 b\n", m + ":1: Name pair contains version tag: a@V1 b"},
	} {
		os.WriteFile(m, []byte(c.text), 0o644)
		check(result{"", "patchelf: " + c.msg + "\n", 1}, "--rename-dynamic-symbols", m, p)
	}
	check(result{"", "patchelf: Cannot open map file " + m + ".missing: No such file or directory\n", 1}, "--rename-dynamic-symbols", m+".missing", p)
	os.WriteFile(m, []byte("puts puts_renamed\n\nprintf ignored_after_blank_line\n"), 0o644)
	check(result{"", "", 0}, "--rename-dynamic-symbols", m, p)
	if syms := readelfOut(t, "--dyn-syms", p); !strings.Contains(syms, "printf") || strings.Contains(syms, "ignored") {
		t.Fatalf("a blank line ends the map file:\n%s", syms)
	}
}

// TestOutputToADevice: --output /dev/null (patchelf's own tests use it)
// writes through, and leaves the device a device; shown on a FIFO of our
// own, which shares what matters: it is not a regular file.
func TestOutputToADevice(t *testing.T) {
	dir := t.TempDir()
	prog, _ := fixture(t, dir, "-pie", "-fPIE")
	fifo := filepath.Join(dir, "fifo")
	if err := exec.Command("mkfifo", fifo).Run(); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- b
	}()
	if r := ours("--set-rpath", "/x", "--output", fifo, prog); r.code != 0 {
		t.Fatal(r)
	}
	b := <-got
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced: %v %v", fi.Mode(), err)
	}
	want := filepath.Join(dir, "file")
	if r := ours("--set-rpath", "/x", "--output", want, prog); r.code != 0 {
		t.Fatal(r)
	}
	if w, _ := os.ReadFile(want); !bytes.Equal(b, w) {
		t.Fatalf("through the FIFO: %d bytes, want the %d of a file", len(b), len(w))
	}
}

func b0(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readelfOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(testenv.RequireBinary(t, "readelf"), append([]string{"-W"}, args...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
