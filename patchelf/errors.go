package patchelf

import (
	"errors"
	"fmt"
)

// Sentinel errors. Where patchelf has a message for the same problem, the
// text after "patchelf: " is that message, so the command line can print it
// unchanged.
var (
	// ErrNotELF: the file does not start with the ELF magic.
	ErrNotELF = errors.New("patchelf: not an ELF executable")
	// ErrWrongType: the file is neither ET_EXEC nor ET_DYN (an object
	// file, a core dump).
	ErrWrongType = errors.New("patchelf: wrong ELF type")
	// ErrStatic: the file has no .dynamic section (statically linked).
	ErrStatic = errors.New("patchelf: cannot find section '.dynamic'. The input file is most likely statically linked")
	// ErrNoInterpreter: the file has no .interp section (a shared library
	// or a static program).
	ErrNoInterpreter = errors.New("patchelf: cannot find section '.interp'. The input file is most likely statically linked")
	// ErrNoBits: a section the edit needs (.dynamic, .interp) takes no
	// room in this file (SHT_NOBITS, as in a separate debug file), so there
	// is nothing to read or edit; the wrapping message names the section.
	// patchelf treats the rpath of such a file as absent and leaves it
	// alone.
	ErrNoBits = errors.New("patchelf: section has no contents in this file (SHT_NOBITS)")
	// ErrMalformed: the file is an ELF file whose contents are
	// inconsistent (offsets out of bounds, unterminated tables). It is
	// wrapped by *FormatError, which says what and where.
	ErrMalformed = errors.New("patchelf: malformed ELF file")
	// ErrNoSpace: there is no room to grow the file in the way its type
	// requires (for example no virtual address space below an ET_EXEC).
	ErrNoSpace = errors.New("patchelf: no room to relocate sections")
	// ErrInvalid: a caller passed a value the ELF format cannot hold (an
	// empty string where a name is needed, a NUL byte inside a string, a
	// page size that is not a power of two). The wrapping message names
	// the argument and the value.
	ErrInvalid = errors.New("patchelf: invalid argument")
	// ErrNotFound: a needed library was found nowhere the loader would look.
	ErrNotFound = errors.New("patchelf: not found")
	// ErrExists: BuildResolutionCache found a resolution cache whose
	// contents differ from what the file resolves to now; patchelf rebuilds
	// only from a file without one.
	ErrExists = errors.New("patchelf: already exists")
)

// FormatError reports an inconsistency in an ELF file: patchelf's words
// for it, and which part at which file offset, so the user can check it
// with readelf. It unwraps to ErrMalformed.
type FormatError struct {
	Msg   string // what is wrong, in patchelf's words ("string table index out of bounds")
	What  string // the structure, e.g. "e_shstrndx", ".dynstr", "DT_NEEDED"
	Off   int64  // file offset of the structure
	Value uint64 // the offending value
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("patchelf: %s (%s at offset %#x, value %#x)", e.Msg, e.What, e.Off, e.Value)
}

// Unwrap lets errors.Is(err, ErrMalformed) match every FormatError.
func (e *FormatError) Unwrap() error { return ErrMalformed }

func formatErr(msg, what string, off, value uint64) error {
	return &FormatError{Msg: msg, What: what, Off: int64(off), Value: value}
}

// patchelf's messages for the malformations it checks, so that the same
// file gets the same complaint from both tools.
const (
	msgMissingHeader  = "missing ELF header"
	msgVersion        = "unsupported ELF version"
	msgClass          = "ELF executable is not 32 or 64 bit"
	msgPhdrBounds     = "program header table out of bounds"
	msgNoSections     = "no section headers. The input file is probably a statically linked, self-decompressing binary"
	msgShdrBounds     = "section header table out of bounds"
	msgPhentsize      = "program headers have wrong size"
	msgShentsize      = "section headers have wrong size"
	msgStrIndex       = "string table index out of bounds"
	msgRegionPastEnd  = "data region extends past file end"
	msgOffsetPastEnd  = "data offset extends past file end"
	msgShstrtabEmpty  = "string table size is zero"
	msgShstrtabNoNUL  = "string table is not zero terminated"
	msgNameBounds     = "section name offset out of bounds"
	msgUnaligned      = "section content is not naturally aligned"
	msgStrtabNoNUL    = "string table is not NUL-terminated"
	msgNoDynNull      = "setSubstr: write extends past end of section" // what patchelf says when .dynamic has no DT_NULL to grow from
	msgNoDynstr       = "cannot find section '.dynstr'. The input file is most likely statically linked"
	msgVersymMismatch = "versym size mismatch"
	msgOverlap        = "table overlaps the ELF headers"
	msgLayout         = "internal layout error"
)
