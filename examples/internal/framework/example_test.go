package framework_test

import (
	"fmt"
	"strings"

	"github.com/gleaner/gleaner/examples/internal/framework"
	"github.com/gleaner/gleaner/offer"
)

func ExampleDecodeApp() {
	app, err := framework.DecodeApp(strings.NewReader(`{
		"id": "web", "cmd": "httpd -f", "cpus": 0.5, "instances": 6,
		"constraints": [["rack", "GROUP_BY", "3"]],
		"container": {"rootfs": {"base": "busybox", "baseVersion": "1.36"}}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	res, _ := app.Resources()
	fmt.Println(app.ID, app.Instances, res, app.Constraints[0], app.Container.Rootfs.Base)

	_, err = framework.DecodeApp(strings.NewReader(`{"id": "web", "cmd": "x", "mem": -1}`))
	fmt.Println(err)
	// Output:
	// /web 6 cpus:0.5;mem:128 rack:GROUP_BY:3 busybox
	// app "/web": field "mem": value "-1": must be a non-negative number
}

func ExampleScheduler() {
	n := 0
	s := framework.NewScheduler(framework.SchedulerConfig{
		NewTaskID: func(appID string) string { n++; return fmt.Sprintf("%s%d", framework.TaskIDPrefix(appID), n) },
	})
	app, _ := framework.DecodeApp(strings.NewReader(`{"id":"db","cmd":"postgres","cpus":2,"instances":3,
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
