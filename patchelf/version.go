package patchelf

import (
	"debug/elf"
)

// vnRename renames the file of one version requirement (vn_file of an
// Elf_Verneed) to str; the offset is resolved when the file is written.
type vnRename struct {
	fieldOff uint64
	str      string
}

// strRef is a reference into .dynstr found in a table: where the field is
// in the file and its value.
type strRef struct {
	fieldOff uint64
	val      uint64
}

// versionFiles returns the vn_file fields ReplaceNeeded renames, found as
// patchelf finds them: the first DT_VERNEEDNUM entries of .gnu.version_r,
// named in the string table its sh_link gives (which must be .dynstr).
func (f *File) versionFiles() ([]strRef, error) {
	num, _ := f.dynVal(elf.DT_VERNEEDNUM)
	if num == 0 {
		return nil, nil
	}
	s := f.section(".gnu.version_r")
	if s == nil {
		return nil, formatErr("cannot find section '.gnu.version_r'", "DT_VERNEEDNUM", f.dynOff, num)
	}
	if int(s.Link) != f.strSec.index {
		return nil, formatErr("version requirements named outside .dynstr", ".gnu.version_r", s.Offset, uint64(s.Link))
	}
	b, err := f.sectionBytes(s, 1)
	if err != nil {
		return nil, err
	}
	var out []strRef
	for at := uint64(0); num > 0 && at+16 <= uint64(len(b)); num-- {
		file := uint64(f.bo.Uint32(b[at+4:]))
		if file >= uint64(len(f.strtab.base)) {
			return nil, formatErr(msgStrIndex, "vn_file", s.Offset+at+4, file)
		}
		out = append(out, strRef{s.Offset + at + 4, file})
		next := uint64(f.bo.Uint32(b[at+12:]))
		if next == 0 {
			break
		}
		if next > uint64(len(b)) || at+next+16 > uint64(len(b)) {
			return nil, formatErr(msgRegionPastEnd, "vn_next", s.Offset+at+12, next)
		}
		at += next
	}
	return out, nil
}

// verneedRefs walks the Elf_Verneed chain: vn_file and vna_name fields.
func (f *File) verneedRefs() (files, names []strRef, err error) {
	addr, ok := f.dynVal(elf.DT_VERNEED)
	if !ok {
		return nil, nil, nil
	}
	num, _ := f.dynVal(elf.DT_VERNEEDNUM)
	off, ok := f.addrToOff(addr)
	if !ok {
		return nil, nil, formatErr("address is not in a loadable segment", "DT_VERNEED", f.dynOff, addr)
	}
	budget := uint64(f.size) / 8 // every entry is at least 8 bytes: a longer walk loops
	for i := uint64(0); i < num && budget > 0; i++ {
		budget--
		vn, err := f.readAt(off, 16, ".gnu.version_r")
		if err != nil {
			return nil, nil, err
		}
		files = append(files, strRef{off + 4, uint64(f.bo.Uint32(vn[4:]))})
		cnt, aux := f.bo.Uint16(vn[2:]), uint64(f.bo.Uint32(vn[8:]))
		a := off + aux
		for j := 0; j < int(cnt) && budget > 0; j++ {
			budget--
			va, err := f.readAt(a, 16, ".gnu.version_r")
			if err != nil {
				return nil, nil, err
			}
			names = append(names, strRef{a + 8, uint64(f.bo.Uint32(va[8:]))})
			next := uint64(f.bo.Uint32(va[12:]))
			if next == 0 {
				break
			}
			a += next
		}
		next := uint64(f.bo.Uint32(vn[12:]))
		if next == 0 {
			break
		}
		off += next
	}
	return files, names, nil
}

// verdefNames returns the vda_name fields of .gnu.version_d.
func (f *File) verdefNames() ([]strRef, error) {
	addr, ok := f.dynVal(elf.DT_VERDEF)
	if !ok {
		return nil, nil
	}
	num, _ := f.dynVal(elf.DT_VERDEFNUM)
	off, ok := f.addrToOff(addr)
	if !ok {
		return nil, formatErr("address is not in a loadable segment", "DT_VERDEF", f.dynOff, addr)
	}
	var names []strRef
	budget := uint64(f.size) / 8
	for i := uint64(0); i < num && budget > 0; i++ {
		budget--
		vd, err := f.readAt(off, 20, ".gnu.version_d")
		if err != nil {
			return nil, err
		}
		cnt, aux := f.bo.Uint16(vd[6:]), uint64(f.bo.Uint32(vd[12:]))
		a := off + aux
		for j := 0; j < int(cnt) && budget > 0; j++ {
			budget--
			va, err := f.readAt(a, 8, ".gnu.version_d")
			if err != nil {
				return nil, err
			}
			names = append(names, strRef{a, uint64(f.bo.Uint32(va))})
			next := uint64(f.bo.Uint32(va[4:]))
			if next == 0 {
				break
			}
			a += next
		}
		next := uint64(f.bo.Uint32(vd[16:]))
		if next == 0 {
			break
		}
		off += next
	}
	return names, nil
}

// dynsym returns the .dynsym section, or nil.
func (f *File) dynsym() *section {
	for i := range f.sects {
		if f.sects[i].Type == elf.SHT_DYNSYM {
			return &f.sects[i]
		}
	}
	return nil
}

func (f *File) symEntSize() uint64 {
	if f.class == elf.ELFCLASS64 {
		return 24
	}
	return 16
}

// symbolNames returns the st_name of every dynamic symbol, and false when
// the file has no .dynsym section (then the names cannot be accounted for).
func (f *File) symbolNames() ([]uint64, bool, error) {
	s := f.dynsym()
	if s == nil {
		return nil, false, nil
	}
	b, err := f.readAt(s.Offset, s.Size, ".dynsym")
	if err != nil {
		return nil, false, err
	}
	es := f.symEntSize()
	out := make([]uint64, 0, uint64(len(b))/es)
	for i := uint64(0); i+es <= uint64(len(b)); i += es {
		out = append(out, uint64(f.bo.Uint32(b[i:])))
	}
	return out, true, nil
}
