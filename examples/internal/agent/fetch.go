//go:build linux

package agent

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gleaner/gleaner/examples/internal/api"
	"github.com/gleaner/gleaner/rootfs"
)

// fetchArtifacts puts a task's fetch URIs (Marathon's "fetch") into dir, the
// task's working directory: the top of its root for an isolated task, its
// sandbox for a plain one. Every object goes through the agent's cache
// (rootfs.Fetcher caches by content, so FetchURI.Cache changes nothing).
// An archive with Extract set is unpacked there; anything else is copied
// under DestPath or the URI's last path element.
func fetchArtifacts(ctx context.Context, f *rootfs.Fetcher, uris []api.FetchURI, dir string) error {
	for i, u := range uris {
		name := u.DestPath
		if name == "" {
			parsed, err := url.Parse(u.URI)
			if err != nil {
				return fmt.Errorf("fetch[%d] uri %q: %w", i, u.URI, err)
			}
			name = path.Base(parsed.Path)
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("fetch[%d] dest_path %q: not a relative path inside the sandbox", i, name)
		}
		obj, err := f.Fetch(ctx, u.URI)
		if err != nil {
			return fmt.Errorf("fetch[%d]: %w", i, err)
		}
		if u.Extract && isArchive(name) {
			if err := extractInto(ctx, obj.Path, dir, fmt.Sprintf(".fetch-%d", i)); err != nil {
				return fmt.Errorf("fetch[%d] %s: %w", i, u.URI, err)
			}
			continue
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if u.Executable {
			mode = 0o755
		}
		if err := copyFile(obj.Path, dst, mode); err != nil {
			return fmt.Errorf("fetch[%d] %s: %w", i, u.URI, err)
		}
	}
	return nil
}

func isArchive(name string) bool {
	for _, ext := range []string{".tar", ".tar.gz", ".tgz", ".tar.zst"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// extractInto unpacks archive next to dir's contents: rootfs.Unpack wants a
// new directory, so it unpacks into dir/tmp and moves each top-level entry
// up, refusing to replace what is there.
func extractInto(ctx context.Context, archive, dir, tmp string) error {
	staging := filepath.Join(dir, tmp)
	if err := rootfs.Unpack(ctx, archive, staging); err != nil {
		return err
	}
	defer os.RemoveAll(staging)
	entries, err := os.ReadDir(staging)
	if err != nil {
		return err
	}
	for _, e := range entries {
		dst := filepath.Join(dir, e.Name())
		if _, err := os.Lstat(dst); err == nil {
			return fmt.Errorf("%s: already exists in the sandbox", e.Name())
		}
		if err := os.Rename(filepath.Join(staging, e.Name()), dst); err != nil {
			return err
		}
	}
	return nil
}
