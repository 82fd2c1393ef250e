//go:build linux

package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gleaner/gleaner/patchelf"
	"github.com/gleaner/gleaner/rootfs"
)

// defaultBasePrograms are the host programs the agent's default base root
// file system holds: a shell and the usual tools a task command line uses.
// sh, sleep and true are required; the others are taken when the host has
// them.
var defaultBasePrograms = []string{
	"sh", "sleep", "true", "false", "cat", "echo", "printf", "ls", "env", "id",
	"mkdir", "rm", "rmdir", "cp", "mv", "ln", "chmod", "touch", "stat", "head",
	"tail", "wc", "tr", "cut", "sort", "uniq", "tee", "xargs", "basename",
	"dirname", "expr", "test", "pwd", "readlink", "dd", "yes", "nproc", "kill",
	"grep", "sed", "awk", "find", "ps", "date", "seq", "uname", "hostname",
	// When the host has busybox, its applets fill in what the host's own
	// programs lack (httpd, nc, wget, ...); it is not needed.
	"busybox",
}

// requiredBasePrograms must be found for the base to be made.
var requiredBasePrograms = []string{"sh", "sleep", "true"}

// seedBase makes the base root file system name/version from the host's own
// programs when it does not exist yet, as the seed of this project did: the
// programs and their whole shared-library closure, C library and loader
// included, are copied into bin/ and lib/ with $ORIGIN-relative run paths
// (patchelf.Bundle), the loader is linked where the programs' PT_INTERP
// names it, and the directories a launch mounts over are made. No package
// (busybox or other) is needed. It is built in a temporary directory and
// renamed, so a half-made base is never seen.
func seedBase(ctx context.Context, bases rootfs.Bases, name, version string, programs []string) error {
	if _, err := bases.Path(name, version); err == nil {
		return nil
	} else if !errors.Is(err, rootfs.ErrNotFound) {
		return err
	}
	var paths, names []string
	busybox := ""
	for _, p := range programs {
		path, err := exec.LookPath(p)
		if err != nil {
			for _, r := range requiredBasePrograms {
				if r == p {
					return fmt.Errorf("seed base %s/%s: %s: %w", name, version, p, err)
				}
			}
			continue
		}
		if filepath.Base(p) == "busybox" {
			busybox = path
		}
		paths, names = append(paths, path), append(names, filepath.Base(p))
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
	if _, err := patchelf.Bundle(ctx, tmp, paths, patchelf.WithLibc()); err != nil {
		return fmt.Errorf("seed base %s/%s: %w", name, version, err)
	}
	// A program bundles under its file's name (/bin/sh is dash on Debian):
	// the names asked for link to it.
	for i, n := range names {
		if _, err := os.Lstat(filepath.Join(tmp, "bin", n)); err == nil {
			continue
		}
		real, err := filepath.EvalSymlinks(paths[i])
		if err != nil {
			return err
		}
		if err := os.Symlink(filepath.Base(real), filepath.Join(tmp, "bin", n)); err != nil {
			return err
		}
	}
	if err := linkLoader(tmp, paths); err != nil {
		return fmt.Errorf("seed base %s/%s: %w", name, version, err)
	}
	if busybox != "" {
		if err := linkApplets(ctx, tmp, busybox); err != nil {
			return fmt.Errorf("seed base %s/%s: %w", name, version, err)
		}
	}
	for _, d := range []string{"proc", "dev", "tmp", "etc", "root", "usr"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return err
		}
	}
	// The minimal /dev's nodes, for chroot mode, which mounts no /dev of
	// its own (pivot_root mode mounts a fresh one over this).
	for _, d := range rootfs.Devices {
		p := filepath.Join(tmp, "dev", d.Name)
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(d.Major, d.Minor))); err != nil {
			return fmt.Errorf("seed base %s/%s: mknod /dev/%s: %w", name, version, d.Name, err)
		}
		if err := os.Chmod(p, 0o666); err != nil {
			return err
		}
	}
	// Scripts name /usr/bin/env and /usr/bin/* as often as /bin/*.
	if err := os.Symlink("../bin", filepath.Join(tmp, "usr", "bin")); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(tmp, "tmp"), 0o1777); err != nil {
		return err
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

// linkLoader makes the dynamic loader the programs name in PT_INTERP
// (/lib64/ld-linux-x86-64.so.2 on x86-64) reach the one Bundle copied into
// lib/ (as it is: a loader takes no run path).
func linkLoader(base string, programs []string) error {
	for _, p := range programs {
		interp, err := interpreter(p)
		if err != nil || interp == "" {
			continue // static
		}
		bundled := filepath.Join(base, "lib", filepath.Base(interp))
		if _, err := os.Stat(bundled); err != nil {
			return fmt.Errorf("loader %s of %s was not bundled: %w", interp, p, err)
		}
		at := filepath.Join(base, interp)
		if _, err := os.Lstat(at); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
			return err
		}
		rel, err := filepath.Rel(filepath.Dir(at), bundled)
		if err != nil {
			return err
		}
		if err := os.Symlink(rel, at); err != nil {
			return err
		}
	}
	return nil
}

// interpreter returns a program's PT_INTERP, or "" for a static program.
func interpreter(path string) (string, error) {
	f, err := patchelf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	interp, err := f.Interpreter()
	if errors.Is(err, patchelf.ErrNoInterpreter) {
		return "", nil
	}
	return interp, err
}

// linkApplets links each applet of the bundled busybox that the host's
// programs did not already provide.
func linkApplets(ctx context.Context, base, busybox string) error {
	out, err := exec.CommandContext(ctx, busybox, "--list").Output()
	if err != nil {
		return nil // not a busybox that lists its applets
	}
	bin := filepath.Join(base, "bin")
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if _, err := os.Lstat(filepath.Join(bin, applet)); err == nil {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(bin, applet)); err != nil {
			return err
		}
	}
	return nil
}
