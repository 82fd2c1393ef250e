//go:build linux

package agent

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/rootfs"
)

// writeTarGz writes an archive holding files (name → content).
func writeTarGz(t *testing.T, path string, files map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(content))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
}

// artifacts makes a script and an archive to fetch, and returns the fetch
// URIs.
func artifacts(t *testing.T) []api.FetchURI {
	t.Helper()
	src := t.TempDir()
	script := filepath.Join(src, "run.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho script ran\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(src, "data.tar.gz")
	writeTarGz(t, archive, map[string]string{"data/hello.txt": "hello from the archive\n"})
	return []api.FetchURI{
		{URI: "file://" + script, Executable: true},
		{URI: "file://" + archive, Extract: true},
		{URI: "file://" + script, DestPath: "copy/of-run.sh"},
	}
}

func TestFetchURIsLandInTheWorkingDirectory(t *testing.T) {
	cases := []struct {
		name      string
		isolation string
	}{
		{"isolated", IsolationAuto},
		{"plain", IsolationNone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.isolation == IsolationAuto {
				requireIsolation(t)
			}
			cfg := testConfig(t, testenv.TempDirOnDisk(t))
			cfg.Isolation = c.isolation
			uris := artifacts(t)
			cfg.FetchFileDirs = []string{filepath.Dir(strings.TrimPrefix(uris[0].URI, "file://"))}
			a := start(t, cfg)
			err := a.launch(api.TaskInfo{TaskID: "fetch", Resources: "cpus:0.1;mem:32;disk:16", Fetch: uris,
				Cmd: "./run.sh && cat data/hello.txt && test -f copy/of-run.sh && ! test -x copy/of-run.sh"})
			if err != nil {
				t.Fatal(err)
			}
			s := waitState(t, a.Agent, "fetch", api.TaskFinished, 20*time.Second)
			if out := readSandbox(t, a.Agent, "fetch", "stdout"); out != "script ran\nhello from the archive\n" {
				t.Errorf("stdout = %q (status %+v, stderr %q)", out, s, readSandbox(t, a.Agent, "fetch", "stderr"))
			}

			bad := api.TaskInfo{TaskID: "escape", Resources: "cpus:0.1;mem:32", Cmd: "true",
				Fetch: []api.FetchURI{{URI: "file:///etc/hostname", DestPath: "../../outside"}}}
			if err := a.launch(bad); err != nil {
				t.Fatal(err)
			}
			s = waitState(t, a.Agent, "escape", api.TaskFailed, 20*time.Second)
			if !strings.Contains(s.Message, `dest_path "../../outside"`) {
				t.Errorf("message = %q, want the bad dest_path named", s.Message)
			}

			for id, u := range map[string]api.FetchURI{
				"secret": {URI: "file:///etc/shadow"},
				"toobig": {URI: uris[0].URI}, // a task without disk resources fetches nothing
			} {
				res := "cpus:0.1;mem:32;disk:16"
				if id == "toobig" {
					res = "cpus:0.1;mem:32"
				}
				if err := a.launch(api.TaskInfo{TaskID: id, Resources: res, Cmd: "true", Fetch: []api.FetchURI{u}}); err != nil {
					t.Fatal(err)
				}
				s := waitState(t, a.Agent, id, api.TaskFailed, 20*time.Second)
				want := map[string]string{"secret": "denied by policy", "toobig": "disk is used up"}[id]
				if !strings.Contains(s.Message, want) {
					t.Errorf("task %s: message = %q, want %q", id, s.Message, want)
				}
			}
		})
	}
}

func TestTaskImageIsLayeredOnTheBase(t *testing.T) {
	requireIsolation(t)
	// A task image: /app/run.sh, packed as the rootfs package packs bundles.
	tree := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tree, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "app", "run.sh"), []byte("#!/bin/sh\necho from the image; ls /bin/sleep\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	m, err := rootfs.PackBundle(context.Background(), tree, out,
		rootfs.Manifest{Name: "web", Version: "1", Base: rootfs.Ref{Name: defaultBaseName, Version: defaultBaseVersion}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, testenv.TempDirOnDisk(t))
	cfg.FetchFileDirs = []string{out}
	a := start(t, cfg)
	img := &api.Image{URI: "file://" + filepath.Join(out, m.Bundle), SHA256: m.SHA256, Base: m.Base.Name, Version: m.Base.Version}
	if err := a.launch(api.TaskInfo{TaskID: "img", Args: []string{"/app/run.sh"}, Resources: "cpus:0.1;mem:32;disk:16", Image: img}); err != nil {
		t.Fatal(err)
	}
	waitState(t, a.Agent, "img", api.TaskFinished, 20*time.Second)
	if got := readSandbox(t, a.Agent, "img", "stdout"); got != "from the image\n/bin/sleep\n" {
		t.Errorf("stdout = %q", got)
	}

	bad := *img
	bad.SHA256 = strings.Repeat("0", 64)
	if err := a.launch(api.TaskInfo{TaskID: "badsum", Args: []string{"/app/run.sh"}, Resources: "cpus:0.1;mem:32;disk:16", Image: &bad}); err != nil {
		t.Fatal(err)
	}
	s := waitState(t, a.Agent, "badsum", api.TaskFailed, 20*time.Second)
	if !strings.Contains(s.Message, "want "+bad.SHA256) {
		t.Errorf("message = %q, want a checksum mismatch", s.Message)
	}
}

func TestFetchNeverWritesThroughALinkOfTheImage(t *testing.T) {
	host := t.TempDir() // stands for a host directory such as /etc
	bundle := t.TempDir()
	if err := os.Symlink(host, filepath.Join(bundle, "evil")); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(src, []byte("pwned"), 0o644); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "a.tar.gz")
	writeTarGz(t, archive, map[string]string{"evil/owned-by-extract": "pwned"})
	f, err := rootfs.NewFetcher(t.TempDir(), rootfs.WithFileRoots(filepath.Dir(src), filepath.Dir(archive)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, u := range []api.FetchURI{
		{URI: "file://" + src, DestPath: "evil/owned"},
		{URI: "file://" + archive, Extract: true},
	} {
		if _, err := fetchArtifacts(context.Background(), f, []api.FetchURI{u}, bundle, 1<<20); err == nil {
			t.Errorf("fetch %+v through the image's link succeeded", u)
		}
	}
	if entries, _ := os.ReadDir(host); len(entries) != 0 {
		t.Errorf("the host directory holds %v after the fetches", entries)
	}
}
