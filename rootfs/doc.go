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
//		rootfs.Init() // first: Start re-executes this program as its helper
//
//		f, _ := rootfs.NewFetcher("/var/cache/gleaner")
//		defer f.Close()
//		obj, _ := f.Fetch(ctx, "s3://images/tasks/web-1.tar.zst", rootfs.WithSHA256(m.SHA256))
//		_ = rootfs.Unpack(ctx, obj.Path, bundleDir)
//		base, _ := rootfs.Bases{Dir: "/srv/bases"}.Path(m.Base.Name, m.Base.Version)
//		root, _ := rootfs.Layer(ctx, base, bundleDir, taskDir, rootfs.LayerAuto)
//		defer root.Remove()
//		p, _ := rootfs.Start(ctx, rootfs.Spec{
//			Root:             root.Path,
//			Args:             []string{"/app/run.sh"},
//			CgroupProcsFiles: []string{"/sys/fs/cgroup/cpu/gleaner/task-1/cgroup.procs"},
//		})
//		status, _ := p.Wait(ctx)
//	}
//
// # Launching
//
// Go cannot run code between fork and exec, so Start re-executes the running
// program (/proc/self/exe) with a marker in its environment; Init, called
// first in main, recognises it and becomes a small helper. The helper blocks
// reading a pipe; the parent writes the helper's PID into every cgroup v1
// cgroup.procs file of the Spec and only then sends the launch
// configuration. The helper enters the root, sets the working directory,
// rlimits and credentials, re-arms the parent-death signal (a credential
// change clears it) and execs the command. A second, close-on-exec pipe
// carries a failure back to Start; EOF on it means the exec succeeded. On
// cgroup v2, Spec.CgroupDir makes the kernel create the helper inside the
// cgroup (SysProcAttr.UseCgroupFD). Package isolate creates those cgroups;
// this package takes only their paths and file descriptors.
//
// Go traps handled here: the mount namespace is requested with
// SysProcAttr.Unshareflags (only then does Go make all mounts private),
// the PID namespace with Cloneflags; SysProcAttr.Pdeathsig fires when the
// forking OS thread exits, so Start forks and reaps on one locked thread;
// SysProcAttr.Chroot would run before Dir, so the helper chroots and
// changes directory itself.
//
// # Layering
//
// Layer prefers overlayfs (bundle over base as read-only lower layers, a
// private upper directory per task). Without it the base and the bundle are
// copied — with reflinks where the file system has them, never hard links,
// because a task running as root can write through a hard link into the
// shared base.
package rootfs
