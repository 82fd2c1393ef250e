package testenv

import (
	"strings"
	"testing"
	"time"
)

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	f := &fakeTB{}
	eventually(f, time.Minute, func() bool { calls++; return calls == 3 }, "three calls")
	if f.failed != "" || calls != 3 {
		t.Fatalf("failed=%q after %d calls, want success after 3", f.failed, calls)
	}
}

func TestEventuallyFailsAfterTheDeadlineNamingWhatItAwaited(t *testing.T) {
	const timeout = 30 * time.Millisecond
	start := time.Now()
	var last time.Time
	f := &fakeTB{}
	eventually(f, timeout, func() bool { last = time.Now(); return false }, "task %s running", "t1")
	if !strings.Contains(f.failed, "task t1 running") || !strings.Contains(f.failed, timeout.String()) {
		t.Fatalf("failure %q does not name what was awaited and the timeout", f.failed)
	}
	if last.Sub(start) < timeout {
		t.Fatalf("last check %v after the start, before the %v deadline", last.Sub(start), timeout)
	}
}

func TestEventuallyDescribesPlainValues(t *testing.T) {
	for _, tc := range []struct {
		args []any
		want string
	}{
		{nil, "a condition"},
		{[]any{"leader elected"}, "leader elected"},
		{[]any{"%d reports", 3}, "3 reports"},
		{[]any{42}, "42"},
	} {
		if got := describe(tc.args); got != tc.want {
			t.Errorf("describe(%v) = %q, want %q", tc.args, got, tc.want)
		}
	}
}
