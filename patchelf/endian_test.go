package patchelf_test

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gleaner/gleaner/patchelf"
)

// toBigEndian rewrites a little-endian ELF executable as big-endian: every
// header and every table the loader reads (dynamic, symbols, versions,
// relocations, hash) has its fields byte-swapped. Code is left alone: the
// result is not meant to run, only to be read and edited, and checked by
// debug/elf and readelf, which are independent of this package.
func toBigEndian(t testing.TB, le []byte) []byte {
	t.Helper()
	ef, err := elf.NewFile(strings.NewReader(string(le)))
	if err != nil {
		t.Fatal(err)
	}
	b := slices.Clone(le)
	is64 := ef.Class == elf.ELFCLASS64
	sw := func(off uint64, sizes ...int) uint64 {
		for _, n := range sizes {
			switch n {
			case 2:
				binary.BigEndian.PutUint16(b[off:], binary.LittleEndian.Uint16(b[off:]))
			case 4:
				binary.BigEndian.PutUint32(b[off:], binary.LittleEndian.Uint32(b[off:]))
			case 8:
				binary.BigEndian.PutUint64(b[off:], binary.LittleEndian.Uint64(b[off:]))
			}
			off += uint64(n)
		}
		return off
	}
	w := 4 // address size
	if is64 {
		w = 8
	}
	b[elf.EI_DATA] = byte(elf.ELFDATA2MSB)
	sw(16, 2, 2, 4, w, w, w, 4, 2, 2, 2, 2, 2, 2)
	for i := range ef.Progs {
		if is64 {
			sw(uint64(binary.LittleEndian.Uint64(le[32:]))+uint64(i)*56, 4, 4, 8, 8, 8, 8, 8, 8)
		} else {
			sw(uint64(binary.LittleEndian.Uint32(le[28:]))+uint64(i)*32, 4, 4, 4, 4, 4, 4, 4, 4)
		}
	}
	shoff := uint64(binary.LittleEndian.Uint32(le[32:]))
	shent := uint64(40)
	if is64 {
		shoff, shent = binary.LittleEndian.Uint64(le[40:]), 64
	}
	for i, s := range ef.Sections {
		sw(shoff+uint64(i)*shent, 4, 4, w, w, w, w, 4, 4, w, w)
		if s.Type == elf.SHT_NOBITS {
			continue
		}
		o, end := s.Offset, s.Offset+s.Size
		switch {
		case s.Type == elf.SHT_DYNAMIC || s.Name == ".init_array" || s.Name == ".fini_array" || strings.HasPrefix(s.Name, ".got"):
			for ; o+uint64(w) <= end; o += uint64(w) {
				sw(o, w)
			}
		case s.Type == elf.SHT_DYNSYM:
			for ; o < end; o += s.Entsize {
				if is64 {
					sw(o, 4, 1, 1, 2, 8, 8)
				} else {
					sw(o, 4, 4, 4, 1, 1, 2)
				}
			}
		case s.Type == elf.SHT_RELA || s.Type == elf.SHT_REL:
			for ; o < end; o += uint64(w) {
				sw(o, w)
			}
		case s.Type == elf.SHT_GNU_VERSYM:
			for ; o < end; o += 2 {
				sw(o, 2)
			}
		case s.Type == elf.SHT_GNU_VERNEED:
			for vn := o; ; {
				cnt := binary.LittleEndian.Uint16(le[vn+2:])
				aux, next := binary.LittleEndian.Uint32(le[vn+8:]), binary.LittleEndian.Uint32(le[vn+12:])
				sw(vn, 2, 2, 4, 4, 4)
				for a, j := vn+uint64(aux), 0; j < int(cnt); j++ {
					an := binary.LittleEndian.Uint32(le[a+12:])
					sw(a, 4, 2, 2, 4, 4)
					a += uint64(an)
				}
				if next == 0 {
					break
				}
				vn += uint64(next)
			}
		case s.Type == elf.SHT_GNU_HASH:
			nb, bloom := binary.LittleEndian.Uint32(le[o:]), binary.LittleEndian.Uint32(le[o+8:])
			o = sw(o, 4, 4, 4, 4)
			for range bloom {
				o = sw(o, w)
			}
			for range nb {
				o = sw(o, 4)
			}
			for ; o < end; o += 4 {
				sw(o, 4)
			}
		}
	}
	return b
}

func TestBigEndianEdits(t *testing.T) {
	for _, name := range []string{"hello", "hello32"} {
		t.Run(name, func(t *testing.T) {
			le, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			in := filepath.Join(dir, name+".be")
			if err := os.WriteFile(in, toBigEndian(t, le), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := patchelf.Open(in)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Info().Data != elf.ELFDATA2MSB {
				t.Fatalf("byte order %v", f.Info().Data)
			}
			if got := needed(t, f); !slices.Equal(got, []string{"libc.so.6"}) {
				t.Fatalf("needed %q", got)
			}
			interp, _ := f.Interpreter()
			long := "$ORIGIN/../lib:" + strings.Repeat("/big/endian", 30)
			newInterp := strings.Repeat("/.", 30) + interp
			must(t, f.SetRPath(long))
			must(t, f.AddNeeded("liba.so", "libb.so", "libc2.so", "libd.so", "libe.so", "libf.so"))
			must(t, f.SetInterpreter(newInterp))
			must(t, f.Save())
			// Edit the saved file again through the same File.
			must(t, f.SetSoname("libbig.so"))
			must(t, f.Save())

			// debug/elf, which knows nothing of this package, agrees.
			ef, err := elf.Open(in)
			if err != nil {
				t.Fatal(err)
			}
			defer ef.Close()
			if rp, _ := ef.DynString(elf.DT_RUNPATH); !slices.Equal(rp, []string{long}) {
				t.Fatalf("DT_RUNPATH %q", rp)
			}
			if libs, _ := ef.ImportedLibraries(); !slices.Equal(libs, []string{"liba.so", "libb.so", "libc2.so", "libd.so", "libe.so", "libf.so", "libc.so.6"}) {
				t.Fatalf("DT_NEEDED %q", libs)
			}
			if so, _ := ef.DynString(elf.DT_SONAME); !slices.Equal(so, []string{"libbig.so"}) {
				t.Fatalf("DT_SONAME %q", so)
			}
			for _, p := range ef.Progs {
				if p.Type == elf.PT_INTERP {
					b := make([]byte, p.Filesz)
					p.ReadAt(b, 0)
					if got := strings.TrimRight(string(b), "\x00"); got != newInterp {
						t.Fatalf("PT_INTERP %q", got)
					}
				}
			}
			checkLayout(t, in)
			out := readelf(t, "-d", "-l", "-W", in)
			if !strings.Contains(out, "Library runpath: ["+long+"]") {
				t.Fatalf("readelf:\n%s", out)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
