package patchelf

import (
	"debug/elf"
	"fmt"
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

// verneedFiles returns the vn_file fields of .gnu.version_r.
func (f *File) verneedFiles() ([]strRef, error) {
	files, _, err := f.verneedRefs()
	return files, err
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
		return nil, nil, formatErr(f.dynOff, "DT_VERNEED", addr, "address is not in a loadable segment")
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
		return nil, formatErr(f.dynOff, "DT_VERDEF", addr, "address is not in a loadable segment")
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

// ClearSymbolVersion marks every dynamic symbol named sym as unversioned
// (version index 1, global) in .gnu.version (patchelf
// --clear-symbol-version).
func (f *File) ClearSymbolVersion(sym string) error {
	addr, ok := f.dynVal(elf.DT_VERSYM)
	if !ok {
		return fmt.Errorf("%w: no DT_VERSYM entry to clear %q in", ErrInvalid, sym)
	}
	off, ok := f.addrToOff(addr)
	if !ok {
		return formatErr(f.dynOff, "DT_VERSYM", addr, "address is not in a loadable segment")
	}
	names, ok, err := f.symbolNames()
	if err != nil || !ok {
		return err
	}
	for i, n := range names {
		if f.strtab.get(n) == sym {
			if _, err := f.readAt(off+2*uint64(i), 2, ".gnu.version"); err != nil {
				return err
			}
			b := make([]byte, 2)
			f.bo.PutUint16(b, 1)
			f.fieldPatches = append(f.fieldPatches, patch{off + 2*uint64(i), b})
		}
	}
	return nil
}
