package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/gleaner/gleaner/rootfs"
)

// buildHelper builds the agents' launch helper into dir with the go tool
// that `go run ./examples/demo` used, and returns its path, or "" when
// there is no go tool or no module source (the agents then re-execute the
// demo itself, which works but starts each task several times slower).
func buildHelper(ctx context.Context, dir string) string {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return ""
	}
	out := filepath.Join(dir, rootfs.HelperName)
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", out, rootfs.HelperPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := cmd.Run(); err != nil {
		return ""
	}
	return out
}
