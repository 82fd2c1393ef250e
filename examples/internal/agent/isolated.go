//go:build linux

package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gleaner/gleaner/isolate"
	"github.com/gleaner/gleaner/reserve"
	"github.com/gleaner/gleaner/rootfs"
)

// isolatedRuntime runs each task in its own cgroup under the agent's parent
// cgroup, in a root file system layered on a base, entered with pivot_root
// or chroot.
type isolatedRuntime struct {
	iso      *isolate.Isolator
	log      *slog.Logger
	bases    rootfs.Bases
	fetcher  *rootfs.Fetcher
	mode     rootfs.LaunchMode
	base     rootfs.Ref // default base
	helper   string
	taskUser string
	pidsMax  int64
}

func newIsolatedRuntime(cfg Config, fetcher *rootfs.Fetcher) (*isolatedRuntime, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("not root")
	}
	iso, err := isolate.New(isolate.WithParent(cfg.CgroupParent), isolate.WithLogger(cfg.Logger),
		isolate.WithSoftCPUFallback())
	if err != nil {
		return nil, err
	}
	f := iso.Features()
	if !f.Memory || !(f.CPUQuota || f.CPUShares) || f.Mode.Version() == 0 {
		iso.Destroy(context.Background())
		return nil, fmt.Errorf("cgroups lack cpu or memory controllers (%s)", f)
	}
	// Know the task cgroups a previous agent left, so that adopt finds them.
	if _, err := iso.Load(); err != nil {
		cfg.Logger.Warn("list task cgroups", "err", err)
	}
	return &isolatedRuntime{
		iso:      iso,
		log:      cfg.Logger,
		bases:    rootfs.Bases{Dir: cfg.basesDir()},
		fetcher:  fetcher,
		mode:     cfg.LaunchMode,
		base:     rootfs.Ref{Name: cfg.BaseName, Version: cfg.BaseVersion},
		helper:   cfg.InitHelper,
		taskUser: taskUserText(cfg),
		pidsMax:  cfg.TaskPidsMax,
	}, nil
}

// taskUserText says who tasks that name no user run as.
func taskUserText(cfg Config) string {
	if !cfg.TaskUIDs.IsZero() {
		return "UIDs " + cfg.TaskUIDs.String() + ", one each"
	}
	return cfg.TaskUser
}

func (r *isolatedRuntime) isolation() string {
	mode := r.mode
	if mode == rootfs.ModeAuto {
		mode = rootfs.ModeChroot
		if rootfs.PivotRootSupported() {
			mode = rootfs.ModePivotRoot
		}
	}
	return fmt.Sprintf("cgroup v%d, %s, seccomp, no_new_privs, tasks as %s", r.iso.Features().Mode.Version(), mode, r.taskUser)
}

func (r *isolatedRuntime) ownCgroup() string { return r.iso.Parent() }
func (r *isolatedRuntime) lends() bool       { return true }

func limitsOf(res reserve.Resources, cpus float64) isolate.Limits {
	return isolate.Limits{
		CPUs:        max(cpus, isolate.MinCPUs),
		CPUMode:     isolate.Hard,
		MemoryBytes: max(int64(res.MemoryBytes), isolate.MinMemoryBytes),
	}
}

func (r *isolatedRuntime) start(ctx context.Context, t *task) (*proc, error) {
	root, err := r.prepareRoot(ctx, t)
	if err != nil {
		return nil, err
	}
	t.root = root
	limits := limitsOf(t.res, t.res.CPUCores)
	limits.PidsMax = r.pidsMax
	cg, err := r.iso.Create(t.id, limits)
	if errors.Is(err, isolate.ErrExists) {
		// A cgroup left by a task of the same ID that is not running.
		if old, terr := r.iso.Task(t.id); terr == nil {
			old.Destroy(ctx)
		}
		cg, err = r.iso.Create(t.id, limits)
	}
	if err != nil {
		return nil, fmt.Errorf("task cgroup: %w", err)
	}
	t.cg = cg
	spec := r.spec(t, taskArgs(t))
	spec.StdoutFile, spec.StderrFile = t.stdout, t.stderr
	// SIGCONT does nothing to a running task: tasks outlive the agent, so
	// that the next agent adopts them.
	spec.ParentDeathSignal = syscall.SIGCONT
	p, err := r.launch(ctx, t, spec)
	if err != nil {
		return nil, err
	}
	ticks, _ := startTicks(p.Pid())
	out := &proc{pid: p.Pid(), startTicks: ticks, done: make(chan struct{})}
	go func() {
		defer close(out.done)
		<-p.Done()
		st, _ := p.Wait(context.Background())
		out.status = exitStatus{code: st.Code, signal: st.Signal, known: true}
	}()
	return out, nil
}

// spec is how a command of t is launched: in its root, with its
// environment. The task's own command and its COMMAND health checks both
// go through it and launch, so that a check sees what the task sees.
func (r *isolatedRuntime) spec(t *task, args []string) rootfs.Spec {
	return rootfs.Spec{Root: t.root, Args: args, Env: taskEnv(t), Mode: r.mode,
		// The user the policy chose; root keeps only rootfs's default
		// capabilities, any other user none.
		Credential:    t.cred,
		UserNamespace: t.userNS,
		Network:       taskNetwork(t.rec.Info.Network),
		Helper:        r.helper,
	}
}

// launch starts spec in t's cgroup.
func (r *isolatedRuntime) launch(ctx context.Context, t *task, spec rootfs.Spec) (*rootfs.Process, error) {
	if dir, err := t.cg.OpenDir(); err == nil {
		defer dir.Close()
		spec.CgroupDir = dir
	} else {
		spec.CgroupProcsFiles = t.cg.ProcsFiles()
	}
	return rootfs.Start(ctx, spec)
}

// exec runs args in t's root and cgroup, as a COMMAND health check: it
// counts against the task's limits. ctx bounds it; then it is killed.
func (r *isolatedRuntime) exec(ctx context.Context, t *task, args []string) (bool, error) {
	if t.cg == nil || t.root == "" {
		return false, errors.New("the task has no root yet")
	}
	if t.cred == nil {
		// Not the launcher's root: a check runs as the task does.
		return false, errors.New("the task's user is not known")
	}
	p, err := r.launch(ctx, t, r.spec(t, args))
	if err != nil {
		return false, err
	}
	st, err := p.Wait(ctx)
	if err != nil {
		stop, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		p.Stop(stop, 0)
		return false, fmt.Errorf("timed out: %w", err)
	}
	return st.Success(), nil
}

// prepareRoot fetches and unpacks the task's image, if any, and layers it on
// its base in the sandbox.
func (r *isolatedRuntime) prepareRoot(ctx context.Context, t *task) (string, error) {
	base := r.base
	bundle := filepath.Join(t.sandbox, "bundle")
	img := t.rec.Info.Image
	if img != nil {
		if img.Base != "" {
			base.Name = img.Base
		}
		if img.Version != "" {
			base.Version = img.Version
		}
	}
	// The image and the fetched artifacts count against the task's disk.
	budget := int64(t.res.DiskBytes)
	if img != nil && img.URI != "" {
		if budget <= 0 {
			return "", fmt.Errorf("image %s: %w: the task has no disk resources to hold it", img.URI, rootfs.ErrTooLarge)
		}
		opts := []rootfs.FetchOption{rootfs.WithMaxObjectBytes(budget)}
		if img.SHA256 != "" {
			opts = append(opts, rootfs.WithSHA256(img.SHA256))
		}
		obj, err := r.fetcher.Fetch(ctx, img.URI, opts...)
		if err != nil {
			return "", fmt.Errorf("fetch image: %w", err)
		}
		if err := rootfs.Unpack(ctx, obj.Path, bundle, rootfs.WithMaxBytes(budget)); err != nil {
			return "", fmt.Errorf("unpack image: %w", err)
		}
		budget -= obj.Size
	} else if err := os.Mkdir(bundle, 0o755); err != nil {
		return "", err
	}
	if _, err := fetchArtifacts(ctx, r.fetcher, t.rec.Info.Fetch, bundle, budget); err != nil {
		return "", err
	}
	basePath, err := r.bases.Path(base.Name, base.Version)
	if err != nil {
		return "", fmt.Errorf("base rootfs: %w", err)
	}
	tr, err := rootfs.Layer(ctx, basePath, bundle, filepath.Join(t.sandbox, "rootfs"), rootfs.LayerAuto)
	if err != nil {
		return "", fmt.Errorf("layer rootfs: %w", err)
	}
	// The top of the root is the task's working directory (where its
	// artifacts were fetched): the task's user owns it, as Mesos's
	// sandbox belongs to the task's user. Only the task's own layer
	// changes; the base stays read-only below it.
	if c := t.cred; c != nil {
		uid, gid := int(c.UID), int(c.GID)
		if m := t.userNS; m != nil {
			// Root inside is this host user; its launch helper runs as
			// it from the start and must reach the root.
			uid, gid = int(m.HostUID), int(m.HostGID)
			if err := os.Chmod(tr.Dir(), 0o711); err != nil {
				return "", fmt.Errorf("task root directory: %w", err)
			}
		}
		if err := os.Lchown(tr.Path, uid, gid); err != nil {
			return "", fmt.Errorf("task root owner: %w", err)
		}
	}
	return tr.Path, nil
}

func (r *isolatedRuntime) adopt(ctx context.Context, t *task) (*proc, bool) {
	cg, err := r.iso.Task(t.id)
	if err != nil {
		return nil, false
	}
	t.cg = cg
	t.root = filepath.Join(t.sandbox, "rootfs", "root")
	running := func() bool {
		pids, err := cg.PIDs()
		return err == nil && len(pids) > 0
	}
	if !running() {
		return nil, false
	}
	if l := cg.Limits(); l.CPUs > 0 {
		t.cpuLimit = l.CPUs
	}
	return pollProc(ctx, t.rec.PID, t.rec.StartTicks, running), true
}

func (r *isolatedRuntime) usage(ctx context.Context, t *task) (float64, float64, error) {
	if t.cg == nil {
		return 0, 0, nil
	}
	st, err := t.cg.Stats()
	if err != nil {
		return 0, 0, err
	}
	return st.CPUUsage.Seconds(), float64(st.MemoryBytes), nil
}

func (r *isolatedRuntime) throttle(t *task, cpus float64) error {
	if t.cg == nil {
		return errors.New("task has no cgroup")
	}
	l := t.cg.Limits()
	l.CPUs = max(cpus, isolate.MinCPUs)
	return t.cg.Update(l)
}

func (r *isolatedRuntime) kill(ctx context.Context, t *task, grace time.Duration) error {
	if t.cg == nil {
		return nil
	}
	if pids, err := t.cg.PIDs(); err == nil {
		for _, pid := range pids {
			unix.Kill(pid, unix.SIGTERM)
		}
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	if t.proc != nil && !termIsNoOp(t.proc.pid) {
		select {
		case <-t.proc.done:
		case <-timer.C:
		case <-ctx.Done():
		}
	}
	// Also reaches what the main process left behind.
	return t.cg.Kill(ctx)
}

func (r *isolatedRuntime) oomKilled(t *task) bool {
	if t.cg == nil {
		return false
	}
	st, err := t.cg.Stats()
	return err == nil && st.OOMKills > 0
}

func (r *isolatedRuntime) release(ctx context.Context, t *task) error {
	var errs []error
	if t.cg != nil {
		errs = append(errs, t.cg.Destroy(ctx))
	} else if cg, err := r.iso.Task(t.id); err == nil {
		errs = append(errs, cg.Destroy(ctx))
	}
	errs = append(errs, unmountRoot(t.sandbox))
	return errors.Join(errs...)
}

// unmountRoot unmounts the overlay a task root may have in its sandbox;
// rootfs.TaskRoot.Remove does the same, but after an agent restart only the
// path is known.
func unmountRoot(sandbox string) error {
	root := filepath.Join(sandbox, "rootfs", "root")
	err := unix.Unmount(root, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", root, err)
	}
	return nil
}

func (r *isolatedRuntime) resize(res reserve.Resources) error {
	return r.iso.Resize(max(res.CPUCores, isolate.MinCPUs), max(int64(res.MemoryBytes), isolate.MinMemoryBytes))
}

func (r *isolatedRuntime) sweep(ctx context.Context, known map[string]bool) {
	tasks, err := r.iso.Load()
	if err != nil {
		r.log.Warn("list task cgroups", "err", err)
		return
	}
	for _, cg := range tasks {
		if known[cg.Name()] {
			continue
		}
		r.log.Info("removing a task cgroup no task record names", "cgroup", cg.Name())
		if err := cg.Destroy(ctx); err != nil {
			r.log.Warn("remove orphan cgroup", "cgroup", cg.Name(), "err", err)
		}
	}
}

func (r *isolatedRuntime) close(ctx context.Context, keep bool) error {
	if keep {
		return nil
	}
	return r.iso.Destroy(ctx)
}

// isolatedDescription is used in tests to recognise isolation.
func isIsolated(s string) bool { return strings.HasPrefix(s, "cgroup") }
