package patchelf_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gleaner/gleaner/patchelf"
)

func TestResolveFollowsTheLoadersOrder(t *testing.T) {
	fx := getFixtures(t)
	root := t.TempDir()
	dirA, dirB, dirC := filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")
	for _, d := range []string{dirA, dirB, dirC} {
		os.MkdirAll(d, 0o755)
	}
	lib64 := filepath.Join(fx.lib["pie64"], "libfoo.so.1")
	copyFile(t, lib64, dirA, "libfoo.so.1")
	copyFile(t, lib64, dirB, "libfoo.so.1")
	// libbar.so in c needs libfoo.so.1 and has no search path of its own.
	if err := gcc("-shared", "-fPIC", "-Wl,--no-as-needed", "-o", filepath.Join(dirC, "libbar.so"), filepath.Join(fx.dir, "src", "foo.c"), lib64); err != nil {
		t.Fatal(err)
	}
	// 32-bit libfoo in a directory searched first: the loader skips it.
	wrong := filepath.Join(root, "wrongclass")
	os.MkdirAll(wrong, 0o755)
	if l32, ok := fx.lib["pie32"]; ok {
		copyFile(t, filepath.Join(l32, "libfoo.so.1"), wrong, "libfoo.so.1")
	}

	cases := []struct {
		name     string
		edit     func(f *patchelf.File) error
		opts     []patchelf.ResolveOption
		lib      string
		wantPath string
		wantFrom patchelf.Source
		wantErr  error
	}{
		{"DT_RPATH comes before LD_LIBRARY_PATH", func(f *patchelf.File) error {
			return f.SetRPath(dirA, patchelf.ForceRPath())
		}, []patchelf.ResolveOption{patchelf.WithLibraryPath(dirB)}, "libfoo.so.1", dirA, patchelf.FromRPath, nil},
		{"DT_RUNPATH comes after LD_LIBRARY_PATH", func(f *patchelf.File) error {
			return f.SetRPath(dirA)
		}, []patchelf.ResolveOption{patchelf.WithLibraryPath(dirB)}, "libfoo.so.1", dirB, patchelf.FromLibraryPath, nil},
		{"$ORIGIN is the program's directory", func(f *patchelf.File) error {
			return f.SetRPath("$ORIGIN/../a")
		}, nil, "libfoo.so.1", dirA, patchelf.FromRunPath, nil},
		{"default directories last", func(f *patchelf.File) error {
			return f.RemoveRPath()
		}, []patchelf.ResolveOption{patchelf.WithCache(""), patchelf.WithDefaultDirs(dirB)}, "libfoo.so.1", dirB, patchelf.FromDefault, nil},
		{"nodeflib skips the cache and default directories", func(f *patchelf.File) error {
			if err := f.RemoveRPath(); err != nil {
				return err
			}
			return f.NoDefaultLib()
		}, []patchelf.ResolveOption{patchelf.WithCache(""), patchelf.WithDefaultDirs(dirB)}, "libfoo.so.1", "", "", patchelf.ErrNotFound},
		{"a library of the wrong class is skipped", func(f *patchelf.File) error {
			return f.SetRPath(wrong + ":" + dirB)
		}, nil, "libfoo.so.1", dirB, patchelf.FromRunPath, nil},
		{"a dependency of a library inherits the program's DT_RPATH", func(f *patchelf.File) error {
			if err := f.RemoveNeeded("libfoo.so.1"); err != nil {
				return err
			}
			if err := f.AddNeeded("libbar.so"); err != nil {
				return err
			}
			return f.SetRPath(dirC+":"+dirA, patchelf.ForceRPath())
		}, []patchelf.ResolveOption{patchelf.WithCache(""), patchelf.WithDefaultDirs()}, "libfoo.so.1", dirA, patchelf.FromRPath, nil},
		{"a dependency of a library does not inherit DT_RUNPATH", func(f *patchelf.File) error {
			if err := f.RemoveNeeded("libfoo.so.1"); err != nil {
				return err
			}
			if err := f.AddNeeded("libbar.so"); err != nil {
				return err
			}
			return f.SetRPath(dirC + ":" + dirA)
		}, []patchelf.ResolveOption{patchelf.WithCache(""), patchelf.WithDefaultDirs()}, "libfoo.so.1", "", "", patchelf.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(root, "bin")
			os.MkdirAll(dir, 0o755)
			prog := copyFile(t, fx.progs["pie64"], dir, "prog")
			edit(t, prog, c.edit)
			libs, err := patchelf.Resolve(context.Background(), []string{prog}, c.opts...)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("error %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range libs {
				if l.Name == c.lib {
					if l.Path != filepath.Join(c.wantPath, c.lib) || l.From != c.wantFrom {
						t.Fatalf("%s resolved to %s via %s; want %s via %s", c.lib, l.Path, l.From, c.wantPath, c.wantFrom)
					}
					return
				}
			}
			t.Fatalf("%s not resolved: %+v", c.lib, libs)
		})
	}
}
