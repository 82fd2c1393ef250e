package patchelf

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Interpreter returns the program interpreter (PT_INTERP).
func (f *File) Interpreter() (string, error) {
	if !f.hasInterp {
		return "", ErrNoInterpreter
	}
	return f.interp, nil
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
func (f *File) DynStrings(tag elf.DynTag) []string {
	var out []string
	for _, e := range f.dyn {
		if e.tag == tag {
			out = append(out, f.entryString(e))
		}
	}
	return out
}

// Needed returns the DT_NEEDED libraries in table order.
func (f *File) Needed() []string { return f.DynStrings(elf.DT_NEEDED) }

// Soname returns DT_SONAME, and whether there is one.
func (f *File) Soname() (string, bool) {
	s := f.DynStrings(elf.DT_SONAME)
	if len(s) == 0 {
		return "", false
	}
	return s[0], true
}

// RPath returns the search path the loader uses: DT_RUNPATH when present,
// else DT_RPATH, else "" (what patchelf --print-rpath prints).
func (f *File) RPath() string {
	rp, rup := f.rpathIndex()
	switch {
	case rup >= 0:
		return f.entryString(f.dyn[rup])
	case rp >= 0:
		return f.entryString(f.dyn[rp])
	}
	return ""
}

// rpathIndex returns the index of the first DT_RPATH and DT_RUNPATH
// entries, -1 when absent.
func (f *File) rpathIndex() (rp, rup int) {
	rp, rup = -1, -1
	for i, e := range f.dyn {
		if e.tag == elf.DT_RPATH && rp < 0 {
			rp = i
		}
		if e.tag == elf.DT_RUNPATH && rup < 0 {
			rup = i
		}
	}
	return rp, rup
}

func checkString(field, s string) error {
	if s == "" || strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%w: %s %q", ErrBadArgument, field, s)
	}
	return nil
}

// SetInterpreter sets PT_INTERP. Setting the current value changes nothing.
func (f *File) SetInterpreter(path string) error {
	if !f.hasInterp {
		return ErrNoInterpreter
	}
	if err := checkString("interpreter", path); err != nil {
		return err
	}
	if path != f.interp {
		f.interp, f.interpDirty = path, true
	}
	return nil
}

// RPathOption modifies how the rpath edits write their entry.
type RPathOption func(*rpathConfig)

type rpathConfig struct{ force bool }

// ForceRPath writes DT_RPATH instead of DT_RUNPATH (patchelf
// --force-rpath). Without it an existing DT_RPATH is turned into
// DT_RUNPATH, as patchelf does.
func ForceRPath() RPathOption { return func(c *rpathConfig) { c.force = true } }

// SetRPath sets the library search path to path (a colon-separated list;
// $ORIGIN is kept literally for the loader to expand).
func (f *File) SetRPath(path string, opts ...RPathOption) error {
	if strings.IndexByte(path, 0) >= 0 {
		return fmt.Errorf("%w: rpath %q", ErrBadArgument, path)
	}
	f.writeRPath(path, opts)
	return nil
}

// AddRPath appends path to the current search path.
func (f *File) AddRPath(path string, opts ...RPathOption) error {
	if cur := f.RPath(); cur != "" {
		path = cur + ":" + path
	}
	return f.SetRPath(path, opts...)
}

// RemoveRPath removes DT_RPATH and DT_RUNPATH.
func (f *File) RemoveRPath() {
	f.dyn = slices.DeleteFunc(f.dyn, func(e dynEntry) bool {
		return e.tag == elf.DT_RPATH || e.tag == elf.DT_RUNPATH
	})
}

// ShrinkRPath removes from the search path every absolute directory that
// holds none of the needed libraries (for this machine), and, when
// allowedPrefixes is not empty, every absolute directory that starts with
// none of them. Relative entries such as $ORIGIN are kept.
func (f *File) ShrinkRPath(allowedPrefixes []string, opts ...RPathOption) error {
	rp, rup := f.rpathIndex()
	if rp < 0 && rup < 0 {
		return nil
	}
	needed := f.Needed()
	found := make([]bool, len(needed))
	var keep []string
	for _, dir := range strings.Split(f.RPath(), ":") {
		if !strings.HasPrefix(dir, "/") {
			keep = append(keep, dir)
			continue
		}
		if len(allowedPrefixes) > 0 && !slices.ContainsFunc(allowedPrefixes, func(p string) bool { return strings.HasPrefix(dir, p) }) {
			continue
		}
		any := false
		for i, lib := range needed {
			if !found[i] && f.sameMachine(filepath.Join(dir, lib)) {
				found[i], any = true, true
			}
		}
		if any {
			keep = append(keep, dir)
		}
	}
	return f.SetRPath(strings.Join(keep, ":"), opts...)
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

func (f *File) writeRPath(path string, opts []RPathOption) {
	var cfg rpathConfig
	for _, o := range opts {
		o(&cfg)
	}
	rp, rup := f.rpathIndex()
	switch {
	case cfg.force && rp >= 0 && rup >= 0:
		f.dyn = slices.Delete(f.dyn, rup, rup+1)
	case !cfg.force && rp >= 0 && rup < 0:
		f.dyn[rp].tag = elf.DT_RUNPATH
	case cfg.force && rup >= 0:
		f.dyn[rup].tag = elf.DT_RPATH
	}
	// Compared after the tag changes: dropping a DT_RUNPATH uncovers a
	// DT_RPATH that may hold another value.
	if (rp >= 0 || rup >= 0) && f.RPath() == path {
		return
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
}

// AddNeeded adds DT_NEEDED entries in front of the existing ones, in the
// order given. Libraries already needed are left alone.
func (f *File) AddNeeded(libs ...string) error {
	var add []dynEntry
	have := f.Needed()
	for _, l := range libs {
		if err := checkString("needed library", l); err != nil {
			return err
		}
		if !slices.Contains(have, l) {
			have = append(have, l)
			add = append(add, dynEntry{tag: elf.DT_NEEDED, str: l, pending: true})
		}
	}
	f.dyn = slices.Insert(f.dyn, 0, add...)
	return nil
}

// RemoveNeeded removes the DT_NEEDED entries naming any of libs.
func (f *File) RemoveNeeded(libs ...string) {
	f.dyn = slices.DeleteFunc(f.dyn, func(e dynEntry) bool {
		return e.tag == elf.DT_NEEDED && slices.Contains(libs, f.entryString(e))
	})
}

// ReplaceNeeded replaces the DT_NEEDED entry old by new, in place (table
// order is kept), and renames old in the symbol version requirements
// (.gnu.version_r) so versioned symbols are looked up in new.
func (f *File) ReplaceNeeded(old, new string) error {
	if err := checkString("needed library", new); err != nil {
		return err
	}
	if old == new {
		return nil
	}
	for i, e := range f.dyn {
		if e.tag == elf.DT_NEEDED && f.entryString(e) == old {
			f.dyn[i] = dynEntry{tag: elf.DT_NEEDED, str: new, pending: true}
		}
	}
	vns, err := f.verneedFiles()
	if err != nil {
		return err
	}
	for _, vn := range vns {
		if f.strtab.get(vn.val) == old {
			f.vnPending = append(f.vnPending, vnRename{fieldOff: vn.fieldOff, str: new})
		}
	}
	return nil
}

// SetSoname sets DT_SONAME, adding the entry when there is none.
func (f *File) SetSoname(name string) error {
	if err := checkString("soname", name); err != nil {
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
func (f *File) NoDefaultLib() {
	for i, e := range f.dyn {
		if e.tag == elf.DT_FLAGS_1 {
			f.dyn[i].val |= uint64(elf.DF_1_NODEFLIB)
			return
		}
	}
	f.dyn = slices.Insert(f.dyn, 0, dynEntry{tag: elf.DT_FLAGS_1, val: uint64(elf.DF_1_NODEFLIB)})
}
