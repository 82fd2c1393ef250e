package offer_test

import (
	"fmt"
	"time"

	"github.com/gleaner/gleaner/offer"
)

func ExampleParseResources() {
	r, err := offer.ParseResources("mem:1024; cpus:1.5; ports:[31000-31099,31100-32000]; cpus(batch):2")
	if err != nil {
		panic(err)
	}
	fmt.Println(r)
	fmt.Println(r.Scalar("cpus"))

	_, err = offer.ParseResources("cpus:-1")
	fmt.Println(err)
	// Output:
	// cpus:1.5;cpus(batch):2;mem:1024;ports:[31000-32000]
	// 3.5
	// resources: "cpus:-1" at 0: negative scalar
}

func ExampleResources_Subtract() {
	agent := offer.MustParseResources("cpus:4;mem:8192;ports:[31000-31009]")
	task := offer.MustParseResources("cpus:0.5;mem:1024;ports:[31003-31003]")
	fmt.Println(agent.Contains(task), agent.Subtract(task))
	fmt.Printf("%.3f\n", task.DominantShare(agent))
	// Output:
	// true cpus:3.5;mem:7168;ports:[31000-31002,31004-31009]
	// 0.125
}

func ExampleParseConstraint() {
	text, _ := offer.ParseConstraint("rack:GROUP_BY:3")
	fromJSON, _ := offer.ParseConstraint(`["rack", "GROUP_BY", "3"]`)
	fmt.Println(text, fromJSON, text.Op == offer.GroupBy)

	_, err := offer.ParseConstraint("rack:MAX_PER:many")
	fmt.Println(err)
	// Output:
	// rack:GROUP_BY:3 rack:GROUP_BY:3 true
	// constraint: "many" at 13: MAX_PER value must be a positive integer
}

func ExampleConstraint_Check() {
	unique := offer.MustParseConstraint("hostname:UNIQUE")
	running := []offer.Placement{{AppID: "web", Hostname: "h1"}}
	fmt.Println(unique.Check("h1", nil, running), unique.Check("h2", nil, running))
	// Output: false true
}

func ExampleMatch() {
	offers := []offer.Offer{
		{ID: "o1", AgentID: "a1", Hostname: "h1", Attributes: map[string]string{"rack": "r1"},
			Resources: offer.MustParseResources("cpus:4;mem:4096")},
		{ID: "o2", AgentID: "a2", Hostname: "h2", Attributes: map[string]string{"rack": "r2"},
			Resources: offer.MustParseResources("cpus:1;mem:1024")},
	}
	unique := offer.MustParseConstraint("hostname:UNIQUE")
	var tasks []offer.Task
	for _, id := range []string{"web.1", "web.2", "web.3"} {
		tasks = append(tasks, offer.Task{ID: id, AppID: "web",
			Resources: offer.MustParseResources("cpus:1;mem:512"), Constraints: []offer.Constraint{unique}})
	}
	res := offer.Match(offers, tasks, nil, offer.WithStrategy(offer.BinPack))
	for _, l := range res.Launches {
		fmt.Println("launch", l.TaskID, "on", l.Hostname, l.Resources)
	}
	for _, o := range res.Leftover {
		fmt.Println("decline", o.ID, o.Resources)
	}
	for _, p := range res.Pending {
		fmt.Println("pending", p.TaskID, "because", p)
	}
	// Output:
	// launch web.1 on h2 cpus:1;mem:512
	// launch web.2 on h1 cpus:1;mem:512
	// decline o1 cpus:3;mem:3584
	// decline o2 mem:512
	// pending web.3 because cpus: 1, hostname UNIQUE: 1
}

func ExampleAllocator() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	alloc := offer.NewAllocator(offer.WithClock(func() time.Time { return now }))
	res := offer.MustParseResources("cpus:8;mem:16384")
	_ = alloc.AddAgent(offer.Agent{ID: "a1", Hostname: "h1", Total: res, Free: res})
	_ = alloc.AddFramework(offer.Framework{ID: "etl", Weight: 1})
	_ = alloc.AddFramework(offer.Framework{ID: "ml", Weight: 2})

	o := alloc.Allocate()[0]
	fmt.Println(o.FrameworkID, "offered", o.Resources)
	_ = alloc.Decline(o.ID) // refused for 5 s
	o = alloc.Allocate()[0]
	fmt.Println(o.FrameworkID, "offered", o.Resources)
	_ = alloc.Accept(o.ID, offer.MustParseResources("cpus:2;mem:4096"))

	share, _ := alloc.Share("ml")
	fmt.Println("ml share", share)

	// The agent's reservation drops: nothing is outstanding, nothing to rescind.
	rescinded, _ := alloc.UpdateAgent("a1", offer.MustParseResources("cpus:4;mem:8192"))
	fmt.Println(len(rescinded), "rescinded")
	now = now.Add(offer.DefaultRefuse)
	for _, o := range alloc.Allocate() {
		fmt.Println(o.FrameworkID, "offered", o.Resources)
	}
	// Output:
	// etl offered cpus:8;mem:16384
	// ml offered cpus:8;mem:16384
	// ml share 0.25
	// 0 rescinded
	// etl offered cpus:2;mem:4096
}
