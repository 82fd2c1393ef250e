package api

import (
	"slices"
	"testing"

	"github.com/gleaner/gleaner/offer"
)

func TestRejectionsCarryEveryOfferKind(t *testing.T) {
	in := []offer.Rejection{
		{Kind: offer.ByResource, Name: "cpus", Offers: 4},
		{Kind: offer.ByRole, Name: "cpus(batch)", Offers: 3},
		{Kind: offer.ByConstraint, Name: "rack:GROUP_BY", Offers: 2},
		{Kind: offer.ByFilter, Offers: 1},
	}
	want := []Rejection{
		{Kind: RejectResource, Name: "cpus", Offers: 4},
		{Kind: RejectRole, Name: "cpus(batch)", Offers: 3},
		{Kind: RejectConstraint, Name: "rack:GROUP_BY", Offers: 2},
		{Kind: RejectFilter, Offers: 1},
	}
	got := Rejections(in)
	if !slices.Equal(got, want) {
		t.Fatalf("Rejections = %+v, want %+v", got, want)
	}
	for _, r := range got {
		if !r.Kind.Valid() {
			t.Errorf("kind %q of %+v is not Valid", r.Kind, r)
		}
	}
	if RejectionKind("luck").Valid() || Rejections(nil) != nil {
		t.Error(`"luck" is Valid, or no rejections convert to a non-nil slice`)
	}
}
