package framework

import (
	"fmt"
	"strings"

	"github.com/gleaner/gleaner/offer"
)

// Example_scheduler drives the scheduler core by hand: one app, three
// offers, a UNIQUE constraint.
func Example_scheduler() {
	n := 0
	s := newScheduler(schedulerConfig{
		NewTaskID: func(appID string) string { n++; return fmt.Sprintf("%s%d", taskIDPrefix(appID), n) },
	})
	app, _ := DecodeApp(strings.NewReader(`{"id":"db","cmd":"postgres","cpus":2,"instances":3,
		"constraints":[["hostname","UNIQUE"]]}`))
	s.PutApp(app)

	var offers []offer.Offer
	for i, res := range []string{"cpus:4;mem:4096", "cpus:1;mem:4096", "cpus:4;mem:4096"} {
		offers = append(offers, offer.Offer{ID: fmt.Sprintf("o%d", i+1), AgentID: fmt.Sprintf("a%d", i+1),
			Hostname: fmt.Sprintf("h%d", i+1), Resources: offer.MustParseResources(res)})
	}
	plan := s.ResourceOffers(offers)
	for _, acc := range plan.Accept {
		for _, t := range acc.Tasks {
			fmt.Println("launch", t.TaskID, "on", acc.AgentID)
		}
	}
	fmt.Println("decline", plan.Decline)
	st, _ := s.App("/db")
	fmt.Printf("pending %d: %s\n", st.Pending.Instances, st.Pending.Reason)
	// Output:
	// launch db.1 on a1
	// launch db.2 on a3
	// decline [o2]
	// pending 1: hostname UNIQUE: 2, cpus: 1
}
