package api_test

import (
	"errors"
	"fmt"

	"github.com/gleaner/gleaner/examples/internal/api"
)

// A 4xx from the master is a *StatusError that matches the package's
// sentinels, so a framework can tell a stale offer from a bad request.
func ExampleStatusError() {
	var err error = &api.StatusError{Code: 404,
		Message: `offer_ids[0] "o7-o-3": no such outstanding offer for framework fw-0 (rescinded, declined, accepted or never made)`}
	switch {
	case errors.Is(err, api.ErrNotFound):
		fmt.Println("stale offer: wait for the next ones")
	case errors.Is(err, api.ErrInvalid):
		fmt.Println("bug in the framework:", err)
	}
	// Output: stale offer: wait for the next ones
}

func ExampleTaskState_Terminal() {
	for _, s := range []api.TaskState{api.TaskRunning, api.TaskKilled} {
		fmt.Println(s, s.Terminal())
	}
	// Output:
	// TASK_RUNNING false
	// TASK_KILLED true
}
