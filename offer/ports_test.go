package offer

import (
	"slices"
	"testing"
)

func TestMatchTakesPortsByCount(t *testing.T) {
	offers := []Offer{
		testOffer("o1", "h1", "cpus:8;mem:1024;ports:[31000-31002]"),
		testOffer("o2", "h2", "cpus:1;mem:1024;ports:[32000-32009]"),
	}
	a, b, c := testTask("a", "web", "cpus:0.1;mem:1"), testTask("b", "web", "cpus:0.1;mem:1"), testTask("c", "web", "cpus:0.1;mem:1")
	a.Ports, b.Ports, c.Ports = 2, 2, 2
	res := Match(offers, []Task{a, b, c}, nil, WithStrategy(FirstFit))
	if len(res.Launches) != 3 {
		t.Fatalf("launches %+v, pending %+v", res.Launches, res.Pending)
	}
	var got []string
	for _, l := range res.Launches {
		got = append(got, l.OfferID+" "+l.Resources.Role(Unreserved).filter(func(e *Resource) bool { return e.Name == "ports" }).String())
	}
	// o1 has three ports: the first task takes two, the second does not
	// fit there and goes to o2, as does the third.
	want := []string{"o1 ports:[31000-31001]", "o2 ports:[32000-32001]", "o2 ports:[32002-32003]"}
	if !slices.Equal(got, want) {
		t.Fatalf("ports taken %q, want %q", got, want)
	}
}

func TestMatchNamesAPortShortage(t *testing.T) {
	offers := []Offer{testOffer("o1", "h1", "cpus:8;mem:1024;ports:[31000-31000]"), testOffer("o2", "h2", "cpus:8;mem:1024")}
	task := testTask("a", "web", "cpus:0.1;mem:1")
	task.Ports = 2
	res := Match(offers, []Task{task}, nil)
	if len(res.Launches) != 0 || len(res.Pending) != 1 {
		t.Fatalf("launches %+v, pending %+v", res.Launches, res.Pending)
	}
	want := []Rejection{{Kind: ByResource, Name: "ports", Offers: 2}}
	if got := res.Pending[0].Rejections; !slices.Equal(got, want) {
		t.Fatalf("rejections %+v, want %+v", got, want)
	}
}

func TestMatchTakesPortsOfTheTasksRole(t *testing.T) {
	offers := []Offer{testOffer("o1", "h1", "cpus(web):1;mem(web):64;ports:[31000-31009];ports(web):[41000-41009]")}
	task := testTask("a", "web", "cpus(web):0.5;mem(web):16")
	task.Ports = 1
	res := Match(offers, []Task{task}, nil)
	if len(res.Launches) != 1 {
		t.Fatalf("pending %+v", res.Pending)
	}
	if got := res.Launches[0].Resources.String(); got != "cpus(web):0.5;mem(web):16;ports(web):[41000-41000]" {
		t.Fatalf("resources %q, want web's port", got)
	}
}
