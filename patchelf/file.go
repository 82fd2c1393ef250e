package patchelf

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"slices"

	"github.com/gleaner/gleaner/internal/pkgerr"
)

// File is an ELF executable or shared library opened for reading and
// editing.
//
// The headers are decoded here rather than by debug/elf.NewFile: patchelf
// accepts files debug/elf refuses (a section name table of another type,
// e_version disagreeing with e_ident) and refuses others with its own
// words, and a drop-in must draw the line where patchelf does. The types
// are debug/elf's.
//
// The dynamic section, its string table and the interpreter are read when
// an accessor or an edit first needs them, as patchelf reads them: a file
// whose .dynstr is broken still has its interpreter printed.
//
// Edits change only an in-memory plan; nothing is written until Save,
// SaveAs or WriteTo. A File is not safe for concurrent use.
type File struct {
	src    io.ReaderAt
	size   int64
	closer io.Closer
	name   string
	mode   os.FileMode

	class     elf.Class
	bo        binary.ByteOrder
	typ       elf.Type
	machine   elf.Machine
	ehdr      []byte // raw ELF header
	phoff     uint64
	shoff     uint64
	shentsize uint64
	shstrndx  int
	progs     []elf.ProgHeader
	sects     []section
	pageSize  uint64

	// The sections patchelf finds by name; nil when absent.
	dynSec, strSec, interpSec *section

	dynLoaded bool
	dynErr    error
	// .dynamic, as read from its section.
	dynOff        uint64      // file offset
	dynCap        int         // entries (including DT_NULL) that fit where it is
	dynTerminated bool        // a DT_NULL ends the table
	dyn           []dynEntry  // current entries, without the terminating DT_NULL
	origDyn       []dynEntry  // entries as read
	strtab        stringTable // .dynstr and the strings added to it

	interpLoaded bool
	interpErr    error
	interp       string // current interpreter, as patchelf reads it: the section minus its last byte
	interpOff    uint64 // .interp file offset
	interpCap    uint64 // .interp size
	interpDirty  bool

	osabi     elf.OSABI              // e_ident[EI_OSABI], edited by SetOSABI
	progEdits map[int]elf.ProgHeader // program headers replaced in place (PT_GNU_STACK)
	addProgs  []elf.ProgHeader       // program headers to add

	fieldPatches []patch    // small in-place edits in original file coordinates (versym)
	vnPending    []vnRename // vn_file renames from ReplaceNeeded
	symPending   *symEdit   // renamed dynamic symbols
	xout         *strRange  // an rpath string nothing else uses, overwritten with X
	noteEdit     *noteEdit  // the resolution cache note to add or drop
	keepOld      bool       // leave the old bytes of moved tables (patchelf --no-clobber-old-sections)
	warnings     []string   // from the edits
	planWarnings []string   // from the last plan
}

// section is one section header with its index in the table.
type section struct {
	elf.SectionHeader
	index int
}

// patch is a run of bytes to place at an offset.
type patch struct {
	off  uint64
	data []byte
}

// Info describes an ELF file.
type Info struct {
	Class    elf.Class
	Data     elf.Data
	OSABI    elf.OSABI
	Machine  elf.Machine
	Type     elf.Type
	PageSize uint64 // alignment of the loadable segments, or the machine's page size
}

// Open opens the named file for reading and editing. Close it when done.
func Open(name string) (*File, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, &os.PathError{Op: "read", Path: name, Err: errIsDir}
	}
	fd, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	f, err := NewFile(fd, st.Size())
	if err != nil {
		fd.Close()
		return nil, pkgerr.Wrap("patchelf", err, "%s", name)
	}
	f.closer = fd
	f.name = name
	f.mode = st.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
	return f, nil
}

var errIsDir = errors.New("is a directory")

// NewFile parses an ELF image of the given size read from r. The reader
// must stay valid until the File is saved or discarded.
func NewFile(r io.ReaderAt, size int64) (*File, error) {
	f := &File{src: r, size: size, mode: 0o755}
	if err := f.parse(); err != nil {
		return nil, err
	}
	return f, nil
}

// Close releases the file opened by Open.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
	return err
}

// Info reports the class, byte order, OS ABI, machine, type and page size.
func (f *File) Info() Info {
	d := elf.ELFDATA2LSB
	if f.bo == binary.BigEndian {
		d = elf.ELFDATA2MSB
	}
	return Info{Class: f.class, Data: d, OSABI: f.osabi, Machine: f.machine, Type: f.typ, PageSize: f.pageSize}
}

// Warnings returns what the edits so far noticed about the file without
// refusing it, in patchelf's words (patchelf prints them as "warning: ...").
func (f *File) Warnings() []string { return slices.Concat(f.warnings, f.planWarnings) }

// SetPageSize sets the page size new segments are aligned to (patchelf
// --page-size); by default it is the largest PT_LOAD alignment, or the
// machine's page size.
func (f *File) SetPageSize(size uint64) error {
	if size == 0 || size&(size-1) != 0 {
		return fmt.Errorf("%w: page size %d is not a power of two", ErrInvalid, size)
	}
	f.pageSize = size
	return nil
}

// readAt reads n bytes at off of the original file; a range past the end
// is patchelf's "data offset extends past file end".
func (f *File) readAt(off, n uint64, what string) ([]byte, error) {
	if off > uint64(f.size) || n > uint64(f.size)-off {
		return nil, formatErr(msgOffsetPastEnd, what, off, n)
	}
	b := make([]byte, n)
	if _, err := f.src.ReadAt(b, int64(off)); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	return b, nil
}

func (f *File) ptrSize() uint64 {
	if f.class == elf.ELFCLASS64 {
		return 8
	}
	return 4
}

func (f *File) ehdrSize() uint64 {
	if f.class == elf.ELFCLASS64 {
		return 64
	}
	return 52
}

func (f *File) phentSize() uint64 {
	if f.class == elf.ELFCLASS64 {
		return 56
	}
	return 32
}

func (f *File) shentSize() uint64 {
	if f.class == elf.ELFCLASS64 {
		return 64
	}
	return 40
}

// tableEnd returns off+n*size, and false when it overflows or passes the
// end of the file.
func (f *File) tableEnd(off, n, size uint64) (uint64, bool) {
	hi, lo := bits.Mul64(n, size)
	end, carry := bits.Add64(off, lo, 0)
	return end, hi == 0 && carry == 0 && end <= uint64(f.size)
}

// parse checks the headers in patchelf's order, with its messages.
func (f *File) parse() error {
	if f.size < 52 { // the smallest ELF header (ELFCLASS32)
		return formatErr(msgMissingHeader, "ELF header", 0, uint64(f.size))
	}
	ident, err := f.readAt(0, elf.EI_NIDENT, "e_ident")
	if err != nil {
		return err
	}
	if !bytes.Equal(ident[:4], []byte(elf.ELFMAG)) {
		return ErrNotELF
	}
	if v := ident[elf.EI_VERSION]; v != byte(elf.EV_CURRENT) {
		return formatErr(msgVersion, "e_ident[EI_VERSION]", elf.EI_VERSION, uint64(v))
	}
	f.class = elf.Class(ident[elf.EI_CLASS])
	if f.class != elf.ELFCLASS32 && f.class != elf.ELFCLASS64 {
		return formatErr(msgClass, "e_ident[EI_CLASS]", elf.EI_CLASS, uint64(f.class))
	}
	// As patchelf: anything but little-endian is read as big-endian.
	f.bo = binary.BigEndian
	if elf.Data(ident[elf.EI_DATA]) == elf.ELFDATA2LSB {
		f.bo = binary.LittleEndian
	}
	f.osabi = elf.OSABI(ident[elf.EI_OSABI])
	if uint64(f.size) < f.ehdrSize() {
		return formatErr(msgMissingHeader, "ELF header", 0, uint64(f.size))
	}
	if f.ehdr, err = f.readAt(0, f.ehdrSize(), "ELF header"); err != nil {
		return err
	}
	f.typ = elf.Type(f.bo.Uint16(f.ehdr[16:]))
	if f.typ != elf.ET_EXEC && f.typ != elf.ET_DYN {
		return ErrWrongType
	}
	f.machine = elf.Machine(f.bo.Uint16(f.ehdr[18:]))
	var phnum, phentsize, shnum uint64
	if f.class == elf.ELFCLASS64 {
		f.phoff, f.shoff = f.bo.Uint64(f.ehdr[32:]), f.bo.Uint64(f.ehdr[40:])
		phentsize, phnum = uint64(f.bo.Uint16(f.ehdr[54:])), uint64(f.bo.Uint16(f.ehdr[56:]))
		f.shentsize, shnum = uint64(f.bo.Uint16(f.ehdr[58:])), uint64(f.bo.Uint16(f.ehdr[60:]))
		f.shstrndx = int(f.bo.Uint16(f.ehdr[62:]))
	} else {
		f.phoff, f.shoff = uint64(f.bo.Uint32(f.ehdr[28:])), uint64(f.bo.Uint32(f.ehdr[32:]))
		phentsize, phnum = uint64(f.bo.Uint16(f.ehdr[42:])), uint64(f.bo.Uint16(f.ehdr[44:]))
		f.shentsize, shnum = uint64(f.bo.Uint16(f.ehdr[46:])), uint64(f.bo.Uint16(f.ehdr[48:]))
		f.shstrndx = int(f.bo.Uint16(f.ehdr[50:]))
	}
	if _, ok := f.tableEnd(f.phoff, phnum, phentsize); !ok {
		return formatErr(msgPhdrBounds, "e_phoff", 0, f.phoff)
	}
	if shnum == 0 {
		return formatErr(msgNoSections, "e_shnum", 0, 0)
	}
	if _, ok := f.tableEnd(f.shoff, shnum, f.shentsize); !ok {
		return formatErr(msgShdrBounds, "e_shoff", 0, f.shoff)
	}
	if phentsize != f.phentSize() {
		return formatErr(msgPhentsize, "e_phentsize", 0, phentsize)
	}
	if f.shentsize != f.shentSize() {
		return formatErr(msgShentsize, "e_shentsize", 0, f.shentsize)
	}
	if err := f.readProgs(phnum); err != nil {
		return err
	}
	if err := f.readSections(shnum); err != nil {
		return err
	}
	f.pageSize = defaultPageSize(f.machine)
	for _, p := range f.progs {
		if p.Type == elf.PT_LOAD && p.Align > f.pageSize && p.Align <= 1<<16 && p.Align&(p.Align-1) == 0 {
			f.pageSize = p.Align
		}
	}
	f.dynSec, f.strSec, f.interpSec = f.section(".dynamic"), f.section(".dynstr"), f.section(".interp")
	return nil
}

func (f *File) readProgs(n uint64) error {
	b, err := f.readAt(f.phoff, n*f.phentSize(), "program headers")
	if err != nil {
		return err
	}
	for i := uint64(0); i < n; i++ {
		p := b[i*f.phentSize():]
		var ph elf.ProgHeader
		if f.class == elf.ELFCLASS64 {
			ph = elf.ProgHeader{Type: elf.ProgType(f.bo.Uint32(p)), Flags: elf.ProgFlag(f.bo.Uint32(p[4:])),
				Off: f.bo.Uint64(p[8:]), Vaddr: f.bo.Uint64(p[16:]), Paddr: f.bo.Uint64(p[24:]),
				Filesz: f.bo.Uint64(p[32:]), Memsz: f.bo.Uint64(p[40:]), Align: f.bo.Uint64(p[48:])}
		} else {
			ph = elf.ProgHeader{Type: elf.ProgType(f.bo.Uint32(p)), Off: uint64(f.bo.Uint32(p[4:])),
				Vaddr: uint64(f.bo.Uint32(p[8:])), Paddr: uint64(f.bo.Uint32(p[12:])),
				Filesz: uint64(f.bo.Uint32(p[16:])), Memsz: uint64(f.bo.Uint32(p[20:])),
				Flags: elf.ProgFlag(f.bo.Uint32(p[24:])), Align: uint64(f.bo.Uint32(p[28:]))}
		}
		f.progs = append(f.progs, ph)
	}
	return nil
}

// readSections decodes the section headers and their names, with
// patchelf's checks of the name table.
func (f *File) readSections(n uint64) error {
	b, err := f.readAt(f.shoff, n*f.shentsize, "section headers")
	if err != nil {
		return err
	}
	var names []uint32
	for i := uint64(0); i < n; i++ {
		s := b[i*f.shentsize:]
		var sh elf.SectionHeader
		var name uint32
		if f.class == elf.ELFCLASS64 {
			name = f.bo.Uint32(s)
			sh = elf.SectionHeader{Type: elf.SectionType(f.bo.Uint32(s[4:])), Flags: elf.SectionFlag(f.bo.Uint64(s[8:])),
				Addr: f.bo.Uint64(s[16:]), Offset: f.bo.Uint64(s[24:]), Size: f.bo.Uint64(s[32:]),
				Link: f.bo.Uint32(s[40:]), Info: f.bo.Uint32(s[44:]), Addralign: f.bo.Uint64(s[48:]), Entsize: f.bo.Uint64(s[56:])}
		} else {
			name = f.bo.Uint32(s)
			sh = elf.SectionHeader{Type: elf.SectionType(f.bo.Uint32(s[4:])), Flags: elf.SectionFlag(f.bo.Uint32(s[8:])),
				Addr: uint64(f.bo.Uint32(s[12:])), Offset: uint64(f.bo.Uint32(s[16:])), Size: uint64(f.bo.Uint32(s[20:])),
				Link: f.bo.Uint32(s[24:]), Info: f.bo.Uint32(s[28:]), Addralign: uint64(f.bo.Uint32(s[32:])), Entsize: uint64(f.bo.Uint32(s[36:]))}
		}
		sh.FileSize = sh.Size
		if sh.Type == elf.SHT_NOBITS {
			sh.FileSize = 0
		}
		names = append(names, name)
		f.sects = append(f.sects, section{SectionHeader: sh, index: int(i)})
	}
	if uint64(f.shstrndx) >= n {
		return formatErr(msgStrIndex, "e_shstrndx", 0, uint64(f.shstrndx))
	}
	st := f.sects[f.shstrndx]
	if st.Size > uint64(f.size) || st.Offset > uint64(f.size)-st.Size {
		return formatErr(msgRegionPastEnd, "section name table", st.Offset, st.Size)
	}
	if st.Size == 0 {
		return formatErr(msgShstrtabEmpty, "section name table", st.Offset, 0)
	}
	tab, err := f.readAt(st.Offset, st.Size, "section name table")
	if err != nil {
		return err
	}
	if tab[len(tab)-1] != 0 {
		return formatErr(msgShstrtabNoNUL, "section name table", st.Offset, st.Size)
	}
	for i := 1; i < len(f.sects); i++ {
		if uint64(names[i]) >= uint64(len(tab)) {
			return formatErr(msgNameBounds, "sh_name", f.shoff+uint64(i)*f.shentsize, uint64(names[i]))
		}
		s := tab[names[i]:]
		f.sects[i].Name = string(s[:bytes.IndexByte(s, 0)])
	}
	return nil
}

// section returns the first section with the name, as patchelf finds it.
func (f *File) section(name string) *section {
	for i := 1; i < len(f.sects); i++ {
		if f.sects[i].Name == name {
			return &f.sects[i]
		}
	}
	return nil
}

// sectionBytes reads a section's bytes as patchelf does, whatever its
// type: from sh_offset, sh_size bytes, naturally aligned for its entries.
func (f *File) sectionBytes(s *section, align uint64) ([]byte, error) {
	b, err := f.readAt(s.Offset, s.Size, s.Name)
	if err == nil && align > 1 && s.Offset%align != 0 {
		return nil, formatErr(msgUnaligned, s.Name, s.Offset, s.Offset)
	}
	return b, err
}

// symbolWarnings returns what patchelf warns about when it rewrites the
// section headers: symbols of .symtab and .dynsym that refer to a section
// that does not exist or has no name (patchelf renumbers symbols by
// section name, so it skips those; this package keeps the numbering, so
// they stay valid).
func (f *File) symbolWarnings() []string {
	var out []string
	for i := range f.sects {
		s := &f.sects[i]
		if s.Type != elf.SHT_SYMTAB && s.Type != elf.SHT_DYNSYM {
			continue
		}
		b, err := f.sectionBytes(s, f.ptrSize())
		if err != nil {
			continue
		}
		es, at := f.symEntSize(), uint64(14)
		if f.class == elf.ELFCLASS64 {
			at = 6
		}
		for o := uint64(0); o+es <= uint64(len(b)); o += es {
			switch shndx := int(f.bo.Uint16(b[o+at:])); {
			case shndx == int(elf.SHN_UNDEF) || shndx >= int(elf.SHN_LORESERVE):
			case shndx >= len(f.sects):
				out = append(out, fmt.Sprintf("entry %d in symbol table refers to a non-existent section, skipping", shndx))
			case f.sects[shndx].Name == "":
				out = append(out, fmt.Sprintf("symbol table entry refers to an unnamed section (index %d), skipping", shndx))
			}
		}
	}
	return out
}

// defaultPageSize is the page size patchelf assumes for a machine.
func defaultPageSize(m elf.Machine) uint64 {
	switch m {
	case elf.EM_ALPHA, elf.EM_IA_64, elf.EM_MIPS, elf.EM_PPC, elf.EM_PPC64, elf.EM_AARCH64, elf.EM_TILEGX, elf.EM_LOONGARCH:
		return 0x10000
	case elf.EM_SPARC, elf.EM_SPARCV9:
		return 0x2000
	}
	return 0x1000
}

func (f *File) prog(t elf.ProgType) *elf.ProgHeader {
	for i := range f.progs {
		if f.progs[i].Type == t {
			return &f.progs[i]
		}
	}
	return nil
}

// loadInterp reads .interp the first time it is needed.
func (f *File) loadInterp() error {
	if !f.interpLoaded {
		f.interpLoaded = true
		f.interpErr = f.readInterp()
	}
	return f.interpErr
}

func (f *File) readInterp() error {
	s := f.interpSec
	if s == nil {
		return ErrNoInterpreter
	}
	n := s.Size
	if n > 0 {
		n-- // patchelf reads all but the terminating byte
	}
	b, err := f.readAt(s.Offset, n, ".interp")
	if err != nil {
		return err
	}
	if err := f.checkNoHeaderOverlap(".interp", s.Offset, s.Size); err != nil {
		return err
	}
	f.interp, f.interpOff, f.interpCap = string(b), s.Offset, s.Size
	return nil
}

// checkNoHeaderOverlap refuses a table that edits would rewrite in place
// over the ELF header or the program headers.
func (f *File) checkNoHeaderOverlap(what string, off, size uint64) error {
	for _, h := range [][2]uint64{{0, f.ehdrSize()}, {f.phoff, f.phoff + uint64(len(f.progs))*f.phentSize()}} {
		if size > 0 && off < h[1] && off+size > h[0] {
			return formatErr(msgOverlap, what, off, size)
		}
	}
	return nil
}

// addrToOff maps a virtual address to a file offset through PT_LOAD.
func (f *File) addrToOff(addr uint64) (uint64, bool) {
	for _, p := range f.progs {
		if p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr-p.Vaddr < p.Filesz {
			return p.Off + (addr - p.Vaddr), true
		}
	}
	return 0, false
}
