package api

import "github.com/gleaner/gleaner/offer"

// Rejection counts the offers turned down for one reason, as
// offer.Rejection does.
type Rejection struct {
	Kind   RejectionKind `json:"kind"`
	Name   string        `json:"name,omitempty"` // the resource ("cpus", "cpus(batch)") or constraint ("rack:GROUP_BY")
	Offers int           `json:"offers"`
}

// RejectionKind is offer.RejectionKind's String.
type RejectionKind string

// The rejection kinds.
const (
	RejectResource   RejectionKind = "resource"   // too little of Name
	RejectRole       RejectionKind = "role"       // Name exists, not in the role asked for
	RejectConstraint RejectionKind = "constraint" // the constraint Name refuses the agent
	RejectFilter     RejectionKind = "filter"     // a decline filter withheld the agent
)

// Valid reports whether k is one of the kinds above.
func (k RejectionKind) Valid() bool {
	switch k {
	case RejectResource, RejectRole, RejectConstraint, RejectFilter:
		return true
	}
	return false
}

// Rejections converts offer's rejections to their wire form; nil for none.
func Rejections(rs []offer.Rejection) []Rejection {
	if len(rs) == 0 {
		return nil
	}
	out := make([]Rejection, len(rs))
	for i, r := range rs {
		out[i] = Rejection{Kind: RejectionKind(r.Kind.String()), Name: r.Name, Offers: r.Offers}
	}
	return out
}
