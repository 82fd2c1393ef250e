package rootfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Init turns the process into the launch helper when Start re-executed it,
// and returns immediately otherwise. Programs that call Start must call
// Init first thing in main (tests: in TestMain):
//
//	func main() {
//		rootfs.Init()
//		...
//	}
//
// Go cannot run code between fork and exec, so Start re-executes the
// running program (as runc does). The helper blocks on a pipe until the
// parent has placed it in its cgroups, then enters the root (pivot_root or
// chroot), applies working directory, rlimits and credentials, and execs
// the command. It never returns: it execs or exits with status 127.
func Init() {
	if os.Getenv(initEnv) == "" {
		return
	}
	status := os.NewFile(4, "rootfs-init-status")
	unix.CloseOnExec(3)
	unix.CloseOnExec(4)
	err := initMain(os.NewFile(3, "rootfs-init-config"))
	ie := initError{Msg: err.Error()}
	var nf *notFoundError
	ie.NotFound = errors.As(err, &nf)
	data, _ := json.Marshal(ie)
	status.Write(data)
	os.Exit(127)
}

type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

func initMain(cfgPipe *os.File) error {
	// Blocks until the parent has placed us in our cgroups.
	data, err := io.ReadAll(cfgPipe)
	cfgPipe.Close()
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	if len(data) == 0 {
		return errors.New("parent closed the config pipe without releasing the helper")
	}
	var cfg initConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("decoding config: %w", err)
	}
	switch cfg.Mode {
	case ModePivotRoot:
		if err := enterPivotRoot(cfg.Root); err != nil {
			return err
		}
	default:
		if err := unix.Chroot(cfg.Root); err != nil {
			return fmt.Errorf("chroot %s: %w", cfg.Root, err)
		}
	}
	if err := unix.Chdir(cfg.Dir); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return &notFoundError{fmt.Sprintf("working directory %s: %v", cfg.Dir, err)}
		}
		return fmt.Errorf("working directory %s: %w", cfg.Dir, err)
	}
	for _, rl := range cfg.Rlimits {
		if err := unix.Setrlimit(rl.Resource, &unix.Rlimit{Cur: rl.Cur, Max: rl.Max}); err != nil {
			return fmt.Errorf("setrlimit %d (cur %d, max %d): %w", rl.Resource, rl.Cur, rl.Max, err)
		}
	}
	path, err := lookPath(cfg.Args[0], cfg.Env)
	if err != nil {
		return err
	}
	if c := cfg.Cred; c != nil {
		groups := make([]int, len(c.Groups))
		for i, g := range c.Groups {
			groups[i] = int(g)
		}
		// The syscall package applies these to every thread.
		if err := syscall.Setgroups(groups); err != nil {
			return fmt.Errorf("setgroups %v: %w", c.Groups, err)
		}
		if err := syscall.Setgid(int(c.GID)); err != nil {
			return fmt.Errorf("setgid %d: %w", c.GID, err)
		}
		if err := syscall.Setuid(int(c.UID)); err != nil {
			return fmt.Errorf("setuid %d: %w", c.UID, err)
		}
	}
	// A credential change clears the parent-death signal: set it again.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(cfg.Pdeathsig), 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_PDEATHSIG: %w", err)
	}
	// Re-parented: the launcher died before the signal was armed. (Not
	// "ppid == 1": the launcher may itself be PID 1, in a container.)
	if cfg.Mode == ModeChroot && os.Getppid() != cfg.Parent {
		return errors.New("parent exited before the command started")
	}
	err = unix.Exec(path, cfg.Args, cfg.Env)
	if errors.Is(err, unix.ENOENT) {
		return &notFoundError{fmt.Sprintf("exec %s: %v", path, err)}
	}
	return fmt.Errorf("exec %s: %w", path, err)
}

// lookPath finds the command inside the (already entered) root.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if _, err := os.Stat(name); err != nil {
			return "", &notFoundError{fmt.Sprintf("command %s: %v", name, err)}
		}
		return name, nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &notFoundError{fmt.Sprintf("command %q not in PATH %s: %v", name, pathEnv, exec.ErrNotFound)}
}

// enterPivotRoot runs in the helper, which is PID 1 of a new PID namespace
// and alone in a mount namespace whose mounts Go has already made private.
// It follows runc's steps: bind the root onto itself, mount /proc, /dev and
// /tmp inside it, then pivot_root(".", ".") and detach the old root.
func enterPivotRoot(root string) error {
	if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind mount %s: %w", root, err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return err
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
			return err
		}
		if err := unix.Mount(m.fstype, target, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, target, err)
		}
	}
	if err := populateDev(filepath.Join(root, "dev")); err != nil {
		return err
	}
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("chdir %s: %w", root, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", root, err)
	}
	// The old root is now stacked under the new one at "/": detach it.
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	return unix.Chdir("/")
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

// populateDev fills the fresh /dev tmpfs with the usual character devices
// and links.
func populateDev(dev string) error {
	nodes := []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}}
	for _, n := range nodes {
		p := filepath.Join(dev, n.name)
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor))); err != nil {
			return fmt.Errorf("mknod /dev/%s: %w", n.name, err)
		}
		if err := unix.Chmod(p, 0o666); err != nil { // undo the umask
			return fmt.Errorf("chmod /dev/%s: %w", n.name, err)
		}
	}
	links := [][2]string{{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}}
	for _, l := range links {
		if err := os.Symlink(l[0], filepath.Join(dev, l[1])); err != nil {
			return err
		}
	}
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o755); err != nil {
		return err
	}
	return os.Chmod(shm, 0o777|os.ModeSticky)
}
