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

// Interpreter returns the program interpreter, read from .interp as
// patchelf reads it.
func (f *File) Interpreter() (string, error) {
	if err := f.loadInterp(); err != nil {
		return "", err
	}
	s := f.interp
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s, nil
}

// entryString returns the string an entry refers to.
func (f *File) entryString(e dynEntry) string {
	if e.pending {
		return e.str
	}
	return f.strtab.get(e.val)
}

// DynStrings returns the strings of every entry with the tag, in table
// order (DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH, ...).
func (f *File) DynStrings(tag elf.DynTag) ([]string, error) {
	if err := f.dynTable(tag); errors.Is(err, ErrNoBits) {
		return nil, nil // a separate debug file: no entries, as patchelf finds none
	} else if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range f.dyn {
		if e.tag == tag {
			out = append(out, f.entryString(e))
		}
	}
	return out, nil
}

// Needed returns the DT_NEEDED libraries in table order.
func (f *File) Needed() ([]string, error) { return f.DynStrings(elf.DT_NEEDED) }

// Soname returns DT_SONAME, and whether there is one.
func (f *File) Soname() (string, bool, error) {
	s, err := f.DynStrings(elf.DT_SONAME)
	if err != nil || len(s) == 0 {
		return "", false, err
	}
	return s[len(s)-1], true, nil // the loader, like patchelf, takes the last
}

// RPath returns the search path the loader uses: DT_RUNPATH when present,
// else DT_RPATH, else "" (what patchelf --print-rpath prints). A file whose
// .dynamic takes no room (a separate debug file) gives ErrNoBits.
func (f *File) RPath() (string, error) {
	if err := f.rpathTable(); err != nil {
		return "", err
	}
	if i := f.rpathEntry(); i >= 0 {
		return f.entryString(f.dyn[i]), nil
	}
	return "", nil
}

// rpathTable loads what patchelf reads to edit an rpath: the rpath entries
// and the needed libraries.
func (f *File) rpathTable() error {
	if f.dynSec != nil && f.dynSec.Type == elf.SHT_NOBITS {
		return fmt.Errorf("%w: .dynamic", ErrNoBits)
	}
	return f.dynTable(elf.DT_RPATH, elf.DT_RUNPATH, elf.DT_NEEDED)
}

// rpathEntry returns the index of the entry the loader takes the search
// path from: the last DT_RUNPATH, else the last DT_RPATH; -1 when none.
func (f *File) rpathEntry() int {
	rp, rup := -1, -1
	for i, e := range f.dyn {
		switch e.tag {
		case elf.DT_RPATH:
			rp = i
		case elf.DT_RUNPATH:
			rup = i
		}
	}
	if rup >= 0 {
		return rup
	}
	return rp
}

func checkString(field, s string) error {
	if s == "" || strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%w: %s %q", ErrInvalid, field, s)
	}
	return nil
}

// SetInterpreter sets the interpreter (.interp and PT_INTERP). Setting the
// current value changes nothing. A separate debug file, whose .interp takes
// no room, gives ErrNoBits, as patchelf refuses it too (an interpreter
// written there would land in bytes nothing reads).
func (f *File) SetInterpreter(path string) error {
	if err := f.loadInterp(); err != nil {
		return err
	}
	if f.interpSec.Type == elf.SHT_NOBITS {
		return fmt.Errorf("%w: .interp", ErrNoBits)
	}
	if err := checkString("interpreter", path); err != nil {
		return err
	}
	if path != f.interp {
		f.interp, f.interpDirty = path, true
	}
	return nil
}

// RPathOption modifies how the rpath edits (SetRPath, AddRPath,
// ShrinkRPath) write their entry.
type RPathOption func(*rpathConfig)

type rpathConfig struct{ force bool }

// ForceRPath writes DT_RPATH instead of DT_RUNPATH (patchelf
// --force-rpath). Without it an existing DT_RPATH is turned into
// DT_RUNPATH, as patchelf does.
func ForceRPath() RPathOption { return func(c *rpathConfig) { c.force = true } }

// SetRPath sets the library search path to path (a colon-separated list;
// $ORIGIN is kept literally for the loader to expand). The old string is
// overwritten with X when nothing else uses it, as patchelf does, so the
// file keeps no trace of the old path.
func (f *File) SetRPath(path string, opts ...RPathOption) error {
	if strings.IndexByte(path, 0) >= 0 {
		return fmt.Errorf("%w: rpath %q", ErrInvalid, path)
	}
	if err := f.rpathTable(); err != nil {
		return err
	}
	return f.writeRPath(path, opts)
}

// AddRPath appends path to the current search path.
func (f *File) AddRPath(path string, opts ...RPathOption) error {
	cur, err := f.RPath()
	if err != nil {
		return err
	}
	if cur != "" {
		path = cur + ":" + path
	}
	return f.SetRPath(path, opts...)
}

// RemoveRPath removes DT_RPATH and DT_RUNPATH.
func (f *File) RemoveRPath() error {
	if err := f.rpathTable(); err != nil {
		return err
	}
	f.dyn = slices.DeleteFunc(f.dyn, func(e dynEntry) bool {
		return e.tag == elf.DT_RPATH || e.tag == elf.DT_RUNPATH
	})
	f.dropResolutionCache()
	return nil
}

// ShrinkRPath removes from the search path every absolute directory that
// holds none of the needed libraries (for this machine), and, when
// allowedPrefixes is not empty, every absolute directory that starts with
// none of them. Relative entries such as $ORIGIN are kept.
func (f *File) ShrinkRPath(allowedPrefixes []string, opts ...RPathOption) error {
	if err := f.rpathTable(); err != nil {
		return err
	}
	if f.rpathEntry() < 0 {
		f.dropResolutionCache()
		return nil
	}
	cur, _ := f.RPath()
	needed, _ := f.Needed()
	found := make([]bool, len(needed))
	var keep []string
	for _, dir := range splitPath(cur) {
		if dir != "" && !strings.HasPrefix(dir, "/") {
			keep = append(keep, dir)
			continue
		}
		if len(allowedPrefixes) > 0 && !slices.ContainsFunc(allowedPrefixes, func(p string) bool { return strings.HasPrefix(dir, p) }) {
			continue
		}
		any := false
		for i, lib := range needed {
			// As patchelf, which joins with "/" (an empty entry looks in /).
			if !found[i] && f.sameMachine(dir+"/"+lib) {
				found[i], any = true, true
			}
		}
		if any {
			keep = append(keep, dir)
		}
	}
	return f.writeRPath(strings.Join(keep, ":"), opts)
}

// splitPath splits a colon-separated list as patchelf does: an empty
// entry is kept, except a trailing one.
func splitPath(s string) []string {
	parts := strings.Split(s, ":")
	if parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// sameMachine reports whether path is an ELF file for this machine.
func (f *File) sameMachine(path string) bool {
	fd, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fd.Close()
	var h [20]byte
	if _, err := fd.ReadAt(h[:], 0); err != nil || string(h[:4]) != elf.ELFMAG {
		return false
	}
	return elf.Machine(f.bo.Uint16(h[18:])) == f.machine
}

func (f *File) writeRPath(path string, opts []RPathOption) error {
	var cfg rpathConfig
	for _, o := range opts {
		o(&cfg)
	}
	rp, rup := -1, -1
	for i, e := range f.dyn {
		if e.tag == elf.DT_RPATH && rp < 0 {
			rp = i
		}
		if e.tag == elf.DT_RUNPATH && rup < 0 {
			rup = i
		}
	}
	old := f.rpathEntry()
	var oldEntry dynEntry
	if old >= 0 {
		oldEntry = f.dyn[old]
	}
	switch {
	case cfg.force && rp >= 0 && rup >= 0:
		f.dyn = slices.DeleteFunc(f.dyn, func(e dynEntry) bool { return e.tag == elf.DT_RUNPATH })
	case !cfg.force && rp >= 0 && rup < 0:
		f.dyn[rp].tag = elf.DT_RUNPATH
	case cfg.force && rup >= 0:
		for i := range f.dyn {
			if f.dyn[i].tag == elf.DT_RUNPATH {
				f.dyn[i].tag = elf.DT_RPATH
			}
		}
	}
	// Compared after the tag changes: dropping a DT_RUNPATH uncovers a
	// DT_RPATH that may hold another value.
	if cur := f.rpathEntry(); cur >= 0 && f.entryString(f.dyn[cur]) == path {
		return nil
	}
	if old >= 0 && !oldEntry.pending && f.xout == nil {
		r, err := f.exclusiveString(oldEntry.val)
		if err != nil {
			return err
		}
		f.xout = r
	}
	found := false
	for i := range f.dyn {
		if f.dyn[i].tag == elf.DT_RPATH || f.dyn[i].tag == elf.DT_RUNPATH {
			f.dyn[i] = dynEntry{tag: f.dyn[i].tag, str: path, pending: true}
			found = true
		}
	}
	if !found {
		tag := elf.DT_RUNPATH
		if cfg.force {
			tag = elf.DT_RPATH
		}
		f.dyn = slices.Insert(f.dyn, 0, dynEntry{tag: tag, str: path, pending: true})
	}
	f.dropResolutionCache()
	return nil
}

// strRange is a NUL-terminated string of .dynstr: n bytes at off, then NUL.
type strRange struct{ off, n uint64 }

// exclusiveString returns the string at off when nothing but the rpath
// entries uses its bytes: no other entry, symbol or version name, not even
// as a shared tail. It returns nil when something does or when the uses
// cannot all be found (no .dynsym to read the symbol names from).
func (f *File) exclusiveString(off uint64) (*strRange, error) {
	base := f.strtab.base
	if off >= uint64(len(base)) {
		return nil, nil
	}
	n := uint64(bytes.IndexByte(base[off:], 0))
	end := off + n
	refs, ok, err := f.stringRefs(elf.DT_RPATH, elf.DT_RUNPATH)
	if err != nil || !ok {
		return nil, err
	}
	for _, r := range refs {
		if r <= end && uint64(bytes.IndexByte(base[r:], 0))+r == end {
			return nil, nil
		}
	}
	return &strRange{off, n}, nil
}

// stringRefs returns the .dynstr offsets everything but the entries with
// the skipped tags refers to: dynamic entries, dynamic symbol names and
// version names; ok is false when the symbol names cannot be read.
func (f *File) stringRefs(skip ...elf.DynTag) (refs []uint64, ok bool, err error) {
	inTable := func(v uint64) bool { return v < uint64(len(f.strtab.base)) }
	for _, e := range f.dyn {
		if stringTags[e.tag] && !e.pending && !slices.Contains(skip, e.tag) && inTable(e.val) {
			refs = append(refs, e.val)
		}
	}
	syms, ok, err := f.symbolNames()
	if err != nil || !ok {
		return nil, false, err
	}
	files, names, err := f.verneedRefs()
	if err != nil {
		return nil, false, err
	}
	defs, err := f.verdefNames()
	if err != nil {
		return nil, false, err
	}
	for _, v := range syms {
		if inTable(v) {
			refs = append(refs, v)
		}
	}
	for _, r := range slices.Concat(files, names, defs) {
		if inTable(r.val) {
			refs = append(refs, r.val)
		}
	}
	return refs, true, nil
}

// AddNeeded adds DT_NEEDED entries in front of the existing ones, in the
// order given, as patchelf does (a library already needed is added again).
func (f *File) AddNeeded(libs ...string) error {
	if len(libs) == 0 {
		return nil
	}
	if err := f.loadDynamic(); err != nil {
		return err
	}
	var add []dynEntry
	for _, l := range libs {
		if err := checkString("needed library", l); err != nil {
			return err
		}
		add = append(add, dynEntry{tag: elf.DT_NEEDED, str: l, pending: true})
	}
	f.dyn = slices.Insert(f.dyn, 0, add...)
	f.dropResolutionCache()
	return nil
}

// RemoveNeeded removes the DT_NEEDED entries naming any of libs.
func (f *File) RemoveNeeded(libs ...string) error {
	if len(libs) == 0 {
		return nil
	}
	if err := f.dynTable(elf.DT_NEEDED); err != nil {
		return err
	}
	n := len(f.dyn)
	f.dyn = slices.DeleteFunc(f.dyn, func(e dynEntry) bool {
		return e.tag == elf.DT_NEEDED && slices.Contains(libs, f.entryString(e))
	})
	if len(f.dyn) != n {
		f.dropResolutionCache()
	}
	return nil
}

// ReplaceNeeded replaces DT_NEEDED entries, old name to new, in place
// (table order is kept; each entry is replaced at most once, so a→b, b→c
// does not chain), and renames them in the symbol version requirements
// (.gnu.version_r) so versioned symbols are looked up in the new library.
func (f *File) ReplaceNeeded(names map[string]string) error {
	if len(names) == 0 {
		return nil
	}
	for _, to := range names {
		if err := checkString("needed library", to); err != nil {
			return err
		}
	}
	if err := f.dynTable(elf.DT_NEEDED); err != nil {
		return err
	}
	replaced := false
	for i, e := range f.dyn {
		if e.tag != elf.DT_NEEDED {
			continue
		}
		if to, ok := names[f.entryString(e)]; ok && to != f.entryString(e) {
			f.dyn[i] = dynEntry{tag: elf.DT_NEEDED, str: to, pending: true}
			replaced = true
		}
	}
	vns, err := f.versionFiles()
	if err != nil {
		return err
	}
	for _, vn := range vns {
		cur := f.strtab.get(vn.val)
		for _, r := range f.vnPending {
			if r.fieldOff == vn.fieldOff {
				cur = r.str
			}
		}
		if to, ok := names[cur]; ok && to != cur {
			f.vnPending = append(f.vnPending, vnRename{fieldOff: vn.fieldOff, str: to})
			replaced = true
		}
	}
	if replaced {
		f.dropResolutionCache()
	}
	return nil
}

// SetSoname sets DT_SONAME, adding the entry when there is none.
func (f *File) SetSoname(name string) error {
	if err := checkString("soname", name); err != nil {
		return err
	}
	if err := f.dynTable(elf.DT_SONAME); err != nil {
		return err
	}
	for i, e := range f.dyn {
		if e.tag == elf.DT_SONAME {
			if f.entryString(e) != name {
				f.dyn[i] = dynEntry{tag: elf.DT_SONAME, str: name, pending: true}
			}
			return nil
		}
	}
	f.dyn = slices.Insert(f.dyn, 0, dynEntry{tag: elf.DT_SONAME, str: name, pending: true})
	return nil
}

// NoDefaultLib sets DF_1_NODEFLIB in DT_FLAGS_1: the loader will not
// search the default library directories for this object's dependencies.
func (f *File) NoDefaultLib() error {
	if err := f.loadDynamic(); err != nil {
		return err
	}
	for i, e := range f.dyn {
		if e.tag == elf.DT_FLAGS_1 {
			f.dyn[i].val |= uint64(elf.DF_1_NODEFLIB)
			return nil
		}
	}
	f.dyn = slices.Insert(f.dyn, 0, dynEntry{tag: elf.DT_FLAGS_1, val: uint64(elf.DF_1_NODEFLIB)})
	return nil
}

// AddDebugTag adds a DT_DEBUG entry, which debuggers use to find the
// loader's list of objects, when there is none (patchelf --add-debug-tag).
func (f *File) AddDebugTag() error {
	if err := f.loadDynamic(); err != nil {
		return err
	}
	if slices.ContainsFunc(f.dyn, func(e dynEntry) bool { return e.tag == elf.DT_DEBUG }) {
		return nil
	}
	f.dyn = slices.Insert(f.dyn, 0, dynEntry{tag: elf.DT_DEBUG})
	return nil
}

// KeepOldSections leaves the old bytes of the tables an edit moves where
// they were (patchelf --no-clobber-old-sections), for a program that reads
// them there. By default they are overwritten with Z, as patchelf does, so
// no stale copy of a string stays in the file.
func (f *File) KeepOldSections() { f.keepOld = true }
