package rootfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

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

// A Fetch that checked the cache just before another flight stored the
// object, and then joins after that flight ended, must not download again.
func TestLateFlightIsServedFromTheCache(t *testing.T) {
	dir := t.TempDir()
	body := []byte("object body")
	src := filepath.Join(dir, "obj")
	if err := os.WriteFile(src, body, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	digest := hex.EncodeToString(sum[:])
	f, err := NewFetcher(filepath.Join(dir, "cache"), WithFileRoots(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Fetch(context.Background(), "file://"+src, WithSHA256(digest)); err != nil {
		t.Fatal(err)
	}
	// The source is gone: a second download would fail.
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
	s, err := parseURI("file://" + src)
	if err != nil {
		t.Fatal(err)
	}
	fl, err := f.join("sha256:"+digest, s, digest, 0)
	if err != nil {
		t.Fatal(err)
	}
	<-fl.done
	f.leave(fl, false)
	if fl.err != nil || fl.digest != digest || fl.size != int64(len(body)) {
		t.Fatalf("late flight: %v, digest %s, size %d", fl.err, fl.digest, fl.size)
	}
}

// A listener removed by its Fetch (which gave up) is not called again,
// while the download goes on for the other waiters.
func TestUnsubscribedListenerIsNotCalled(t *testing.T) {
	fl := &flight{}
	var gone, kept int
	unsubscribe := fl.subscribe(func(int64, int64) { gone++ })
	fl.subscribe(func(int64, int64) { kept++ })
	fl.report(1, 10)
	unsubscribe()
	fl.report(2, 10)
	if gone != 1 || kept != 2 {
		t.Fatalf("calls: removed listener %d (want 1), kept listener %d (want 2)", gone, kept)
	}
}
