package agent

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// UIDRange is a range of host user IDs, First to Last included, that the
// operator reserves for tasks (Config.TaskUIDs): no account of the machine
// uses them, as for systemd's DynamicUser.
type UIDRange struct {
	First, Last uint32
}

// IsZero reports whether the range is unset.
func (r UIDRange) IsZero() bool { return r == UIDRange{} }

func (r UIDRange) String() string {
	if r.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// Size is the number of IDs in the range.
func (r UIDRange) Size() uint64 { return uint64(r.Last) - uint64(r.First) + 1 }

// ParseUIDRange parses "first-last" ("200000-265535"); "" is the zero range.
func ParseUIDRange(s string) (UIDRange, error) {
	if s == "" {
		return UIDRange{}, nil
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return UIDRange{}, fmt.Errorf("%w: task UIDs %q: want first-last, such as 200000-265535", ErrInvalid, s)
	}
	first, err1 := strconv.ParseUint(a, 10, 32)
	last, err2 := strconv.ParseUint(b, 10, 32)
	if err1 != nil || err2 != nil {
		return UIDRange{}, fmt.Errorf("%w: task UIDs %q: want two user IDs, such as 200000-265535", ErrInvalid, s)
	}
	r := UIDRange{First: uint32(first), Last: uint32(last)}
	return r, r.validate()
}

func (r UIDRange) validate() error {
	switch {
	case r.IsZero():
		return nil
	case r.First == 0:
		return fmt.Errorf("%w: task UIDs %s: the range holds root (UID 0)", ErrInvalid, r)
	case r.Last < r.First:
		return fmt.Errorf("%w: task UIDs %s: the last ID is below the first", ErrInvalid, r)
	case r.Last == 1<<32-1:
		return fmt.Errorf("%w: task UIDs %s: %d is the kernel's invalid ID", ErrInvalid, r, r.Last)
	}
	return nil
}

// uidPool hands each task a user ID of the range of its own, for as long as
// the task's processes may live. It goes round the range rather than taking
// the lowest free ID, so that an ID comes back only after all the others
// were used: what a task left behind under its ID outside its root (in
// chroot mode, System V IPC objects in the host's namespace) waits that long
// for the next task of the same ID.
type uidPool struct {
	r    UIDRange
	mu   sync.Mutex
	next uint32            // where the next search starts
	used map[uint32]string // ID -> task
}

func newUIDPool(r UIDRange) *uidPool {
	return &uidPool{r: r, next: r.First, used: map[uint32]string{}}
}

// take gives task a free ID of the range.
func (p *uidPool) take(task string) (uint32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if uint64(len(p.used)) >= p.r.Size() {
		return 0, fmt.Errorf("all %d task UIDs (%s) are in use", p.r.Size(), p.r)
	}
	for {
		uid := p.next
		if p.next == p.r.Last {
			p.next = p.r.First
		} else {
			p.next++
		}
		if _, busy := p.used[uid]; !busy {
			p.used[uid] = task
			return uid, nil
		}
	}
}

// hold marks uid as task's: a task a previous agent started (adopt).
func (p *uidPool) hold(uid uint32, task string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if uid >= p.r.First && uid <= p.r.Last {
		p.used[uid] = task
	}
}

// release gives uid back, once nothing of its task runs.
func (p *uidPool) release(uid uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.used, uid)
}

// inUse is the number of IDs held.
func (p *uidPool) inUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.used)
}
