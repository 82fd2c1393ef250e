package patchelf

import (
	"debug/elf"
	"slices"
	"sort"
)

// symEdit is a pending change of the dynamic symbols: versions cleared,
// names changed. The tables are rewritten when the file is written, when
// the offsets of the new names in .dynstr are known.
type symEdit struct {
	dynsym, versym *section
	syms, vers     []byte          // the tables as read
	clear          map[string]bool // names whose version is cleared
	renamed        map[int]string  // new name by symbol index
	names          []string        // the new names, for the string table
	order          []int           // order[new index] = old index; nil when unchanged
	patches        []patch         // hash and relocation tables, final
}

// symbols returns the pending symbol edit, reading .dynsym (and
// .gnu.version, when there is one) the first time.
func (f *File) symbols(needVersions bool) (*symEdit, error) {
	if err := f.loadDynamic(); err != nil {
		return nil, err
	}
	se := f.symPending
	if se == nil {
		se = &symEdit{dynsym: f.section(".dynsym"), versym: f.section(".gnu.version"), clear: map[string]bool{}, renamed: map[int]string{}}
		if se.dynsym == nil {
			return nil, formatErr("cannot find section '.dynsym'", ".dynsym", 0, 0)
		}
		var err error
		if se.syms, err = f.sectionBytes(se.dynsym, f.ptrSize()); err != nil {
			return nil, err
		}
		if se.versym != nil {
			if se.vers, err = f.sectionBytes(se.versym, 2); err != nil {
				return nil, err
			}
		}
	}
	if needVersions {
		if se.versym == nil {
			return nil, formatErr("cannot find section '.gnu.version'", ".gnu.version", 0, 0)
		}
		if uint64(len(se.syms))/f.symEntSize() != uint64(len(se.vers))/2 {
			return nil, formatErr(msgVersymMismatch, ".gnu.version", se.versym.Offset, se.versym.Size)
		}
	}
	return se, nil
}

// symName returns the name of symbol i as read, checking its offset.
func (f *File) symName(se *symEdit, i int) (string, error) {
	off := uint64(f.bo.Uint32(se.syms[uint64(i)*f.symEntSize():]))
	if off >= uint64(len(f.strtab.base)) {
		return "", formatErr(msgStrIndex, "st_name", se.dynsym.Offset+uint64(i)*f.symEntSize(), off)
	}
	return f.strtab.get(off), nil
}

// ClearSymbolVersion marks every dynamic symbol named sym as unversioned
// (version index 1, global) in .gnu.version (patchelf
// --clear-symbol-version). Symbols are matched by their names as read.
func (f *File) ClearSymbolVersion(sym string) error {
	se, err := f.symbols(true)
	if err != nil {
		return err
	}
	for i := range len(se.syms) / int(f.symEntSize()) {
		if _, err := f.symName(se, i); err != nil {
			return err
		}
	}
	se.clear[sym] = true
	f.symPending = se
	return nil
}

// RenameDynamicSymbols gives dynamic symbols new names (patchelf
// --rename-dynamic-symbols), keyed by the old name. The hash tables are
// rebuilt for the new names, which reorders the symbols the GNU hash table
// covers; .gnu.version and the dynamic relocations follow the new order.
func (f *File) RenameDynamicSymbols(names map[string]string) error {
	for from, to := range names {
		if err := checkString("symbol name", from); err != nil {
			return err
		}
		if err := checkString("symbol name", to); err != nil {
			return err
		}
	}
	se, err := f.symbols(false)
	if err != nil {
		return err
	}
	n := len(se.syms) / int(f.symEntSize())
	current := make([]string, n)
	for i := range n {
		name, err := f.symName(se, i)
		if err != nil {
			return err
		}
		if to, ok := se.renamed[i]; ok {
			name = to
		}
		current[i] = name
		if to, ok := names[name]; ok {
			current[i] = to
		}
	}
	next := *se
	next.renamed = map[int]string{}
	for i, name := range current {
		if old, _ := f.symName(se, i); old != name {
			next.renamed[i] = name
		}
	}
	if len(next.renamed) == 0 {
		return nil
	}
	next.names = nil
	for _, i := range slices.Sorted(mapKeys(next.renamed)) {
		next.names = append(next.names, next.renamed[i])
	}
	if err := f.rehash(&next, current); err != nil {
		return err
	}
	f.symPending = &next
	return nil
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func gnuHash(name string) uint32 {
	h := uint32(5381)
	for i := 0; i < len(name); i++ {
		h = h*33 + uint32(name[i])
	}
	return h
}

func sysvHash(name string) uint32 {
	var h uint32
	for i := 0; i < len(name); i++ {
		h = h<<4 + uint32(name[i])
		g := h & 0xf0000000
		h ^= g >> 24
		h &^= g
	}
	return h
}

// rehash rebuilds .gnu.hash and .hash for the names, as patchelf does: the
// symbols the GNU table covers are sorted by bucket, and the relocations
// that name symbols by index follow them.
func (f *File) rehash(se *symEdit, names []string) error {
	se.order, se.patches = nil, nil
	if s := f.section(".gnu.hash"); s != nil {
		if err := f.rehashGNU(se, s, names); err != nil {
			return err
		}
	}
	if s := f.section(".hash"); s != nil {
		if err := f.rehashSysV(se, s, names); err != nil {
			return err
		}
	}
	return nil
}

func (f *File) rehashGNU(se *symEdit, s *section, names []string) error {
	b, err := f.sectionBytes(s, 4)
	if err != nil {
		return err
	}
	bad := func(what string, v uint64) error { return formatErr("malformed GNU hash table", what, s.Offset, v) }
	if len(b) < 16 {
		return bad("header", uint64(len(b)))
	}
	nbuckets, symndx := uint64(f.bo.Uint32(b)), uint64(f.bo.Uint32(b[4:]))
	maskwords, shift2 := uint64(f.bo.Uint32(b[8:])), f.bo.Uint32(b[12:])
	word := f.ptrSize()
	bloomAt := uint64(16)
	bucketAt := bloomAt + maskwords*word
	chainAt := bucketAt + 4*nbuckets
	if maskwords > uint64(len(b)) || nbuckets > uint64(len(b)) || chainAt > uint64(len(b)) {
		return bad("table sizes", chainAt)
	}
	nchain := (uint64(len(b)) - chainAt) / 4
	if nchain == 0 {
		return nil // nothing hashed: symndx cannot be trusted
	}
	if nbuckets == 0 || maskwords == 0 || symndx > uint64(len(names)) || uint64(len(names))-symndx > nchain {
		return bad("symndx", symndx)
	}
	type entry struct {
		hash, bucket uint32
		old          int
	}
	var es []entry
	for i := int(symndx); i < len(names); i++ {
		h := gnuHash(names[i])
		es = append(es, entry{h, h % uint32(nbuckets), i})
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].bucket < es[j].bucket })
	se.order = make([]int, len(names))
	for i := range se.order {
		se.order[i] = i
	}
	newIndex := make([]int, len(names))
	for i := range newIndex {
		newIndex[i] = i
	}
	for j, e := range es {
		se.order[int(symndx)+j] = e.old
		newIndex[e.old] = int(symndx) + j
	}
	out := make([]byte, len(b))
	copy(out, b[:bloomAt])
	bits := uint32(word * 8)
	for _, e := range es {
		at := bloomAt + uint64(e.hash/bits%uint32(maskwords))*word
		v := uint64(1)<<(e.hash%bits) | uint64(1)<<((e.hash>>shift2)%bits)
		if word == 8 {
			f.bo.PutUint64(out[at:], f.bo.Uint64(out[at:])|v)
		} else {
			f.bo.PutUint32(out[at:], f.bo.Uint32(out[at:])|uint32(v))
		}
	}
	for j, e := range es {
		at := bucketAt + 4*uint64(e.bucket)
		if f.bo.Uint32(out[at:]) == 0 {
			f.bo.PutUint32(out[at:], uint32(int(symndx)+j))
		}
		h := e.hash &^ 1
		if j == len(es)-1 || es[j+1].bucket != e.bucket {
			h |= 1
		}
		f.bo.PutUint32(out[chainAt+4*uint64(j):], h)
	}
	se.patches = append(se.patches, patch{s.Offset, out})
	return f.renumberRelocs(se, newIndex)
}

// renumberRelocs makes the relocations against .dynsym name the symbols by
// their new index.
func (f *File) renumberRelocs(se *symEdit, newIndex []int) error {
	for i := range f.sects {
		s := &f.sects[i]
		if (s.Type != elf.SHT_REL && s.Type != elf.SHT_RELA) || int(s.Link) != se.dynsym.index {
			continue
		}
		es := 2 * f.ptrSize()
		if s.Type == elf.SHT_RELA {
			es += f.ptrSize()
		}
		b, err := f.sectionBytes(s, f.ptrSize())
		if err != nil {
			return err
		}
		changed := false
		for at := uint64(0); at+es <= uint64(len(b)); at += es {
			if f.class == elf.ELFCLASS64 {
				info := f.bo.Uint64(b[at+8:])
				if sym := info >> 32; sym < uint64(len(newIndex)) && newIndex[sym] != int(sym) {
					f.bo.PutUint64(b[at+8:], uint64(newIndex[sym])<<32|info&0xffffffff)
					changed = true
				}
			} else {
				info := f.bo.Uint32(b[at+4:])
				if sym := info >> 8; uint64(sym) < uint64(len(newIndex)) && newIndex[sym] != int(sym) {
					f.bo.PutUint32(b[at+4:], uint32(newIndex[sym])<<8|info&0xff)
					changed = true
				}
			}
		}
		if changed {
			se.patches = append(se.patches, patch{s.Offset, b})
		}
	}
	return nil
}

func (f *File) rehashSysV(se *symEdit, s *section, names []string) error {
	b, err := f.sectionBytes(s, 4)
	if err != nil {
		return err
	}
	if len(b) < 8 {
		return formatErr("malformed hash table", ".hash", s.Offset, uint64(len(b)))
	}
	nbuckets := uint64(f.bo.Uint32(b))
	if nbuckets == 0 || 8+4*nbuckets > uint64(len(b)) {
		return formatErr("malformed hash table", "nbucket", s.Offset, nbuckets)
	}
	chainAt := 8 + 4*nbuckets
	nchain := (uint64(len(b)) - chainAt) / 4
	if nchain > uint64(len(names)) {
		return formatErr("malformed hash table", "nchain", s.Offset+4, nchain)
	}
	out := make([]byte, len(b))
	copy(out, b[:8])
	first := uint64(len(names)) - nchain
	for i := first; i < uint64(len(names)); i++ {
		name := names[i]
		if se.order != nil {
			name = names[se.order[i]]
		}
		at := 8 + 4*uint64(sysvHash(name)%uint32(nbuckets))
		f.bo.PutUint32(out[chainAt+4*(i-first):], f.bo.Uint32(out[at:]))
		f.bo.PutUint32(out[at:], uint32(i-first))
	}
	se.patches = append(se.patches, patch{s.Offset, out})
	return nil
}

// tablePatches returns the rewritten tables, with the new names at the offsets
// resolve gives them in .dynstr.
func (se *symEdit) tablePatches(f *File, resolve func(string) uint64) []patch {
	out := slices.Clone(se.patches)
	es := f.symEntSize()
	n := len(se.syms) / int(es)
	old := func(j int) int {
		if se.order != nil {
			return se.order[j]
		}
		return j
	}
	if len(se.renamed) > 0 || se.order != nil {
		syms := make([]byte, len(se.syms))
		for j := range n {
			i := old(j)
			copy(syms[uint64(j)*es:], se.syms[uint64(i)*es:uint64(i+1)*es])
			if name, ok := se.renamed[i]; ok {
				f.bo.PutUint32(syms[uint64(j)*es:], uint32(resolve(name)))
			}
		}
		out = append(out, patch{se.dynsym.Offset, syms})
	}
	if se.versym != nil && (len(se.clear) > 0 || se.order != nil) {
		vers := make([]byte, len(se.vers))
		copy(vers, se.vers)
		for j := 0; j < n && 2*j+2 <= len(vers); j++ {
			i := old(j)
			if 2*i+2 > len(se.vers) {
				continue
			}
			copy(vers[2*j:], se.vers[2*i:2*i+2])
			if name, _ := f.symName(se, i); se.clear[name] {
				f.bo.PutUint16(vers[2*j:], 1)
			}
		}
		out = append(out, patch{se.versym.Offset, vers})
	}
	return out
}
