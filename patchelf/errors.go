package patchelf

import (
	"errors"
	"fmt"
)

// Sentinel errors. Where Debian's patchelf has a message for the same
// problem, the sentinel's text is that message, so the CLI can print it
// unchanged as "patchelf: <message>".
var (
	// ErrMissingHeader: the file is shorter than an ELF header.
	ErrMissingHeader = errors.New("missing ELF header")
	// ErrNotELF: the file does not start with the ELF magic.
	ErrNotELF = errors.New("not an ELF executable")
	// ErrWrongType: the file is neither ET_EXEC nor ET_DYN (an object
	// file, a core dump).
	ErrWrongType = errors.New("wrong ELF type")
	// ErrMissingProgramHeaders: the program header table lies outside the file.
	ErrMissingProgramHeaders = errors.New("missing program headers")
	// ErrMissingSectionHeaders: the section header table lies outside the file.
	ErrMissingSectionHeaders = errors.New("missing section headers")
	// ErrProgramHeaderSize: e_phentsize does not match the ELF class.
	ErrProgramHeaderSize = errors.New("program headers have wrong size")
	// ErrStatic: the file has no dynamic section (statically linked).
	ErrStatic = errors.New("cannot find section '.dynamic'. The input file is most likely statically linked")
	// ErrNoInterpreter: the file has no PT_INTERP (a shared library or a
	// static program).
	ErrNoInterpreter = errors.New("cannot find section '.interp'. The input file is most likely statically linked")
	// ErrInvalid: the file is an ELF file whose contents are inconsistent
	// (offsets out of bounds, unterminated tables). It is wrapped by
	// *FormatError, which says where.
	ErrInvalid = errors.New("invalid ELF file")
	// ErrNoSpace: there is no room to grow the file in the way its type
	// requires (for example no virtual address space below an ET_EXEC).
	ErrNoSpace = errors.New("no room to relocate sections")
	// ErrBadArgument: a caller passed a value the ELF format cannot hold
	// (an empty string where a name is needed, a NUL byte inside a string).
	ErrBadArgument = errors.New("invalid argument")
)

// FormatError reports an inconsistency in an ELF file: which part and at
// which file offset, so the user can check it with readelf.
type FormatError struct {
	Off   int64  // file offset of the offending structure
	What  string // the structure, e.g. "PT_DYNAMIC", ".dynstr", "DT_STRTAB"
	Value uint64 // the offending value
	Msg   string // what is wrong with it
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s at offset %#x: %s (value %#x)", e.What, e.Off, e.Msg, e.Value)
}

// Unwrap lets errors.Is(err, ErrInvalid) match every FormatError.
func (e *FormatError) Unwrap() error { return ErrInvalid }

func formatErr(off uint64, what string, value uint64, msg string) error {
	return &FormatError{Off: int64(off), What: what, Value: value, Msg: msg}
}

// ErrNotFound: a needed library was found nowhere the loader would look.
var ErrNotFound = errors.New("not found")
