// Package patchelf reads and edits ELF executables and shared libraries in
// pure Go: the interpreter, DT_RPATH/DT_RUNPATH, DT_NEEDED, DT_SONAME and
// DF_1_NODEFLIB, for 32- and 64-bit, little- and big-endian, ET_DYN and
// ET_EXEC files. Parsing is done by debug/elf; this package adds writing.
//
// The shortest use:
//
//	f, err := patchelf.Open("bin/agent")
//	if err != nil { ... }
//	defer f.Close()
//	f.SetRPath("$ORIGIN/../lib")
//	err = f.Save() // atomic: temp file + rename, same mode and owner
//
// Strings that no longer fit are never written over existing bytes (the
// linker shares string tails between entries); tables move only when
// they must, into the slack of their own segment first, and a second
// edit reuses the room the first one made (see layout.go).
//
// Bundle copies programs with their shared-library closure, resolved as
// ld.so does, into one directory that runs from anywhere.
package patchelf
