package patchelf

import (
	"bytes"
	"debug/elf"
	"slices"
	"sort"
)

// The pool is the run of loader-only tables that follows the program
// headers in their segment (.interp, notes, hash tables, .dynsym, .dynstr,
// version tables, relocations). pool grows the program header table and
// some of those tables inside the segment's slack by shifting the tables
// after them, in four steps: find the pool (poolTables), decide where each
// table goes (shiftTables), check that nothing the loader reads is cut in
// two or overwritten (poolFits), then commit (commitPool).

// poolMove is one table of the pool: how far it moves and its new size.
type poolMove struct {
	s           *section
	delta, size uint64
}

// poolPlan is a pool layout before it is committed.
type poolPlan struct {
	seg       int            // the PT_LOAD holding the program headers
	newPhEnd  uint64         // end of the grown program header table
	limit     uint64         // how far the tables may reach
	moved     []*section     // the tables that may shift, in file order
	moves     []poolMove     // where each goes
	end       uint64         // end of the last table after the shifts
	progDelta map[int]uint64 // segments that follow a moved table
}

// pool grows the program header table by extra entries and the items in
// grow inside the segment holding the program headers, shifting the
// loader-only tables that follow. It changes nothing and returns false
// when they do not fit.
func (p *plan) pool(grow [numItems]bool, extra int) bool {
	pp, ok := p.poolTables(extra)
	if !ok || !p.shiftTables(pp, grow) || !p.poolFits(pp) {
		return false
	}
	return p.commitPool(pp, grow)
}

// poolTables finds the segment holding the program headers and the
// movable tables after them, and how far those may reach: up to the first
// table that cannot move, or the end of the segment's slack.
func (p *plan) poolTables(extra int) (*poolPlan, bool) {
	f := p.f
	phEnd := f.phoff + uint64(len(f.progs))*f.phentSize()
	seg := -1
	for i, ph := range f.progs {
		if ph.Type == elf.PT_LOAD && f.phoff >= ph.Off && phEnd <= ph.Off+ph.Filesz && ph.Filesz == ph.Memsz {
			seg = i
		}
	}
	if seg < 0 {
		return nil, false
	}
	P := f.progs[seg]
	segEnd := P.Off + P.Filesz
	after := f.sectionsAfter(&P, phEnd, p.blocks)
	n := 0
	for ; n < len(after) && f.movable(after[n]); n++ {
	}
	pp := &poolPlan{seg: seg, newPhEnd: phEnd + uint64(extra)*f.phentSize(), moved: after[:n]}
	if n < len(after) {
		pp.limit = after[n].Offset
	} else {
		pp.limit = f.slackEnd(seg)
	}
	for _, s := range after {
		// Addresses follow from the segment; a section header that says
		// otherwise cannot be trusted to move.
		if s.Offset < phEnd || s.Offset+s.Size > segEnd || s.Addr != P.Vaddr+(s.Offset-P.Off) {
			return nil, false
		}
	}
	for i, s := range pp.moved {
		if s.Addralign > f.pageSize {
			return nil, false
		}
		if i > 0 && s.Offset < pp.moved[i-1].Offset+pp.moved[i-1].Size {
			return nil, false // overlapping tables cannot be moved apart
		}
	}
	return pp, true
}

// shiftTables decides where each table of the pool goes: a unit of tables
// that must stay together (a segment or a relocation range spans them)
// moves only as far as the end of the previous unit pushes it, so the room
// of a table moved elsewhere takes up the growth before it.
func (p *plan) shiftTables(pp *poolPlan, grow [numItems]bool) bool {
	f := p.f
	if len(pp.moved) == 0 && pp.newPhEnd > pp.limit {
		return false
	}
	growing := [numItems]bool{}
	prevEnd := pp.newPhEnd
	pp.end = pp.newPhEnd
	for _, u := range f.units(pp.moved) {
		var a uint64 = 1
		for _, s := range u {
			a = max(a, s.Addralign)
		}
		delta := uint64(0)
		if prevEnd > u[0].Offset {
			delta = alignUp(prevEnd-u[0].Offset, a)
		}
		for _, s := range u {
			m := poolMove{s: s, delta: delta, size: s.Size}
			if it, ok := f.itemOf(s); ok && grow[it] {
				growing[it] = true
				m.size = p.itemSize(it)
				if m.size > s.Size {
					delta += alignUp(m.size-s.Size, a)
				}
			}
			pp.moves = append(pp.moves, m)
			pp.end = s.Offset + m.delta + m.size
		}
		prevEnd = pp.end
	}
	for it := range grow {
		if grow[it] && !growing[it] {
			return false
		}
	}
	return pp.end <= pp.limit
}

// units groups consecutive tables that must move by the same amount: those
// a segment (PT_NOTE, PT_INTERP, ...) or a table the dynamic section gives
// by address and size spans.
func (f *File) units(sects []*section) [][]*section {
	join := make([]bool, len(sects)) // sects[i] moves with sects[i-1]
	span := func(lo, hi uint64, addr bool) {
		first := -1
		for i, s := range sects {
			start := s.Offset
			if addr {
				start = s.Addr
			}
			if lo < start+max(s.Size, 1) && hi > start {
				if first >= 0 {
					for j := first + 1; j <= i; j++ {
						join[j] = true
					}
				} else {
					first = i
				}
			}
		}
	}
	for _, ph := range f.progs {
		if ph.Type != elf.PT_LOAD && ph.Type != elf.PT_PHDR && ph.Filesz > 0 {
			span(ph.Off, ph.Off+ph.Filesz, false)
		}
	}
	for _, r := range f.dynRanges() {
		span(r[0], r[0]+r[1], true)
	}
	var out [][]*section
	for i, s := range sects {
		if i > 0 && join[i] {
			out[len(out)-1] = append(out[len(out)-1], s)
		} else {
			out = append(out, []*section{s})
		}
	}
	return out
}

// poolFits checks the shifted layout: segments that describe moved tables
// (PT_INTERP, PT_NOTE, PT_GNU_PROPERTY, ...) and the tables the dynamic
// section gives by address and size move as one piece, and nothing that
// stays lies where the program header table grows.
func (p *plan) poolFits(pp *poolPlan) bool {
	f := p.f
	segDelta := func(off, size uint64) (uint64, bool, bool) {
		for _, m := range pp.moves {
			if off >= m.s.Offset && off < m.s.Offset+m.s.Size {
				for _, m2 := range pp.moves {
					if off+size > m2.s.Offset && off+size <= m2.s.Offset+m2.s.Size && m2.delta != m.delta {
						return 0, false, false
					}
				}
				return m.delta, true, true
			}
		}
		return 0, false, true
	}
	for _, r := range f.dynRanges() {
		var d uint64
		seen := false
		for _, m := range pp.moves {
			if r[0] < m.s.Addr+m.s.Size && r[0]+r[1] > m.s.Addr {
				if seen && m.delta != d {
					return false
				}
				d, seen = m.delta, true
			}
		}
	}
	pp.progDelta = map[int]uint64{}
	for i, ph := range f.progs {
		if ph.Type == elf.PT_LOAD || ph.Type == elf.PT_PHDR || ph.Filesz == 0 {
			continue
		}
		d, in, ok := segDelta(ph.Off, ph.Filesz)
		if !ok {
			return false
		}
		if in && d != 0 {
			pp.progDelta[i] = d
		}
	}
	hits := func(off, size uint64) bool { return size > 0 && off < pp.newPhEnd && off+size > f.phoff }
	for i, ph := range f.progs {
		if ph.Type != elf.PT_LOAD && ph.Type != elf.PT_PHDR && hits(ph.Off+pp.progDelta[i], ph.Filesz) {
			return false
		}
	}
	inMoves := func(off uint64) bool {
		return slices.ContainsFunc(pp.moves, func(m poolMove) bool { return m.s.Offset == off })
	}
	if f.dynReady() && (!inMoves(f.strtab.off) && hits(f.strtab.off, uint64(len(f.strtab.base))) ||
		hits(f.dynOff, uint64(f.dynCap)*f.dynEntSize())) {
		return false
	}
	if f.interpCap > 0 && !inMoves(f.interpOff) && hits(f.interpOff, f.interpCap) {
		return false
	}
	for i := range f.sects {
		if s := &f.sects[i]; s.Type != elf.SHT_NOBITS && !inMoves(s.Offset) && hits(s.Offset, s.Size) {
			return false
		}
	}
	return true
}

// commitPool moves the tables and makes the dynamic entries, the segments
// and the section headers follow them. The grown items are written by
// finish; the other moved tables are copied here, with their field
// patches, in one run of bytes (writeShifted).
func (p *plan) commitPool(pp *poolPlan, grow [numItems]bool) bool {
	f := p.f
	data := map[*section][]byte{}
	for _, m := range pp.moves {
		if m.delta != 0 && !p.grown(m.s, grow) && !p.leavingPool(m.s) {
			b, err := f.readPatched(m.s.Offset, m.s.Size, p.fields)
			if err != nil {
				return false // nothing is changed yet
			}
			data[m.s] = b
		}
	}
	p.followShifts(pp)
	p.writeShifted(pp, grow, data)
	P := f.progs[pp.seg]
	if pp.end > P.Off+P.Filesz {
		p.progs[pp.seg].Filesz = pp.end - P.Off
		p.progs[pp.seg].Memsz = pp.end - P.Off
	}
	return true
}

// grown reports whether s is an item that grows in this pool.
func (p *plan) grown(s *section, grow [numItems]bool) bool {
	it, ok := p.f.itemOf(s)
	return ok && grow[it]
}

// leavingPool reports whether s is an item that leaves for the tail: it is
// not copied, its room in the pool stays empty.
func (p *plan) leavingPool(s *section) bool {
	it, ok := p.f.itemOf(s)
	return ok && p.leaving[it]
}

// followShifts moves the segments and the dynamic entries that point into
// shifted tables.
func (p *plan) followShifts(pp *poolPlan) {
	for i, d := range pp.progDelta {
		p.progs[i].Off += d
		p.progs[i].Vaddr += d
		p.progs[i].Paddr += d
	}
	for i := range p.dyn {
		e := &p.dyn[i]
		if !addrTags[e.tag] {
			continue
		}
		for _, m := range pp.moves {
			if e.val >= m.s.Addr && e.val < m.s.Addr+max(m.s.Size, 1) {
				e.val += m.delta
				break
			}
		}
	}
}

// writeShifted writes the shifted tables as one patch, from the first
// table that moved or grew to the end of the last one (a unit whose room
// took up the growth stays put, and so does everything after it), and
// records their new section headers and the places of the grown items.
func (p *plan) writeShifted(pp *poolPlan, grow [numItems]bool, data map[*section][]byte) {
	f := p.f
	lo, hi := pp.end, uint64(0)
	for _, m := range pp.moves {
		if m.delta != 0 || p.grown(m.s, grow) {
			lo = min(lo, m.s.Offset+m.delta)
			hi = max(hi, m.s.Offset+m.delta+m.size)
		}
	}
	buf := make([]byte, max(hi, lo)-lo)
	for _, m := range pp.moves {
		if m.delta == 0 && !p.grown(m.s, grow) {
			continue
		}
		s := *m.s
		s.Offset += m.delta
		s.Addr += m.delta
		s.Size = m.size
		p.secs[m.s.index] = &s
		switch it, _ := f.itemOf(m.s); {
		case p.grown(m.s, grow):
			p.place[it] = &placement{off: s.Offset, addr: s.Addr}
		case p.leavingPool(m.s):
			fill := byte(0)
			if !f.keepOld {
				fill = 'Z'
			}
			copy(buf[s.Offset-lo:], bytes.Repeat([]byte{fill}, int(s.Size)))
		default:
			copy(buf[s.Offset-lo:], data[m.s])
		}
	}
	if len(buf) > 0 {
		p.patches = append(p.patches, patch{lo, buf})
	}
	// Fields inside moved tables are already in buf.
	p.fields = slices.DeleteFunc(p.fields, func(fp patch) bool {
		for _, m := range pp.moves {
			if m.delta != 0 && fp.off >= m.s.Offset && fp.off < m.s.Offset+m.s.Size {
				return true
			}
		}
		return false
	})
}

// sectionsAfter returns, in file order, the sections of segment P that
// end after offset from, leaving out those of skip.
func (f *File) sectionsAfter(P *elf.ProgHeader, from uint64, skip []*block) []*section {
	var out []*section
	for i := range f.sects {
		s := &f.sects[i]
		if s.Type != elf.SHT_NULL && s.Size > 0 && s.Offset+s.Size > from && s.Offset < P.Off+P.Filesz &&
			!slices.ContainsFunc(skip, func(b *block) bool { return slices.Contains(b.sects, s) }) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Offset < out[j].Offset })
	return out
}
