//go:build linux

package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gleaner/gleaner/rootfs"
)

// seedBusybox makes the base rootfs name/version from a static busybox
// binary when it does not exist yet: bin/busybox with a symlink per applet,
// and the directories a launch mounts over. It is built in a temporary
// directory and renamed, so a half-made base is never seen.
func seedBusybox(ctx context.Context, bases rootfs.Bases, name, version, busybox string) error {
	if _, err := bases.Path(name, version); err == nil {
		return nil
	} else if !errors.Is(err, rootfs.ErrNotFound) {
		return err
	}
	out, err := exec.CommandContext(ctx, busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("seed base %s/%s: %s --list: %w", name, version, busybox, err)
	}
	parent := filepath.Join(bases.Dir, name)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".seed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"bin", "proc", "dev", "tmp", "etc", "root"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(tmp, "tmp"), 0o1777); err != nil {
		return err
	}
	if err := copyFile(busybox, filepath.Join(tmp, "bin", "busybox"), 0o755); err != nil {
		return fmt.Errorf("seed base %s/%s: %w", name, version, err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(tmp, "bin", applet)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for p, content := range files {
		if err := os.WriteFile(filepath.Join(tmp, p), []byte(content), 0o644); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(parent, version)); err != nil {
		return fmt.Errorf("seed base %s/%s: %w", name, version, err)
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
