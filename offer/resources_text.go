package offer

import (
	"strconv"
	"strings"
)

// ParseResources parses Mesos's resource syntax, either the text form
//
//	cpus:2;mem:1024;ports:[31000-32000,40000-40100];disks:{a,b};cpus(batch):1
//
// or, when the text starts with '[', the JSON form: a list of
// {"name","type","scalar"|"ranges"|"set","role"} objects. Entries with the
// same name and role add up. Overlapping and adjacent ranges coalesce, as in
// Mesos: "ports:[1-4,4-5,7-8,8-10]" is "ports:[1-5,7-10]", in either form and
// across entries. Scalars are rounded to three decimals. An error is a
// *SyntaxError naming the offending entry and its byte offset; negative, NaN
// and infinite scalars, inverted ranges and repeated set items are errors.
func ParseResources(text string) (Resources, error) {
	if t := strings.TrimSpace(text); strings.HasPrefix(t, "[") {
		return parseResourcesJSON([]byte(text))
	}
	b := builder{typed: true}
	for off := 0; off <= len(text); {
		end := strings.IndexByte(text[off:], ';')
		if end < 0 {
			end = len(text)
		} else {
			end += off
		}
		start, tok := trimAt(text, off, end)
		if tok != "" {
			r, msg := parseEntry(tok)
			if msg == "" {
				msg = b.add(r, true)
			}
			if msg != "" {
				return Resources{}, &SyntaxError{What: "resources", Token: tok, Offset: start, Msg: msg}
			}
		}
		off = end + 1
	}
	return b.done(), nil
}

// MustParseResources is like ParseResources but panics on error. It is for
// literals in tests and examples.
func MustParseResources(text string) Resources {
	r, err := ParseResources(text)
	if err != nil {
		panic(err)
	}
	return r
}

// trimAt returns text[off:end] without surrounding white space, and the
// offset where the trimmed token starts.
func trimAt(text string, off, end int) (int, string) {
	tok := text[off:end]
	trimmed := strings.TrimLeft(tok, " \t\r\n")
	return off + len(tok) - len(trimmed), strings.TrimRight(trimmed, " \t\r\n")
}

// parseEntry parses one "name(role):value" entry.
func parseEntry(tok string) (Resource, string) {
	colon := strings.IndexByte(tok, ':')
	if colon < 0 {
		return Resource{}, "missing ':' between name and value"
	}
	key, val := strings.TrimSpace(tok[:colon]), strings.TrimSpace(tok[colon+1:])
	r := Resource{Name: key, Role: Unreserved}
	if open := strings.IndexByte(key, '('); open >= 0 {
		if !strings.HasSuffix(key, ")") {
			return r, "unterminated role"
		}
		r.Name, r.Role = strings.TrimSpace(key[:open]), strings.TrimSpace(key[open+1:len(key)-1])
	}
	if msg := checkName(r.Name); msg != "" {
		return r, msg
	}
	if msg := checkRole(r.Role); msg != "" {
		return r, msg
	}
	var msg string
	switch {
	case strings.HasPrefix(val, "["):
		r.Type = Ranges
		r.Ranges, msg = parseRanges(val)
	case strings.HasPrefix(val, "{"):
		r.Type = Set
		r.Set, msg = parseSet(val)
	default:
		r.Type = Scalar
		r.Scalar, msg = parseFixed(val)
	}
	return r, msg
}

func parseRanges(val string) ([]Range, string) {
	if !strings.HasSuffix(val, "]") {
		return nil, "unterminated ranges"
	}
	body := strings.TrimSpace(val[1 : len(val)-1])
	if body == "" {
		return nil, ""
	}
	var rs []Range
	for part := range strings.SplitSeq(body, ",") {
		part = strings.TrimSpace(part)
		lo, hi, ok := strings.Cut(part, "-")
		if !ok {
			lo, hi = part, part
		}
		b, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
		e, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 64)
		if err1 != nil || err2 != nil {
			return nil, "invalid range " + strconv.Quote(part)
		}
		if e < b {
			return nil, "inverted range " + part
		}
		rs = append(rs, Range{b, e})
	}
	return normalizeRanges(rs), ""
}

func parseSet(val string) ([]string, string) {
	if !strings.HasSuffix(val, "}") {
		return nil, "unterminated set"
	}
	body := strings.TrimSpace(val[1 : len(val)-1])
	if body == "" {
		return nil, ""
	}
	var set []string
	for item := range strings.SplitSeq(body, ",") {
		item = strings.TrimSpace(item)
		if msg := checkSetItem(item); msg != "" {
			return nil, msg
		}
		set = append(set, item)
	}
	n := len(set)
	set = unionSet(set, nil)
	if len(set) != n {
		return nil, "duplicate set item"
	}
	return set, ""
}

// String prints r in Mesos's text syntax, entries sorted by name and role,
// the role omitted when unreserved: "cpus:2;mem:1024;ports:[31000-32000]".
// ParseResources(r.String()) equals r.
func (r Resources) String() string {
	var b []byte
	for i := range r.rs {
		if i > 0 {
			b = append(b, ';')
		}
		b = r.rs[i].appendTo(b)
	}
	return string(b)
}

// String prints one entry in Mesos's text syntax.
func (r Resource) String() string { return string(r.appendTo(nil)) }

func (r *Resource) appendTo(b []byte) []byte {
	b = append(b, r.Name...)
	if r.Role != Unreserved && r.Role != "" {
		b = append(b, '(')
		b = append(b, r.Role...)
		b = append(b, ')')
	}
	b = append(b, ':')
	switch r.Type {
	case Scalar:
		b = r.Scalar.appendTo(b)
	case Ranges:
		b = appendRanges(b, r.Ranges)
	case Set:
		b = append(b, '{')
		for i, s := range r.Set {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, s...)
		}
		b = append(b, '}')
	}
	return b
}
