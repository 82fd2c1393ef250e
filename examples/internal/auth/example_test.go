package auth_test

import (
	"fmt"

	"github.com/gleaner/gleaner/examples/internal/auth"
)

func ExamplePolicy_Allow() {
	policy, err := auth.ParsePolicy([]byte(`{
	  "register_frameworks": [{"principals": ["framework/marathon"], "roles": ["*"]}],
	  "run_tasks": [{"principals": ["framework/marathon"], "users": ["nobody"]}]
	}`))
	if err != nil {
		panic(err)
	}
	marathon, _ := auth.ParsePrincipal("framework/marathon")
	fmt.Println(policy.Allow(marathon, auth.Request{Action: auth.RegisterFrameworks, Role: "*", Weight: 1}))
	fmt.Println(policy.Allow(marathon, auth.Request{Action: auth.RunTasks, User: "root"}))
	// Output:
	// <nil>
	// principal framework/marathon has no grant run_tasks as user "root"
}
