package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gleaner/gleaner/rootfs"
)

var errUsage = errors.New("usage")

func newFlags(name, args string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: rootfs %s [flags] %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string, nargs int) error {
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if nargs >= 0 && fs.NArg() != nargs {
		fs.Usage()
		return errUsage
	}
	return nil
}

func parseRef(s string) (rootfs.Ref, error) {
	name, version, ok := strings.Cut(s, "@")
	if !ok {
		return rootfs.Ref{}, fmt.Errorf("rootfs: -base %q: want name@version", s)
	}
	return rootfs.Ref{Name: name, Version: version}, nil
}

func cmdPack(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pack", "DIR", stderr)
	name := fs.String("name", "", "task `name`")
	version := fs.String("version", "", "task `version`")
	base := fs.String("base", "", "base rootfs as `name@version`")
	out := fs.String("out", ".", "output `directory` for the bundle and manifest")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	ref, err := parseRef(*base)
	if err != nil {
		return err
	}
	m, err := rootfs.PackBundle(ctx, fs.Arg(0), *out, rootfs.Manifest{Name: *name, Version: *version, Base: ref})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

func cmdPush(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("push", "FILE DEST-URI | -manifest M DEST-PREFIX", stderr)
	manifest := fs.String("manifest", "", "push the bundle named by this `manifest` and the manifest itself under DEST-PREFIX")
	if err := parse(fs, args, -1); err != nil {
		return err
	}
	f, err := newFetcher(os.TempDir())
	if err != nil {
		return err
	}
	defer f.Close()
	if *manifest == "" {
		if fs.NArg() != 2 {
			fs.Usage()
			return errUsage
		}
		return f.Push(ctx, fs.Arg(0), fs.Arg(1))
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	uri, err := f.PushBundle(ctx, *manifest, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, uri)
	return nil
}

// newFetcher returns a fetcher for the operator's own use: any local file,
// and the S3 credentials for the buckets of the URIs given on the command
// line.
func newFetcher(cacheDir string, uris ...string) (*rootfs.Fetcher, error) {
	opts := []rootfs.FetcherOption{rootfs.WithFileRoots("/")}
	for _, u := range uris {
		if bucket, ok := strings.CutPrefix(u, "s3://"); ok {
			bucket, _, _ = strings.Cut(bucket, "/")
			opts = append(opts, rootfs.WithS3Buckets(bucket))
		}
	}
	return rootfs.NewFetcher(filepath.Join(cacheDir, "gleaner-rootfs-cache"), opts...)
}

func cmdFetch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("fetch", "URI", stderr)
	cache := fs.String("cache", os.TempDir(), "cache `directory`")
	sum := fs.String("sha256", "", "expected `sha256` of the object")
	quiet := fs.Bool("q", false, "no progress bar")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	f, err := newFetcher(*cache, fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	opts := []rootfs.FetchOption{}
	if *sum != "" {
		opts = append(opts, rootfs.WithSHA256(*sum))
	}
	var bar *progressBar
	if !*quiet {
		bar = &progressBar{w: stderr, name: fs.Arg(0)}
		opts = append(opts, rootfs.WithProgress(bar.update))
	}
	obj, err := f.Fetch(ctx, fs.Arg(0), opts...)
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\t%s\t%d\n", obj.Path, obj.SHA256, obj.Size)
	return nil
}

func cmdUnpack(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("unpack", "ARCHIVE NEW-DIR", stderr)
	trusted := fs.Bool("trusted", false, "keep setuid/setgid bits")
	devices := fs.Bool("devices", false, "create device nodes and FIFOs")
	owners := fs.Bool("owners", false, "apply the archive's owners (root only)")
	maxBytes := fs.Int64("max-bytes", rootfs.DefaultMaxBytes, "limit on total content `bytes`")
	if err := parse(fs, args, 2); err != nil {
		return err
	}
	opts := []rootfs.UnpackOption{rootfs.WithMaxBytes(*maxBytes)}
	if *trusted {
		opts = append(opts, rootfs.WithTrusted())
	}
	if *devices {
		opts = append(opts, rootfs.WithDevices())
	}
	if *owners {
		opts = append(opts, rootfs.WithOwners())
	}
	return rootfs.Unpack(ctx, fs.Arg(0), fs.Arg(1), opts...)
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "-- COMMAND [ARGS...]", stderr)
	root := fs.String("root", "", "run in this existing root `directory`")
	bases := fs.String("bases", "", "base rootfs store `directory` (<dir>/<name>/<version>)")
	manifest := fs.String("manifest", "", "task `manifest`; its bundle is read next to it")
	work := fs.String("work", os.TempDir(), "`directory` for the task root when layering")
	mode := fs.String("mode", "auto", "launch `mode`: auto, chroot or pivot_root")
	layer := fs.String("layer", "auto", "layer `mode`: auto, overlay or copy")
	dir := fs.String("dir", "/", "working `directory` inside the root")
	out := fs.String("stdout", "", "write the command's stdout to this `file` (default: inherit)")
	if err := parse(fs, args, -1); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	launchMode, ok := map[string]rootfs.LaunchMode{"auto": rootfs.ModeAuto, "chroot": rootfs.ModeChroot, "pivot_root": rootfs.ModePivotRoot}[*mode]
	if !ok {
		return fmt.Errorf("rootfs: -mode %q: want auto, chroot or pivot_root", *mode)
	}
	layerMode, ok := map[string]rootfs.LayerMode{"auto": rootfs.LayerAuto, "overlay": rootfs.LayerOverlay, "copy": rootfs.LayerCopy}[*layer]
	if !ok {
		return fmt.Errorf("rootfs: -layer %q: want auto, overlay or copy", *layer)
	}
	if *root == "" {
		tr, remove, err := layerTask(ctx, *bases, *manifest, *work, layerMode)
		if err != nil {
			return err
		}
		defer remove()
		*root = tr.Path
	}
	abs, err := filepath.Abs(*root)
	if err != nil {
		return err
	}
	spec := rootfs.Spec{Root: abs, Args: fs.Args(), Dir: *dir, Mode: launchMode,
		Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/"}, Stdout: *out}
	if *out == "" {
		spec.StdoutFile = os.Stdout
	}
	spec.StderrFile = os.Stderr
	p, err := rootfs.Start(ctx, spec)
	if err != nil {
		return err
	}
	var st rootfs.ExitStatus
	select {
	case <-p.Done():
		st, err = p.Wait(context.Background())
	case <-ctx.Done():
		st, err = p.Stop(context.Background(), 5*time.Second)
	}
	if err != nil {
		return err
	}
	if !st.Success() {
		fmt.Fprintf(stderr, "rootfs: %s: %s\n", fs.Arg(0), st)
		if st.Signal != 0 {
			return exitError(128 + int(st.Signal))
		}
		return exitError(st.Code)
	}
	return nil
}

// layerTask unpacks the manifest's bundle and layers it on its base. remove
// deletes the task root and the unpacked bundle.
func layerTask(ctx context.Context, bases, manifest, work string, mode rootfs.LayerMode) (tr *rootfs.TaskRoot, remove func(), err error) {
	if bases == "" || manifest == "" {
		return nil, nil, fmt.Errorf("rootfs: run needs -root, or -bases and -manifest")
	}
	m, err := rootfs.ReadManifest(manifest)
	if err != nil {
		return nil, nil, err
	}
	base, err := rootfs.Bases{Dir: bases}.Path(m.Base.Name, m.Base.Version)
	if err != nil {
		return nil, nil, err
	}
	tmp, err := os.MkdirTemp(work, "rootfs-run-")
	if err != nil {
		return nil, nil, err
	}
	bundle := filepath.Join(tmp, "bundle")
	if err := rootfs.Unpack(ctx, filepath.Join(filepath.Dir(manifest), m.Bundle), bundle); err != nil {
		os.RemoveAll(tmp)
		return nil, nil, err
	}
	tr, err = rootfs.Layer(ctx, base, bundle, filepath.Join(tmp, "task"), mode)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, err
	}
	remove = func() {
		// Unmount the overlay first: tmp holds it and the bundle under it.
		if tr.Remove() == nil {
			os.RemoveAll(tmp)
		}
	}
	return tr, remove, nil
}
