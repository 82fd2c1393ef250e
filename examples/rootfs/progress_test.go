package main

import (
	"strings"
	"testing"
)

func TestProgressBarPastTheAnnouncedSize(t *testing.T) {
	var sb strings.Builder
	b := &progressBar{w: &sb, name: "obj"}
	b.update(3<<20, 2<<20) // must not panic
	b.finish()
	if !strings.Contains(sb.String(), "[##############################] 150%") {
		t.Fatalf("bar %q", sb.String())
	}
}
