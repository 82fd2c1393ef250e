//go:build linux

package agent_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gleaner/gleaner/examples/internal/agent"
	"github.com/gleaner/gleaner/examples/internal/api"
)

// An agent without a master, running a task itself. Without root (or with
// IsolationNone, as here) tasks run as plain processes in their sandboxes.
// Without a master or etcd to talk to it may run insecure; a cluster's
// agent has Config.TLS.
func Example() {
	dir, _ := os.MkdirTemp("", "gleaner-example-agent-")
	defer os.RemoveAll(dir)
	a, err := agent.New(agent.Config{Dir: dir, ID: "example", Isolation: agent.IsolationNone, Insecure: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	a.Launch(api.TaskInfo{TaskID: "hello", Cmd: "exit 0", Resources: "cpus:0.1;mem:32"})
	for !a.Tasks()[0].State.Terminal() {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println(a.Tasks()[0].State, a.Tasks()[0].Message)
	cancel()
	fmt.Println("stopped:", <-done)
	// Output:
	// TASK_FINISHED exit code 0
	// stopped: <nil>
}
