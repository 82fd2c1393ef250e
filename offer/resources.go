package offer

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// ValueType is the kind of value a resource holds.
type ValueType uint8

// The value types of Mesos resources.
const (
	Scalar ValueType = iota + 1 // a fixed-point amount: cpus, mem, disk, gpus
	Ranges                      // integer ranges: ports
	Set                         // a set of names: disks, devices
)

var valueTypeNames = [...]string{Scalar: "SCALAR", Ranges: "RANGES", Set: "SET"}

func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) && valueTypeNames[t] != "" {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("ValueType(%d)", uint8(t))
}

// Unreserved is the role of resources that any role may use, written "*" (or
// not at all) in Mesos's text syntax.
const Unreserved = "*"

// Resource is one named resource of one role. Exactly the field matching
// Type is meaningful.
type Resource struct {
	Name   string
	Role   string // Unreserved ("*") or a role name; "" means Unreserved
	Type   ValueType
	Scalar Fixed
	Ranges []Range  // sorted and coalesced in a Resources
	Set    []string // sorted and unique in a Resources
}

func (r *Resource) isEmpty() bool {
	switch r.Type {
	case Scalar:
		return r.Scalar == 0
	case Ranges:
		return len(r.Ranges) == 0
	default:
		return len(r.Set) == 0
	}
}

// compareKey orders entries by name, role and type. Type is part of the key
// so that Add never has to drop one of two same-named entries of different
// types; NewResources and the parsers reject such mixes, as Mesos does.
func compareKey(a, b *Resource) int {
	return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Role, b.Role), cmp.Compare(a.Type, b.Type))
}

// Resources is a vector of resources: at most one entry per name and role,
// kept sorted, with no empty entries. The zero value is empty. Resources is
// immutable: every operation returns a new value, so it is safe to share.
type Resources struct {
	rs []Resource
}

// NewResources builds Resources from individual entries, adding entries with
// the same name and role together. It rejects invalid names and roles,
// negative or oversized scalars, inverted ranges, mismatched types and
// unprintable set items. Ranges coalesce as ParseResources says.
func NewResources(rs ...Resource) (Resources, error) {
	b := builder{typed: true}
	for i := range rs {
		r := rs[i]
		if r.Role == "" {
			r.Role = Unreserved
		}
		if msg := validate(&r); msg != "" {
			return Resources{}, fmt.Errorf("%w: resources: entry %d (%s): %s", ErrInvalid, i, r.Name, msg)
		}
		if msg := b.add(r, false); msg != "" {
			return Resources{}, fmt.Errorf("%w: resources: entry %d (%s): %s", ErrInvalid, i, r.Name, msg)
		}
	}
	return b.done(), nil
}

// validate checks r and normalizes its ranges and set in place.
func validate(r *Resource) string {
	if msg := checkName(r.Name); msg != "" {
		return msg
	}
	if msg := checkRole(r.Role); msg != "" {
		return msg
	}
	switch r.Type {
	case Scalar:
		if r.Scalar < 0 {
			return "negative scalar"
		}
		if r.Scalar > MaxFixed {
			return "scalar too large"
		}
	case Ranges:
		for _, rg := range r.Ranges {
			if rg.End < rg.Begin {
				return fmt.Sprintf("inverted range %d-%d", rg.Begin, rg.End)
			}
		}
		r.Ranges = normalizeRanges(r.Ranges)
	case Set:
		set := slices.Clone(r.Set)
		for _, item := range set {
			if msg := checkSetItem(item); msg != "" {
				return msg
			}
		}
		slices.Sort(set)
		if len(slices.Compact(slices.Clone(set))) != len(set) {
			return "duplicate set item"
		}
		r.Set = set
	default:
		return "unknown type " + r.Type.String()
	}
	return ""
}

const reservedChars = ";:()[]{},\"\\"

func checkName(s string) string {
	if s == "" {
		return "empty name"
	}
	if strings.ContainsAny(s, reservedChars) || hasSpaceOrControl(s) {
		return "invalid name"
	}
	return ""
}

func checkRole(s string) string {
	if s == Unreserved {
		return ""
	}
	if s == "" || s == "." || s == ".." || s[0] == '-' ||
		strings.ContainsAny(s, reservedChars+"*") || hasSpaceOrControl(s) {
		return "invalid role"
	}
	return ""
}

func checkSetItem(s string) string {
	if s == "" {
		return "empty set item"
	}
	if strings.ContainsAny(s, ",{}[];\"\\") || hasSpaceOrControl(s) {
		return "invalid set item"
	}
	return ""
}

func hasSpaceOrControl(s string) bool {
	for _, c := range s {
		if c <= ' ' || c == 0x7f || c == 0x85 || c == 0xa0 || c == 0xfffd {
			return true
		}
	}
	return false
}

// builder accumulates entries into a sorted Resources.
type builder struct {
	rs    []Resource
	typed bool // reject a name used with two types
}

// add merges r (already validated) into the builder; ranges are unioned.
// With strict set, a repeated set item is an error, as parsing requires;
// otherwise sets are unioned too.
func (b *builder) add(r Resource, strict bool) string {
	if r.isEmpty() {
		return ""
	}
	i, found := slices.BinarySearchFunc(b.rs, &r, func(e Resource, t *Resource) int { return compareKey(&e, t) })
	if !found {
		if b.typed {
			// Entries of one name are adjacent: look both ways.
			for j := i - 1; j >= 0 && b.rs[j].Name == r.Name; j-- {
				if b.rs[j].Type != r.Type {
					return fmt.Sprintf("type %s differs from earlier %s", r.Type, b.rs[j].Type)
				}
			}
			for j := i; j < len(b.rs) && b.rs[j].Name == r.Name; j++ {
				if b.rs[j].Type != r.Type {
					return fmt.Sprintf("type %s differs from earlier %s", r.Type, b.rs[j].Type)
				}
			}
		}
		b.rs = slices.Insert(b.rs, i, r)
		return ""
	}
	e := &b.rs[i]
	switch r.Type {
	case Scalar:
		if e.Scalar+r.Scalar > MaxFixed {
			return "scalar too large"
		}
		e.Scalar += r.Scalar
	case Ranges:
		e.Ranges = unionRanges(e.Ranges, r.Ranges)
	case Set:
		u := unionSet(e.Set, r.Set)
		if strict && len(u) != len(e.Set)+len(r.Set) {
			return "duplicate set item"
		}
		e.Set = u
	}
	return ""
}

func (b *builder) done() Resources { return Resources{rs: b.rs} }

// IsEmpty reports whether r holds nothing.
func (r Resources) IsEmpty() bool { return len(r.rs) == 0 }

// All returns a copy of the entries, sorted by name and then role.
func (r Resources) All() []Resource {
	out := make([]Resource, len(r.rs))
	for i, e := range r.rs {
		e.Ranges = slices.Clone(e.Ranges)
		e.Set = slices.Clone(e.Set)
		out[i] = e
	}
	return out
}

// Scalar returns the amount of the named scalar resource summed over all
// roles.
func (r Resources) Scalar(name string) Fixed {
	var sum Fixed
	for i := range r.rs {
		if e := &r.rs[i]; e.Name == name && e.Type == Scalar {
			sum += e.Scalar
		}
	}
	return sum
}

// Equal reports whether r and o hold exactly the same resources.
func (r Resources) Equal(o Resources) bool {
	return slices.EqualFunc(r.rs, o.rs, func(a, b Resource) bool {
		return a.Name == b.Name && a.Role == b.Role && a.Type == b.Type && a.Scalar == b.Scalar &&
			slices.Equal(a.Ranges, b.Ranges) && slices.Equal(a.Set, b.Set)
	})
}

// Add returns r + o. Ranges and sets are unioned.
func (r Resources) Add(o Resources) Resources {
	if len(o.rs) == 0 {
		return r
	}
	if len(r.rs) == 0 {
		return o
	}
	out := make([]Resource, 0, len(r.rs)+len(o.rs))
	merge(r.rs, o.rs, func(a, b *Resource) {
		switch {
		case b == nil:
			out = append(out, *a)
		case a == nil:
			out = append(out, *b)
		default:
			e := *a
			switch a.Type {
			case Scalar:
				e.Scalar = min(a.Scalar+b.Scalar, MaxFixed)
			case Ranges:
				e.Ranges = unionRanges(a.Ranges, b.Ranges)
			case Set:
				e.Set = unionSet(a.Set, b.Set)
			}
			out = append(out, e)
		}
	})
	return Resources{rs: out}
}

// Subtract returns r - o. Like Mesos it saturates: a scalar never goes below
// zero, and range or set members of o that r lacks are ignored. Check
// Contains first when o must be wholly present.
func (r Resources) Subtract(o Resources) Resources {
	if len(o.rs) == 0 || len(r.rs) == 0 {
		return r
	}
	out := make([]Resource, 0, len(r.rs))
	merge(r.rs, o.rs, func(a, b *Resource) {
		switch {
		case a == nil:
		case b == nil:
			out = append(out, *a)
		default:
			e := *a
			switch a.Type {
			case Scalar:
				e.Scalar = max(a.Scalar-b.Scalar, 0)
			case Ranges:
				e.Ranges = subtractRanges(a.Ranges, b.Ranges)
			case Set:
				e.Set = subtractSet(a.Set, b.Set)
			}
			if !e.isEmpty() {
				out = append(out, e)
			}
		}
	})
	return Resources{rs: out}
}

// Contains reports whether r holds all of o, role by role.
func (r Resources) Contains(o Resources) bool {
	ok := true
	merge(r.rs, o.rs, func(a, b *Resource) {
		switch {
		case !ok || b == nil:
		case a == nil:
			ok = false
		case a.Type == Scalar:
			ok = a.Scalar >= b.Scalar
		case a.Type == Ranges:
			ok = containsRanges(a.Ranges, b.Ranges)
		default:
			ok = len(subtractSet(b.Set, a.Set)) == 0
		}
	})
	return ok
}

// Role returns the resources of one role only; Role(Unreserved) returns the
// unreserved ones.
func (r Resources) Role(role string) Resources {
	return r.filter(func(e *Resource) bool { return e.Role == role })
}

// Allocatable returns what a framework in role may use: the unreserved
// resources plus those reserved for role.
func (r Resources) Allocatable(role string) Resources {
	return r.filter(func(e *Resource) bool { return e.Role == Unreserved || e.Role == role })
}

// Roles returns the roles present in r, sorted.
func (r Resources) Roles() []string {
	var roles []string
	for i := range r.rs {
		roles = append(roles, r.rs[i].Role)
	}
	slices.Sort(roles)
	return slices.Compact(roles)
}

func (r Resources) filter(keep func(*Resource) bool) Resources {
	for i := range r.rs {
		if keep(&r.rs[i]) {
			continue
		}
		// Copy only once an entry is dropped; keeping all allocates nothing.
		out := make([]Resource, i, len(r.rs))
		copy(out, r.rs[:i])
		for j := i + 1; j < len(r.rs); j++ {
			if keep(&r.rs[j]) {
				out = append(out, r.rs[j])
			}
		}
		return Resources{rs: out}
	}
	return r
}

// Flatten returns r with every role replaced by Unreserved, adding up the
// entries that then share a name.
func (r Resources) Flatten() Resources {
	var b builder
	for _, e := range r.rs {
		e.Role = Unreserved
		b.add(e, false)
	}
	return b.done()
}

// DominantShare returns the largest fraction of total that r holds of any
// scalar resource, summing over roles: DRF's dominant share. Resources absent
// from total, or with a zero total, are ignored.
func (r Resources) DominantShare(total Resources) float64 {
	var share float64
	for i := range r.rs {
		e := &r.rs[i]
		if e.Type != Scalar || (i > 0 && r.rs[i-1].Name == e.Name) {
			continue
		}
		t := total.Scalar(e.Name)
		if t > 0 {
			share = max(share, float64(r.Scalar(e.Name))/float64(t))
		}
	}
	return share
}

// merge walks two sorted entry lists in key order, calling f with the entry
// of each side (nil where a side lacks the key).
func merge(a, b []Resource, f func(a, b *Resource)) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var c int
		switch {
		case i == len(a):
			c = 1
		case j == len(b):
			c = -1
		default:
			c = compareKey(&a[i], &b[j])
		}
		switch {
		case c < 0:
			f(&a[i], nil)
			i++
		case c > 0:
			f(nil, &b[j])
			j++
		default:
			f(&a[i], &b[j])
			i++
			j++
		}
	}
}

func unionSet(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

func subtractSet(a, b []string) []string {
	var out []string
	for _, s := range a {
		if _, found := slices.BinarySearch(b, s); !found {
			out = append(out, s)
		}
	}
	return out
}
