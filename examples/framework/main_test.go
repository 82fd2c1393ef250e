package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/auth/authtest"
)

func TestRunFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"unknown flag", []string{"-nope"}, 2, "flag provided but not defined"},
		{"bad strategy", []string{"-strategy", "random"}, 2, `strategy "random"`},
		{"stray argument", []string{"extra"}, 2, "unexpected arguments"},
		{"missing apps directory", []string{"-insecure", "-listen", "127.0.0.1:0", "-apps", "/nonexistent/gleaner-apps"}, 1, "apps directory"},
		{"neither TLS nor insecure", []string{"-listen", "127.0.0.1:0"}, 2, "-insecure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(context.Background(), tt.args, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.says) {
				t.Fatalf("stderr %q does not say %q", stderr.String(), tt.says)
			}
		})
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var stderr bytes.Buffer
	// No master answers on port 1: the framework keeps trying to subscribe
	// and stops cleanly when ctx ends.
	f := authtest.Files(t, authtest.Principal(t, "framework/marathon"))
	code := run(ctx, []string{"-master", "https://127.0.0.1:1", "-listen", "127.0.0.1:0", "-apps", "../internal/framework/testdata/apps",
		"-ca", f.CA, "-cert", f.Cert, "-key", f.Key}, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "serving the app API") {
		t.Fatalf("stderr: %s", stderr.String())
	}
}
