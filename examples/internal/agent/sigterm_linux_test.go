//go:build linux

package agent

import (
	"os"
	"testing"
)

func TestInitIgnoringTerm(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		want         bool
	}{
		{"namespace init without handlers", "Name:\tsleep\nNSpid:\t3690\t1\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\n", true},
		{"namespace init trapping TERM", "Name:\tsh\nNSpid:\t3690\t1\nSigCgt:\t0000000000004002\n", false},
		{"namespace init catching other signals", "Name:\tsh\nNSpid:\t3690\t1\nSigCgt:\t0000000000010002\n", true},
		{"host process without handlers dies of TERM", "Name:\tsleep\nNSpid:\t3690\nSigCgt:\t0000000000000000\n", false},
		{"second process of a namespace", "Name:\tsleep\nNSpid:\t3690\t7\nSigCgt:\t0000000000000000\n", false},
		{"no SigCgt line keeps the grace", "Name:\tsleep\nNSpid:\t3690\t1\n", false},
		{"garbled SigCgt keeps the grace", "NSpid:\t3690\t1\nSigCgt:\tzz\n", false},
	} {
		if got := initIgnoringTerm([]byte(tc.status)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The test process is no namespace's init (and Go catches SIGTERM): its
// grace is kept.
func TestTermIsNoOpForThisProcess(t *testing.T) {
	if termIsNoOp(os.Getpid()) {
		t.Fatal("termIsNoOp(self) = true")
	}
}
