package patchelf

import (
	"bytes"
	"debug/elf"
	"fmt"
	"slices"
)

// dynEntry is one entry of the dynamic section.
type dynEntry struct {
	tag elf.DynTag
	val uint64
	// str is the string a string-valued entry was set to by an edit; its
	// offset (val) is resolved when the file is written, after the
	// string table has its final layout.
	str     string
	pending bool
}

// stringTags are the dynamic tags whose value is an offset into .dynstr.
var stringTags = map[elf.DynTag]bool{
	elf.DT_NEEDED: true, elf.DT_SONAME: true, elf.DT_RPATH: true, elf.DT_RUNPATH: true,
	elf.DT_AUXILIARY: true, elf.DT_FILTER: true, elf.DT_CONFIG: true,
	elf.DT_DEPAUDIT: true, elf.DT_AUDIT: true,
}

// addrTags are the dynamic tags whose value is the address of a table the
// loader reads; they follow the table when it moves.
var addrTags = map[elf.DynTag]bool{
	elf.DT_HASH: true, elf.DT_GNU_HASH: true, elf.DT_STRTAB: true, elf.DT_SYMTAB: true,
	elf.DT_RELA: true, elf.DT_REL: true, dtRELR: true, elf.DT_JMPREL: true,
	elf.DT_VERSYM: true, elf.DT_VERNEED: true, elf.DT_VERDEF: true,
}

func (f *File) dynEntSize() uint64 { return 2 * f.ptrSize() }

func (f *File) decodeDyn(b []byte) []dynEntry {
	es := f.dynEntSize()
	out := make([]dynEntry, 0, uint64(len(b))/es)
	for i := uint64(0); i+es <= uint64(len(b)); i += es {
		var e dynEntry
		if f.class == elf.ELFCLASS64 {
			e = dynEntry{tag: elf.DynTag(int64(f.bo.Uint64(b[i:]))), val: f.bo.Uint64(b[i+8:])}
		} else {
			e = dynEntry{tag: elf.DynTag(int32(f.bo.Uint32(b[i:]))), val: uint64(f.bo.Uint32(b[i+4:]))}
		}
		out = append(out, e)
	}
	return out
}

// encodeDyn encodes entries followed by DT_NULL entries up to slots. A
// table that had no DT_NULL and is rewritten in place keeps having none.
func (f *File) encodeDyn(es []dynEntry, slots int) []byte {
	n := max(slots, len(es)+1)
	if !f.dynTerminated && len(es) == slots {
		n = slots
	}
	b := make([]byte, uint64(n)*f.dynEntSize())
	for i, e := range es {
		off := uint64(i) * f.dynEntSize()
		if f.class == elf.ELFCLASS64 {
			f.bo.PutUint64(b[off:], uint64(e.tag))
			f.bo.PutUint64(b[off+8:], e.val)
		} else {
			f.bo.PutUint32(b[off:], uint32(e.tag))
			f.bo.PutUint32(b[off+4:], uint32(e.val))
		}
	}
	return b
}

// loadDynamic reads .dynamic and .dynstr the first time they are needed.
func (f *File) loadDynamic() error {
	if !f.dynLoaded {
		f.dynLoaded = true
		f.dynErr = f.readDynamic()
	}
	return f.dynErr
}

// readDynamic reads the dynamic section and its string table from the
// sections patchelf uses, .dynamic and .dynstr, whatever PT_DYNAMIC says.
func (f *File) readDynamic() error {
	s := f.dynSec
	if s == nil {
		return ErrStatic
	}
	if s.Type == elf.SHT_NOBITS {
		return fmt.Errorf("%w: .dynamic", ErrNoBits)
	}
	if f.strSec == nil {
		return formatErr(msgNoDynstr, ".dynstr", 0, 0)
	}
	b, err := f.sectionBytes(s, f.ptrSize())
	if err != nil {
		return err
	}
	all := f.decodeDyn(b)
	end := len(all)
	for i, e := range all {
		if e.tag == elf.DT_NULL {
			end = i
			break
		}
	}
	f.dynOff, f.dynCap, f.dynTerminated = s.Offset, len(all), end < len(all)
	f.dyn = append([]dynEntry(nil), all[:end]...)
	f.origDyn = append([]dynEntry(nil), f.dyn...)

	base, err := f.sectionBytes(f.strSec, 1)
	if err != nil {
		return err
	}
	if len(base) == 0 || base[len(base)-1] != 0 {
		return formatErr(msgStrtabNoNUL, ".dynstr", f.strSec.Offset, f.strSec.Size)
	}
	f.strtab = stringTable{off: f.strSec.Offset, addr: f.strSec.Addr, base: base}
	if err := f.checkNoHeaderOverlap(".dynamic", s.Offset, s.Size); err != nil {
		return err
	}
	return f.checkNoHeaderOverlap(".dynstr", f.strSec.Offset, f.strSec.Size)
}

// dynTable returns the dynamic entries for reading, after checking that
// the string-valued ones among tags point into .dynstr (patchelf checks
// the entries an operation reads, and only those).
func (f *File) dynTable(tags ...elf.DynTag) error {
	if err := f.loadDynamic(); err != nil {
		return err
	}
	for _, e := range f.dyn {
		if !e.pending && slices.Contains(tags, e.tag) && e.val >= uint64(len(f.strtab.base)) {
			return formatErr(msgStrIndex, e.tag.String(), f.dynOff, e.val)
		}
	}
	return nil
}

// dynVal returns the value of the first entry with the tag.
func (f *File) dynVal(tag elf.DynTag) (uint64, bool) {
	for _, e := range f.dyn {
		if e.tag == tag {
			return e.val, true
		}
	}
	return 0, false
}

// stringTable is .dynstr as read. Existing bytes are never overwritten
// while something may still use them: another entry or a symbol may share
// them (the linker merges string tails).
type stringTable struct {
	off  uint64 // file offset where it was read
	addr uint64 // DT_STRTAB as read
	base []byte // original contents; new strings are appended when the file is written
}

// get returns the NUL-terminated string at off.
func (t *stringTable) get(off uint64) string {
	if off >= uint64(len(t.base)) {
		return ""
	}
	b := t.base[off:]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Tags and types newer than debug/elf's tables.
const (
	dtRELR   = elf.DynTag(36)
	dtRELRSZ = elf.DynTag(35)
	shtRELR  = elf.SectionType(19)
)
