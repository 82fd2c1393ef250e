package rootfs_test

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gleaner/gleaner/rootfs"
)

// FuzzUnpack feeds arbitrary bytes to UnpackReader: it must never panic,
// never write next to the target, and leave either the complete target or
// nothing.
func FuzzUnpack(f *testing.F) {
	f.Add(buildTar(f, []tarEntry{{name: "a/b", typ: tar.TypeReg, body: "x"}, {name: "l", typ: tar.TypeSymlink, link: "a"}}))
	f.Add(buildTar(f, []tarEntry{{name: "l", typ: tar.TypeSymlink, link: "/"}, {name: "l/x", typ: tar.TypeReg, body: "x"}}))
	f.Add(buildTar(f, []tarEntry{{name: "h", typ: tar.TypeLink, link: "../x"}}))
	f.Add(zstdBytes(f, buildTar(f, []tarEntry{{name: "d/", typ: tar.TypeDir, mode: 0o700}, {name: "d/f", typ: tar.TypeReg, body: "y"}})))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dst := filepath.Join(parent, "dst")
		err := rootfs.UnpackReader(context.Background(), bytes.NewReader(data), dst, rootfs.WithMaxBytes(1<<20), rootfs.WithMaxEntries(100))
		entries, rerr := os.ReadDir(parent)
		if rerr != nil {
			t.Fatal(rerr)
		}
		switch {
		case err != nil && len(entries) != 0:
			t.Fatalf("failed unpack (%v) left %v behind", err, entries)
		case err == nil && (len(entries) != 1 || entries[0].Name() != "dst"):
			t.Fatalf("unpack wrote next to the target: %v", entries)
		}
		filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755) // let TempDir remove read-only trees
			}
			return nil
		})
	})
}
