package attrs_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gleaner/gleaner/attrs"
)

func ExampleParse() {
	as, err := attrs.Parse("rack:r1;zone:east;cores:16;ports:[31000-32000]")
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range as {
		fmt.Println(a.Name, a.Value.Kind(), a.Value)
	}
	fmt.Println(as)
	// Output:
	// rack text r1
	// zone text east
	// cores scalar 16
	// ports ranges [31000-32000]
	// rack:r1;zone:east;cores:16;ports:[31000-32000]
}

func ExampleParse_badInput() {
	_, err := attrs.Parse("rack:r1;ports:[32000-31000]")
	var ae *attrs.AttributeError
	if errors.As(err, &ae) {
		fmt.Println(ae.Name, errors.Is(err, attrs.ErrInvalid))
	}
	fmt.Println(err)
	// Output:
	// ports true
	// attrs: attribute "ports" value "[32000-31000]": invalid input: malformed range "32000-31000": begin is after end
}

func ExampleAttributes_Map() {
	as, _ := attrs.Parse("cores:16.0;mem:0.12345;ports:[1-2,5-6]")
	m := as.Map()
	fmt.Println(m["cores"], m["mem"], m["ports"])
	// Output:
	// 16 0.123 [1-2, 5-6]
}

func ExampleMemStore() {
	ctx := context.Background()
	s, err := attrs.NewMemStore()
	if err != nil {
		log.Fatal(err)
	}
	rev, _ := s.Set(ctx, "agent-1", "rack", attrs.Text("r1"))
	_, err = s.CompareAndSet(ctx, "agent-1", "rack", attrs.Text("r2"), rev-1)
	fmt.Println(errors.Is(err, attrs.ErrConflict))
	_, _ = s.CompareAndSet(ctx, "agent-1", "rack", attrs.Text("r2"), rev)
	e, _ := s.Get(ctx, "agent-1", "rack")
	fmt.Println(e.Name, e.Value, e.Revision)
	// Output:
	// true
	// rack r2 3
}

// An agent keeps its attributes in step with etcd and registers itself.
func ExampleSyncer() {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"127.0.0.1:2379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()
	local, _ := attrs.Parse("cores:16;rack:r0")
	s, err := attrs.NewSyncer(cli, "agent-1", attrs.WithLocal(local), attrs.WithResyncPeriod(time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	r, err := attrs.NewRegistrar(cli, "agent-1", attrs.WithLeaseTTL(10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	go s.Run(ctx)
	go r.Run(ctx)

	sub := s.Subscribe()
	defer sub.Close()
	for c := range sub.C() {
		fmt.Println(c.Kind, c.Name, c.New, "stale:", s.Status().Stale)
	}
}

// The master finds agents for a task and learns which tasks to move: a
// task whose constraints no longer hold on its agent, or whose agent is
// gone, is placed again.
func ExampleClusterView() {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"127.0.0.1:2379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()
	v, err := attrs.NewClusterView(cli, attrs.WithPrefix("/gleaner"))
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	sub := v.Subscribe()
	defer sub.Close()
	go v.Run(context.Background())
	<-v.Ready()

	inEast := func(agent map[string]string) bool { return agent["zone"] == "east" }
	for _, a := range v.Select(func(a attrs.Agent) bool { return a.Up && inEast(a.Attributes) }) {
		fmt.Println("candidate", a.ID)
	}
	tasksOn := map[string][]string{"agent-1": {"web-1"}} // the master's placements
	for c := range sub.C() {
		for _, task := range tasksOn[c.Agent] {
			if c.Kind == attrs.AgentGone || !inEast(c.Attributes) {
				fmt.Println("move", task, "off", c.Agent)
			}
		}
	}
}
