package patchelf

import (
	"bytes"
	"debug/elf"
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

// encodeDyn encodes entries followed by DT_NULL entries up to slots.
func (f *File) encodeDyn(es []dynEntry, slots int) []byte {
	n := max(slots, len(es)+1)
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

func (f *File) readDynamic() error {
	p := f.prog(elf.PT_DYNAMIC)
	if p == nil || p.Filesz == 0 {
		return ErrStatic
	}
	b, err := f.readAt(p.Off, p.Filesz, "PT_DYNAMIC")
	if err != nil {
		return err
	}
	all := f.decodeDyn(b)
	end := -1
	for i, e := range all {
		if e.tag == elf.DT_NULL {
			end = i
			break
		}
	}
	if end < 0 {
		return formatErr(p.Off, "PT_DYNAMIC", p.Filesz, "dynamic section has no DT_NULL terminator")
	}
	f.dynOff, f.dynCap = p.Off, len(all)
	f.dyn = append([]dynEntry(nil), all[:end]...)
	f.origDyn = append([]dynEntry(nil), f.dyn...)

	strAddr, okA := f.dynVal(elf.DT_STRTAB)
	strSize, okS := f.dynVal(elf.DT_STRSZ)
	if !okA || !okS {
		return formatErr(p.Off, "PT_DYNAMIC", 0, "no DT_STRTAB or DT_STRSZ entry")
	}
	off, ok := f.addrToOff(strAddr)
	if !ok {
		return formatErr(p.Off, "DT_STRTAB", strAddr, "address is not in a loadable segment")
	}
	base, err := f.readAt(off, strSize, ".dynstr")
	if err != nil {
		return err
	}
	f.strtab = stringTable{off: off, addr: strAddr, base: base}
	for _, e := range f.dyn {
		if stringTags[e.tag] && e.val >= strSize {
			return formatErr(p.Off, e.tag.String(), e.val, "string offset past the end of .dynstr")
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

// stringTable is .dynstr as read.
// Existing bytes are never overwritten: another entry or a symbol may
// share them (the linker merges string tails).
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

// find returns the offset of an existing NUL-terminated copy of s,
// including a tail of a longer string.
func (t *stringTable) find(s string) (uint64, bool) {
	needle := append([]byte(s), 0)
	if i := bytes.Index(t.base, needle); i >= 0 {
		return uint64(i), true
	}
	return 0, false
}

// Tags and types newer than debug/elf's tables.
const (
	dtRELR   = elf.DynTag(36)
	dtRELRSZ = elf.DynTag(35)
	shtRELR  = elf.SectionType(19)
)
