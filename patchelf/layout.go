package patchelf

import (
	"bytes"
	"debug/elf"
	"errors"
	"slices"
	"sort"
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
//     PT_GNU_PROPERTY follow them. The file does not grow, and the program
//     headers stay where the kernel and every loader expect them;
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
// of a range of the input plus patches.
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
	block   *block           // tables moved to the tail to make room for a program header
	secs    map[int]*section // updated section headers by index
	patches []patch
}

type placement struct{ off, addr uint64 }

func alignUp(v, a uint64) uint64 {
	if a <= 1 {
		return v
	}
	return (v + a - 1) / a * a
}

// itemOf reports whether a section is one of the tables edits rewrite.
func (f *File) itemOf(s *section) (item, bool) {
	switch {
	case s.Type == elf.SHT_DYNAMIC && s.Offset == f.dynOff:
		return itemDynamic, true
	case s.Type == elf.SHT_STRTAB && s.Offset == f.strtab.off && s.Flags&elf.SHF_ALLOC != 0:
		return itemDynstr, true
	case f.hasInterp && s.Type == elf.SHT_PROGBITS && s.Offset == f.interpOff && s.Name == ".interp":
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

// liveStringsEnd returns the end of the last string of .dynstr that
// anything refers to, or the table size when that cannot be known.
func (f *File) liveStringsEnd() (int, error) {
	end := 0
	mark := func(off uint64) {
		if off >= uint64(len(f.strtab.base)) {
			return
		}
		n := bytes.IndexByte(f.strtab.base[off:], 0)
		if n < 0 {
			n = len(f.strtab.base) - int(off) - 1
		}
		end = max(end, int(off)+n+1)
	}
	for _, e := range f.dyn {
		if stringTags[e.tag] && !e.pending {
			mark(e.val)
		}
	}
	syms, ok, err := f.symbolNames()
	if err != nil {
		return 0, err
	}
	if !ok {
		return len(f.strtab.base), nil
	}
	for _, n := range syms {
		mark(n)
	}
	files, names, err := f.verneedRefs()
	if err != nil {
		return 0, err
	}
	defs, err := f.verdefNames()
	if err != nil {
		return 0, err
	}
	for _, r := range slices.Concat(files, names, defs) {
		mark(r.val)
	}
	return min(max(end, 1), len(f.strtab.base)), nil
}

// strtabExclusive reports whether the bytes of .dynstr belong to it alone,
// so its dead tail may be written over.
func (f *File) strtabExclusive() bool {
	lo, hi := f.strtab.off, f.strtab.off+uint64(len(f.strtab.base))
	for i := range f.sects {
		s := &f.sects[i]
		if s.Type == elf.SHT_NULL || s.Type == elf.SHT_NOBITS || s.Size == 0 {
			continue
		}
		if s.Offset < hi && s.Offset+s.Size > lo && !(s.Type == elf.SHT_STRTAB && s.Offset == lo && s.Size >= hi-lo) {
			return false
		}
	}
	return true
}

// needsNewStrings reports whether an edit refers to a string .dynstr
// does not hold yet.
func (f *File) needsNewStrings() bool {
	for _, e := range f.dyn {
		if e.pending {
			if _, ok := f.strtab.find(e.str); !ok {
				return true
			}
		}
	}
	for _, vn := range f.vnPending {
		if _, ok := f.strtab.find(vn.str); !ok {
			return true
		}
	}
	return false
}

// plan decides the output. It returns nil when the edits change nothing.
func (f *File) plan() (*layout, error) {
	region, front := f.ownRegion()
	var rp elf.ProgHeader
	if region >= 0 {
		rp = f.progs[region]
	}

	// Strings: keep every existing byte (shared tails), except the dead
	// tail of a table that lives in our own region; append new strings.
	cut := len(f.strtab.base)
	if f.needsNewStrings() && f.strtabExclusive() {
		// Strings an earlier edit appended and nothing refers to any more
		// sit at the end: reuse that room, so repeated edits do not grow
		// the table. Shared (tail-merged) strings are referenced and kept.
		var err error
		if cut, err = f.liveStringsEnd(); err != nil {
			return nil, err
		}
	}
	tab := f.strtab.base[:cut]
	var added []byte
	resolve := func(s string) uint64 {
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
	p := &plan{f: f, secs: map[int]*section{}}
	for _, e := range f.dyn {
		if e.pending {
			e = dynEntry{tag: e.tag, val: resolve(e.str)}
		}
		p.dyn = append(p.dyn, e)
	}
	p.fields = append(p.fields, f.fieldPatches...)
	for _, vn := range f.vnPending {
		b := make([]byte, 4)
		f.bo.PutUint32(b, uint32(resolve(vn.str)))
		p.fields = append(p.fields, patch{vn.fieldOff, b})
	}
	strChanged := cut != len(f.strtab.base) || len(added) > 0
	if strChanged {
		p.dynstr = slices.Concat(tab, added)
		p.setDyn(elf.DT_STRSZ, uint64(len(p.dynstr)))
	}
	if !strChanged && !f.interpDirty && len(p.fields) == 0 && slices.EqualFunc(p.dyn, f.origDyn, func(a, b dynEntry) bool {
		return a.tag == b.tag && a.val == b.val
	}) {
		return nil, nil
	}

	p.progs = slices.Clone(f.progs)
	p.phoff, p.shoff = f.phoff, f.shoff
	p.srcFrom, p.srcTo, p.size = 0, uint64(f.size), uint64(f.size)

	var need [numItems]bool
	need[itemDynamic] = len(p.dyn)+1 > f.dynCap
	need[itemDynstr] = uint64(len(p.dynstr)) > uint64(len(f.strtab.base))
	need[itemInterp] = f.interpDirty && uint64(len(f.interp))+1 > f.interpCap

	var err error
	switch {
	case !need[itemDynamic] && !need[itemDynstr] && !need[itemInterp]:
	case region >= 0 && !front && p.growInPool(&need) && !need[itemDynamic] && !need[itemDynstr] && !need[itemInterp]:
		// .dynstr or .interp grew where they are; the region is untouched.
	case region >= 0:
		// Rebuild our region with what it held and what must move.
		// Tables an earlier edit moved out of the way stay where they
		// are (the kept prefix); the items after them are laid out anew.
		keep := f.regionKeep(rp)
		for it, off := range [numItems]uint64{f.dynOff, f.strtab.off, f.interpOff} {
			if item(it) != itemInterp || f.hasInterp {
				need[it] = need[it] || inProg(rp, off) && off >= keep
			}
		}
		if front {
			err = p.front(need, region)
		} else {
			err = p.tail(need, region, f.phoff >= rp.Off && f.phoff < rp.Off+rp.Filesz)
		}
	default:
		err = p.grow(need)
	}
	if err != nil {
		return nil, err
	}
	return p.finish()
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

// grow handles the first growth of a file without a region of ours.
func (p *plan) grow(need [numItems]bool) error {
	f := p.f
	// Try the loader-only tables after the program headers; .dynamic must
	// stay writable, so it always goes to the new segment.
	pool := need
	pool[itemDynamic] = false
	rest := [numItems]bool{itemDynamic: need[itemDynamic]}
	if p.pool(pool, boolInt(rest[itemDynamic])) {
		if rest[itemDynamic] {
			return p.tail(rest, -1, false)
		}
		return nil
	}
	// .dynstr did not fit: move the tables after it (when they are smaller
	// than it) to the new segment and let it grow where it is.
	if need[itemDynstr] {
		if blk := p.blockAfter(); blk != nil && blk.end-blk.start < uint64(len(p.dynstr)) {
			p.block = blk
			if p.pool(pool, 1) {
				return p.tail(rest, -1, false)
			}
			p.block = nil
		}
	}
	// Tables in the pool could not grow there; send them to the new
	// segment too, and grow only the program headers in place.
	if p.pool([numItems]bool{}, 1) {
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
	// segment, as one block, to make room for one more program header.
	if blk := p.evictable(); blk != nil {
		p.block = blk
		return p.tail(need, -1, false)
	}
	return p.tail(need, -1, true)
}

// growInPool grows .dynstr and .interp where they are when they still
// live in the segment of the program headers, and clears them from need.
// It reports true so it can sit in a switch case.
func (p *plan) growInPool(need *[numItems]bool) bool {
	pl := *need
	pl[itemDynamic] = false
	if (pl[itemDynstr] || pl[itemInterp]) && p.pool(pl, 0) {
		need[itemDynstr], need[itemInterp] = false, false
	}
	return true
}

// blockAfter returns the loader-only tables that follow .dynstr in its
// segment, up to the first one that cannot move, as one block.
func (p *plan) blockAfter() *block {
	f := p.f
	var ds *section
	for i := range f.sects {
		if it, ok := f.itemOf(&f.sects[i]); ok && it == itemDynstr {
			ds = &f.sects[i]
		}
	}
	if ds == nil {
		return nil
	}
	var P *elf.ProgHeader
	for i, ph := range f.progs {
		if ph.Type == elf.PT_LOAD && ph.Filesz == ph.Memsz && inProg(ph, ds.Offset) {
			P = &f.progs[i]
		}
	}
	if P == nil {
		return nil
	}
	after := f.sectionsAfter(P, ds.Offset+ds.Size, nil)
	b := &block{align: 1}
	for _, s := range after {
		if !f.movable(s) || s.Addr != P.Vaddr+(s.Offset-P.Off) || s.Addralign > f.pageSize || s.Offset+s.Size > P.Off+P.Filesz {
			break
		}
		b.sects = append(b.sects, s)
		b.align = max(b.align, s.Addralign)
		b.end = max(b.end, s.Offset+s.Size)
	}
	if len(b.sects) == 0 {
		return nil
	}
	b.start = b.sects[0].Offset
	for _, ph := range f.progs {
		if ph.Type != elf.PT_LOAD && ph.Type != elf.PT_PHDR && ph.Filesz > 0 &&
			ph.Off < b.end && ph.Off+ph.Filesz > b.start && (ph.Off < b.start || ph.Off+ph.Filesz > b.end) {
			return nil
		}
	}
	lo := P.Vaddr + (b.start - P.Off)
	hi := lo + (b.end - b.start)
	if f.splitsDynRange(lo, hi) {
		return nil
	}
	for _, r := range [][2]uint64{{f.dynOff, uint64(f.dynCap) * f.dynEntSize()}, {f.interpOff, f.interpCap}} {
		if r[1] > 0 && r[0] < b.end && r[0]+r[1] > b.start {
			return nil
		}
	}
	return b
}

// regionKeep returns where the rebuilt part of our tail region starts:
// after the tables an earlier edit moved there as a block.
func (f *File) regionKeep(rp elf.ProgHeader) uint64 {
	keep := rp.Off
	for i := range f.sects {
		s := &f.sects[i]
		if _, ok := f.itemOf(s); ok || s.Type == elf.SHT_NULL || s.Size == 0 || !inProg(rp, s.Offset) {
			continue
		}
		keep = max(keep, s.Offset+s.Size)
	}
	return keep
}

// block is a run of loader-only tables moved as one piece.
type block struct {
	start, end uint64
	align      uint64
	sects      []*section
}

// evictable finds the smallest run of loader-only tables after the
// program headers whose removal leaves room for one more program header,
// such that no PT_INTERP/PT_NOTE/... is cut in two. Nil when there is none.
func (p *plan) evictable() *block {
	f := p.f
	es := f.phentSize()
	phEnd := f.phoff + uint64(len(f.progs))*es
	newPhEnd := phEnd + es
	var P *elf.ProgHeader
	for i, ph := range f.progs {
		if ph.Type == elf.PT_LOAD && f.phoff >= ph.Off && phEnd <= ph.Off+ph.Filesz {
			P = &f.progs[i]
		}
	}
	if P == nil {
		return nil
	}
	after := f.sectionsAfter(P, phEnd, nil)
	b := &block{start: phEnd, end: newPhEnd, align: 1}
	for changed := true; changed; {
		changed = false
		for _, s := range after {
			if s.Offset < b.end && s.Offset+s.Size > b.start && !slices.Contains(b.sects, s) {
				if !f.movable(s) || s.Offset < phEnd || s.Addr != P.Vaddr+(s.Offset-P.Off) || s.Addralign > f.pageSize {
					return nil
				}
				b.sects = append(b.sects, s)
				b.end = max(b.end, s.Offset+s.Size)
				b.align = max(b.align, s.Addralign)
				changed = true
			}
		}
		for _, ph := range f.progs {
			if ph.Type == elf.PT_LOAD || ph.Type == elf.PT_PHDR || ph.Filesz == 0 {
				continue
			}
			if ph.Off < b.end && ph.Off+ph.Filesz > b.start && ph.Off+ph.Filesz > b.end {
				b.end = ph.Off + ph.Filesz
				changed = true
			}
			if b.end > P.Off+P.Filesz {
				return nil
			}
			if ph.Off < b.start && ph.Off+ph.Filesz > b.start {
				return nil
			}
		}
	}
	if len(b.sects) == 0 || b.end > P.Off+P.Filesz {
		return nil // the block may only hold tables of the headers' segment
	}
	b.start = b.sects[0].Offset
	for _, s := range b.sects {
		b.start = min(b.start, s.Offset)
	}
	for _, r := range [][2]uint64{{f.strtab.off, uint64(len(f.strtab.base))}, {f.dynOff, uint64(f.dynCap) * f.dynEntSize()}, {f.interpOff, f.interpCap}} {
		if r[1] > 0 && r[0] < newPhEnd && r[0]+r[1] > phEnd && (r[0] < b.start || r[0]+r[1] > b.end) {
			return nil // a table without a section header where the headers grow
		}
	}
	lo := P.Vaddr + (b.start - P.Off)
	hi := lo + (b.end - b.start)
	if f.splitsDynRange(lo, hi) {
		return nil
	}
	return b
}

// sectionsAfter returns, in file order, the sections of segment P that
// end after offset from, leaving out those of skip.
func (f *File) sectionsAfter(P *elf.ProgHeader, from uint64, skip *block) []*section {
	var out []*section
	for i := range f.sects {
		s := &f.sects[i]
		if s.Type != elf.SHT_NULL && s.Size > 0 && s.Offset+s.Size > from && s.Offset < P.Off+P.Filesz &&
			(skip == nil || !slices.Contains(skip.sects, s)) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Offset < out[j].Offset })
	return out
}

// splitsDynRange reports whether the address range [lo, hi) holds part,
// but not all, of a table the dynamic section gives by address and size.
func (f *File) splitsDynRange(lo, hi uint64) bool {
	for _, r := range f.dynRanges() {
		inside := r[0] >= lo && r[0]+r[1] <= hi
		outside := r[0]+r[1] <= lo || r[0] >= hi
		if !inside && !outside {
			return true
		}
	}
	return false
}

// dynRanges returns the tables the dynamic section gives as address and
// size.
func (f *File) dynRanges() [][2]uint64 {
	var out [][2]uint64
	for addr, size := range map[elf.DynTag]elf.DynTag{elf.DT_RELA: elf.DT_RELASZ, elf.DT_REL: elf.DT_RELSZ,
		dtRELR: dtRELRSZ, elf.DT_JMPREL: elf.DT_PLTRELSZ} {
		a, ok1 := f.dynVal(addr)
		n, ok2 := f.dynVal(size)
		if ok1 && ok2 && n > 0 {
			out = append(out, [2]uint64{a, n})
		}
	}
	return out
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
		return s.Offset == f.strtab.off
	case elf.SHT_PROGBITS:
		return s.Name == ".interp" && f.hasInterp && s.Offset == f.interpOff
	}
	return false
}

// pool grows the program header table by extra entries and the items in
// grow inside the segment holding the program headers, shifting the
// loader-only tables that follow. It changes nothing and returns false
// when they do not fit.
func (p *plan) pool(grow [numItems]bool, extra int) bool {
	f := p.f
	phEnd := f.phoff + uint64(len(f.progs))*f.phentSize()
	seg := -1
	for i, ph := range f.progs {
		if ph.Type == elf.PT_LOAD && f.phoff >= ph.Off && phEnd <= ph.Off+ph.Filesz && ph.Filesz == ph.Memsz {
			seg = i
		}
	}
	if seg < 0 {
		return false
	}
	P := f.progs[seg]
	segEnd := P.Off + P.Filesz
	// The sections after the program headers, in file order.
	after := f.sectionsAfter(&P, phEnd, p.block)
	limit := segEnd
	n := 0
	for ; n < len(after) && f.movable(after[n]); n++ {
	}
	moved := after[:n]
	if n < len(after) {
		limit = after[n].Offset
	} else {
		limit = f.slackEnd(seg)
	}
	for _, s := range after {
		// Addresses follow from the segment; a section header that says
		// otherwise cannot be trusted to move.
		if s.Offset < phEnd || s.Offset+s.Size > segEnd || s.Addr != P.Vaddr+(s.Offset-P.Off) {
			return false
		}
	}
	var a uint64 = 1
	for i, s := range moved {
		a = max(a, s.Addralign)
		if i > 0 && s.Offset < moved[i-1].Offset+moved[i-1].Size {
			return false // overlapping tables cannot be moved apart
		}
	}
	if a > f.pageSize {
		return false
	}
	newPhEnd := phEnd + uint64(extra)*f.phentSize()
	delta := uint64(0)
	if len(moved) > 0 && newPhEnd > moved[0].Offset {
		delta = alignUp(newPhEnd-moved[0].Offset, a)
	} else if len(moved) == 0 && newPhEnd > limit {
		return false
	}
	type mv struct {
		s           *section
		delta, size uint64
	}
	var moves []mv
	growing := [numItems]bool{}
	end := newPhEnd
	for _, s := range moved {
		m := mv{s: s, delta: delta, size: s.Size}
		if it, ok := f.itemOf(s); ok && grow[it] {
			growing[it] = true
			m.size = p.itemSize(it)
			if m.size > s.Size {
				delta += alignUp(m.size-s.Size, a)
			}
		}
		moves = append(moves, m)
		end = s.Offset + m.delta + m.size
	}
	for it := range grow {
		if grow[it] && !growing[it] {
			return false
		}
	}
	if end > limit {
		return false
	}
	// Segments that describe a moved table (PT_INTERP, PT_NOTE,
	// PT_GNU_PROPERTY, ...) must move as one piece.
	segDelta := func(off, size uint64) (uint64, bool, bool) {
		for _, m := range moves {
			if off >= m.s.Offset && off < m.s.Offset+m.s.Size {
				for _, m2 := range moves {
					if off+size > m2.s.Offset && off+size <= m2.s.Offset+m2.s.Size && m2.delta != m.delta {
						return 0, false, false
					}
				}
				return m.delta, true, true
			}
		}
		return 0, false, true
	}
	// A table the dynamic section gives by address and size (relocations)
	// must move as one piece too.
	for _, r := range f.dynRanges() {
		var d uint64
		seen := false
		for _, m := range moves {
			if r[0] < m.s.Addr+m.s.Size && r[0]+r[1] > m.s.Addr {
				if seen && m.delta != d {
					return false
				}
				d, seen = m.delta, true
			}
		}
	}
	progDelta := map[int]uint64{}
	for i, ph := range f.progs {
		if ph.Type == elf.PT_LOAD || ph.Type == elf.PT_PHDR || ph.Filesz == 0 {
			continue
		}
		d, in, ok := segDelta(ph.Off, ph.Filesz)
		if !ok {
			return false
		}
		if in && d != 0 {
			progDelta[i] = d
		}
	}
	// Nothing that stays may lie where the program header table grows.
	hits := func(off, size uint64) bool { return size > 0 && off < newPhEnd && off+size > f.phoff }
	for i, ph := range f.progs {
		if ph.Type != elf.PT_LOAD && ph.Type != elf.PT_PHDR && hits(ph.Off+progDelta[i], ph.Filesz) {
			return false
		}
	}
	inMoves := func(off uint64) bool {
		return slices.ContainsFunc(moves, func(m mv) bool { return m.s.Offset == off })
	}
	if !inMoves(f.strtab.off) && hits(f.strtab.off, uint64(len(f.strtab.base))) ||
		hits(f.dynOff, uint64(f.dynCap)*f.dynEntSize()) ||
		f.hasInterp && !inMoves(f.interpOff) && hits(f.interpOff, f.interpCap) {
		return false
	}
	for i := range f.sects {
		if s := &f.sects[i]; s.Type != elf.SHT_NOBITS && !inMoves(s.Offset) && hits(s.Offset, s.Size) {
			return false
		}
	}
	fieldData := map[*section][]byte{}
	for _, m := range moves {
		if m.delta != 0 {
			data, err := f.readPatched(m.s.Offset, m.s.Size, p.fields)
			if err != nil {
				return false
			}
			fieldData[m.s] = data
		}
	}
	// Commit: move the tables, follow them in the dynamic entries.
	for i, d := range progDelta {
		p.progs[i].Off += d
		p.progs[i].Vaddr += d
		p.progs[i].Paddr += d
	}
	for i := range p.dyn {
		e := &p.dyn[i]
		if !addrTags[e.tag] {
			continue
		}
		for _, m := range moves {
			if e.val >= m.s.Addr && e.val < m.s.Addr+max(m.s.Size, 1) {
				e.val += m.delta
				break
			}
		}
	}
	lo := end
	for _, m := range moves {
		if it, ok := f.itemOf(m.s); m.delta != 0 || ok && grow[it] {
			lo = min(lo, m.s.Offset+m.delta)
		}
	}
	buf := make([]byte, end-lo)
	for _, m := range moves {
		if it, ok := f.itemOf(m.s); m.delta == 0 && !(ok && grow[it]) {
			continue
		}
		s := *m.s
		s.Offset += m.delta
		s.Addr += m.delta
		s.Size = m.size
		p.secs[m.s.index] = &s
		if it, ok := f.itemOf(m.s); ok && grow[it] {
			p.place[it] = &placement{off: s.Offset, addr: s.Addr}
			continue // written by finish
		}
		copy(buf[s.Offset-lo:], fieldData[m.s])
	}
	if len(buf) > 0 {
		p.patches = append(p.patches, patch{lo, buf})
	}
	// Fields inside moved tables are already in buf.
	p.fields = slices.DeleteFunc(p.fields, func(fp patch) bool {
		for _, m := range moves {
			if m.delta != 0 && fp.off >= m.s.Offset && fp.off < m.s.Offset+m.s.Size {
				return true
			}
		}
		return false
	})
	if end > segEnd {
		p.progs[seg].Filesz = end - P.Off
		p.progs[seg].Memsz = end - P.Off
	}
	return true
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
