package rootfs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gleaner/gleaner/rootfs"
)

// Pack a task directory into a reproducible bundle with its manifest.
func ExamplePackBundle() {
	src, _ := os.MkdirTemp("", "gleaner-example-rootfs-")
	defer os.RemoveAll(src)
	os.MkdirAll(filepath.Join(src, "app"), 0o755)
	os.WriteFile(filepath.Join(src, "app", "run.sh"), []byte("echo hi\n"), 0o755)

	m, err := rootfs.PackBundle(context.Background(), src, src, rootfs.Manifest{
		Name: "web", Version: "1.2", Base: rootfs.Ref{Name: "busybox", Version: "1"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Bundle, m.ManifestFile(), "on", m.Base)
	// Output: web-1.2.tar.zst web-1.2.manifest.json on busybox@1
}

// Fetch an object once; the second fetch with its digest is a cache hit.
func ExampleFetcher_Fetch() {
	dir, _ := os.MkdirTemp("", "gleaner-example-rootfs-")
	defer os.RemoveAll(dir)
	img := filepath.Join(dir, "image.tar")
	os.WriteFile(img, []byte("not really a tar"), 0o644)

	f, _ := rootfs.NewFetcher(filepath.Join(dir, "cache"), rootfs.WithCacheSize(1<<30), rootfs.WithFileRoots(dir))
	defer f.Close()
	ctx := context.Background()
	first, _ := f.Fetch(ctx, "file://"+img)
	again, _ := f.Fetch(ctx, "file://"+img, rootfs.WithSHA256(first.SHA256))
	fmt.Println(first.Size, first.Cached, again.Cached)
	// Output: 16 false true
}

// A missing base version is an error that names it.
func ExampleBases_Path() {
	_, err := rootfs.Bases{Dir: "/nonexistent"}.Path("busybox", "2")
	fmt.Println(err)
	// Output: rootfs: not found: base "busybox" version "2" (have [])
}
