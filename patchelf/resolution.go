package patchelf

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// The resolution cache is a note NixOS patchelf 0.19 writes
// (--build-resolution-cache) and the glibc loader of Nixpkgs reads: for
// each DT_NEEDED library, where the run path finds it, so the loader need
// not search. Its name and type must match that loader's.
const (
	resolutionCacheSection = ".note.nixos.ldcache"
	resolutionCacheOwner   = "NixOS"
	ntResolutionCache      = 0x63a86cb6
)

// noteEdit is a pending change of the resolution cache note.
type noteEdit struct {
	drop *section // the note in the file, to remove
	desc []byte   // the descriptor of a new note; nil for none
}

// ptNotePlaceholder marks the program headers reserved for a new note until its
// place is known.
const ptNotePlaceholder = elf.ProgType(0x6ffffff0)

// dropResolutionCache removes the note (and a pending new one): an edit of
// the run path or the needed libraries makes it stale, as patchelf does.
func (f *File) dropResolutionCache() {
	s := f.section(resolutionCacheSection)
	switch {
	case s != nil:
		f.noteEdit = &noteEdit{drop: s}
	case f.noteEdit != nil:
		f.noteEdit = nil
	}
}

// BuildResolutionCache records, in a note the Nixpkgs loader reads, where
// the run path finds each DT_NEEDED library (patchelf
// --build-resolution-cache): "=path" for a library found, "?dir" for a
// directory that can only be searched at run time ($ORIGIN and the like,
// or one with glibc-hwcaps subdirectories). Files are looked up relative
// to the working directory, as patchelf does.
//
// When there is nothing to record it adds a warning (Warnings) and no
// note. A note already in the file is kept when it says the same, and is
// ErrExists otherwise.
func (f *File) BuildResolutionCache() error {
	errStale := fmt.Errorf("%w: a resolution cache note is already present; rebuild from an unpatched binary", ErrExists)
	existing := f.section(resolutionCacheSection)
	if f.noteEdit != nil && f.noteEdit.drop != nil {
		existing = nil
	}
	stale := func(warning string) error {
		if existing != nil {
			return errStale
		}
		f.warnings = append(f.warnings, "--build-resolution-cache: "+warning)
		return nil
	}
	if f.dynSec == nil || f.strSec == nil {
		return stale("no dynamic section (statically linked?); no cache written")
	}
	rp, err := f.RPath()
	if err != nil {
		return err
	}
	needed, _ := f.Needed()
	var dirs []string
	if rp != "" {
		dirs = splitPath(rp)
	}
	if len(needed) == 0 || len(dirs) == 0 {
		return stale("no DT_NEEDED entries or run path to resolve; no cache written")
	}
	desc := resolutionDesc(needed, dirs)
	if desc == nil {
		return stale("no libraries resolved against the run path; no cache written")
	}
	if existing != nil {
		if old, err := f.noteDesc(existing); err == nil && bytes.Equal(old, desc) {
			return nil
		}
		return errStale
	}
	ne := &noteEdit{desc: desc}
	if f.noteEdit != nil {
		ne.drop = f.noteEdit.drop
	}
	f.noteEdit = ne
	return nil
}

// resolutionDesc returns the note's descriptor: for each needed library,
// sorted, its name, NUL, its entries joined by ":", NUL; then a NUL. Nil
// when no library resolves.
func resolutionDesc(needed, dirs []string) []byte {
	cache := map[string][]string{}
	for _, dir := range dirs {
		if dir == "" {
			continue // the working directory at run time: nothing to bake in
		}
		_, err := os.Stat(dir + "/glibc-hwcaps")
		hint := strings.Contains(dir, "$") || err == nil
		for _, lib := range needed {
			if strings.Contains(lib, "/") {
				continue // a path: the loader opens it without searching
			}
			if hint {
				cache[lib] = append(cache[lib], "?"+dir)
			} else if readable(dir + "/" + lib) {
				cache[lib] = append(cache[lib], "="+dir+"/"+lib)
			}
		}
	}
	if len(cache) == 0 {
		return nil
	}
	var desc []byte
	for _, lib := range slices.Sorted(mapKeys(cache)) {
		desc = append(append(desc, lib...), 0)
		desc = append(append(desc, strings.Join(cache[lib], ":")...), 0)
	}
	return append(desc, 0)
}

// readable reports whether the file can be opened for reading (patchelf
// asks access(R_OK)).
func readable(path string) bool {
	fd, err := os.Open(path)
	if err != nil {
		return false
	}
	fd.Close()
	return true
}

// noteDesc returns the descriptor of the note in section s.
func (f *File) noteDesc(s *section) ([]byte, error) {
	b, err := f.readAt(s.Offset, s.Size, s.Name)
	if err != nil || len(b) < 12 {
		return nil, errors.Join(err, errors.New("short note"))
	}
	namesz, descsz := uint64(f.bo.Uint32(b)), uint64(f.bo.Uint32(b[4:]))
	at := 12 + alignUp(namesz, 4)
	if at > uint64(len(b)) || descsz > uint64(len(b))-at {
		return nil, errors.New("short note")
	}
	return b[at : at+descsz], nil
}

// encodeNote returns the note: its header, the owner's name, the
// descriptor, each padded to 4 bytes.
func (f *File) encodeNote(desc []byte) []byte {
	name := append([]byte(resolutionCacheOwner), 0)
	b := make([]byte, 12+alignUp(uint64(len(name)), 4)+alignUp(uint64(len(desc)), 4))
	f.bo.PutUint32(b, uint32(len(name)))
	f.bo.PutUint32(b[4:], uint32(len(desc)))
	f.bo.PutUint32(b[8:], ntResolutionCache)
	copy(b[12:], name)
	copy(b[12+alignUp(uint64(len(name)), 4):], desc)
	return b
}

// reserveNoteProgs turns the program headers of a note being dropped into
// placeholders, and adds placeholders up to the two a new note needs
// (PT_LOAD and PT_NOTE), so the layout makes room for them.
func (p *plan) reserveNoteProgs() {
	ne := p.f.noteEdit
	if ne == nil {
		return
	}
	have := 0
	if s := ne.drop; s != nil {
		for i, ph := range p.progs {
			if (ph.Type == elf.PT_LOAD || ph.Type == elf.PT_NOTE) && ph.Off == s.Offset && ph.Filesz == s.Size {
				p.progs[i] = elf.ProgHeader{Type: ptNotePlaceholder}
				have++
			}
		}
	}
	if ne.desc != nil {
		for ; have < 2; have++ {
			p.progs = append(p.progs, elf.ProgHeader{Type: ptNotePlaceholder})
		}
	}
}

// placeResolutionCache writes the note change after the layout is known:
// the old note's bytes are zeroed and its section dropped (or emptied when
// other sections follow it); a new note goes after the last byte of the
// file in a PT_LOAD of its own, covered by a PT_NOTE, with a section
// header in a copy of the section header table at the end of the file.
func (p *plan) placeResolutionCache() error {
	f := p.f
	ne := f.noteEdit
	if ne == nil {
		return nil
	}
	p.progs = slices.DeleteFunc(p.progs, func(ph elf.ProgHeader) bool { return ph.Type == ptNotePlaceholder })
	shdrs, err := f.readAt(f.shoff, uint64(len(f.sects))*f.shentsize, "section headers")
	if err != nil {
		return err
	}
	p.shdrs = shdrs // written whole by finish, with the changed fields
	if s := ne.drop; s != nil {
		if s.index == f.shstrndx {
			return formatErr("cannot remove resolution cache note: section name table index points to it", s.Name, s.Offset, uint64(s.index))
		}
		p.patches = append(p.patches, patch{p.outOff(s.Offset), make([]byte, s.Size)})
		clear(p.shdrs[uint64(s.index)*f.shentsize:][:f.shentsize])
		if s.index == len(f.sects)-1 {
			p.shdrs = p.shdrs[:uint64(s.index)*f.shentsize]
		}
	}
	if ne.desc == nil {
		return nil
	}
	note := f.encodeNote(ne.desc)
	_, last, end := loadBounds(p.progs)
	O := alignUp(p.size, 4)
	V := alignUp(end, f.pageSize) + O%f.pageSize
	p.progs = slices.Insert(p.progs, last+1, elf.ProgHeader{Type: elf.PT_LOAD, Flags: elf.PF_R,
		Off: O, Vaddr: V, Paddr: V, Filesz: uint64(len(note)), Memsz: uint64(len(note)), Align: f.pageSize})
	p.progs = append(p.progs, elf.ProgHeader{Type: elf.PT_NOTE, Flags: elf.PF_R,
		Off: O, Vaddr: V, Paddr: V, Filesz: uint64(len(note)), Memsz: uint64(len(note)), Align: 4})
	p.patches = append(p.patches, patch{O, note})
	p.size = O + uint64(len(note))

	return p.addNoteSection(O, V, uint64(len(note)))
}

// addNoteSection appends the note's section header to the copy of the
// table written at the end of the file. Its name is reused when the name
// table holds it; else a copy of the table with the name appended goes
// after the note.
func (p *plan) addNoteSection(O, V, size uint64) error {
	f := p.f
	st := f.sects[f.shstrndx]
	names, err := f.readAt(st.Offset, st.Size, "section name table")
	if err != nil {
		return err
	}
	name := bytes.Index(names, append([]byte(resolutionCacheSection), 0))
	if name < 0 {
		name = len(names)
		names = append(append(names, resolutionCacheSection...), 0)
		moved := st.SectionHeader
		moved.Offset, moved.Size = p.size, uint64(len(names))
		p.secs[st.index] = &section{SectionHeader: moved, index: st.index}
		p.patches = append(p.patches, patch{p.size, names})
		p.size += uint64(len(names))
	}
	sh := make([]byte, f.shentsize)
	f.bo.PutUint32(sh, uint32(name))
	f.bo.PutUint32(sh[4:], uint32(elf.SHT_NOTE))
	if f.class == elf.ELFCLASS64 {
		f.bo.PutUint64(sh[8:], uint64(elf.SHF_ALLOC))
		f.bo.PutUint64(sh[16:], V)
		f.bo.PutUint64(sh[24:], O)
		f.bo.PutUint64(sh[32:], size)
		f.bo.PutUint64(sh[48:], 4)
	} else {
		f.bo.PutUint32(sh[8:], uint32(elf.SHF_ALLOC))
		f.bo.PutUint32(sh[12:], uint32(V))
		f.bo.PutUint32(sh[16:], uint32(O))
		f.bo.PutUint32(sh[20:], uint32(size))
		f.bo.PutUint32(sh[32:], 4)
	}
	p.shdrs = append(p.shdrs, sh...)
	p.shoff = alignUp(p.size, f.ptrSize())
	p.size = p.shoff + uint64(len(p.shdrs))
	return nil
}
