package offer

import (
	"encoding/json"
	"strings"
)

// jsonResource is one element of Mesos's JSON resource list.
type jsonResource struct {
	Name   string      `json:"name"`
	Type   string      `json:"type"`
	Scalar *jsonScalar `json:"scalar,omitempty"`
	Ranges *jsonRanges `json:"ranges,omitempty"`
	Set    *jsonSet    `json:"set,omitempty"`
	Role   string      `json:"role,omitempty"`
}

// jsonScalar keeps the number's text so that it converts to Fixed exactly.
type jsonScalar struct {
	Value json.Number `json:"value"`
}

type jsonRanges struct {
	Range []jsonRange `json:"range"`
}

type jsonRange struct {
	Begin uint64 `json:"begin"`
	End   uint64 `json:"end"`
}

type jsonSet struct {
	Item []string `json:"item"`
}

// MarshalJSON encodes r in Mesos's JSON form, a list of resource objects.
func (r Resources) MarshalJSON() ([]byte, error) {
	out := make([]jsonResource, len(r.rs))
	for i, e := range r.rs {
		j := jsonResource{Name: e.Name, Type: e.Type.String()}
		if e.Role != Unreserved {
			j.Role = e.Role
		}
		switch e.Type {
		case Scalar:
			j.Scalar = &jsonScalar{Value: json.Number(e.Scalar.String())}
		case Ranges:
			j.Ranges = &jsonRanges{Range: make([]jsonRange, len(e.Ranges))}
			for k, rg := range e.Ranges {
				j.Ranges.Range[k] = jsonRange(rg)
			}
		case Set:
			j.Set = &jsonSet{Item: e.Set}
		}
		out[i] = j
	}
	return json.Marshal(out)
}

// UnmarshalJSON decodes Mesos's JSON form; see ParseResources.
func (r *Resources) UnmarshalJSON(data []byte) error {
	v, err := parseResourcesJSON(data)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// parseResourcesJSON decodes the list element by element, so that an error
// can name the element and its byte offset.
func parseResourcesJSON(data []byte) (Resources, error) {
	l, err := openJSONList("resources", data, "JSON resources must be a list")
	if err != nil {
		return Resources{}, err
	}
	b := builder{typed: true}
	for l.more() {
		off := l.offset()
		var j jsonResource
		if err := l.dec.Decode(&j); err != nil {
			return Resources{}, l.failJSON(off, err)
		}
		tok := strings.TrimRight(string(data[off:l.dec.InputOffset()]), " \t\r\n")
		res, msg := j.resource()
		if msg == "" {
			msg = validate(&res)
		}
		if msg == "" {
			msg = b.add(res, true)
		}
		if msg != "" {
			return Resources{}, l.fail(tok, off, msg)
		}
	}
	if err := l.close(); err != nil {
		return Resources{}, err
	}
	return b.done(), nil
}

func (j *jsonResource) resource() (Resource, string) {
	r := Resource{Name: j.Name, Role: j.Role}
	if r.Role == "" {
		r.Role = Unreserved
	}
	switch strings.ToUpper(j.Type) {
	case "SCALAR":
		if j.Scalar == nil {
			return r, "SCALAR without scalar value"
		}
		var msg string
		r.Type = Scalar
		if r.Scalar, msg = parseFixed(j.Scalar.Value.String()); msg != "" {
			return r, msg
		}
	case "RANGES":
		if j.Ranges == nil {
			return r, "RANGES without ranges value"
		}
		r.Type = Ranges
		for _, rg := range j.Ranges.Range {
			r.Ranges = append(r.Ranges, Range(rg))
		}
	case "SET":
		if j.Set == nil {
			return r, "SET without set value"
		}
		r.Type, r.Set = Set, j.Set.Item
	default:
		return r, "unknown type " + j.Type
	}
	return r, ""
}
