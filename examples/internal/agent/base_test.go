//go:build linux

package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gleaner/gleaner/internal/testenv"
	"github.com/gleaner/gleaner/rootfs"
)

// TestBaseFromTheHostsOwnPrograms: the default base is made from the
// host's programs and libraries with patchelf.Bundle, no package needed,
// and a task runs on it isolated, in both launch modes.
func TestBaseFromTheHostsOwnPrograms(t *testing.T) {
	testenv.RequireRoot(t)
	bases := rootfs.Bases{Dir: filepath.Join(t.TempDir(), "bases")}
	ctx := context.Background()
	// Without busybox: the host's own programs are enough.
	var programs []string
	for _, p := range defaultBasePrograms {
		if p != "busybox" {
			programs = append(programs, p)
		}
	}
	if err := seedBase(ctx, bases, "host", "1", programs); err != nil {
		t.Fatal(err)
	}
	dir, err := bases.Path("host", "1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bin", "busybox")); err == nil {
		t.Error("the base holds busybox")
	}
	for _, m := range []rootfs.LaunchMode{rootfs.ModeChroot, rootfs.ModePivotRoot} {
		t.Run(m.String(), func(t *testing.T) {
			if m == rootfs.ModePivotRoot {
				testenv.RequireMountNamespace(t)
			}
			out := filepath.Join(t.TempDir(), "out")
			tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			p, err := rootfs.Start(tctx, rootfs.Spec{Root: dir, Mode: m, Stdout: out, Stderr: out + ".err",
				Credential: &rootfs.Credential{UID: 65534, GID: 65534},
				Args:       []string{"/bin/sh", "-c", "sleep 0.01 && echo $(id -u) && ls /bin | grep -c . >/dev/null && true && echo ok"}})
			if err != nil {
				t.Fatal(err)
			}
			st, err := p.Wait(tctx)
			data, _ := os.ReadFile(out)
			errs, _ := os.ReadFile(out + ".err")
			if err != nil || !st.Success() || string(data) != "65534\nok\n" {
				t.Errorf("task on the host-made base: %v %v, stdout %q stderr %q", st, err, data, errs)
			}
		})
	}
	// The loader Bundle copied is the host's file as it is (glibc's ld.so
	// refuses a run path), and the programs reach it where PT_INTERP says.
	interp, err := interpreter("/bin/sh")
	if err != nil || interp == "" {
		t.Fatalf("the host's /bin/sh has no loader: %q %v", interp, err)
	}
	host, err := os.ReadFile(interp)
	if err != nil {
		t.Fatal(err)
	}
	if bundled, err := os.ReadFile(filepath.Join(dir, interp)); err != nil || !bytes.Equal(bundled, host) {
		t.Errorf("the base's %s is not the host's loader as it is (%v)", interp, err)
	}
	t.Run("busybox", func(t *testing.T) {
		// A static busybox is bundled as it is (no run path to give it),
		// and its applets fill in what the host's programs lack.
		busybox := testenv.RequireBinary(t, "busybox")
		if err := seedBase(ctx, bases, "host", "busybox", []string{"sh", "sleep", "true", "busybox"}); err != nil {
			t.Fatal(err)
		}
		dir, err := bases.Path("host", "busybox")
		if err != nil {
			t.Fatal(err)
		}
		if link, err := os.Readlink(filepath.Join(dir, "bin", "wc")); err != nil || link != "busybox" {
			t.Errorf("bin/wc: %q %v, want a link to busybox", link, err)
		}
		if static, _ := interpreter(busybox); static == "" {
			host, _ := os.ReadFile(busybox)
			if bundled, err := os.ReadFile(filepath.Join(dir, "bin", "busybox")); err != nil || !bytes.Equal(bundled, host) {
				t.Errorf("the static busybox was not copied as it is (%v)", err)
			}
		}
		out := filepath.Join(t.TempDir(), "out")
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		p, err := rootfs.Start(tctx, rootfs.Spec{Root: dir, Mode: rootfs.ModeChroot, Stdout: out, Stderr: out,
			Credential: &rootfs.Credential{UID: 65534, GID: 65534}, Args: []string{"/bin/sh", "-c", "echo a b | wc -w"}})
		if err != nil {
			t.Fatal(err)
		}
		st, err := p.Wait(tctx)
		data, _ := os.ReadFile(out)
		if err != nil || !st.Success() || strings.TrimSpace(string(data)) != "2" {
			t.Errorf("a busybox applet in a task: %v %v, output %q", st, err, data)
		}
	})
	// Seeding again leaves the version alone: versions are immutable.
	if err := seedBase(ctx, bases, "host", "1", []string{"sh"}); err != nil {
		t.Fatal(err)
	}
}
