package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
)

// BuildProgram builds the main package pkg (an import path of this module,
// such as "github.com/gleaner/gleaner/rootfs/cmd/gleaner-init") into dir
// with the go tool that runs the tests, and returns the program's path. It
// takes no testing.TB so that a TestMain can build a helper once for every
// test of a package:
//
//	dir, _ := os.MkdirTemp("", "gleaner-test-")
//	helper, err := testenv.BuildProgram(rootfs.HelperPackage, dir)
//	...
//	code := m.Run()
//	os.RemoveAll(dir)
//
// The binary is static (CGO_ENABLED=0), as the agent's install ships it.
func BuildProgram(pkg, dir string) (string, error) {
	// go test puts the go tool that runs it first on the test's PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("testenv: no go tool on PATH to build %s: %w", pkg, err)
	}
	out := filepath.Join(dir, path.Base(pkg))
	cmd := exec.Command(goTool, "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testenv: go build %s: %v\n%s", pkg, err, msg)
	}
	return out, nil
}
