package patchelf

import (
	"debug/elf"
	"slices"
	"sort"
)

// block is a run of loader-only tables moved as one piece to the segment
// at the end of the file, to make room in the segment of the program
// headers.
type block struct {
	start, end uint64
	align      uint64
	sects      []*section
}

// evictionCandidates returns the sets of tables after .dynstr that may move
// to the new segment so that .dynstr can grow where it is, smallest total
// size first: each unit of tables that must stay together alone, then the
// smallest units together, up to all of them. The file grows by the size
// of the set that works, so the smallest is tried first.
func (p *plan) evictionCandidates() [][]*block {
	f := p.f
	ds := p.itemSection(itemDynstr)
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
	var run []*section
	for _, s := range f.sectionsAfter(P, ds.Offset+ds.Size, nil) {
		if !f.movable(s) || s.Addr != P.Vaddr+(s.Offset-P.Off) || s.Addralign > f.pageSize || s.Offset+s.Size > P.Off+P.Filesz {
			break
		}
		run = append(run, s)
	}
	var units []*block
	for _, u := range f.units(run) {
		if b := f.blockOf(P, u); b != nil {
			units = append(units, b)
		}
	}
	size := func(bs []*block) (n uint64) {
		for _, b := range bs {
			n += b.end - b.start
		}
		return n
	}
	var cands [][]*block
	for _, b := range units {
		cands = append(cands, []*block{b})
	}
	bySize := slices.Clone(units)
	sort.SliceStable(bySize, func(i, j int) bool { return bySize[i].end-bySize[i].start < bySize[j].end-bySize[j].start })
	for k := 2; k <= len(bySize); k++ {
		set := slices.Clone(bySize[:k])
		sort.Slice(set, func(i, j int) bool { return set[i].start < set[j].start })
		cands = append(cands, set)
	}
	sort.SliceStable(cands, func(i, j int) bool { return size(cands[i]) < size(cands[j]) })
	// Moving more than .dynstr itself holds is never better than moving
	// .dynstr: leave those to the next strategy.
	return slices.DeleteFunc(cands, func(bs []*block) bool { return size(bs) >= uint64(len(p.dynstr)) })
}

// blockOf makes a block of consecutive tables of segment P, or returns nil
// when they cannot move as one piece: a segment or a relocation range
// would be cut in two, or a table the edits rewrite lies inside.
func (f *File) blockOf(P *elf.ProgHeader, sects []*section) *block {
	b := &block{start: sects[0].Offset, align: 1, sects: sects}
	for _, s := range sects {
		b.align = max(b.align, s.Addralign)
		b.end = max(b.end, s.Offset+s.Size)
	}
	for _, ph := range f.progs {
		if ph.Type != elf.PT_LOAD && ph.Type != elf.PT_PHDR && ph.Filesz > 0 &&
			ph.Off < b.end && ph.Off+ph.Filesz > b.start && (ph.Off < b.start || ph.Off+ph.Filesz > b.end) {
			return nil
		}
	}
	lo := P.Vaddr + (b.start - P.Off)
	if f.splitsDynRange(lo, lo+(b.end-b.start)) {
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
// after the tables an earlier edit moved there as blocks.
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

// evictable finds the smallest run of loader-only tables after the
// program headers whose removal leaves room for extra more program
// headers, such that no PT_INTERP/PT_NOTE/... is cut in two. Nil when
// there is none.
func (p *plan) evictable(extra int) *block {
	f := p.f
	es := f.phentSize()
	phEnd := f.phoff + uint64(len(f.progs))*es
	newPhEnd := phEnd + uint64(extra)*es
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
	var tables [][2]uint64
	if f.dynReady() {
		tables = append(tables, [2]uint64{f.strtab.off, uint64(len(f.strtab.base))}, [2]uint64{f.dynOff, uint64(f.dynCap) * f.dynEntSize()})
	}
	tables = append(tables, [2]uint64{f.interpOff, f.interpCap})
	for _, r := range tables {
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
	for _, t := range [][2]elf.DynTag{{elf.DT_RELA, elf.DT_RELASZ}, {elf.DT_REL, elf.DT_RELSZ},
		{dtRELR, dtRELRSZ}, {elf.DT_JMPREL, elf.DT_PLTRELSZ}} {
		a, ok1 := f.dynVal(t[0])
		n, ok2 := f.dynVal(t[1])
		if ok1 && ok2 && n > 0 {
			out = append(out, [2]uint64{a, n})
		}
	}
	return out
}
