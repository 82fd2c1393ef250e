package patchelf

import (
	"bytes"
	"debug/elf"
	"errors"
	"slices"
)

// How a grown table finds room, in order of preference:
//
//  1. in place, when the new contents fit where the old ones are;
//  2. in the region this package added on an earlier edit (the last
//     PT_LOAD at the end of the file, or for ET_EXEC the first PT_LOAD at
//     the front): the region is rebuilt, so repeated edits never add a
//     second segment and a string that is no longer referenced is dropped;
//  3. in the loader-only part of the segment that holds the program
//     headers (.interp, notes, hash tables, .dynsym, .dynstr, version
//     tables, relocations): those tables are shifted inside the slack up to
//     the next page, and the dynamic entries, PT_INTERP, PT_NOTE and
//     PT_GNU_PROPERTY follow them (pool.go). The file does not grow, and
//     the program headers stay where the kernel and every loader expect
//     them. When the slack is too small, the smallest set of tables after
//     .dynstr whose room makes up the difference moves to the new segment
//     of step 4 (evict.go), so the file grows by about the missing bytes;
//  4. .dynamic (which must stay writable) and whatever did not fit in 3
//     go to a new PT_LOAD appended after the last byte of the file (its
//     offset is not page-aligned: only offset ≡ address modulo the page
//     size matters), so the file grows by those bytes only;
//  5. when the program headers cannot grow in place: for ET_EXEC, room is
//     made at the front (the file moves up by whole pages and a PT_LOAD
//     below the first one maps the headers and tables, as upstream
//     patchelf does); for ET_DYN the program headers move into the new
//     segment at the end, placed so that PT_PHDR's address minus its offset
//     equals the first segment's, which old kernels assume for AT_PHDR.

type item int

const (
	itemDynamic item = iota
	itemDynstr
	itemInterp
	numItems
)

// layout is the result of planning: the bytes of the output file as a copy
// of a range of the input plus patches, applied in order.
type layout struct {
	srcFrom, srcTo uint64 // input bytes copied...
	at             uint64 // ...to this output offset
	size           uint64 // output size
	patches        []patch
}

// plan is the working state while deciding the layout.
type plan struct {
	f       *File
	dyn     []dynEntry
	dynstr  []byte // new .dynstr, nil when unchanged
	fields  []patch
	progs   []elf.ProgHeader
	phoff   uint64
	shoff   uint64
	srcFrom uint64
	srcTo   uint64
	at      uint64
	size    uint64
	place   [numItems]*placement
	blocks  []*block         // tables moved to the tail to make room
	leaving [numItems]bool   // items the pool shifts past but that move to the tail
	secs    map[int]*section // updated section headers by index
	patches []patch
	shdrs   []byte // the whole section header table, when sections are added or dropped
}

type placement struct{ off, addr uint64 }

func alignUp(v, a uint64) uint64 {
	if a <= 1 {
		return v
	}
	return (v + a - 1) / a * a
}

// dynReady reports whether .dynamic and .dynstr were read without error.
func (f *File) dynReady() bool { return f.dynLoaded && f.dynErr == nil }

// itemOf reports whether a section is one of the tables edits rewrite.
func (f *File) itemOf(s *section) (item, bool) {
	switch {
	case f.dynReady() && s.index == f.dynSec.index:
		return itemDynamic, true
	case f.dynReady() && s.index == f.strSec.index:
		return itemDynstr, true
	case f.interpLoaded && f.interpErr == nil && s.index == f.interpSec.index:
		return itemInterp, true
	}
	return 0, false
}

// ownRegion finds the PT_LOAD an earlier edit added: it holds nothing but
// the rewritable tables (and maybe the program headers).
func (f *File) ownRegion() (idx int, front bool) {
	only := func(p elf.ProgHeader, front bool) bool {
		n := 0
		for i := range f.sects {
			s := &f.sects[i]
			if s.Type == elf.SHT_NULL || s.Type == elf.SHT_NOBITS || s.Size == 0 ||
				s.Offset+s.Size <= p.Off || s.Offset >= p.Off+p.Filesz {
				continue
			}
			if s.Name == resolutionCacheSection {
				return false // the note keeps a segment of its own
			}
			if _, ok := f.itemOf(s); !ok && (front || !f.movable(s)) {
				return false
			}
			n++
		}
		return n > 0
	}
	first, last := -1, -1
	for i, p := range f.progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		if first < 0 || p.Vaddr < f.progs[first].Vaddr {
			first = i
		}
		if last < 0 || p.Vaddr > f.progs[last].Vaddr {
			last = i
		}
	}
	if last >= 0 {
		p := f.progs[last]
		if p.Off > 0 && p.Off+p.Filesz == uint64(f.size) && p.Filesz == p.Memsz && only(p, false) {
			return last, false
		}
	}
	if first >= 0 && f.typ == elf.ET_EXEC {
		p := f.progs[first]
		if p.Off == 0 && f.phoff < p.Filesz && p.Filesz == p.Memsz && only(p, true) {
			return first, true
		}
	}
	return -1, false
}

func inProg(p elf.ProgHeader, off uint64) bool { return off >= p.Off && off < p.Off+p.Filesz }

// liveStringsEnd returns the end of the last string of tab that anything
// refers to (or that the live range covers), or the table size when that
// cannot be known.
func (f *File) liveStringsEnd(tab []byte, live *strRange) (int, error) {
	end := 0
	mark := func(off uint64) {
		if off >= uint64(len(tab)) {
			return
		}
		n := bytes.IndexByte(tab[off:], 0)
		if n < 0 {
			n = len(tab) - int(off) - 1
		}
		end = max(end, int(off)+n+1)
	}
	if live != nil {
		end = int(live.off + live.n + 1)
	}
	refs, ok, err := f.stringRefs()
	if err != nil {
		return 0, err
	}
	if !ok {
		return len(tab), nil
	}
	for _, r := range refs {
		mark(r)
	}
	return min(max(end, 1), len(tab)), nil
}

// strtabExclusive reports whether the bytes of .dynstr belong to it alone,
// so its dead tail may be written over.
func (f *File) strtabExclusive() bool {
	lo, hi := f.strtab.off, f.strtab.off+uint64(len(f.strtab.base))
	for i := range f.sects {
		s := &f.sects[i]
		if s.Type == elf.SHT_NULL || s.Type == elf.SHT_NOBITS || s.Size == 0 || s.index == f.strSec.index {
			continue
		}
		if s.Offset < hi && s.Offset+s.Size > lo {
			return false
		}
	}
	return true
}

// pendingStrings returns the strings the edits refer to.
func (f *File) pendingStrings() []string {
	var out []string
	for _, e := range f.dyn {
		if e.pending {
			out = append(out, e.str)
		}
	}
	for _, vn := range f.vnPending {
		out = append(out, vn.str)
	}
	if se := f.symPending; se != nil {
		out = append(out, se.names...)
	}
	return out
}

// planStrings decides the new .dynstr: every existing byte is kept
// (shared tails), except an unshared old rpath, which becomes Xs and takes
// the new one when it fits, and the dead tail of a table that owns its
// bytes; new strings are appended. It resolves the pending entries.
func (p *plan) planStrings() error {
	f := p.f
	base := f.strtab.base
	tab, fixed, live := f.overwriteOldRPath()
	has := func(s string) bool {
		_, ok := fixed[s]
		return ok || bytes.Contains(tab, append([]byte(s), 0))
	}
	cut := len(tab)
	if !allFunc(f.pendingStrings(), has) && f.strtabExclusive() {
		// Strings an earlier edit appended and nothing refers to any more
		// sit at the end: reuse that room, so repeated edits do not grow
		// the table. Shared (tail-merged) strings are referenced and kept.
		var err error
		if cut, err = f.liveStringsEnd(tab, live); err != nil {
			return err
		}
	}
	tab = tab[:cut]
	var added []byte
	resolve := func(s string) uint64 {
		if off, ok := fixed[s]; ok {
			return off
		}
		needle := append([]byte(s), 0)
		if i := bytes.Index(tab, needle); i >= 0 {
			return uint64(i)
		}
		if i := bytes.Index(added, needle); i >= 0 {
			return uint64(cut + i)
		}
		if len(added) == 0 && cut > 0 && tab[cut-1] != 0 {
			// The last string is not terminated: do not extend it.
			added = append(added, 0)
		}
		off := uint64(cut + len(added))
		added = append(added, needle...)
		return off
	}
	for _, e := range f.dyn {
		if e.pending {
			e = dynEntry{tag: e.tag, val: resolve(e.str)}
		}
		p.dyn = append(p.dyn, e)
	}
	for _, vn := range f.vnPending {
		b := make([]byte, 4)
		f.bo.PutUint32(b, uint32(resolve(vn.str)))
		p.fields = append(p.fields, patch{vn.fieldOff, b})
	}
	if se := f.symPending; se != nil {
		p.fields = append(p.fields, se.tablePatches(f, resolve)...)
	}
	if f.xout != nil || cut != len(base) || len(added) > 0 {
		p.dynstr = slices.Concat(tab, added)
		p.setDyn(elf.DT_STRSZ, uint64(len(p.dynstr)))
	}
	return nil
}

// overwriteOldRPath returns .dynstr with the unshared old rpath
// overwritten with X, and the new rpath in its place when it fits (then
// fixed gives its offset and live its range); .dynstr as read otherwise.
func (f *File) overwriteOldRPath() (tab []byte, fixed map[string]uint64, live *strRange) {
	r := f.xout
	if r == nil {
		return f.strtab.base, nil, nil
	}
	tab = slices.Clone(f.strtab.base)
	for i := r.off; i < r.off+r.n; i++ {
		tab[i] = 'X'
	}
	if i := f.rpathEntry(); i >= 0 && f.dyn[i].pending && uint64(len(f.dyn[i].str)) <= r.n {
		s := f.dyn[i].str
		copy(tab[r.off:], s)
		tab[r.off+uint64(len(s))] = 0
		fixed = map[string]uint64{s: r.off}
		live = &strRange{r.off, uint64(len(s))}
	}
	return tab, fixed, live
}

func allFunc(ss []string, fn func(string) bool) bool {
	for _, s := range ss {
		if !fn(s) {
			return false
		}
	}
	return true
}

// plan decides the output. It returns nil when the edits change nothing.
func (f *File) plan() (*layout, error) {
	f.loadInterp()
	if err := f.loadDynamic(); err != nil && !errors.Is(err, ErrStatic) && !errors.Is(err, ErrNoBits) {
		// Moving any table means following it in .dynamic, which is
		// unreadable; only edits of the headers alone can go on.
		if f.interpDirty || len(f.addProgs) > 0 || f.noteEdit != nil {
			return nil, err
		}
	}
	p := &plan{f: f, secs: map[int]*section{}}
	if f.dynReady() {
		if err := p.planStrings(); err != nil {
			return nil, err
		}
	}
	p.fields = append(p.fields, f.fieldPatches...)
	p.progs = f.currentProgs()
	p.reserveNoteProgs()
	if !p.changes() {
		return nil, nil
	}
	p.phoff, p.shoff = f.phoff, f.shoff
	p.srcFrom, p.srcTo, p.size = 0, uint64(f.size), uint64(f.size)

	var need [numItems]bool
	if f.dynReady() {
		room := f.dynCap
		if f.dynTerminated {
			room-- // the DT_NULL
		}
		if len(p.dyn) > room {
			if !f.dynTerminated {
				return nil, formatErr(msgNoDynNull, ".dynamic", f.dynOff, uint64(f.dynCap))
			}
			need[itemDynamic] = true
		}
		need[itemDynstr] = uint64(len(p.dynstr)) > uint64(len(f.strtab.base))
	}
	need[itemInterp] = f.interpDirty && uint64(len(f.interp))+1 > f.interpCap
	if err := p.placeTables(need); err != nil {
		return nil, err
	}
	f.planWarnings = nil
	if need[itemDynamic] || need[itemDynstr] || need[itemInterp] || len(p.progs) != len(f.progs) {
		f.planWarnings = f.symbolWarnings()
	}
	if err := p.placeResolutionCache(); err != nil {
		return nil, err
	}
	return p.finish()
}

// changes reports whether the plan differs from the input at all.
func (p *plan) changes() bool {
	f := p.f
	return p.dynstr != nil || f.interpDirty || len(p.fields) > 0 || f.osabi != elf.OSABI(f.ehdr[elf.EI_OSABI]) ||
		len(f.progEdits) > 0 || len(f.addProgs) > 0 || f.noteEdit != nil ||
		!slices.EqualFunc(p.dyn, f.origDyn, func(a, b dynEntry) bool { return a.tag == b.tag && a.val == b.val })
}

// placeTables finds room for the tables that grew and for new program headers.
func (p *plan) placeTables(need [numItems]bool) error {
	f := p.f
	grows := need[itemDynamic] || need[itemDynstr] || need[itemInterp]
	newProgs := len(p.progs) > len(f.progs)
	if !grows && !newProgs {
		return nil
	}
	region, front := f.ownRegion()
	if region < 0 || newProgs {
		return p.grow(need)
	}
	rp := f.progs[region]
	if !front && p.growInPool(&need) && !need[itemDynamic] && !need[itemDynstr] && !need[itemInterp] {
		return nil // .dynstr or .interp grew where they are; the region is untouched
	}
	// Rebuild our region with what it held and what must move. Tables an
	// earlier edit moved out of the way stay where they are (the kept
	// prefix); the items after them are laid out anew.
	keep := f.regionKeep(rp)
	for it := range numItems {
		if s := p.itemSection(it); s != nil {
			need[it] = need[it] || inProg(rp, s.Offset) && s.Offset >= keep
		}
	}
	if front {
		return p.front(need, region)
	}
	return p.tail(need, region, f.phoff >= rp.Off && f.phoff < rp.Off+rp.Filesz)
}

// itemSection returns the section of an item, nil when it is not one.
func (p *plan) itemSection(it item) *section {
	f := p.f
	for _, s := range []*section{f.dynSec, f.strSec, f.interpSec} {
		if s != nil {
			if got, ok := f.itemOf(s); ok && got == it {
				return s
			}
		}
	}
	return nil
}

func (p *plan) setDyn(tag elf.DynTag, val uint64) {
	for i := range p.dyn {
		if p.dyn[i].tag == tag {
			p.dyn[i].val = val
		}
	}
}

// sizes of the items as they will be written when moved.
func (p *plan) itemSize(it item) uint64 {
	f := p.f
	switch it {
	case itemDynamic:
		return uint64(len(p.dyn)+1) * f.dynEntSize()
	case itemDynstr:
		if p.dynstr != nil {
			return uint64(len(p.dynstr))
		}
		return uint64(len(f.strtab.base))
	default:
		return uint64(len(f.interp)) + 1
	}
}

func (p *plan) itemAlign(it item) uint64 {
	if it == itemDynamic {
		return p.f.ptrSize()
	}
	return 1
}

// grow handles the first growth of a file without a region of ours, and
// any edit that adds program headers.
func (p *plan) grow(need [numItems]bool) error {
	f := p.f
	added := max(0, len(p.progs)-len(f.progs))
	// Try the loader-only tables after the program headers; .dynamic must
	// stay writable, so it always goes to the new segment.
	pool := need
	pool[itemDynamic] = false
	rest := [numItems]bool{itemDynamic: need[itemDynamic]}
	newLoad := boolInt(rest[itemDynamic])
	if p.pool(pool, added+newLoad) {
		if rest[itemDynamic] {
			return p.tail(rest, -1, false)
		}
		return nil
	}
	// .dynstr did not fit: move the smallest set of tables after it that
	// makes room to the new segment, and let it grow where it is.
	if need[itemDynstr] {
		for _, blocks := range p.evictionCandidates() {
			p.blocks = blocks
			if p.pool(pool, added+1) {
				return p.tail(rest, -1, false)
			}
		}
		p.blocks = nil
	}
	// Tables in the pool could not grow there; send them to the new
	// segment too, and grow only the program headers in place.
	p.leaving = need
	if p.pool([numItems]bool{}, added+1) {
		return p.tail(need, -1, false)
	}
	if f.typ == elf.ET_EXEC {
		err := p.front(need, -1)
		if !errors.Is(err, ErrNoSpace) {
			return err
		}
		// No address space below the first segment: do as for ET_DYN.
	}
	// Move the tables right after the program headers into the new
	// segment, as one block, to make room for more program headers.
	if blk := p.evictable(added + 1); blk != nil {
		p.blocks = []*block{blk}
		return p.tail(need, -1, false)
	}
	return p.tail(need, -1, true)
}

// growInPool grows .dynstr and .interp where they are when they still
// live in the segment of the program headers, and clears them from need.
// It reports true so it can sit in a condition.
func (p *plan) growInPool(need *[numItems]bool) bool {
	pl := *need
	pl[itemDynamic] = false
	if (pl[itemDynstr] || pl[itemInterp]) && p.pool(pl, 0) {
		need[itemDynstr], need[itemInterp] = false, false
	}
	return true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// movable reports whether a section holds a table only the loader reads
// through the dynamic section or a program header, so it may move.
func (f *File) movable(s *section) bool {
	if s.Flags&elf.SHF_ALLOC == 0 || s.Flags&(elf.SHF_WRITE|elf.SHF_EXECINSTR) != 0 {
		return false
	}
	switch s.Type {
	case elf.SHT_NOTE, elf.SHT_HASH, elf.SHT_GNU_HASH, elf.SHT_DYNSYM, elf.SHT_GNU_VERSYM,
		elf.SHT_GNU_VERDEF, elf.SHT_GNU_VERNEED, elf.SHT_REL, elf.SHT_RELA, shtRELR:
		return true
	case elf.SHT_STRTAB:
		return f.strSec != nil && s.index == f.strSec.index
	case elf.SHT_PROGBITS:
		return f.interpSec != nil && s.index == f.interpSec.index
	}
	return false
}

// slackEnd is how far the segment seg may grow in the file and in memory
// without touching anything else.
func (f *File) slackEnd(seg int) uint64 {
	P := f.progs[seg]
	segEnd := P.Off + P.Filesz
	limit := uint64(f.size)
	for i := range f.sects {
		s := &f.sects[i]
		if s.Type != elf.SHT_NULL && s.Type != elf.SHT_NOBITS && s.Offset >= segEnd {
			limit = min(limit, s.Offset)
		}
	}
	if f.shoff >= segEnd {
		limit = min(limit, f.shoff)
	}
	for i, ph := range f.progs {
		if i == seg || ph.Filesz == 0 {
			continue
		}
		if ph.Off >= segEnd {
			limit = min(limit, ph.Off)
		}
		if ph.Type == elf.PT_LOAD && ph.Vaddr >= P.Vaddr+P.Memsz {
			// Stay below the page the next segment starts in.
			next := ph.Vaddr &^ (f.pageSize - 1)
			if next < P.Vaddr {
				return segEnd
			}
			limit = min(limit, P.Off+(next-P.Vaddr))
		}
	}
	return max(limit, segEnd)
}

// readPatched reads input bytes with the field patches applied.
func (f *File) readPatched(off, n uint64, fields []patch) ([]byte, error) {
	b, err := f.readAt(off, n, "section")
	if err != nil {
		return nil, err
	}
	for _, fp := range fields {
		if fp.off >= off && fp.off+uint64(len(fp.data)) <= off+n {
			copy(b[fp.off-off:], fp.data)
		}
	}
	return b, nil
}
