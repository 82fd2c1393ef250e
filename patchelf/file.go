package patchelf

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// File is an ELF executable or shared library opened for reading and
// editing. Parsing is done by debug/elf; File adds what debug/elf lacks:
// the raw layout needed to write the file back, and the edits.
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
	progs     []elf.ProgHeader
	sects     []section
	pageSize  uint64

	// .dynamic, located through PT_DYNAMIC.
	dynOff    uint64      // file offset
	dynCap    int         // entries (including DT_NULL) that fit where it is
	dyn       []dynEntry  // current entries, without the terminating DT_NULL
	origDyn   []dynEntry  // entries as read
	strtab    stringTable // .dynstr and the strings added to it
	interp    string      // current interpreter
	hasInterp bool
	interpOff uint64 // PT_INTERP file offset
	interpCap uint64 // PT_INTERP file size

	fieldPatches []patch    // small in-place edits in original file coordinates (versym)
	vnPending    []vnRename // vn_file renames from ReplaceNeeded
	interpDirty  bool
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
		return nil, fmt.Errorf("%s: %w", name, err)
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

// Info reports the class, byte order, machine, type and page size.
func (f *File) Info() Info {
	d := elf.ELFDATA2LSB
	if f.bo == binary.BigEndian {
		d = elf.ELFDATA2MSB
	}
	return Info{Class: f.class, Data: d, Machine: f.machine, Type: f.typ, PageSize: f.pageSize}
}

// SetPageSize sets the page size new segments are aligned to (patchelf
// --page-size); by default it is the largest PT_LOAD alignment, or the
// machine's page size.
func (f *File) SetPageSize(size uint64) error {
	if size == 0 || size&(size-1) != 0 {
		return fmt.Errorf("%w: page size %d is not a power of two", ErrBadArgument, size)
	}
	f.pageSize = size
	return nil
}

// readAt reads n bytes at off of the original file, with bounds checking.
func (f *File) readAt(off, n uint64, what string) ([]byte, error) {
	if off > uint64(f.size) || n > uint64(f.size)-off {
		return nil, formatErr(off, what, n, "extends past the end of the file")
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

// parse checks the headers the way patchelf does (so the messages match),
// then lets debug/elf parse the tables.
func (f *File) parse() error {
	if f.size < 52 { // the smallest ELF header (ELFCLASS32), as patchelf checks
		return ErrMissingHeader
	}
	ident, err := f.readAt(0, 16, "ELF identification")
	if err != nil {
		return err
	}
	if !bytes.Equal(ident[:4], []byte(elf.ELFMAG)) {
		return ErrNotELF
	}
	f.class = elf.Class(ident[elf.EI_CLASS])
	switch f.class {
	case elf.ELFCLASS32, elf.ELFCLASS64:
	default:
		return formatErr(uint64(elf.EI_CLASS), "e_ident[EI_CLASS]", uint64(f.class), "unknown ELF class")
	}
	switch elf.Data(ident[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		f.bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		f.bo = binary.BigEndian
	default:
		return formatErr(uint64(elf.EI_DATA), "e_ident[EI_DATA]", uint64(ident[elf.EI_DATA]), "unknown byte order")
	}
	if uint64(f.size) < f.ehdrSize() {
		return ErrMissingHeader
	}
	if f.ehdr, err = f.readAt(0, f.ehdrSize(), "ELF header"); err != nil {
		return err
	}
	f.typ = elf.Type(f.bo.Uint16(f.ehdr[16:]))
	if f.typ != elf.ET_EXEC && f.typ != elf.ET_DYN {
		return ErrWrongType
	}
	var phnum, phentsize, shnum uint64
	if f.class == elf.ELFCLASS64 {
		f.phoff, f.shoff = f.bo.Uint64(f.ehdr[32:]), f.bo.Uint64(f.ehdr[40:])
		phentsize, phnum = uint64(f.bo.Uint16(f.ehdr[54:])), uint64(f.bo.Uint16(f.ehdr[56:]))
		f.shentsize, shnum = uint64(f.bo.Uint16(f.ehdr[58:])), uint64(f.bo.Uint16(f.ehdr[60:]))
	} else {
		f.phoff, f.shoff = uint64(f.bo.Uint32(f.ehdr[28:])), uint64(f.bo.Uint32(f.ehdr[32:]))
		phentsize, phnum = uint64(f.bo.Uint16(f.ehdr[42:])), uint64(f.bo.Uint16(f.ehdr[44:]))
		f.shentsize, shnum = uint64(f.bo.Uint16(f.ehdr[46:])), uint64(f.bo.Uint16(f.ehdr[48:]))
	}
	if f.phoff > uint64(f.size) || phnum*phentsize > uint64(f.size)-f.phoff {
		return ErrMissingProgramHeaders
	}
	if f.shoff > uint64(f.size) || shnum*f.shentsize > uint64(f.size)-f.shoff {
		return ErrMissingSectionHeaders
	}
	if phentsize != f.phentSize() {
		return ErrProgramHeaderSize
	}
	f.machine = elf.Machine(f.bo.Uint16(f.ehdr[18:]))

	ef, err := elf.NewFile(io.NewSectionReader(f.src, 0, f.size))
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		return err
	}
	for _, p := range ef.Progs {
		ph := p.ProgHeader
		if ph.Type != elf.PT_NULL && ph.Filesz > 0 && (ph.Off > uint64(f.size) || ph.Filesz > uint64(f.size)-ph.Off) {
			return formatErr(ph.Off, ph.Type.String(), ph.Filesz, "segment extends past the end of the file")
		}
		if ph.Type == elf.PT_LOAD && ph.Filesz > ph.Memsz {
			return formatErr(ph.Off, "PT_LOAD", ph.Filesz, "file size larger than memory size")
		}
		f.progs = append(f.progs, ph)
	}
	for i, s := range ef.Sections {
		sh := s.SectionHeader
		if sh.Type != elf.SHT_NOBITS && sh.Type != elf.SHT_NULL && (sh.Offset > uint64(f.size) || sh.FileSize > uint64(f.size)-sh.Offset) {
			return formatErr(sh.Offset, "section "+sh.Name, sh.FileSize, "extends past the end of the file")
		}
		f.sects = append(f.sects, section{SectionHeader: sh, index: i})
	}
	f.pageSize = defaultPageSize(f.machine)
	for _, p := range f.progs {
		if p.Type == elf.PT_LOAD && p.Align > f.pageSize && p.Align <= 1<<16 {
			f.pageSize = p.Align
		}
	}
	if err := f.readInterp(); err != nil {
		return err
	}
	if err := f.readDynamic(); err != nil {
		return err
	}
	// Edits rewrite these tables in place; none may overlap the headers.
	headers := []struct {
		what     string
		off, end uint64
	}{{"ELF header", 0, f.ehdrSize()}, {"program headers", f.phoff, f.phoff + uint64(len(f.progs))*f.phentSize()}}
	for _, t := range []struct {
		what      string
		off, size uint64
	}{{"PT_DYNAMIC", f.dynOff, uint64(f.dynCap) * f.dynEntSize()}, {".dynstr", f.strtab.off, uint64(len(f.strtab.base))}, {"PT_INTERP", f.interpOff, f.interpCap}} {
		for _, h := range headers {
			if t.size > 0 && t.off < h.end && t.off+t.size > h.off {
				return formatErr(t.off, t.what, t.size, "overlaps the "+h.what)
			}
		}
	}
	return nil
}

// defaultPageSize is the page size patchelf assumes for a machine.
func defaultPageSize(m elf.Machine) uint64 {
	switch m {
	case elf.EM_IA_64, elf.EM_MIPS, elf.EM_PPC, elf.EM_PPC64, elf.EM_AARCH64, elf.EM_TILEGX, elf.EM_LOONGARCH:
		return 0x10000
	case elf.EM_SPARCV9:
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

func (f *File) readInterp() error {
	p := f.prog(elf.PT_INTERP)
	if p == nil {
		return nil
	}
	b, err := f.readAt(p.Off, p.Filesz, "PT_INTERP")
	if err != nil {
		return err
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	f.hasInterp, f.interp = true, string(b)
	f.interpOff, f.interpCap = p.Off, p.Filesz
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
