package pkgerr_test

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/gleaner/gleaner/internal/pkgerr"
)

var errNotFound = errors.New("rootfs: not found")

func ExampleWrap() {
	cause := fmt.Errorf("%w: base %q", errNotFound, "busybox")
	err := pkgerr.Wrap("rootfs", cause, "layer %s", "/srv/task-1")
	fmt.Println(err)
	fmt.Println(errors.Is(err, errNotFound))
	// Output:
	// rootfs: layer /srv/task-1: not found: base "busybox"
	// true
}

func TestWrapSaysThePackageOnceAndKeepsTheChain(t *testing.T) {
	pathErr := &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}
	for _, tt := range []struct {
		cause error
		want  string
	}{
		{pathErr, "rootfs: unpack a.tar: open /x: file does not exist"},
		{fmt.Errorf("%w: destination /d", errNotFound), "rootfs: unpack a.tar: not found: destination /d"},
		{pkgerr.Wrap("rootfs", pathErr, "archive entry %q", "etc/passwd"), `rootfs: unpack a.tar: archive entry "etc/passwd": open /x: file does not exist`},
		{errors.New("isolate: not found"), "rootfs: unpack a.tar: isolate: not found"},
	} {
		err := pkgerr.Wrap("rootfs", tt.cause, "unpack %s", "a.tar")
		if err.Error() != tt.want {
			t.Errorf("got %q\nwant %q", err, tt.want)
		}
		if !errors.Is(err, tt.cause) {
			t.Errorf("%v does not match its cause", err)
		}
	}
	var pe *fs.PathError
	if err := pkgerr.Wrap("rootfs", pathErr, "unpack"); !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.As/Is do not see through %v", err)
	}
}
