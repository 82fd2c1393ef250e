package patchelf

import (
	"bytes"
	"debug/elf"
	"fmt"
	"slices"
)

// loadBounds returns the index of the lowest and highest PT_LOAD and the
// end of the address space they use.
func loadBounds(progs []elf.ProgHeader) (first, last int, end uint64) {
	first, last = -1, -1
	for i, p := range progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		if first < 0 || p.Vaddr < progs[first].Vaddr {
			first = i
		}
		if last < 0 || p.Vaddr >= progs[last].Vaddr {
			last = i
		}
		end = max(end, p.Vaddr+p.Memsz)
	}
	return first, last, end
}

// tail places the needed items (and the program headers when withPhdr) in
// a PT_LOAD after the end of the file: the region of ours at index region,
// rebuilt, or a new one.
func (p *plan) tail(need [numItems]bool, region int, withPhdr bool) error {
	f := p.f
	page := f.pageSize
	var O, V uint64
	cur := uint64(0)
	if region >= 0 {
		O, V = p.progs[region].Off, p.progs[region].Vaddr
		cur = O
		if !withPhdr {
			cur = f.regionKeep(p.progs[region])
		}
		p.srcTo = cur
	} else {
		first, _, end := loadBounds(p.progs)
		if first < 0 {
			return formatErr("no PT_LOAD segment", "program headers", f.phoff, uint64(len(f.progs)))
		}
		O = alignUp(uint64(f.size), 16)
		V = alignUp(end, page) + O%page
		if V < end {
			return fmt.Errorf("%w: no address space after %#x", ErrNoSpace, end)
		}
		if withPhdr && f.prog(elf.PT_INTERP) != nil {
			// An executable's program headers: old kernels compute AT_PHDR
			// as (first segment's address - its offset) + e_phoff.
			bias := p.progs[first].Vaddr - p.progs[first].Off
			if V >= O+bias && V-bias-O <= 1<<20 {
				O = V - bias
			} else if V < O+bias && bias%page == 0 {
				V = O + bias
			}
		}
	}
	if region < 0 {
		cur = O
	}
	nph := len(p.progs)
	if region < 0 {
		nph++
	}
	if withPhdr {
		cur = alignUp(cur, f.ptrSize())
		p.phoff = cur
		cur += uint64(nph) * f.phentSize()
	}
	for _, b := range p.blocks {
		a := b.align
		cur += (b.start%a + a - cur%a) % a // same alignment as before
		if err := p.moveBlock(b, cur, V+(cur-O)); err != nil {
			return err
		}
		cur += b.end - b.start
	}
	flags := elf.PF_R
	for it := range numItems {
		if !need[it] {
			continue
		}
		cur = alignUp(cur, p.itemAlign(it))
		p.place[it] = &placement{off: cur, addr: V + (cur - O)}
		cur += p.itemSize(it)
		if it == itemDynamic {
			flags |= elf.PF_W
		}
	}
	seg := elf.ProgHeader{Type: elf.PT_LOAD, Flags: flags, Off: O, Vaddr: V, Paddr: V,
		Filesz: cur - O, Memsz: cur - O, Align: page}
	if region >= 0 {
		p.progs[region] = seg
	} else {
		_, last, _ := loadBounds(p.progs)
		p.progs = slices.Insert(p.progs, last+1, seg)
	}
	p.size = cur
	return nil
}

// front makes room below the first PT_LOAD of an ET_EXEC: the file moves
// up by whole pages and a new first PT_LOAD maps the ELF header, the
// program headers and the needed items at addresses below the old first
// segment. With region >= 0 that segment exists and is rebuilt (and
// extended downwards when it is too small).
func (p *plan) front(need [numItems]bool, region int) error {
	f := p.f
	page := f.pageSize
	nph := len(p.progs)
	if region < 0 {
		nph++
	}
	cur := alignUp(f.ehdrSize(), f.ptrSize())
	phoff := cur
	cur += uint64(nph) * f.phentSize()
	var rel [numItems]uint64
	flags := elf.PF_R
	for it := range numItems {
		if !need[it] {
			continue
		}
		cur = alignUp(cur, p.itemAlign(it))
		rel[it] = cur
		cur += p.itemSize(it)
		if it == itemDynamic {
			flags |= elf.PF_W
		}
	}
	var oldCap, base uint64
	if region >= 0 {
		oldCap, base = p.progs[region].Filesz, p.progs[region].Vaddr+p.progs[region].Filesz
	} else {
		first, _, _ := loadBounds(p.progs)
		if first < 0 {
			return formatErr("no PT_LOAD segment", "program headers", f.phoff, uint64(len(f.progs)))
		}
		base = p.progs[first].Vaddr &^ (page - 1)
	}
	newCap := max(alignUp(cur, page), oldCap)
	const minAddr = 0x10000 // vm.mmap_min_addr
	if newCap > base || base-newCap < minAddr {
		return fmt.Errorf("%w: %d bytes below address %#x in a %s file", ErrNoSpace, newCap, base, f.typ)
	}
	V := base - newCap
	extra := newCap - oldCap
	p.srcFrom, p.at, p.srcTo = oldCap, newCap, uint64(f.size)
	p.size = uint64(f.size) + extra
	for i := range p.progs {
		ph := &p.progs[i]
		if i != region && ph.Off >= oldCap && !(ph.Off == 0 && ph.Filesz == 0) {
			ph.Off += extra
		}
	}
	for i := range f.sects {
		s := f.sects[i]
		if s.Type != elf.SHT_NULL && s.Offset >= oldCap && extra > 0 {
			s.Offset += extra
			p.secs[s.index] = &s
		}
	}
	if p.shoff >= oldCap && p.shoff != 0 {
		p.shoff += extra
	}
	p.phoff = phoff
	for it := range numItems {
		if need[it] {
			p.place[it] = &placement{off: rel[it], addr: V + rel[it]}
		}
	}
	seg := elf.ProgHeader{Type: elf.PT_LOAD, Flags: flags, Off: 0, Vaddr: V, Paddr: V,
		Filesz: newCap, Memsz: newCap, Align: page}
	if region >= 0 {
		p.progs[region] = seg
	} else {
		first, _, _ := loadBounds(p.progs)
		p.progs = slices.Insert(p.progs, first, seg)
	}
	return nil
}

// outOff maps an input offset to the output.
func (p *plan) outOff(off uint64) uint64 {
	if off >= p.srcFrom {
		return off - p.srcFrom + p.at
	}
	return off
}

// addrOfOff maps an output offset to an address through the new PT_LOADs.
func (p *plan) addrOfOff(off uint64) (uint64, bool) {
	for _, ph := range p.progs {
		if ph.Type == elf.PT_LOAD && off >= ph.Off && off < ph.Off+ph.Filesz {
			return ph.Vaddr + (off - ph.Off), true
		}
	}
	return 0, false
}

// finish writes the items, the headers and the field patches.
func (p *plan) finish() (*layout, error) {
	data, slots, err := p.itemData()
	if err != nil {
		return nil, err
	}
	p.followItems(data, slots)
	if err := p.checkFits(); err != nil {
		return nil, err
	}
	out := &layout{srcFrom: p.srcFrom, srcTo: p.srcTo, at: p.at, size: p.size}
	out.patches = append(out.patches, p.oldBytes()...)
	out.patches = append(out.patches, patch{0, p.encodeEhdr()})
	out.patches = append(out.patches, p.patches...)
	for it := range numItems {
		if data[it] != nil {
			out.patches = append(out.patches, patch{p.place[it].off, data[it]})
		}
	}
	out.patches = append(out.patches, patch{p.phoff, p.encodePhdrs()})
	out.patches = append(out.patches, p.encodeShdrs()...)
	for _, fp := range p.fields {
		out.patches = append(out.patches, patch{p.outOff(fp.off), fp.data})
	}
	for _, pt := range out.patches {
		if pt.off+uint64(len(pt.data)) > out.size {
			return nil, formatErr(msgLayout, "patch", pt.off, out.size)
		}
	}
	return out, nil
}

// itemData returns the bytes of the items to write and where, and how
// many entries .dynamic has room for when it stays in place (0 when it
// moved).
func (p *plan) itemData() (data [numItems][]byte, slots int, err error) {
	f := p.f
	if f.dynReady() {
		slots = f.dynCap
		if p.place[itemDynamic] == nil {
			p.place[itemDynamic] = &placement{off: p.outOff(f.dynOff)}
		} else {
			slots = 0
		}
		if p.dynstr != nil {
			if p.place[itemDynstr] == nil {
				p.place[itemDynstr] = &placement{off: p.outOff(f.strtab.off), addr: f.strtab.addr}
			}
			data[itemDynstr] = p.dynstr
			p.setDyn(elf.DT_STRTAB, p.place[itemDynstr].addr)
		} else if pl := p.place[itemDynstr]; pl != nil {
			b, err := f.readAt(f.strtab.off, uint64(len(f.strtab.base)), ".dynstr")
			if err != nil {
				return data, 0, err
			}
			data[itemDynstr] = b
			p.setDyn(elf.DT_STRTAB, pl.addr)
		}
		data[itemDynamic] = f.encodeDyn(p.dyn, slots)
	}
	if f.interpDirty || p.place[itemInterp] != nil {
		b := append([]byte(f.interp), 0)
		if p.place[itemInterp] == nil {
			p.place[itemInterp] = &placement{off: p.outOff(f.interpOff)}
			b = append(b, make([]byte, f.interpCap-uint64(len(b)))...)
		}
		data[itemInterp] = b
	}
	return data, slots, nil
}

// followItems makes the section headers and the program headers
// (PT_INTERP, PT_DYNAMIC, PT_PHDR) describe the items where they now are.
func (p *plan) followItems(data [numItems][]byte, slots int) {
	f := p.f
	for i := range f.sects {
		s := &f.sects[i]
		it, ok := f.itemOf(s)
		if !ok || data[it] == nil {
			continue
		}
		ns := *s
		if old := p.secs[s.index]; old != nil {
			ns = *old
		}
		ns.Offset = p.place[it].off
		if a, ok := p.addrOfOff(ns.Offset); ok {
			ns.Addr = a
		}
		ns.Size = uint64(len(data[it]))
		if it == itemInterp && p.place[itemInterp].addr == 0 {
			ns.Size = s.Size
		}
		p.secs[s.index] = &ns
	}
	for i := range p.progs {
		ph := &p.progs[i]
		var it item
		switch ph.Type {
		case elf.PT_INTERP:
			it = itemInterp
		case elf.PT_DYNAMIC:
			it = itemDynamic
		case elf.PT_PHDR:
			ph.Off = p.phoff
			ph.Filesz = uint64(len(p.progs)) * f.phentSize()
			ph.Memsz = ph.Filesz
			if a, ok := p.addrOfOff(ph.Off); ok {
				ph.Vaddr, ph.Paddr = a, a
			}
			continue
		default:
			continue
		}
		pl := p.place[it]
		if pl == nil || data[it] == nil || pl.addr == 0 && it == itemInterp {
			continue
		}
		if pl.addr == 0 && it == itemDynamic && slots > 0 {
			continue
		}
		ph.Off = pl.off
		if a, ok := p.addrOfOff(pl.off); ok {
			ph.Vaddr, ph.Paddr = a, a
		}
		ph.Filesz, ph.Memsz = uint64(len(data[it])), uint64(len(data[it]))
	}
}

// oldBytes overwrites what moved tables leave behind with Z, as patchelf
// does, so no stale copy of a string (an old rpath) stays in the file:
// written first, under everything else. A range another table shares is
// left alone, and so is everything with KeepOldSections, except an
// unshared old rpath, which becomes Xs wherever it was.
func (p *plan) oldBytes() []patch {
	f := p.f
	moved := func(s *section) bool {
		ns, ok := p.secs[s.index]
		return ok && ns.Offset != p.outOff(s.Offset)
	}
	var out []patch
	if r := f.xout; r != nil && f.strSec != nil && moved(f.strSec) {
		x := bytes.Repeat([]byte{'X'}, int(r.n))
		out = append(out, patch{p.outOff(f.strtab.off + r.off), x})
	}
	if f.keepOld {
		return out
	}
	for i := range f.sects {
		s := &f.sects[i]
		if s.Type == elf.SHT_NOBITS || s.Size == 0 || s.Offset < p.srcFrom || !moved(s) || s.Offset+s.Size > uint64(f.size) {
			continue
		}
		shared := false
		for j := range f.sects {
			t := &f.sects[j]
			if t != s && t.Type != elf.SHT_NULL && t.Type != elf.SHT_NOBITS && t.Size > 0 && !moved(t) &&
				t.Offset < s.Offset+s.Size && t.Offset+t.Size > s.Offset {
				shared = true
			}
		}
		if !shared {
			out = append(out, patch{p.outOff(s.Offset), bytes.Repeat([]byte{'Z'}, int(s.Size))})
		}
	}
	return out
}

func (p *plan) encodeEhdr() []byte {
	f := p.f
	h := slices.Clone(f.ehdr)
	h[elf.EI_OSABI] = byte(f.osabi)
	shnum := len(f.sects)
	if p.shdrs != nil {
		shnum = len(p.shdrs) / int(f.shentsize)
	}
	if f.class == elf.ELFCLASS64 {
		f.bo.PutUint64(h[32:], p.phoff)
		f.bo.PutUint64(h[40:], p.shoff)
		f.bo.PutUint16(h[56:], uint16(len(p.progs)))
		f.bo.PutUint16(h[60:], uint16(shnum))
	} else {
		f.bo.PutUint32(h[28:], uint32(p.phoff))
		f.bo.PutUint32(h[32:], uint32(p.shoff))
		f.bo.PutUint16(h[44:], uint16(len(p.progs)))
		f.bo.PutUint16(h[48:], uint16(shnum))
	}
	return h
}

func (p *plan) encodePhdrs() []byte {
	f := p.f
	es := f.phentSize()
	b := make([]byte, uint64(len(p.progs))*es)
	for i, ph := range p.progs {
		o := b[uint64(i)*es:]
		if f.class == elf.ELFCLASS64 {
			f.bo.PutUint32(o[0:], uint32(ph.Type))
			f.bo.PutUint32(o[4:], uint32(ph.Flags))
			f.bo.PutUint64(o[8:], ph.Off)
			f.bo.PutUint64(o[16:], ph.Vaddr)
			f.bo.PutUint64(o[24:], ph.Paddr)
			f.bo.PutUint64(o[32:], ph.Filesz)
			f.bo.PutUint64(o[40:], ph.Memsz)
			f.bo.PutUint64(o[48:], ph.Align)
		} else {
			f.bo.PutUint32(o[0:], uint32(ph.Type))
			f.bo.PutUint32(o[4:], uint32(ph.Off))
			f.bo.PutUint32(o[8:], uint32(ph.Vaddr))
			f.bo.PutUint32(o[12:], uint32(ph.Paddr))
			f.bo.PutUint32(o[16:], uint32(ph.Filesz))
			f.bo.PutUint32(o[20:], uint32(ph.Memsz))
			f.bo.PutUint32(o[24:], uint32(ph.Flags))
			f.bo.PutUint32(o[28:], uint32(ph.Align))
		}
	}
	return b
}

// encodeShdrs patches sh_addr, sh_offset and sh_size of the section
// headers that changed, or writes the whole table when sections were added
// or dropped.
func (p *plan) encodeShdrs() []patch {
	f := p.f
	var out []patch
	if p.shdrs == nil && p.shoff == 0 {
		return nil
	}
	for idx, s := range p.secs {
		base := uint64(idx) * f.shentsize
		if p.shdrs == nil {
			base += p.shoff
		}
		var b []byte
		if f.class == elf.ELFCLASS64 {
			b = make([]byte, 24)
			f.bo.PutUint64(b[0:], s.Addr)
			f.bo.PutUint64(b[8:], s.Offset)
			f.bo.PutUint64(b[16:], s.Size)
			base += 16
		} else {
			b = make([]byte, 12)
			f.bo.PutUint32(b[0:], uint32(s.Addr))
			f.bo.PutUint32(b[4:], uint32(s.Offset))
			f.bo.PutUint32(b[8:], uint32(s.Size))
			base += 12
		}
		if p.shdrs == nil {
			out = append(out, patch{base, b})
		} else if base+uint64(len(b)) <= uint64(len(p.shdrs)) && !p.droppedSection(idx) {
			copy(p.shdrs[base:], b)
		}
	}
	if p.shdrs != nil {
		out = append(out, patch{p.shoff, p.shdrs})
	}
	return out
}

// droppedSection reports whether section idx is the resolution cache note
// being removed (its header stays zero).
func (p *plan) droppedSection(idx int) bool {
	ne := p.f.noteEdit
	return ne != nil && ne.drop != nil && ne.drop.index == idx
}

// moveBlock copies the block to off/addr and makes everything that
// pointed into it follow: section headers, PT_INTERP/PT_NOTE/..., the
// dynamic entries, and the items that live inside it.
func (p *plan) moveBlock(b *block, off, addr uint64) error {
	f := p.f
	data, err := f.readPatched(b.start, b.end-b.start, p.fields)
	if err != nil {
		return err
	}
	p.patches = append(p.patches, patch{off, data})
	oldAddr := b.sects[0].Addr - (b.sects[0].Offset - b.start)
	dOff, dAddr := off-b.start, addr-oldAddr
	for _, s := range b.sects {
		ns := *s
		ns.Offset += dOff
		ns.Addr += dAddr
		p.secs[s.index] = &ns
		if it, ok := f.itemOf(s); ok && p.place[it] == nil {
			p.place[it] = &placement{off: ns.Offset, addr: ns.Addr}
		}
	}
	// What pointed into the block is found by the values as read: the
	// pool may already have moved other tables to where the block was.
	for i, ph := range f.progs {
		if ph.Type != elf.PT_LOAD && ph.Type != elf.PT_PHDR && ph.Filesz > 0 && ph.Off >= b.start && ph.Off+ph.Filesz <= b.end {
			p.progs[i].Off += dOff
			p.progs[i].Vaddr += dAddr
			p.progs[i].Paddr += dAddr
		}
	}
	for i, e := range f.dyn {
		if addrTags[e.tag] && !e.pending && e.val >= oldAddr && e.val < oldAddr+(b.end-b.start) {
			p.dyn[i].val += dAddr
		}
	}
	p.fields = slices.DeleteFunc(p.fields, func(fp patch) bool { return fp.off >= b.start && fp.off < b.end })
	return nil
}

// checkFits refuses a layout whose offsets or addresses do not fit the
// ELF class (a 32-bit file whose new segment would cross 4 GiB).
func (p *plan) checkFits() error {
	if p.f.class != elf.ELFCLASS32 {
		return nil
	}
	const lim = 1 << 32
	vals := []uint64{p.phoff, p.shoff, p.size}
	for _, ph := range p.progs {
		vals = append(vals, ph.Off+ph.Filesz, ph.Vaddr+ph.Memsz, ph.Paddr+ph.Memsz)
	}
	for _, s := range p.secs {
		vals = append(vals, s.Offset+s.Size, s.Addr+s.Size)
	}
	for _, e := range p.dyn {
		vals = append(vals, e.val)
	}
	for _, v := range vals {
		if v > lim {
			return fmt.Errorf("%w: value %#x does not fit a 32-bit ELF file", ErrNoSpace, v)
		}
	}
	return nil
}
