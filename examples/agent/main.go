//go:build linux

// Command agent is Gleaner's example agent: it measures the business's usage
// of this machine, lends what is idle to the master's frameworks, and runs
// their tasks in cgroups and their own root file systems (see package
// examples/internal/agent).
//
// It runs from one directory: the binary (with any bundled libraries), its
// configuration agent.json, task state, sandboxes, base root file systems and
// the image cache all live in -dir (default: the binary's directory, or its
// parent when the binary sits in a bundle's bin/). It writes nothing else but
// its cgroups. Install, run, uninstall:
//
//	./agent install -dir /opt/gleaner-agent -masters https://10.0.0.1:5050 -etcd https://10.0.0.1:2379 \
//	    -ca pki/ca.pem -cert pki/agent-node7.pem -key pki/agent-node7-key.pem -attributes 'rack:r1'
//	/opt/gleaner-agent/bin/agent
//	curl --unix-socket /opt/gleaner-agent/operator/agent.sock http://agent/reservation
//	kill -TERM <pid>; rm -rf /opt/gleaner-agent
//
// install copies the agent with the shared libraries it loads (and those of
// any -helpers programs) into <dir>/bin and <dir>/lib, with $ORIGIN-relative
// run paths (patchelf.Bundle), bundles the launch helper gleaner-init found
// beside the agent's binary into <dir>/bin too (static: as it is; build both first:
// go build ./examples/agent; CGO_ENABLED=0 go build ./rootfs/cmd/gleaner-init),
// copies the CA, certificate and key into <dir>/tls, and writes
// <dir>/agent.json from the flags. Paths in agent.json are relative to
// <dir>. The certificate (examples/certs issue -principal agent/<id>) is
// the agent's identity to the masters and etcd, and is read again when its
// files change. -insecure speaks plaintext instead.
//
// Tasks run isolated or not at all: an agent that cannot isolate (not root,
// no cgroups) lends nothing and says why, unless started with
// -isolation=none. They run as a UID of their own from -task-uids when the
// operator reserves a range (no host process or other task then shares a
// task's user), else as -task-user (default nobody), as root only
// for the frameworks' roles in -root-roles, and fetch file:// URIs only from
// -fetch-dirs and use the AWS credentials only for -s3-buckets.
//
// SIGINT and SIGTERM stop the agent and its tasks and remove their cgroups and
// sandboxes. SIGUSR1 stops the agent leaving its tasks running; the next agent
// started on the same directory adopts them (as after a crash or an upgrade).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gleaner/gleaner/examples/internal/agent"
	"github.com/gleaner/gleaner/examples/internal/auth"
	"github.com/gleaner/gleaner/internal/pki"
	"github.com/gleaner/gleaner/rootfs"
)

func main() {
	rootfs.Init() // first: tasks are launched by re-executing this binary
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGUSR1)
	go func() {
		sig := <-sigs
		if sig == syscall.SIGUSR1 {
			cancel(agent.ErrRestart)
			return
		}
		cancel(fmt.Errorf("signal %v", sig))
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

// fileConfig is agent.json: the flags' names and values.
type fileConfig struct {
	ID           string   `json:"id,omitempty"`
	Listen       string   `json:"listen,omitempty"`
	Masters      []string `json:"masters,omitempty"`
	Etcd         []string `json:"etcd,omitempty"`
	Prefix       string   `json:"prefix,omitempty"`
	Attributes   string   `json:"attributes,omitempty"`
	Capacity     string   `json:"capacity,omitempty"`
	Ports        string   `json:"ports,omitempty"`
	Interval     string   `json:"interval,omitempty"`
	Isolation    string   `json:"isolation,omitempty"`
	CgroupParent string   `json:"cgroup_parent,omitempty"`
	FetchDirs    []string `json:"fetch_dirs,omitempty"`
	S3Buckets    []string `json:"s3_buckets,omitempty"`
	TaskUser     string   `json:"task_user,omitempty"`
	TaskUIDs     string   `json:"task_uids,omitempty"`
	RootRoles    []string `json:"root_roles,omitempty"`
	// LogMaxMB, SandboxRetention and SandboxWatermark bound what task
	// sandboxes keep: agent.Config's LogMaxBytes (in MiB here),
	// SandboxRetention and SandboxDiskWatermark.
	LogMaxMB         int64   `json:"log_max_mb,omitempty"`
	SandboxRetention string  `json:"sandbox_retention,omitempty"`
	SandboxWatermark float64 `json:"sandbox_watermark,omitempty"`
	// TLS files; relative paths are relative to the agent's directory.
	CA             string `json:"ca,omitempty"`
	Cert           string `json:"cert,omitempty"`
	Key            string `json:"key,omitempty"`
	Insecure       bool   `json:"insecure,omitempty"`
	OperatorSocket string `json:"operator_socket,omitempty"`
}

// flags are the command line: the directory, the configuration file and
// every configuration setting.
type flags struct {
	fs         *flag.FlagSet
	dir        string
	configFile string
	helpers    string
	verbose    bool
	fc         fileConfig
	masters    string
	etcd       string
	fetchDirs  string
	s3Buckets  string
	rootRoles  string
	interval   time.Duration
	retention  time.Duration
}

func newFlags(name string, stderr io.Writer) *flags {
	f := &flags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(stderr)
	fs.StringVar(&f.dir, "dir", "", "the agent's directory (default: the binary's)")
	fs.StringVar(&f.configFile, "config", "", "JSON configuration (default <dir>/agent.json if present); flags override it")
	fs.StringVar(&f.fc.ID, "id", "", "agent ID (default: host name)")
	fs.StringVar(&f.fc.Listen, "listen", "127.0.0.1:5051", "address of the agent's HTTP endpoint")
	fs.StringVar(&f.masters, "masters", "", "comma-separated master URLs")
	fs.StringVar(&f.etcd, "etcd", "", "comma-separated etcd endpoints")
	fs.StringVar(&f.fc.Prefix, "prefix", "", "etcd key prefix (default /gleaner)")
	fs.StringVar(&f.fc.Attributes, "attributes", "", "local attributes, e.g. 'rack:r1;zone:east'")
	fs.StringVar(&f.fc.Capacity, "capacity", "", "resources to consider the machine's, e.g. 'cpus:2;mem:4096'")
	fs.StringVar(&f.fc.Ports, "ports", "", "host ports offered to tasks, as Mesos ranges (default [31000-32000])")
	fs.DurationVar(&f.interval, "interval", agent.DefaultInterval, "sampling interval")
	fs.StringVar(&f.fc.Isolation, "isolation", agent.IsolationAuto, "auto (isolate every task, or lend nothing) or none (run tasks unisolated, reported to the master)")
	fs.StringVar(&f.fc.CgroupParent, "cgroup-parent", "", "parent cgroup of the tasks (default /gleaner-<id>)")
	fs.StringVar(&f.fc.CA, "ca", "", "PEM file of the cluster's CA")
	fs.StringVar(&f.fc.Cert, "cert", "", "PEM file of the agent's certificate (agent/<id>; reloaded when it changes)")
	fs.StringVar(&f.fc.Key, "key", "", "PEM file of the agent's private key")
	fs.BoolVar(&f.fc.Insecure, "insecure", false, "speak plaintext to the masters and etcd and on -listen, authenticating nobody")
	fs.StringVar(&f.fc.OperatorSocket, "operator-socket", "", "unix socket of GET/PUT /reservation (default <dir>/operator/agent.sock)")
	fs.StringVar(&f.fetchDirs, "fetch-dirs", "", "comma-separated host directories tasks may fetch file:// URIs from (default none)")
	fs.StringVar(&f.s3Buckets, "s3-buckets", "", "comma-separated S3 buckets the agent's AWS credentials are used for (default none: anonymous)")
	fs.StringVar(&f.fc.TaskUser, "task-user", "", "user tasks run as when they name none and -task-uids is unset (default nobody)")
	fs.StringVar(&f.fc.TaskUIDs, "task-uids", "", "range of host UIDs no account uses, e.g. 200000-265535: each task that names no user runs as one of its own (default unset: -task-user)")
	fs.StringVar(&f.rootRoles, "root-roles", "", "comma-separated framework roles whose tasks may run as root ('*': any; default none)")
	fs.Int64Var(&f.fc.LogMaxMB, "log-max-mb", 0, "MiB each of a task's stdout and stderr keeps, rotated (default 8)")
	fs.DurationVar(&f.retention, "sandbox-retention", 0, "how long an ended task's sandbox and logs are kept (default 24h)")
	fs.Float64Var(&f.fc.SandboxWatermark, "sandbox-watermark", 0, "fraction of the disk above which kept sandboxes go sooner, oldest first (default 0.9)")
	fs.BoolVar(&f.verbose, "v", false, "log debug messages")
	return f
}

func (f *flags) parse(args []string) error {
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if f.fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", f.fs.Arg(0))
	}
	f.fc.Masters, f.fc.Etcd = split(f.masters), split(f.etcd)
	f.fc.FetchDirs, f.fc.S3Buckets, f.fc.RootRoles = split(f.fetchDirs), split(f.s3Buckets), split(f.rootRoles)
	f.fc.Interval = f.interval.String()
	if f.retention > 0 {
		f.fc.SandboxRetention = f.retention.String()
	}
	return nil
}

// merged returns the configuration file's settings overridden by the flags
// given on the command line. A flag's JSON name is its name with '_' for
// '-', so the override goes through the JSON form of both.
func (f *flags) merged(file fileConfig) fileConfig {
	var fromFile, fromFlags map[string]json.RawMessage
	b, _ := json.Marshal(file)
	json.Unmarshal(b, &fromFile)
	b, _ = json.Marshal(f.fc)
	json.Unmarshal(b, &fromFlags)
	f.fs.Visit(func(fl *flag.Flag) {
		key := strings.ReplaceAll(fl.Name, "-", "_")
		if v, ok := fromFlags[key]; ok {
			fromFile[key] = v
		} else {
			delete(fromFile, key) // set to "" on the command line
		}
	})
	var out fileConfig
	b, _ = json.Marshal(fromFile)
	json.Unmarshal(b, &out)
	if out.Listen == "" {
		out.Listen = f.fc.Listen
	}
	return out
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "install" {
		return install(ctx, args[1:], stderr)
	}
	f := newFlags("agent", stderr)
	if err := f.parse(args); err != nil {
		fmt.Fprintln(stderr, "agent:", err)
		return 2
	}
	if f.dir == "" {
		d, err := binaryDir()
		if err != nil {
			fmt.Fprintln(stderr, "agent:", err)
			return 1
		}
		f.dir = d
	}
	var file fileConfig
	if err := readConfig(f.configFile, filepath.Join(f.dir, configName), &file); err != nil {
		fmt.Fprintln(stderr, "agent:", err)
		return 2
	}
	fc := f.merged(file)
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	tlsFlags := auth.Flags{Insecure: fc.Insecure,
		Files: pki.Files{CA: inDir(f.dir, fc.CA), Cert: inDir(f.dir, fc.Cert), Key: inDir(f.dir, fc.Key)}}
	tl, err := tlsFlags.Load()
	if err != nil {
		fmt.Fprintln(stderr, "agent:", err)
		return 2
	}
	cfg := agent.Config{
		Dir:            f.dir,
		ID:             fc.ID,
		Listen:         fc.Listen,
		TLS:            tl,
		Insecure:       fc.Insecure,
		OperatorSocket: inDir(f.dir, fc.OperatorSocket),
		Masters:        fc.Masters,
		Etcd:           fc.Etcd,
		EtcdPrefix:     fc.Prefix,
		Attributes:     fc.Attributes,
		Capacity:       fc.Capacity,
		Ports:          fc.Ports,
		Isolation:      fc.Isolation,
		CgroupParent:   fc.CgroupParent,
		FetchFileDirs:  fc.FetchDirs,
		FetchS3Buckets: fc.S3Buckets,
		TaskUser:       fc.TaskUser,
		RootRoles:      fc.RootRoles,
		LogMaxBytes:    fc.LogMaxMB << 20,

		SandboxDiskWatermark: fc.SandboxWatermark,
		Logger:               slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	if fc.Interval != "" {
		d, err := time.ParseDuration(fc.Interval)
		if err != nil {
			fmt.Fprintf(stderr, "agent: interval %q: %v\n", fc.Interval, err)
			return 2
		}
		cfg.Interval = d
	}
	if fc.SandboxRetention != "" {
		d, err := time.ParseDuration(fc.SandboxRetention)
		if err != nil {
			fmt.Fprintf(stderr, "agent: sandbox_retention %q: %v\n", fc.SandboxRetention, err)
			return 2
		}
		cfg.SandboxRetention = d
	}
	uids, err := agent.ParseUIDRange(fc.TaskUIDs)
	if err != nil {
		fmt.Fprintln(stderr, "agent:", err)
		return 2
	}
	cfg.TaskUIDs = uids
	a, err := agent.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "agent:", err)
		if errors.Is(err, agent.ErrInvalid) {
			return 2
		}
		return 1
	}
	fmt.Fprintf(stderr, "agent: serving %s, operator socket %s (isolation: %s)\n", a.URL(), a.OperatorSocket(), a.Isolation())
	if err := a.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "agent:", err)
		return 1
	}
	return 0
}

// configName is the configuration file in the agent's directory.
const configName = "agent.json"

// binaryDir is the directory the agent is installed in: the binary's, or
// the bundle's top when the binary is in its bin/.
func binaryDir() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return "", err
	}
	d := filepath.Dir(exe)
	if filepath.Base(d) == "bin" {
		if _, err := os.Stat(filepath.Join(filepath.Dir(d), "lib")); err == nil {
			return filepath.Dir(d), nil
		}
	}
	return d, nil
}

// readConfig reads the named file, or def if it exists, into fc.
func readConfig(name, def string, fc *fileConfig) error {
	if name == "" {
		if _, err := os.Stat(def); err != nil {
			return nil
		}
		name = def
	}
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := json.NewDecoder(io.LimitReader(f, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(fc); err != nil {
		return fmt.Errorf("config %s: %w", name, err)
	}
	return nil
}

// inDir resolves a path of agent.json against the agent's directory.
func inDir(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
