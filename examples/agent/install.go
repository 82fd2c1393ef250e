//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/gleaner/gleaner/internal/atomicfile"
	"github.com/gleaner/gleaner/patchelf"
	"github.com/gleaner/gleaner/rootfs"
)

// install copies the running agent, with its shared libraries and those of
// any helper programs, into a directory, and writes its configuration there.
func install(ctx context.Context, args []string, stderr io.Writer) int {
	f := newFlags("agent install", stderr)
	f.fs.StringVar(&f.helpers, "helpers", "", "comma-separated helper programs to bundle next to the agent")
	if err := f.parse(args); err != nil {
		fmt.Fprintln(stderr, "agent install:", err)
		return 2
	}
	if f.dir == "" {
		fmt.Fprintln(stderr, "agent install: -dir is required")
		return 2
	}
	dir, err := filepath.Abs(f.dir)
	if err != nil {
		fmt.Fprintln(stderr, "agent install:", err)
		return 2
	}
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		fmt.Fprintln(stderr, "agent install:", err)
		return 1
	}
	if filepath.Base(exe) != "agent" {
		fmt.Fprintf(stderr, "agent install: the program is %s; install copies it as bin/<its name>, so name it agent\n", exe)
		return 2
	}
	var opts []patchelf.BundleOption
	if f.verbose {
		opts = append(opts, patchelf.WithLogger(slog.New(slog.NewTextHandler(stderr, nil))))
	}
	programs := append([]string{exe}, split(f.helpers)...)
	// The launch helper goes into bin/ beside the agent, where the agent
	// looks for it (static, Bundle copies it as it is).
	helper := filepath.Join(filepath.Dir(exe), rootfs.HelperName)
	if isFile(helper) {
		programs = append(programs, helper)
	} else {
		fmt.Fprintf(stderr, "agent install: no %s beside %s: tasks will start by re-executing the agent, several times slower; build it with\n  CGO_ENABLED=0 go build -o %s %s\n",
			rootfs.HelperName, exe, helper, rootfs.HelperPackage)
	}
	rep, err := patchelf.Bundle(ctx, dir, programs, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "agent install:", err)
		return 1
	}
	fc := f.merged(fileConfig{})
	if err := copyTLS(dir, &fc); err != nil {
		fmt.Fprintln(stderr, "agent install:", err)
		return 1
	}
	if err := writeConfig(filepath.Join(dir, configName), fc); err != nil {
		fmt.Fprintln(stderr, "agent install:", err)
		return 1
	}
	bundled := 0
	for _, l := range rep.Libraries {
		if !l.Skipped {
			bundled++
		}
	}
	fmt.Fprintf(stderr, "agent installed in %s (%d programs, %d libraries bundled)\nrun:       %s\nuninstall: stop it, then rm -rf %s\n",
		dir, len(rep.Programs), bundled, filepath.Join(dir, "bin", "agent"), dir)
	return 0
}

// copyTLS copies the TLS files fc names into dir/tls (the key with mode
// 0600), so that the installed directory holds everything, and points fc
// at the copies, relative to dir.
func copyTLS(dir string, fc *fileConfig) error {
	for _, f := range []struct {
		path *string
		name string
		perm os.FileMode
	}{{&fc.CA, "ca.pem", 0o644}, {&fc.Cert, "agent.pem", 0o644}, {&fc.Key, "agent-key.pem", 0o600}} {
		if *f.path == "" {
			continue
		}
		data, err := os.ReadFile(*f.path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, "tls"), 0o755); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, "tls", f.name), data, f.perm); err != nil {
			return err
		}
		*f.path = filepath.Join("tls", f.name)
	}
	return nil
}

// writeConfig replaces the configuration with fc; an operator's mode on an
// existing file (say 0600) is kept.
func writeConfig(path string, fc fileConfig) error {
	data, err := json.MarshalIndent(fc, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o644)
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
