package rootfs

import "testing"

// A small download can finish before its Fetch subscribes to progress; the
// late listener still gets the final figures (a progress bar must reach 100%).
func TestProgressReplayedToLateSubscriber(t *testing.T) {
	fl := &flight{}
	fl.report(10, 20)
	fl.report(20, 20)
	var done, total int64
	fl.subscribe(func(d, tot int64) { done, total = d, tot })
	if done != 20 || total != 20 {
		t.Fatalf("late subscriber got %d/%d, want 20/20", done, total)
	}
}
