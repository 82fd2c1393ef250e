package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

func enterRoot(cfg Config) error {
	if cfg.Mode == ModePivotRoot {
		return enterPivotRoot(cfg)
	}
	return step("chroot", unix.Chroot(cfg.Root))
}

// enterPivotRoot runs in the helper, which is PID 1 of a new PID namespace
// and alone in a mount namespace whose mounts Go has already made private.
// It follows runc's steps: bind the root onto itself without setuid or
// device files, mount /proc (with its masked and read-only paths), /dev and
// /tmp inside it, then pivot_root(".", ".") and detach the old root.
func enterPivotRoot(cfg Config) error {
	root := cfg.Root
	if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return step("bind mount of the root", err)
	}
	if err := unix.Mount("", root, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return step("remount of the root nosuid,nodev", err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return step("open root", err)
	}
	defer r.Close()
	mounts := []struct {
		dir, fstype, data string
		flags             uintptr
	}{
		{"proc", "proc", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{"dev", "tmpfs", "mode=755,size=64k", unix.MS_NOSUID | unix.MS_NOEXEC},
		{"tmp", "tmpfs", "mode=1777", unix.MS_NOSUID | unix.MS_NODEV},
	}
	for _, m := range mounts {
		target, err := mountPoint(r, root, m.dir)
		if err != nil {
			return step("mount /"+m.dir, err)
		}
		if err := unix.Mount(m.fstype, target, m.fstype, m.flags, m.data); err != nil {
			return step("mount /"+m.dir, fmt.Errorf("%s on %s: %w", m.fstype, target, err))
		}
	}
	if err := maskProc(filepath.Join(root, "proc"), cfg.MaskedPaths, cfg.ReadonlyPaths); err != nil {
		return err
	}
	if err := populateDev(filepath.Join(root, "dev"), cfg.Devices, cfg.UserNS); err != nil {
		return step("populate /dev", err)
	}
	if err := unix.Chdir(root); err != nil {
		return step("pivot_root", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return step("pivot_root", fmt.Errorf("%s: %w", root, err))
	}
	// The old root is now stacked under the new one at "/": detach it.
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return step("detach the old root", err)
	}
	return step("pivot_root", unix.Chdir("/"))
}

// mountPoint returns the host path of dir inside the root, creating it when
// missing. It refuses symlinks: the task root is untrusted, and a mount on
// "proc -> /etc" would land on the host path the link names.
func mountPoint(r *os.Root, root, dir string) (string, error) {
	fi, err := r.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := r.Mkdir(dir, 0o755); err != nil {
			return "", fmt.Errorf("creating mount point /%s: %w", dir, err)
		}
	} else if err != nil {
		return "", fmt.Errorf("mount point /%s: %w", dir, err)
	} else if !fi.IsDir() {
		return "", fmt.Errorf("mount point /%s in the root is a %s, not a directory", dir, fi.Mode().Type())
	}
	return filepath.Join(root, dir), nil
}

// maskProc hides the masked paths and makes the read-only ones so, in the
// fresh /proc at proc (a host path: the pivot has not happened yet). A file
// is covered by /dev/null, a directory by an empty read-only tmpfs.
func maskProc(proc string, masked, readonly []string) error {
	for _, p := range masked {
		target := filepath.Join(proc, filepath.Base(p))
		fi, err := os.Lstat(target)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return step("mask "+p, err)
		}
		if fi.IsDir() {
			err = unix.Mount("tmpfs", target, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0,mode=555")
		} else {
			err = unix.Mount("/dev/null", target, "", unix.MS_BIND, "")
		}
		if err != nil {
			return step("mask "+p, err)
		}
	}
	for _, p := range readonly {
		target := filepath.Join(proc, filepath.Base(p))
		if _, err := os.Lstat(target); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := unix.Mount(target, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return step("read-only "+p, err)
		}
		flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
		if err := unix.Mount("", target, "", flags, ""); err != nil {
			return step("read-only "+p, err)
		}
	}
	return nil
}

// populateDev fills the fresh /dev tmpfs with devices, a private devpts,
// /dev/shm and the usual links. In a user namespace, where mknod of a
// device is refused, the host's nodes are bound onto empty files instead,
// as runc does for rootless containers.
func populateDev(dev string, devices []Device, userNS bool) error {
	for _, n := range devices {
		p := filepath.Join(dev, n.Name)
		if userNS {
			if err := os.WriteFile(p, nil, 0o666); err != nil {
				return err
			}
			if err := unix.Mount(filepath.Join("/dev", n.Name), p, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind /dev/%s: %w", n.Name, err)
			}
			continue
		}
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(n.Major, n.Minor))); err != nil {
			return fmt.Errorf("mknod /dev/%s: %w", n.Name, err)
		}
		if err := unix.Chmod(p, 0o666); err != nil { // undo the umask
			return fmt.Errorf("chmod /dev/%s: %w", n.Name, err)
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(filepath.Join(dev, d), 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("devpts", filepath.Join(dev, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC,
		"newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return fmt.Errorf("mount devpts: %w", err)
	}
	if err := unix.Mount("shm", filepath.Join(dev, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return fmt.Errorf("mount /dev/shm: %w", err)
	}
	links := [][2]string{{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}}
	for _, l := range links {
		if err := os.Symlink(l[0], filepath.Join(dev, l[1])); err != nil {
			return err
		}
	}
	return nil
}
