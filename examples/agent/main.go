//go:build linux

// Command agent is Gleaner's example agent: it measures the business's usage
// of this machine, lends what is idle to the master's frameworks, and runs
// their tasks in cgroups and their own root file systems (see package
// examples/agent/agent).
//
// It runs from one directory: the binary (with any bundled libraries), its
// configuration agent.json, task state, sandboxes, base root file systems and
// the image cache all live in -dir (default: the binary's directory, or its
// parent when the binary sits in a bundle's bin/). It writes nothing else but
// its cgroups. Uninstall: stop it (SIGTERM) and delete the directory.
//
//	agent -masters http://127.0.0.1:5050 -etcd 127.0.0.1:2379 -attributes 'rack:r1;zone:east'
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

	"github.com/gleaner/gleaner/examples/agent/agent"
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
	ID           string   `json:"id"`
	Listen       string   `json:"listen"`
	Masters      []string `json:"masters"`
	Etcd         []string `json:"etcd"`
	Prefix       string   `json:"prefix"`
	Attributes   string   `json:"attributes"`
	Capacity     string   `json:"capacity"`
	Interval     string   `json:"interval"`
	Isolation    string   `json:"isolation"`
	CgroupParent string   `json:"cgroup_parent"`
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "the agent's directory (default: the binary's)")
	configFile := fs.String("config", "", "JSON configuration (default <dir>/agent.json if present); flags override it")
	id := fs.String("id", "", "agent ID (default: host name)")
	listen := fs.String("listen", "127.0.0.1:5051", "address of the agent's HTTP endpoint")
	masters := fs.String("masters", "", "comma-separated master URLs")
	etcd := fs.String("etcd", "", "comma-separated etcd endpoints")
	prefix := fs.String("prefix", "", "etcd key prefix (default /gleaner)")
	attributes := fs.String("attributes", "", "local attributes, e.g. 'rack:r1;zone:east'")
	capacity := fs.String("capacity", "", "resources to consider the machine's, e.g. 'cpus:2;mem:4096'")
	interval := fs.Duration("interval", agent.DefaultInterval, "sampling interval")
	isolation := fs.String("isolation", agent.IsolationAuto, "auto or none")
	cgroupParent := fs.String("cgroup-parent", "", "parent cgroup of the tasks (default /gleaner-<id>)")
	verbose := fs.Bool("v", false, "log debug messages")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "agent: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *dir == "" {
		d, err := binaryDir()
		if err != nil {
			fmt.Fprintln(stderr, "agent:", err)
			return 1
		}
		*dir = d
	}
	var fc fileConfig
	if err := readConfig(*configFile, filepath.Join(*dir, "agent.json"), &fc); err != nil {
		fmt.Fprintln(stderr, "agent:", err)
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	pick := func(flagName, flagValue, fileValue string) string {
		if set[flagName] || fileValue == "" {
			return flagValue
		}
		return fileValue
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	cfg := agent.Config{
		Dir:          *dir,
		ID:           pick("id", *id, fc.ID),
		Listen:       pick("listen", *listen, fc.Listen),
		Masters:      split(pick("masters", *masters, strings.Join(fc.Masters, ","))),
		Etcd:         split(pick("etcd", *etcd, strings.Join(fc.Etcd, ","))),
		EtcdPrefix:   pick("prefix", *prefix, fc.Prefix),
		Attributes:   pick("attributes", *attributes, fc.Attributes),
		Capacity:     pick("capacity", *capacity, fc.Capacity),
		Interval:     *interval,
		Isolation:    pick("isolation", *isolation, fc.Isolation),
		CgroupParent: pick("cgroup-parent", *cgroupParent, fc.CgroupParent),
		Logger:       slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	if fc.Interval != "" && !set["interval"] {
		d, err := time.ParseDuration(fc.Interval)
		if err != nil {
			fmt.Fprintf(stderr, "agent: config interval %q: %v\n", fc.Interval, err)
			return 2
		}
		cfg.Interval = d
	}
	a, err := agent.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "agent:", err)
		if errors.Is(err, agent.ErrInvalid) {
			return 2
		}
		return 1
	}
	fmt.Fprintf(stderr, "agent: serving %s (isolation: %s)\n", a.URL(), a.Isolation())
	if err := a.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "agent:", err)
		return 1
	}
	return 0
}

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

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
