package testenv

import (
	"fmt"
	"testing"
	"time"
)

// pollInterval is how often Eventually checks its condition: short enough
// not to add noticeable time to a test, long enough not to spin a core of a
// loaded 2-core machine.
const pollInterval = 10 * time.Millisecond

// Eventually polls cond until it returns true, and fails t if it has not
// after timeout. The timeout is a generous deadline for a thing that must
// happen (30 s suits a -race run on a loaded 2-core machine), never a latency
// goal: latencies are benchmark metrics. msgAndArgs describe what was awaited,
// as a format string and its arguments ("task %s running", id) or plain
// values.
//
// cond runs on the calling goroutine, so it may call t.Fatal. The failure
// comes only from a check made after the deadline passed, so a test paused
// by the scheduler past its deadline still gets one last look.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	eventually(t, timeout, cond, msgAndArgs...)
}

func eventually(t tb, timeout time.Duration, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, describe(msgAndArgs))
			return
		}
		time.Sleep(pollInterval)
	}
}

func describe(msgAndArgs []any) string {
	if len(msgAndArgs) == 0 {
		return "a condition"
	}
	if format, ok := msgAndArgs[0].(string); ok {
		return fmt.Sprintf(format, msgAndArgs[1:]...)
	}
	return fmt.Sprint(msgAndArgs...)
}
