//go:build linux

package agent

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// An agent without a master, running a task itself, as a master's LAUNCH
// command would. Without root (or with IsolationNone, as here) tasks run as
// plain processes in their sandboxes. Without a master or etcd to talk to
// it may run insecure; a cluster's agent has Config.TLS.
func Example_withoutMaster() {
	dir, _ := os.MkdirTemp("", "gleaner-example-agent-")
	defer os.RemoveAll(dir)
	a, err := New(Config{Dir: dir, ID: "example", Isolation: IsolationNone, Insecure: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	a.launch(api.TaskInfo{TaskID: "hello", Cmd: "exit 0", Resources: "cpus:0.1;mem:32"})
	for !a.taskStatuses()[0].State.Terminal() {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println(a.taskStatuses()[0].State, a.taskStatuses()[0].Message)
	cancel()
	fmt.Println("stopped:", <-done)
	// Output:
	// TASK_FINISHED exit code 0
	// stopped: <nil>
}
