// Package rootfs gets a task's files onto a machine and runs the task inside
// them: it fetches images (file://, http(s)://, s3://) into a bounded
// content-addressed cache, unpacks them without letting any entry reach
// outside the target, layers a task bundle on an immutable versioned base
// rootfs, packs reproducible bundles, and launches a command inside the
// result — with pivot_root in new mount and PID namespaces where the kernel
// allows it, and with chroot where it does not — placing the command in its
// cgroups before any of its code runs.
//
// The shortest use, on an agent:
//
//	func main() {
//		rootfs.Init() // first: without a helper program, Start re-executes this one
//
//		f, _ := rootfs.NewFetcher("/var/cache/gleaner", rootfs.WithS3Buckets("images"))
//		defer f.Close()
//		obj, _ := f.Fetch(ctx, "s3://images/tasks/web-1.tar.zst", rootfs.WithSHA256(m.SHA256))
//		_ = rootfs.Unpack(ctx, obj.Path, bundleDir)
//		base, _ := rootfs.Bases{Dir: "/srv/bases"}.Path(m.Base.Name, m.Base.Version)
//		root, _ := rootfs.Layer(ctx, base, bundleDir, taskDir, rootfs.LayerAuto)
//		defer root.Remove()
//		p, _ := rootfs.Start(ctx, rootfs.Spec{
//			Root:             root.Path,
//			Args:             []string{"/app/run.sh"},
//			Credential:       &rootfs.Credential{UID: 65534, GID: 65534},
//			CgroupProcsFiles: []string{"/sys/fs/cgroup/cpu/gleaner/task-1/cgroup.procs"},
//		})
//		status, _ := p.Wait(ctx)
//	}
//
// # Fetching
//
// Object URIs usually come from tasks, so the Fetcher trusts none by
// default: file:// only below WithFileRoots directories (opened through an
// os.Root, so no link leads out), plain http only with a digest, S3
// credentials only for WithS3Buckets buckets, WithMaxObjectBytes to bound
// an object, and timeouts on every connection and stalled download.
//
// # Launching
//
// Go cannot run code between fork and exec, so Start runs a helper program:
// rootfs/cmd/gleaner-init (Spec.Helper, or HelperName next to the running
// program), whose start is little more than the Go runtime's own, or else
// the running program itself, re-executed with a marker that Init
// recognises (its whole start-up is then paid on every launch). The launch
// configuration waits in a pipe when the helper starts, so the helper
// enters the root while the parent writes its PID into every cgroup v1
// cgroup.procs file of the Spec; the parent then closes the pipe, and only
// that EOF lets the helper run the command. On cgroup v2,
// Spec.CgroupDir makes the kernel create the helper inside the cgroup
// (SysProcAttr.UseCgroupFD). Package isolate creates those cgroups; this
// package takes only their paths and file descriptors.
//
// The helper then works through named steps, as runc's init does, and a
// failure names its step: the namespaces (cgroup, host name, loopback for
// NetworkNone), the root (see below), rlimits, working directory, the
// capability bounding set (Spec.Capabilities or DefaultCapabilities for
// root, empty for any other user), the ambient set, user and groups,
// no_new_privs, non-dumpable, the seccomp filters (Policy: what Docker's
// default profile refuses, namespace-creating clones, and every other
// architecture's system calls), the parent-death signal, and exec. A
// close-on-exec status pipe carries a failure back to Start.
//
// In ModePivotRoot the helper is cloned into new PID, IPC, UTS and network
// (NetworkNone) namespaces and unshares the mount namespace; it binds the
// root onto itself nosuid,nodev, mounts /proc with MaskedPaths hidden and
// ReadonlyPaths read-only, a tmpfs /dev holding only Devices, a private
// devpts and /dev/shm, and a tmpfs /tmp, then pivot_roots and detaches the
// old root. It stays as PID 1: it forwards SIGTERM and the other usual
// signals to the command's process group, reaps every orphan, and reports
// the command's exit status, as tini does.
//
// ModeChroot is for kernels without mount namespaces. It keeps every
// protection that needs no namespace: the user, the empty (or granted)
// capability sets, no_new_privs, the seccomp filter, the cgroups (and their
// device allowlist, set by package isolate), and the os.Root file handling
// of fetch, unpack, layering and output files. It cannot protect what only
// a namespace hides: the command shares the host's PID namespace (it sees
// host processes and can signal those of its own user, so run it as a user
// no host process uses, never as the host's root), the host's IPC, host
// name and network, has no /proc or /dev of its own (only what the root
// holds), and the root is not remounted nosuid,nodev (no_new_privs and
// Unpack's stripping of setuid bits and device nodes stand in).
//
// A launch therefore runs two programs where a bare fork and exec runs one:
// BenchmarkLaunch reports both. Most of the difference is the helper's
// start (the Go runtime's, with its CPUID probes, which a virtual machine
// traps, and its cgroup probe) and, in ModePivotRoot, the mounts, the init's
// fork of the command and its switch of every thread to the command's user.
// Each of those is a protection or the init; what was not (JSON, a second
// seccomp program, extra threads) is gone.
//
// Go traps handled here: the mount namespace is requested with
// SysProcAttr.Unshareflags (only then does Go make all mounts private),
// the PID namespace with Cloneflags; SysProcAttr.Pdeathsig fires when the
// forking OS thread exits, so Start forks and reaps on one locked thread;
// the helper sets its per-thread attributes (capabilities, no_new_privs,
// parent-death signal) on its locked main thread and execs or forks from
// it, and loads the seccomp filters on every thread (TSYNC).
//
// # Layering
//
// Layer prefers overlayfs (bundle over base as read-only lower layers, a
// private upper directory per task). Without it the base and the bundle are
// copied — with reflinks where the file system has them, never hard links,
// because a task running as root can write through a hard link into the
// shared base.
package rootfs
