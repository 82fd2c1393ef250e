package patchelf

import "debug/elf"

// SetOSABI sets the OS ABI byte of the ELF header, e_ident[EI_OSABI]
// (patchelf --set-os-abi).
func (f *File) SetOSABI(abi elf.OSABI) { f.osabi = abi }

// ExecStack reports whether the object asks for an executable stack (PF_X
// on its PT_GNU_STACK), and whether it says anything: without PT_GNU_STACK
// the kernel's default for the machine applies (patchelf prints "?").
func (f *File) ExecStack() (exec, stated bool) {
	for _, p := range f.currentProgs() {
		if p.Type == elf.PT_GNU_STACK {
			return p.Flags&elf.PF_X != 0, true
		}
	}
	return false, false
}

// SetExecStack sets or clears PF_X on PT_GNU_STACK (patchelf
// --set-execstack, --clear-execstack). Without a PT_GNU_STACK one is made,
// read-write, in an unused PT_NULL entry when there is one, else as a new
// program header.
func (f *File) SetExecStack(exec bool) {
	progs := f.currentProgs()
	for i, p := range progs {
		if p.Type != elf.PT_GNU_STACK {
			continue
		}
		if (p.Flags&elf.PF_X != 0) != exec {
			p.Flags ^= elf.PF_X
			f.setProg(i, p)
		}
		return
	}
	stack := elf.ProgHeader{Type: elf.PT_GNU_STACK, Flags: elf.PF_R | elf.PF_W, Align: 1}
	if exec {
		stack.Flags |= elf.PF_X
	}
	for i, p := range progs {
		if p.Type == elf.PT_NULL {
			f.setProg(i, stack)
			return
		}
	}
	f.addProgs = append(f.addProgs, stack)
}

// currentProgs returns the program headers with the edits so far.
func (f *File) currentProgs() []elf.ProgHeader {
	out := make([]elf.ProgHeader, 0, len(f.progs)+len(f.addProgs))
	for i, p := range f.progs {
		if q, ok := f.progEdits[i]; ok {
			p = q
		}
		out = append(out, p)
	}
	return append(out, f.addProgs...)
}

// setProg replaces program header i of currentProgs.
func (f *File) setProg(i int, p elf.ProgHeader) {
	if i >= len(f.progs) {
		f.addProgs[i-len(f.progs)] = p
		return
	}
	if f.progEdits == nil {
		f.progEdits = map[int]elf.ProgHeader{}
	}
	f.progEdits[i] = p
}
