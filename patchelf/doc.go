// Package patchelf reads and edits ELF executables and shared libraries in
// pure Go, as NixOS patchelf 0.19 does: the interpreter, DT_RPATH and
// DT_RUNPATH, DT_NEEDED, DT_SONAME, DF_1_NODEFLIB, DT_DEBUG, symbol
// versions and names, the OS ABI, the executable-stack flag and the
// resolution cache note, for 32- and 64-bit, little- and big-endian,
// ET_DYN and ET_EXEC files. Types come from debug/elf; this package adds
// patchelf's reading rules and writing.
//
// The shortest use:
//
//	f, err := patchelf.Open("bin/agent")
//	if err != nil { ... }
//	defer f.Close()
//	f.SetRPath("$ORIGIN/../lib")
//	err = f.Save() // atomic: unique temp file, fsync, rename; same mode and owner
//
// Tables are found by section name, as patchelf finds them, and checked
// with its rules and words (*FormatError) when an accessor or an edit
// first reads them. Strings still in use are never written over (the
// linker shares string tails between entries); an rpath nothing else uses
// is overwritten with X. Tables move only when they must, into the slack
// of their own segment first, and a second edit reuses the room the first
// one made (see layout.go), so repeated edits do not grow the file.
//
// Bundle copies programs with their shared-library closure, resolved as
// ld.so does, into one directory that runs from anywhere.
package patchelf
